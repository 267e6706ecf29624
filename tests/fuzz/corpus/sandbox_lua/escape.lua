return io, os, load, require, debug, string.dump, getmetatable('').__index.dump
