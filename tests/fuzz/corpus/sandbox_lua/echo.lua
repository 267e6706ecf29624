return echo({a = {1, 2, {b = json.null}}, s = "x"})
