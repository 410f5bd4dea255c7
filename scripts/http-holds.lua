-- wrk script: POST /api/holds with buyer tokens taken in turn from the file named after
-- `--` (one token a line; scripts/http-load.sh makes them). Prints one RESULT line.
local tokens = {}
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  n = math.random(#tokens)
end

function request()
  n = n % #tokens + 1
  return wrk.format("POST", "/api/holds", {
    ["Authorization"] = "Bearer " .. tokens[n],
    ["Content-Type"] = "application/json",
  }, '{"sku":"LOAD","qty":1}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / summary.duration * 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
