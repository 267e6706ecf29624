local t = setmetatable({}, {__index = function(t, k) return k .. k end, __call = function(self, x) return x end})
return t.ab, t(5), #t
