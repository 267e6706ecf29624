local ok, err = pcall(fail, "x")
return {ok, err}
