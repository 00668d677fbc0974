-- PUT /api/me: a new nickname each time, for user i mod n.
local tokens
local i = 0

function init(args)
  tokens = lines(os.getenv("BENCH_TOKENS"))
  i = tid * 7919
end

function request()
  i = i + 1
  return wrk.format("PUT", "/api/me", {
    ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1],
    ["Content-Type"] = "application/json",
  }, string.format('{"nickname":"bench %d-%d","gender":%d}', tid, i, i % 3))
end
