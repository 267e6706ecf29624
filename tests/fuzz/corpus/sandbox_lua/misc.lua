goto x; ::x:: return tostring(nil) .. tostring(1.5) .. tostring(-0.0) .. (1e308 * 10) .. math.mininteger // -1
