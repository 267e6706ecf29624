local d = data()
local out = {}
for _, a in ipairs(d.actors) do
  if a.mailbox > 5 then out[#out + 1] = a.name end
end
return {big = out, empty = d.empty, none = d.none == null}
