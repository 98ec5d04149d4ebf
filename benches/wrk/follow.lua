-- wrk following calls (see presign.py): each thread reads its own file, a line per
-- request, so it takes its calls in turn, each at the call's next turn. A call comes
-- round again only after every other call of the thread; an answer slower than that
-- round would send its call's next request early, at a turn the server does not hold
-- yet (the server then reads the database: slower, never faster).
-- WRK_CALLS: the files' prefix; WRK_EXPECT: a Lua pattern every answer must match.
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local file
local expect
local held = nil -- the request wrk's check before the run took (thread 0), sent next
errors = 0
ran_out = 0

function init(args)
  file = assert(io.open((os.getenv("WRK_CALLS") or "calls") .. "." .. tid))
  expect = os.getenv("WRK_EXPECT") or "main%-menu%?t="
  -- wrk asks thread 0 for one request before the run to check it; that one is kept
  -- for the first real request, so no call skips a turn.
  if tid == 0 then held = false end
end

local function next_request()
  local line = file:read("*l")
  if line == nil then
    ran_out = ran_out + 1
    return nil
  end
  local sid, path, sig = line:match("^(%S+) (%S+) (%S+)$")
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = sig,
  }, "CallSid=" .. sid .. "&From=%2B15595550100&To=%2B18669013212&Digits=*")
end

function request()
  if held == false then
    held = next_request()
    return held
  elseif held then
    local r = held
    held = nil
    return r
  end
  -- Past the signed turns, a request wrk can still send (counted, and the run fails).
  return next_request() or wrk.format("GET", "/")
end

function response(status, headers, body)
  if status ~= 200 or not body:find(expect) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local e, r = 0, 0
  for _, t in ipairs(threads) do
    e = e + tonumber(t:get("errors"))
    r = r + tonumber(t:get("ran_out"))
  end
  local s = summary.errors
  io.write(string.format("requests: %d\n", summary.requests))
  io.write(string.format("failed: answers not matching %s %d, past the signed turns %d, socket errors %d\n",
    os.getenv("WRK_EXPECT") or "main%-menu%?t=", e, r, s.connect + s.read + s.write + s.timeout))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%g: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
