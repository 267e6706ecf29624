return string.format('%5.2f %d %s %q %x', 1.5, 42, 'str', 'q\n', 255), utf8.char(72, 228, 8364), math.tointeger(3.0), 7 // 2, 7 % 3, 2^10
