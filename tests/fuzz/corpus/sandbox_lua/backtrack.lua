return string.find(string.rep('a', 800), '.-.-.-b')
