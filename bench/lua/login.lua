-- POST /api/auth/login with a fresh single-use code each time (the bench's
-- simulated WeChat accepts "bench.<openid>.<nonce>" once): every other
-- request is a new user, the others are one of the N logged-in users.
local users
local i = 0

function init(args)
  users = tonumber(os.getenv("BENCH_USERS"))
  i = 0
end

function request()
  i = i + 1
  local openid
  if i % 2 == 0 then
    openid = string.format("new-%d-%d-%s", tid, i, os.getenv("BENCH_ROUND"))
  else
    openid = string.format("user-%d", (tid * 7919 + i) % users)
  end
  return wrk.format("POST", "/api/auth/login", { ["Content-Type"] = "application/json" },
    string.format('{"code":"bench.%s.%d-%d-%s"}', openid, tid, i, os.getenv("BENCH_ROUND")))
end
