local x <close> = setmetatable({}, {__close = function() error('closing') end})
return 1
