-- wrk script for the liftoff benchmark (bench/run.sh): POSTs the reference
-- request body as JSON.
--
-- Environment:
--   BENCH_AUTH   when set, sent as the Authorization header (liftoff needs
--                HTTP basic auth; the peers get no header).
--   BENCH_CHECK  when "1", every response body is checked for the expected
--                answer and done() prints "BENCH_BAD <n> BENCH_CHECKED <m>".
--                Used for the warm-up only: a response() callback makes wrk
--                parse every body, which costs wrk CPU during measurement.
wrk.method = "POST"
wrk.body = '{"args":{"x":5,"y":"hello"},"return_pickled":false}'
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

if os.getenv("BENCH_CHECK") == "1" then
  local threads = {}

  function setup(thread)
    table.insert(threads, thread)
  end

  function init(args)
    bad = 0
    checked = 0
  end

  function response(status, headers, body)
    checked = checked + 1
    if status ~= 200 or not string.find(body, '"status":"SUCCESS"', 1, true)
        or not string.find(body, '"result":{"result":"15"}', 1, true) then
      bad = bad + 1
      if bad <= 3 then
        io.stderr:write("BENCH_BAD_SAMPLE " .. status .. " " .. body:sub(1, 200) .. "\n")
      end
    end
  end

  function done(summary, latency, requests)
    local b, c = 0, 0
    for _, t in ipairs(threads) do
      b = b + t:get("bad")
      c = c + t:get("checked")
    end
    io.write(string.format("BENCH_BAD %d BENCH_CHECKED %d\n", b, c))
  end
end
