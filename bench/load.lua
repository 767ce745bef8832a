-- wrk script for the benchmarks: method, path (or paths in turn), body and headers from the environment; counts non-2xx
-- responses; stops a thread after BENCH_LIMIT responses (0: run for the duration); prints one JSON line.
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
local headers = {}
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local k, v = string.match(line, "^([^:]+):%s*(.*)$")
  if k then headers[k] = v end
end
if body == "" then body = nil end
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- BENCH_PATHS (one path per line): the requests go to these paths in turn instead of BENCH_PATH.
local paths = {}
for line in string.gmatch(os.getenv("BENCH_PATHS") or "", "[^\n]+") do
  table.insert(paths, line)
end

function init(args)
  ok = 0
  bad = 0
  s4xx = 0
  s5xx = 0
  req = wrk.format(method, path, headers, body)
  reqs = {}
  for i, p in ipairs(paths) do
    reqs[i] = wrk.format(method, p, headers, body)
  end
  turn = 0
end

function request()
  if #reqs == 0 then
    return req
  end
  turn = turn % #reqs + 1
  return reqs[turn]
end

function response(status, hdrs, resp_body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if status >= 500 then s5xx = s5xx + 1 elseif status >= 400 then s4xx = s4xx + 1 end
  end
  if limit > 0 and ok + bad == limit then
    -- wrk's main thread sleeps for the whole duration; the runner interrupts it (SIGINT) when every
    -- thread has said this, and wrk then reports as usual.
    io.write("BENCHLIMIT\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, c4, c5 = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
    c4 = c4 + t:get("s4xx")
    c5 = c5 + t:get("s5xx")
  end
  local pcts = {}
  for _, p in ipairs({1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99}) do
    table.insert(pcts, string.format('"%s": %.3f', tostring(p), latency:percentile(p) / 1000.0))
  end
  io.write(string.format(
    'BENCHJSON {"duration_s": %.3f, "requests": %d, "ok": %d, "non_2xx": %d, "status_4xx": %d, ' ..
    '"status_5xx": %d, "socket_errors": %d, "timeouts": %d, "latency_ms_mean": %.3f, ' ..
    '"latency_ms_max": %.3f, "percentiles_ms": {%s}}\n',
    summary.duration / 1e6, summary.requests, ok_total, bad_total, c4, c5,
    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
    latency.mean / 1000.0, latency.max / 1000.0, table.concat(pcts, ", ")))
end
