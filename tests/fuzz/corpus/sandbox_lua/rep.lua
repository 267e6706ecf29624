return #string.rep('ab', 1 << 40, ',')
