return (('hello world'):gsub('(%w+)', function(w) return w:reverse() end))
