-- GET PATH, optionally with one bearer token (the baselines).
function init(args)
  local tok = os.getenv("BENCH_TOKEN")
  if tok and tok ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. tok
  end
end
