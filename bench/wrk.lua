-- wrk script shared by every gatehouse benchmark (see bench/run).
--
-- Configured through the environment, so one file serves all rows:
--   BENCH_LABEL         name printed in the result line
--   BENCH_METHOD        HTTP method (default GET)
--   BENCH_BODY          request body; sends Content-Type: application/json when set
--   BENCH_TOKEN         sends Authorization: Bearer <token> when set
--   BENCH_COUNT_STATUS  "1": count responses per status code (adds a Lua call per
--                       response, so keep it off for the throughput rows)
--
-- done() prints one machine-readable line that bench/run parses:
--   BENCH_RESULT label=.. requests=.. duration_us=.. rps=.. p50_us=.. p99_us=.. max_us=..
--     status_errors=.. connect=.. read=.. write=.. timeout=.. [s2xx=.. s401=.. s429=.. sother=..]
-- (status_errors is wrk's own count of answers with status >= 400; the s* counts exist
-- only with BENCH_COUNT_STATUS=1.)

local label = os.getenv("BENCH_LABEL") or "bench"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local count_status = os.getenv("BENCH_COUNT_STATUS") == "1"

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["Accept"] = "application/json"
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Per-thread counters (each wrk thread has its own Lua state; done() collects them).
s2xx, s401, s429, sother = 0, 0, 0, 0

if count_status then
  function response(status, headers, resp_body)
    if status >= 200 and status < 300 then
      s2xx = s2xx + 1
    elseif status == 401 then
      s401 = s401 + 1
    elseif status == 429 then
      s429 = s429 + 1
    else
      sother = sother + 1
    end
  end
end

-- setup() and done() run in the main Lua state: keep the threads to read their counters.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local rps = 0
  if secs > 0 then rps = summary.requests / secs end
  local e = summary.errors
  local line = string.format(
    "BENCH_RESULT label=%s requests=%d duration_us=%d rps=%.2f p50_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d connect=%d read=%d write=%d timeout=%d",
    label, summary.requests, summary.duration, rps,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout)
  if count_status then
    local t2, t401, t429, to = 0, 0, 0, 0
    for _, thread in ipairs(threads) do
      t2 = t2 + (thread:get("s2xx") or 0)
      t401 = t401 + (thread:get("s401") or 0)
      t429 = t429 + (thread:get("s429") or 0)
      to = to + (thread:get("sother") or 0)
    end
    line = line .. string.format(" s2xx=%d s401=%d s429=%d sother=%d", t2, t401, t429, to)
  end
  io.write(line .. "\n")
end
