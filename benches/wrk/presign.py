"""Puts CALLS calls at the main menu of a running Caseline and signs, for each, its next
TURNS requests pressing * (each answer's URL names the next turn: the answer count in the
high 32 bits of `t`, the server's name in the low ones), so that wrk can follow the calls
as the provider does. Writes one file per wrk thread, OUT.0 ... OUT.{THREADS-1}, thread
n holding the calls whose index is n modulo THREADS, turn after turn (every call's first
request, then every call's second...), one line per request: CallSid, path, signature.
wrk reads them a line per request, so it loads nothing before it starts. A server from
before turns (an old build, for a bisect) names the same URL every time: each request
then replays it. OUT.expect holds the pattern every answer must match (wrk's WRK_EXPECT).

python3 presign.py BASE_URL CALLS TURNS THREADS OUT   (CASELINE_TWILIO_AUTH_TOKEN set)
"""
import base64
import hashlib
import hmac
import http.client
import os
import re
import sys
import urllib.parse

base, calls, turns, threads, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
token = os.environ["CASELINE_TWILIO_AUTH_TOKEN"].encode()
where = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(where.hostname, where.port)


def sign(url, params):
    """The provider's X-Twilio-Signature: HMAC-SHA1 of the URL and the sorted fields."""
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token, data.encode(), hashlib.sha1).digest()).decode()


def post(path, params):
    conn.request("POST", path, urllib.parse.urlencode(params), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(base + path, params),
    })
    answer = conn.getresponse()
    text = answer.read().decode()
    assert answer.status == 200, (answer.status, text)
    return text


def action(text):
    """The path and query of the answer's <Gather action>."""
    found = re.search(r'<Gather[^>]*action="([^"]+)"', text)
    assert found, text
    url = urllib.parse.urlparse(found.group(1).replace("&amp;", "&"))
    return url.path + ("?" + url.query if url.query else "")


def turn(path):
    """The turn a path names, or None on a server from before turns."""
    found = re.search(r"[?&]t=(\d+)", path)
    return int(found.group(1)) if found else None


def fields(sid):
    return [("CallSid", sid), ("From", "+15595550100"), ("To", "+18669013212")]


live = []  # (CallSid, path before the query, turn of the call's next request)
for i in range(calls):
    sid = "CA%032x" % (0x5EED0000 + i)
    star = fields(sid) + [("Digits", "*")]
    language = action(post("/voice/incoming", fields(sid)))
    menu = action(post(language, fields(sid) + [("Digits", "1")]))
    # Two presses show how the turn moves; the rest is signed ahead.
    again = action(post(menu, star))
    following = action(post(again, star))
    if turn(following) is not None:
        assert turn(following) - turn(again) == 1 << 32, (again, following)
    live.append((sid, following.split("?")[0], turn(following)))

for n in range(threads):
    mine = live[n::threads]
    with open("%s.%d" % (out, n), "w") as f:
        for k in range(turns):
            for sid, prefix, first in mine:
                path = prefix if first is None else "%s?t=%d" % (prefix, first + (k << 32))
                signature = sign(base + path, fields(sid) + [("Digits", "*")])
                f.write("%s %s %s\n" % (sid, path, signature))
with open(out + ".expect", "w") as f:
    f.write('main%-menu"' if live[0][2] is None else "main%-menu%?t=")
print(f"{calls} calls at the main menu, {turns} turns each signed ahead", file=sys.stderr)
