print('hello', 1, nil) return 0
