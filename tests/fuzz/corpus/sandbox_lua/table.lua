return table.move({1, 2, 3}, 1, 3, 3), table.unpack({1, 2, 3}), select('#', 1, nil, 3)
