-- wrk following calls: each thread takes its share of the pre-signed calls in turn,
-- each request at the call's next turn; counts answers that are not the main menu.
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local order = {}
local pos = 0
errors = 0
ran_out = 0

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  local byidx = {}
  for line in io.lines(os.getenv("WRK_CALLS") or "/tmp/wrk/calls.txt") do
    local idx, sid, path, sig = line:match("^(%d+) (%S+) (%S+) (%S+)$")
    idx = tonumber(idx)
    if idx % nthreads == tid then
      local c = byidx[idx]
      if not c then
        c = { turns = {}, next = 1,
              body = "CallSid=" .. sid .. "&From=%2B15595550100&To=%2B18669013212&Digits=*" }
        byidx[idx] = c
        table.insert(order, c)
      end
      table.insert(c.turns, { path, sig })
    end
  end
end

function request()
  pos = pos % #order + 1
  local c = order[pos]
  local t = c.turns[c.next]
  if t == nil then
    ran_out = ran_out + 1
    t = c.turns[#c.turns]
  else
    c.next = c.next + 1
  end
  return wrk.format("POST", t[1], {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = t[2],
  }, c.body)
end

function response(status, headers, body)
  if status ~= 200 or not body:find("main%-menu%?t=") and not body:find("main%-menu\"") then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local e, r = 0, 0
  for _, t in ipairs(threads) do
    e = e + tonumber(t:get("errors"))
    r = r + tonumber(t:get("ran_out"))
  end
  io.write(string.format("not-a-menu answers: %d, requests past the pre-signed turns: %d\n", e, r))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("p%g: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
