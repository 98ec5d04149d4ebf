"""Puts CALLS calls at the main menu of a running Caseline and signs, for each, its next
TURNS requests pressing * (each answer's URL names the next turn: the answer count in the
high 32 bits of `t`, the server's name in the low ones), so that wrk can follow the calls
as the provider does. Writes one line per request: call index, CallSid, path, signature.

python3 presign.py BASE_URL CALLS TURNS OUT   (CASELINE_TWILIO_AUTH_TOKEN set)
"""
import base64
import hashlib
import hmac
import http.client
import os
import re
import sys
import urllib.parse

base, calls, turns, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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
    return int(re.search(r"[?&]t=(\d+)", path).group(1))


with open(out, "w") as f:
    for i in range(calls):
        sid = "CA%032x" % (0x5EED0000 + i)
        fields = [("CallSid", sid), ("From", "+15595550100"), ("To", "+18669013212")]
        star = fields + [("Digits", "*")]
        language = action(post("/voice/incoming", fields))
        menu = action(post(language, fields + [("Digits", "1")]))
        # Two presses show how the turn moves; the rest is signed ahead.
        again = action(post(menu, star))
        following = action(post(again, star))
        assert turn(following) - turn(again) == 1 << 32, (again, following)
        prefix = following.split("?")[0]
        for k in range(turns):
            path = "%s?t=%d" % (prefix, turn(following) + (k << 32))
            f.write("%d %s %s %s\n" % (i, sid, path, sign(base + path, star)))
print(f"{calls} calls at the main menu, {turns} turns each signed ahead", file=sys.stderr)
