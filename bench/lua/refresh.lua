-- POST /api/auth/refresh: refresh tokens are single-use, so each thread
-- keeps a queue of its own (from the file: every line whose number is
-- tid mod threads), sends the oldest and queues the one each answer
-- brings. A failed refresh loses its token.
queue = {}
head, tail = 1, 0

function init(args)
  local all = lines(os.getenv("BENCH_REFRESH"))
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  for n, tok in ipairs(all) do
    if n % nthreads == tid % nthreads then
      tail = tail + 1
      queue[tail] = tok
    end
  end
end

function request()
  local tok = queue[head]
  if tok == nil then
    tok = "exhausted"
  else
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", "/api/auth/refresh", { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. tok .. '"}')
end

function response(status, headers, body)
  local tok = string.match(body, '"refresh_token":"([^"]+)"')
  if tok then
    tail = tail + 1
    queue[tail] = tok
  end
end

-- Hand the tokens still queued to the next round (the file is rewritten).
local summarize = done
function done(summary, latency, requests)
  summarize(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_REFRESH"), "w")
  for _, thread in ipairs(threads) do
    local q, h, t = thread:get("queue"), thread:get("head"), thread:get("tail")
    for n = h, t do
      if q[n] then out:write(q[n], "\n") end
    end
  end
  out:close()
end
