-- wrk script for `npm run bench`: POSTs a JSON body per request (the key taken round-robin from
-- the file in BENCH_KEYS, one per line, put into BENCH_BODY at "%KEY%"), counts the answers that
-- contain BENCH_EXPECT (so a 200 that did not verify is not counted as a success), and prints one
-- JSON line with throughput, latency percentiles and counts.
local threads = {}
local keys = {}
for line in io.lines(os.getenv("BENCH_KEYS")) do
  keys[#keys + 1] = line
end
local body_template = os.getenv("BENCH_BODY")
local expect = os.getenv("BENCH_EXPECT")
local auth = os.getenv("BENCH_AUTH")

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  ok = 0
  bad = 0
  i = offset or 0
  headers = { ["Content-Type"] = "application/json" }
  if auth and auth ~= "" then
    headers["Authorization"] = "Bearer " .. auth
  end
end

function request()
  i = i + 1
  local key = keys[(i % #keys) + 1]
  local body = string.gsub(body_template, "%%KEY%%", key)
  return wrk.format("POST", nil, headers, body)
end

function response(status, _, body)
  if status == 200 and string.find(body, expect, 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, _)
  local good, wrong = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    wrong = wrong + t:get("bad")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"ok":%d,"bad":%d,"socketErrors":%d,"p50":%.3f,"p99":%.3f,"max":%.3f}\n',
    summary.requests, summary.duration / 1e6, good, wrong,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
