local words = {}
for w in ('the quick brown fox'):gmatch('%a+') do words[#words + 1] = w:upper() end
table.sort(words)
return table.concat(words, ' '), ('k=v'):match('(%w+)=(%w+)')
