-- wrk script: POST /api/buyers as fast as the server answers, appending each new
-- buyer's token to the file named after `--` (scripts/http-load.sh makes the buyers of
-- its load test this way: one buyer per few holds, as in a real sale, where the limit
-- per buyer keeps everyone's live holds few).
local out

function init(args)
  out = io.open(args[1], "a")
end

function request()
  return wrk.format("POST", "/api/buyers", {["Content-Type"] = "application/json"}, '{"name":"load"}')
end

function response(status, headers, body)
  local token = body:match('"token"%s*:%s*"([^"]+)"')
  if status == 201 and token then
    out:write(token, "\n")
    out:flush()
  end
end
