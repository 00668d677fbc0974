-- GET (or METHOD) PATH with the bearer token of user i mod n, i counting
-- per thread from a per-thread offset.
local tokens
local i = 0

function init(args)
  tokens = lines(os.getenv("BENCH_TOKENS"))
  i = tid * 7919
end

function request()
  i = i + 1
  return wrk.format(os.getenv("BENCH_METHOD") or "GET", os.getenv("BENCH_PATH"),
    { ["Authorization"] = "Bearer " .. tokens[(i % #tokens) + 1] })
end
