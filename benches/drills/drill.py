"""The drill's client side (Python 3 standard library only): plays the provider, and
worse, against a Caseline server on 127.0.0.1. Driven by drill.sh; see README.md here.

    python3 drill.py hostile  BASE REQUESTS CONCURRENCY SECONDS REPORT.json
    python3 drill.py start    BASE CALLS STATE.json [--kill PID]
    python3 drill.py continue BASE STATE.json REPORT.json
    python3 drill.py pii      REPORT.json FILE...

BASE is the server's URL, http://127.0.0.1:PORT, which must also be its
CASELINE_PUBLIC_URL (every request is signed over BASE + path + query). The auth token is
CASELINE_TWILIO_AUTH_TOKEN; the TTY number is DRILL_TTY_NUMBER; the demo callers come
from DRILL_EXTRACT (demo/extract.json). Traffic goes to 127.0.0.1 only.
"""
import base64
import collections
import concurrent.futures
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

TOKEN = os.environ["CASELINE_TWILIO_AUTH_TOKEN"]
VOICE_LINE = "+18669013212"
TTY_LINE = os.environ.get("DRILL_TTY_NUMBER", "+18663994096")
EXTRACT = os.environ.get("DRILL_EXTRACT", "demo/extract.json")

# Card-shaped numbers (13 to 19 digits, Luhn-valid test cards) the drills send; the PII
# check looks for each of them afterwards.
CARDS = [
    "4111111111111111", "5555555555554444", "4012888888881881", "378282246310005",
    "6011111111111117", "5105105105105100", "4222222222222", "4000056655665556",
    "3566002020360505", "6011000990139424", "4111111111111111111",
]


def demo_callers():
    with open(EXTRACT) as f:
        extract = json.load(f)
    return [(p["ssn"], p["par_id"]) for p in extract["participants"]]


def roles():
    """par_id -> set of roles on its cases."""
    with open(EXTRACT) as f:
        extract = json.load(f)
    out = collections.defaultdict(set)
    for case in extract["cases"]:
        for m in case["members"]:
            out[m["par_id"]].add(m["role"])
    return out


def assert_loopback(base):
    host = urllib.parse.urlparse(base).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing to send traffic to {host}: loopback only")


def sign(url, params, token=TOKEN):
    """X-Twilio-Signature: HMAC-SHA1 of the URL and the sorted, de-duplicated fields."""
    data = url + "".join(k + v for k, v in sorted(set(params)))
    return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8", "surrogatepass"),
                                     hashlib.sha1).digest()).decode()


class Client:
    """One keep-alive connection to the server, reopened after any failure."""

    def __init__(self, base, timeout=20):
        where = urllib.parse.urlparse(base)
        self.base = base
        self.host, self.port = where.hostname, where.port
        self.timeout = timeout
        self.conn = None
        self.early_closes = 0

    def send(self, method, path, body=b"", headers=None):
        """(status, body bytes); raises OSError / HTTPException on a transport failure."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                self.conn.putheader(k, v)
            if method != "GET" or body:
                self.conn.putheader("Content-Length", str(len(body)))
            try:
                self.conn.endheaders(body if body else None)
            except (BrokenPipeError, ConnectionResetError):
                # A server may answer (413) and close before reading all of a body it
                # refuses: read that answer if it is there, else it is a transport error.
                if len(body) <= 64 * 1024:
                    raise
                self.early_closes += 1
            answer = self.conn.getresponse()
            data = answer.read()
            # After a 413 the server may close the connection once it stops reading the
            # body, without saying `Connection: close`: never reuse such a connection.
            if answer.getheader("connection", "").lower() == "close" or answer.status == 413:
                self.close()
            return answer.status, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def post_signed(self, url, params, extra_headers=None):
        """POSTs params to url (absolute, under base), signed as the provider would."""
        path = url[len(self.base):] if url.startswith(self.base) else url
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": sign(self.base + path, params)}
        headers.update(extra_headers or {})
        return self.send("POST", path, urllib.parse.urlencode(params).encode(), headers)


ANSWERS = os.environ.get("DRILL_ANSWERS")   # every answer body is appended here, if set
_answers_lock = threading.Lock()


def keep_answer(body):
    if ANSWERS:
        with _answers_lock, open(ANSWERS, "ab") as f:
            f.write(body + b"\n")


def parse_twiml(body):
    """The <Response> element, or raises ValueError."""
    root = ET.fromstring(body)
    if root.tag != "Response":
        raise ValueError(f"root is <{root.tag}>, not <Response>")
    return root


def next_of(root):
    """('gather', action) / ('redirect', url) / ('pay', action) / ('end', verb) for the
    first verb that hands the call on, reading nested verbs in order."""
    for verb in root.iter():
        if verb.tag == "Gather":
            return ("gather", verb.get("action", ""))
        if verb.tag == "Redirect":
            return ("redirect", (verb.text or "").strip())
        if verb.tag == "Pay":
            return ("pay", verb.get("action", ""))
        if verb.tag in ("Hangup", "Enqueue", "Dial", "Connect", "Record"):
            return ("end", verb.tag)
    return ("end", "none")


def step_of(url):
    path = urllib.parse.urlparse(url).path
    m = re.match(r"^/voice/(?:input|step|paid)/([^/?]+)", path)
    if m:
        return m.group(1)
    return path


def said(root):
    return " ".join((e.text or "") for e in root.iter("Say"))


APOLOGY_WORDS = ("something went wrong", "algo salió mal", "SOMETHING WENT WRONG")


# --------------------------------------------------------------------------------------
# Check 1: hostile webhooks.

ROUTES = [
    "/voice/incoming", "/voice/input/{step}", "/voice/step/{step}", "/voice/status",
    "/voice/recover", "/voice/recover?attempt={n}", "/voice/queue/wait", "/voice/queue/choice",
    "/voice/tty/after", "/voice/paid/pay-result?pay={pay}", "/voice/paid/{step}",
    "/voice/pay-status", "/voice/callback/answer?request={n}", "/voice/callback/status?request={n}",
    "/voice/callback/answer", "/voice/fallback", "/voice/staff/{step}?handoff={n}",
    "/voice/", "/voice", "/voice/nope", "/voice/input/", "/voice/step//x", "/voice/a/b/c/d",
    "/voice/input/main-menu?t={n}", "/voice/input/main-menu?t={n}&t={n}",
    "/voice/input/ask-ssn?t={n}", "/voice/input/ask-par?t={n}", "/voice/step/welcome?t=-1",
    "/voice/input/%FF%FE", "/voice/step/%C3%A9t%C3%A9", "/voice/input/..%2F..%2Fetc%2Fpasswd",
    "/voice/recover?attempt=99999999999999999999", "/voice/recover?attempt=-5",
    "/voice/input/language?t=18446744073709551615", "/voice/input/language?t=abc",
]

STEPS = ["main-menu", "language", "ask-ssn", "ask-par", "info-menu", "pay-confirm", "pay-card",
         "pay-result", "choose-case", "welcome", "representative", "requests-menu", "callback",
         "x" * 3000, "%00", "%3Cscript%3E", "'%20OR%201%3D1--", "%E2%80%AE", "%F0%9F%92%A5",
         "verify", "payments", "case-status", "main-menu;drop", "%2e%2e", "ask-ssn%0d%0aX:1"]


def odd_sid(rng):
    return rng.choice([
        "", "CA", "CA" + "0" * 32, "CA" + "f" * 32, "CA" + "g" * 32, "CA" + "0" * 31,
        "CA" + "0" * 33, "ca" + "a" * 32, "CA" + "a" * 5000, "CA' OR '1'='1", "CA<x/>&amp;",
        "CA\u00e9\u00e9", "CA\u202e" + "1" * 30, "CA\x00" + "1" * 31, "SM" + "1" * 32,
        " CA" + "1" * 32, "CA" + "1" * 32 + " ", "CA%2F..", "CA" + "".join(
            rng.choice("0123456789abcdef") for _ in range(32)),
    ])


def garbage_value(rng):
    ssn, par = rng.choice(demo_callers_cache)
    return rng.choice([
        "", " ", "1", "#", "*", "1" * 65, "9" * 10000, "0" * 60000,
        "<Response><Hangup/></Response>", "]]><Redirect>http://evil.test/</Redirect>",
        "&amp;&lt;&#0;&#x110000;", "\"'<>&", "' OR 1=1--", "'; DROP TABLE sessions;--",
        "1); DELETE FROM audit; --", "\\x00\\u0000", "\x00\x01\x02", "\ud800".encode(
            "utf-8", "surrogatepass").decode("utf-8", "replace"),
        "\u202e\u0645\u0631\u062d\u0628\u0627", "\U0001F4A5" * 300, "é" * 2000,
        "NaN", "inf", "-1e309", "1e400", "-0", "0x1F", "18446744073709551616",
        "${jndi:ldap://127.0.0.1/a}", "{{7*7}}", "%s%s%n", "../../../../etc/passwd",
        ssn.replace("-", ""), ssn, par,                      # PII in odd places
        rng.choice(CARDS), rng.choice(CARDS) + "#",
        "".join(rng.choice("0123456789*#") for _ in range(rng.randint(1, 40))),
    ])


FIELDS = ["Digits", "SpeechResult", "Confidence", "CallStatus", "CallDuration", "QueueResult",
          "DialCallStatus", "RecordingSid", "RecordingDuration", "RecordingUrl", "Result",
          "PaymentConfirmationCode", "PaymentCardNumber", "PaymentCardType", "ChargeAmount",
          "For", "ErrorType", "ErrorCode", "AnsweredBy", "CurrentQueueSize", "QueuePosition",
          "AccountSid", "Direction", "Called", "Caller", "StirVerstat", "QueueTime"]


def plausible_fields(sid, to):
    return [("CallSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", "+15595550123"),
            ("To", to), ("Direction", "inbound")]


demo_callers_cache = []


class Hostile:
    def __init__(self, base, total, concurrency, seconds):
        self.base = base
        self.total = total
        self.concurrency = concurrency
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.sent = 0
        self.codes = collections.Counter()          # (kind, status) -> n
        self.status = collections.Counter()         # status -> n
        self.transport = collections.Counter()      # exception name -> n
        self.bad_xml = []                           # (kind, path, reason, body head)
        self.fivexx = []                            # (kind, method, path, status, body head)
        self.signed_200 = 0
        self.unsigned_accepted = []
        self.early_closes = 0
        self.echoes = 0
        self.needles = [v.encode() for _, v in needles()]
        self.demo_ssns = {ssn.replace("-", "") for ssn, _ in demo_callers()}

    def take(self):
        with self.lock:
            if self.sent >= self.total or time.monotonic() > self.deadline:
                return False
            self.sent += 1
            return True

    def record(self, kind, method, path, status, body, expect_xml):
        with self.lock:
            self.codes[(kind, status)] += 1
            self.status[status] += 1
            if status >= 500:
                self.fivexx.append((kind, method, path[:120], status, body[:200].decode("utf-8", "replace")))
            if kind in ("unsigned", "forged") and status == 200:
                self.unsigned_accepted.append((kind, method, path[:120]))
        if status == 200 and any(n in body for n in self.needles):
            keep_answer(body)
            with self.lock:
                self.echoes += 1
        if expect_xml and status == 200 and path.startswith("/voice"):
            with self.lock:
                self.signed_200 += 1
            try:
                parse_twiml(body)
            except Exception as e:  # noqa: BLE001 - any parse failure is the finding
                with self.lock:
                    self.bad_xml.append((kind, path[:120], str(e)[:100], body[:200].decode("utf-8", "replace")))

    def route(self, rng):
        r = rng.choice(ROUTES)
        return r.format(step=rng.choice(STEPS), n=rng.choice(
            ["1", "0", "-1", "999999999999", "abc", "1.5", "%00", str(rng.randint(1, 10**6))]),
            pay=rng.choice(["", "a" * 32, "p" * 32, "z" * 32, "x" * 500, "%27--"]))

    def worker(self, seed):
        rng = random.Random(seed)
        client = Client(self.base)
        live = []   # plausible calls: [sid, next_url, to]
        while self.take():
            kind = rng.choices(["unsigned", "forged", "garbage", "plausible", "raw", "get"],
                               weights=[10, 12, 35, 33, 5, 5])[0]
            try:
                self.one(rng, client, kind, live)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.transport["%s (%s)" % (type(e).__name__, kind)] += 1
                client.close()
        client.close()
        with self.lock:
            self.early_closes += client.early_closes

    def one(self, rng, client, kind, live):
        sid = "CA" + "".join(rng.choice("0123456789abcdef") for _ in range(32))
        to = rng.choice([VOICE_LINE, TTY_LINE])
        if kind == "unsigned":
            path = self.route(rng)
            params = plausible_fields(sid, to) + [("Digits", rng.choice(["1", "2", "3"]))]
            status, body = client.send("POST", path, urllib.parse.urlencode(params).encode(),
                                       {"Content-Type": "application/x-www-form-urlencoded"})
            self.record(kind, "POST", path, status, body, False)
        elif kind == "forged":
            path = self.route(rng)
            params = plausible_fields(sid, to) + [("Digits", "1")]
            how = rng.randint(0, 8)
            body = urllib.parse.urlencode(params).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if how == 0:
                headers["X-Twilio-Signature"] = sign(self.base + path, params, "wrong-token")
            elif how == 1:
                headers["X-Twilio-Signature"] = sign(self.base + path + "x", params)
            elif how == 2:   # signed, then a field changed
                headers["X-Twilio-Signature"] = sign(self.base + path, params)
                body = urllib.parse.urlencode(params[:-1] + [("Digits", "2")]).encode()
            elif how == 3:
                headers["X-Twilio-Signature"] = "not base64 at all !!!"
            elif how == 4:
                headers["X-Twilio-Signature"] = ""
            elif how == 5:
                headers["X-Twilio-Signature"] = base64.b64encode(os.urandom(20)).decode()
            elif how == 6:   # claims SHA-256 (no shared key configured)
                headers["X-Twilio-Signature"] = sign(self.base + path, params)
                headers["X-Twilio-Webhooks-Signature-Settings"] = "algorithm=HMAC_SHA256"
            elif how == 7:
                headers["X-Twilio-Signature"] = sign(self.base + path, params)
                headers["X-Twilio-Webhooks-Signature-Settings"] = "algorithm=MD5"
            else:            # signed over another host
                headers["X-Twilio-Signature"] = sign("https://evil.test" + path, params)
            status, answer = client.send("POST", path, body, headers)
            self.record(kind, "POST", path, status, answer, False)
        elif kind == "garbage":
            path = self.route(rng)
            params = []
            if rng.random() < 0.8:
                params.append(("CallSid", sid if rng.random() < 0.5 else odd_sid(rng)))
            if rng.random() < 0.7:
                params += [("From", rng.choice(["+15595550123", "anonymous", "", "+1" + "9" * 40, "<x>", "' OR 1=1"])),
                           ("To", rng.choice([VOICE_LINE, TTY_LINE, "", "+1", "'", TTY_LINE + "\u00e9"]))]
            for _ in range(rng.randint(1, 6)):
                params.append((rng.choice(FIELDS), garbage_value(rng)))
            if rng.random() < 0.3:   # duplicate fields, same and different values
                params += [("CallSid", odd_sid(rng)), ("Digits", "1"), ("Digits", "2"), ("Digits", "1")]
            if rng.random() < 0.05:  # a random field name
                params.append(("".join(chr(rng.randint(0x20, 0x2FF)) for _ in range(8)), "v"))
            if any(v in self.demo_ssns for _, v in params):
                # A demo SSN keyed into a session a later request (a fixed odd CallSid)
                # could follow with a wrong PAR ID would count towards locking it, and
                # the kill drill verifies these callers: a fresh call of its own.
                params = [(k, v) for k, v in params if k != "CallSid"] + [("CallSid", sid)]
            status, body = client.post_signed(self.base + path, params)
            self.record(kind, "POST", path, status, body, True)
        elif kind == "plausible":
            if not live or (len(live) < 6 and rng.random() < 0.3):
                params = plausible_fields(sid, to) + [("CallStatus", "ringing")]
                status, body = client.post_signed(self.base + "/voice/incoming", params)
                self.record(kind, "POST", "/voice/incoming", status, body, True)
                self.advance(live, [sid, None, to], status, body)
                return
            call = rng.choice(live)
            sid, url, to = call
            if rng.random() < 0.1:   # the call ends
                live.remove(call)
                params = plausible_fields(sid, to) + [("CallStatus", "completed"), ("CallDuration", "30")]
                status, body = client.post_signed(self.base + "/voice/status", params)
                self.record(kind, "POST", "/voice/status", status, body, True)
                return
            step = step_of(url)
            if step == "ask-ssn":  # never a demo SSN here: wrong guesses would lock it
                keys = "8" + "".join(rng.choice("0123456789") for _ in range(8))
            elif step == "ask-par":
                keys = "".join(rng.choice("0123456789") for _ in range(10)) + "#"
            else:
                keys = rng.choice(["1", "2", "3", "4", "5", "8", "9", "0", "*", "#", "", "7", "11", "1#"])
            params = plausible_fields(sid, to)
            if keys:
                params.append(("Digits", keys))
            elif rng.random() < 0.5:
                params += [("SpeechResult", rng.choice(["payments", "pagos", "case status", "agent", "call me back"])),
                           ("Confidence", rng.choice(["0.9", "0.4", "1"]))]
            path = url[len(self.base):] if url.startswith(self.base) else url
            status, body = client.post_signed(url, params)
            self.record(kind, "POST", path, status, body, True)
            live.remove(call)
            self.advance(live, call, status, body)
        elif kind == "raw":
            path = self.route(rng)
            how = rng.randint(0, 5)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if how == 0:
                body = b"CallSid=%zz&Digits=%&=&&&==" + b"%FF" * 10
            elif how == 1:
                body = b"CallSid=CA" + bytes(rng.randrange(256) for _ in range(200))
            elif how == 2:
                body = b"Digits=" + b"1" * (70 * 1024)      # over 64 KiB: 413
            elif how == 3:
                headers["Content-Type"] = "application/json"
                body = b'{"CallSid": "CA1", "Digits": "1"}'
            elif how == 4:
                headers["Content-Type"] = "text/xml"
                body = b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY b SYSTEM 'file:///etc/passwd'>]><a>&b;</a>"
            else:
                body = b""
            # Signed over what form parsing of the body would give.
            params = urllib.parse.parse_qsl(body.decode("latin-1"), keep_blank_values=True) if how in (0, 1) else []
            if rng.random() < 0.5:
                headers["X-Twilio-Signature"] = sign(self.base + path, params)
            status, answer = client.send("POST", path, body, headers)
            self.record(kind, "POST", path, status, answer, False)
        else:  # GET, signed (over the URL) or not
            path = self.route(rng)
            headers = {}
            signed = rng.random() < 0.5
            if signed:
                headers["X-Twilio-Signature"] = sign(self.base + path, [])
            status, body = client.send("GET", path, b"", headers)
            self.record("get-signed" if signed else "get-unsigned", "GET", path, status, body, signed)

    def advance(self, live, call, status, body):
        if status != 200:
            return
        try:
            kind, url = next_of(parse_twiml(body))
        except Exception:
            return
        if kind in ("gather", "redirect", "pay") and url.startswith(self.base):
            call[1] = url
            live.append(call)

    def run(self):
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(self.worker, range(self.concurrency)))


def websocket_probe(base):
    """A few upgrades to /tty/stream: unsigned, forged, signed; returns status lines."""
    where = urllib.parse.urlparse(base)
    ws_url = "ws://%s:%d/tty/stream" % (where.hostname, where.port)
    out = collections.Counter()
    for label, sig in [("unsigned", None), ("forged", "AAAA" * 7),
                       ("signed", sign(ws_url, [])), ("signed", sign(ws_url, []))]:
        s = socket.create_connection((where.hostname, where.port), timeout=10)
        try:
            req = ("GET /tty/stream HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n" % (where.hostname, where.port))
            if sig is not None:
                req += "X-Twilio-Signature: %s\r\n" % sig
            s.sendall((req + "\r\n").encode())
            head = s.recv(4096).split(b"\r\n")[0].decode("latin-1")
            code = int(head.split()[1]) if len(head.split()) > 1 else 0
            if code == 101:
                # A `start` naming no live call: the server must close the socket.
                msg = json.dumps({"event": "start", "start": {"callSid": "CA" + "0" * 32,
                                  "customParameters": {"token": "nope' OR 1=1"}}}).encode()
                mask = os.urandom(4)
                frame = bytes([0x81, 0x80 | 126]) + len(msg).to_bytes(2, "big") + mask + \
                    bytes(b ^ mask[i % 4] for i, b in enumerate(msg))
                s.sendall(frame)
                s.settimeout(8)
                try:
                    rest = s.recv(4096)
                    out["%s 101 then %s" % (label, "close frame" if rest[:1] == b"\x88" else
                                            ("EOF" if not rest else "data"))] += 1
                except socket.timeout:
                    out["%s 101 then still open after 8 s" % label] += 1
            else:
                out["%s %d" % (label, code)] += 1
        finally:
            s.close()
    return dict(out)


def cmd_hostile(base, total, concurrency, seconds, report):
    assert_loopback(base)
    demo_callers_cache.extend(demo_callers())
    h = Hostile(base, int(total), int(concurrency), float(seconds))
    started = time.monotonic()
    h.run()
    elapsed = time.monotonic() - started
    try:
        ws = websocket_probe(base)
    except Exception as e:  # noqa: BLE001
        ws = {"error": repr(e)}
    by_kind = collections.defaultdict(dict)
    for (kind, status), n in sorted(h.codes.items()):
        by_kind[kind][str(status)] = n
    result = {
        "sent": h.sent, "seconds": round(elapsed, 1),
        "status": {str(k): v for k, v in sorted(h.status.items())},
        "by_kind": by_kind, "transport_errors": dict(h.transport),
        "fivexx": h.fivexx[:20], "fivexx_count": len(h.fivexx),
        "signed_200_checked": h.signed_200, "bad_xml": h.bad_xml[:20], "bad_xml_count": len(h.bad_xml),
        "unsigned_accepted": h.unsigned_accepted[:20], "websocket": ws,
        "oversized_closed_early_then_answered": h.early_closes, "answers_with_pii": h.echoes,
    }
    with open(report, "w") as f:
        json.dump(result, f, indent=1)
    print("hostile: %d requests in %.1f s (%d/s); status %s; transport errors %s"
          % (h.sent, elapsed, h.sent / max(elapsed, 0.001), result["status"], result["transport_errors"] or 0))
    for kind, codes in by_kind.items():
        print("  %-12s %s" % (kind, codes))
    print("  signed 200 answers parsed as <Response>: %d, not well-formed: %d" % (h.signed_200, len(h.bad_xml)))
    print("  bodies over 64 KiB the server answered (413) before reading them whole: %d" % h.early_closes)
    print("  answers carrying a demo SSN, PAR ID or card number sent (kept for the PII check): %d" % h.echoes)
    for b in h.bad_xml[:5]:
        print("  NOT XML:", b)
    for b in h.fivexx[:5]:
        print("  5xx:", b)
    for b in h.unsigned_accepted[:5]:
        print("  unsigned/forged accepted:", b)
    print("  websocket upgrades:", ws)
    ok = (not h.fivexx and not h.transport and not h.bad_xml and not h.unsigned_accepted
          and h.sent >= min(int(total), 20000))
    if h.sent < int(total):
        print("  only %d of %d requests sent within the time bound" % (h.sent, int(total)))
    return ok


# --------------------------------------------------------------------------------------
# Check 2: calls survive kill -9.

# Each scenario: the line, the keys pressed before the kill (each at the Gather the last
# answer named; 'SSN' / 'PAR' stand for the caller's), whether the last answer before the
# kill is left as a Redirect to follow, the keys pressed after the restart, and the steps
# the answer to that request may name.
PAYMENTS = {"payments-paying", "payments-receiving", "payments-none", "choose-case"}
CASE_STATUS = {"case-open", "case-closed", "choose-case"}
SCENARIOS = [
    # name,              line,  before,                         after, expect
    ("voice-language",   "voice", [],                           "1",   {"main-menu"}),
    ("voice-info",       "voice", ["1", "3"],                    "1",   {"info-hours"}),
    ("voice-topic-es",   "voice", ["2", "3", "2"],               "8",   {"info-menu"}),
    ("voice-main-again", "voice", ["1", "3", "9"],               "2",   {"ask-ssn"}),
    ("voice-ask-par",    "voice", ["1", "1", "SSN"],             "PAR", PAYMENTS),
    ("voice-verified",   "voice", ["1", "1", "SSN", "PAR", "?1"], "1",  CASE_STATUS),
    ("voice-requests",   "voice", ["1", "4"],                    "9",   {"main-menu"}),
    ("tty-language",     "tty",   [],                           "1",   {"main-menu"}),
    ("tty-info",         "tty",   ["1", "3"],                    "4",   {"info-services"}),
    ("tty-ask-par",      "tty",   ["1", "1", "SSN"],             "PAR", PAYMENTS),
    ("tty-verified",     "tty",   ["1", "1", "SSN", "PAR", "?1"], "1",  CASE_STATUS),
]


class Phone:
    def __init__(self, client, sid, to):
        self.client, self.sid, self.to = client, sid, to
        self.next = None      # (kind, url)
        self.last_xml = ""
        self.trail = []       # steps answered

    def fields(self):
        return plausible_fields(self.sid, self.to)

    def post(self, url, extra):
        status, body = self.client.post_signed(url, self.fields() + extra)
        text = body.decode("utf-8", "replace")
        if status != 200:
            raise RuntimeError("HTTP %d at %s: %s" % (status, url, text[:200]))
        root = parse_twiml(body)
        keep_answer(body)
        self.last_xml = text
        self.next = next_of(root)
        self.trail.append(step_of(self.next[1]) if self.next[0] != "end" else self.next[1])
        return root

    def dial(self):
        return self.post(self.client.base + "/voice/incoming", [("CallStatus", "ringing")])

    def follow_redirects(self, limit=5):
        for _ in range(limit):
            if self.next[0] != "redirect":
                return
            self.post(self.next[1], [])

    def press(self, keys):
        self.follow_redirects()
        if self.next[0] != "gather":
            raise RuntimeError("no <Gather> to press %s at; next is %s" % (keys, self.next))
        return self.post(self.next[1], [("Digits", keys)])


def cmd_start(base, calls, state_path, kill_pid=None):
    """Starts CALLS calls and drives each to its scenario's last step before the kill;
    the last request of every call goes in one burst, 32 at a time, and with --kill the
    server is killed (SIGKILL) the moment the burst's last answer is read."""
    assert_loopback(base)
    callers = demo_callers()
    role = roles()
    payers = [c for c in callers if "noncustodial" in role[c[1]]]
    client = Client(base)
    phones = []
    failures = []
    for i in range(int(calls)):
        name, line, before, after, expect = SCENARIOS[i % len(SCENARIOS)]
        sid = "CA%08x%024x" % (0xD0111000 + i, random.getrandbits(96))
        ph = Phone(client, sid, VOICE_LINE if line == "voice" else TTY_LINE)
        ssn, par = callers[i % len(callers)]
        ph.meta = {"i": i, "scenario": name, "sid": sid, "to": ph.to, "ssn_index": i % len(callers)}
        keys = [k.replace("SSN", ssn.replace("-", "")).replace("PAR", par + "#") for k in before]
        try:
            ph.dial()
            # All but the last key now; the last in the burst below.
            for k in keys[:-1]:
                if k.startswith("?"):     # only if asked which case
                    if ph.next[0] == "gather" and step_of(ph.next[1]) == "choose-case":
                        ph.press(k[1:])
                    continue
                ph.press(k)
            ph.pending = keys[-1] if keys else None
            ph.after = after.replace("SSN", ssn.replace("-", "")).replace("PAR", par + "#")
            ph.expect = expect
            phones.append(ph)
        except Exception as e:  # noqa: BLE001
            failures.append((name, sid, repr(e)[:300]))
    # A card payment by a paying parent, to the <Pay> result (the card-shaped code
    # must come back masked and be stored so); not part of the kill check.
    pay_report = pay_drill(client, payers)

    # The kill comes in the middle of the burst, when this share of its answers is in:
    # some calls were answered a moment before, some requests are in flight, some not
    # sent yet (those the provider would send again: after the restart they are).
    def will_send(ph):
        k = ph.pending
        return k is not None and (not k.startswith("?") or (
            ph.next[0] == "gather" and step_of(ph.next[1]) == "choose-case"))
    sending = sum(1 for ph in phones if will_send(ph))
    kill_after = max(1, int(sending * float(os.environ.get("DRILL_KILL_AT", "0.5"))))
    lock = threading.Lock()
    answered = [0]
    killed_at = [None]

    def kill_now():
        if kill_pid and killed_at[0] is None:
            os.kill(int(kill_pid), signal.SIGKILL)
            killed_at[0] = time.time()

    def last(ph):
        c = Client(base)
        ph.client = c
        ph.retry = None
        k = ph.pending
        if not will_send(ph):
            return None
        try:
            if k is not None and k.startswith("?"):
                if ph.next[0] == "gather" and step_of(ph.next[1]) == "choose-case":
                    ph.press(k[1:])
            elif k is not None:
                ph.press(k)
            ph.answered_at = time.time()
            with lock:
                answered[0] += 1
                if answered[0] == kill_after:
                    kill_now()
            return None
        except Exception as e:  # noqa: BLE001
            with lock:
                after_kill = killed_at[0] is not None
            if after_kill and k is not None:
                ph.retry = k     # no answer: sent again after the restart
                return None
            return (ph.meta["scenario"], ph.sid, repr(e)[:300])
        finally:
            c.close()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        errors = [e for e in pool.map(last, phones) if e]
    with lock:
        kill_now()
    failures += errors
    failed_sids = {f[1] for f in errors}
    kt = killed_at[0]
    recent = sum(1 for ph in phones if kt and getattr(ph, "answered_at", 0) and 0 <= kt - ph.answered_at <= 0.1)
    retried = sum(1 for ph in phones if getattr(ph, "retry", None) is not None)
    state = {"killed_at": kt, "pay": pay_report, "failures": failures, "burst": sending,
             "answered_before_kill": answered[0],
             "answered_within_100ms_before_kill": recent, "unanswered_at_kill": retried, "calls": [
                 dict(ph.meta, next=ph.next, after=ph.after, expect=sorted(ph.expect), trail=ph.trail,
                      retry=getattr(ph, "retry", None))
                 for ph in phones if ph.sid not in failed_sids]}
    with open(state_path, "w") as f:
        json.dump(state, f, indent=1)
    print("start: %d calls driven in, %d failed before the kill%s"
          % (len(state["calls"]), len(failures), "; server killed (SIGKILL)" if kill_pid else ""))
    if kill_pid:
        print("  kill -9 when %d of the burst's %d last requests were answered; %d answered in all, %d of"
              " them in the 100 ms before the kill; %d unanswered (sent again after the restart)"
              % (kill_after, sending, answered[0], recent, retried))
    for f in failures[:10]:
        print("  failed before the kill:", f)
    print("  pay drill:", pay_report)
    return not failures


def pay_drill(client, payers):
    """A verified paying parent to the <Pay>, then the provider's result carrying a
    card-shaped confirmation code and card number."""
    out = {}
    for ssn, par in payers[:1]:
        ph = Phone(client, "CA%032x" % random.getrandbits(128), VOICE_LINE)
        try:
            ph.dial()
            for k in ["1", "1", ssn.replace("-", ""), par + "#"]:
                ph.press(k)
            if step_of(ph.next[1]) == "choose-case":
                ph.press("1")
            ph.press("4")          # make a payment
            if step_of(ph.next[1]) == "choose-case":
                ph.press("1")
            ph.press("1")          # the monthly amount
            ph.press("1")          # confirm
            ph.follow_redirects()
            if ph.next[0] != "pay":
                out["reached"] = "no <Pay>: %s (%s)" % (ph.next, ph.trail)
                return out
            amount = re.search(r'chargeAmount="([^"]+)"', ph.last_xml).group(1)
            root = ph.post(ph.next[1], [
                ("Result", "success"), ("PaymentConfirmationCode", CARDS[0]),
                ("PaymentCardNumber", CARDS[1]), ("PaymentCardType", "visa"),
                ("ExpirationDate", "1229"), ("PaymentCardPostalCode", "95814"),
                ("SecurityCode", "123"), ("PaymentMethod", "credit-card"), ("ChargeAmount", amount)])
            text = said(root)
            out["reached"] = "pay-result answered"
            out["readback_has_full_code"] = CARDS[0] in ph.last_xml
            out["said"] = text[:160]
            ph.post(client.base + "/voice/status", [("CallStatus", "completed")])
        except Exception as e:  # noqa: BLE001
            out["error"] = repr(e)[:300] + " trail=%s" % ph.trail
    return out


def turn_of(url):
    m = re.search(r"[?&]t=(\d+)", url or "")
    return int(m.group(1)) if m else None


def saved_positions(state, dump_path):
    """What the database held for each call between the kill and the restart, against
    the position its last answer named: 'same' (the awaited step and the turn the next
    URL names), 'behind' (an earlier position: the last one was lost), or 'missing'."""
    rows = {}
    with open(dump_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            sid, _, st = line.rstrip("\n").partition("|")
            try:
                rows[sid] = json.loads(st)
            except ValueError:
                pass
    out = {}
    for c in state["calls"]:
        row = rows.get(c["sid"])
        url = c["next"][1]
        if row is None:
            out[c["sid"]] = ("missing", None, None)
            continue
        want_step, want_turn = step_of(url), turn_of(url)
        got_step, got_turn = row.get("awaiting") or row.get("step"), row.get("turn")
        # The answer count is the turn's high 32 bits (the low ones name the server).
        want_n = None if want_turn is None else want_turn >> 32
        got_n = None if got_turn is None else int(got_turn) >> 32
        if got_step == want_step and (want_n is None or got_n == want_n):
            out[c["sid"]] = ("same", got_step, got_turn)
        elif want_n is not None and got_n is not None and got_n > want_n:
            out[c["sid"]] = ("ahead", "%s (turn %s)" % (got_step, got_turn),
                             "%s (turn %s)" % (want_step, want_turn))
        else:
            out[c["sid"]] = ("behind", "%s (turn %s)" % (got_step, got_turn),
                             "%s (turn %s)" % (want_step, want_turn))
    return out


def cmd_continue(base, state_path, report, dump_path=None):
    assert_loopback(base)
    with open(state_path) as f:
        state = json.load(f)
    positions = saved_positions(state, dump_path) if dump_path else {}
    results = collections.Counter()
    bad = []
    earlier = []

    def go(c):
        client = Client(base)
        ph = Phone(client, c["sid"], c["to"])
        ph.next = tuple(c["next"])
        try:
            k = c.get("retry")
            if k is not None:   # its request had no answer before the kill: sent again
                if not k.startswith("?"):
                    ph.press(k)
                elif ph.next[0] == "gather" and step_of(ph.next[1]) == "choose-case":
                    ph.press(k[1:])
                if any(w in ph.last_xml for w in APOLOGY_WORDS) or "/voice/recover" in ph.next[1]:
                    return ("fail", c, "apology to the request sent again: %s" % ph.last_xml[:300])
            redirected = ph.next[0] == "redirect"
            ph.follow_redirects()
            if ph.next[0] != "gather":
                return ("fail", c, "after the restart no <Gather>: %s" % (ph.next,))
            root = ph.press(c["after"])
            ph.follow_redirects()
            got = step_of(ph.next[1]) if ph.next[0] != "end" else ph.next[1]
            text = said(root)
            if any(w in ph.last_xml for w in APOLOGY_WORDS) or "/voice/recover" in ph.next[1]:
                return ("fail", c, "apology: %s" % ph.last_xml[:300])
            if got in ("language",) and "language" not in c["expect"]:
                return ("fail", c, "the welcome again: %s" % text[:160])
            if got not in c["expect"]:
                return ("fail", c, "expected %s, got %s (%s)" % (c["expect"], got, text[:160]))
            ph.post(base + "/voice/status", [("CallStatus", "completed"), ("CallDuration", "60")])
            return ("ok-retried" if k is not None else ("ok-redirect" if redirected else "ok"), c, got)
        except Exception as e:  # noqa: BLE001
            return ("fail", c, repr(e)[:300])
        finally:
            client.close()
    # At most 8 at a time: the server checks at most five PAR IDs for one SSN at once.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for outcome, c, detail in pool.map(go, state["calls"]):
            pos = positions.get(c["sid"])
            if pos:
                results["saved " + pos[0]] += 1
                if pos[0] != "same":
                    earlier.append({"scenario": c["scenario"], "sid": c["sid"], "saved": pos[0],
                                    "db_had": pos[1], "last_answer_named": pos[2],
                                    "continued": outcome.startswith("ok")})
            results[outcome] += 1
            results["%s %s" % (c["scenario"], "ok" if outcome.startswith("ok") else "FAIL")] += 1
            if outcome == "fail":
                bad.append((c["scenario"], c["sid"], detail))
    total = len(state["calls"]) + len(state["failures"])
    ok = results["ok"] + results["ok-redirect"] + results["ok-retried"]
    out = {"total": total, "continued": ok, "followed_redirect": results["ok-redirect"],
           "sent_again_after_restart": results["ok-retried"],
           "answered_within_100ms_before_kill": state.get("answered_within_100ms_before_kill"),
           "failed": bad, "by_scenario": {k: v for k, v in sorted(results.items()) if " " in k},
           "failed_before_kill": state["failures"], "pay": state["pay"], "earlier": earlier}
    with open(report, "w") as f:
        json.dump(out, f, indent=1)
    print("continue: %d of %d calls answered the expected next step after kill -9 and restart"
          " (%d of them after their unanswered request was sent again)" % (ok, total, results["ok-retried"]))
    for k, v in sorted(out["by_scenario"].items()):
        print("  %-28s %d" % (k, v))
    if positions:
        out["saved_positions"] = {k[6:]: v for k, v in results.items() if k.startswith("saved ")}
        print("  database between kill and restart: %d calls at the position their last answer"
              " named, %d behind it (last position lost), %d ahead of it (a request committed"
              " whose answer never came), %d with no session row"
              % (results["saved same"], results["saved behind"], results["saved ahead"],
                 results["saved missing"]))
        for e in earlier[:10]:
            print("    position not the last answer's:", e)
        with open(report, "w") as f:
            json.dump(out, f, indent=1)
    for b in bad[:10]:
        print("  FAILED:", b)
    return ok == total and total >= 100 and not bad


# --------------------------------------------------------------------------------------
# Check 3: no SSN, PAR ID or card number anywhere.

def needles():
    out = []
    for ssn, par in demo_callers():
        out += [("ssn", ssn), ("ssn", ssn.replace("-", "")), ("par_id", par)]
    out += [("card", c) for c in CARDS]
    return out


def mask(v):
    return v[:2] + "*" * (len(v) - 4) + v[-2:]


def cmd_pii(report, files):
    # A positive control: the search finds each value in each form it looks for.
    control = b"".join(b" %s %s %s " % (v.encode(), v.encode("utf-16le"), v.encode().hex().encode())
                       for _, v in needles())
    assert all(control.count(v.encode()) >= 1 for _, v in needles()), "the search is broken"
    found = []
    sizes = {}
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            sizes[path] = None
            continue
        sizes[path] = len(data)
        # The bytes as they are, and as UTF-16 (a text column could hold that too).
        for kind, v in needles():
            for enc, needle in (("ascii", v.encode()), ("utf-16le", v.encode("utf-16le")),
                                ("hex", v.encode().hex().encode())):
                at = data.find(needle)
                if at >= 0:
                    around = data[max(0, at - 90):at + len(needle) + 30].replace(needle, mask(v).encode())
                    found.append({"file": path, "kind": kind, "value": mask(v), "offset": at,
                                  "encoding": enc, "count": data.count(needle),
                                  "context": around.decode("utf-8", "replace")})
    with open(report, "w") as f:
        json.dump({"files": sizes, "hits": found}, f, indent=1)
    print("pii: searched %d files (%s bytes) for %d values (%d SSN forms, %d PAR IDs, %d card numbers)"
          % (len([s for s in sizes.values() if s is not None]),
             sum(s or 0 for s in sizes.values()), len(needles()),
             sum(1 for k, _ in needles() if k == "ssn"), sum(1 for k, _ in needles() if k == "par_id"),
             len(CARDS)))
    for path, size in sizes.items():
        print("  %-60s %s" % (path, "missing" if size is None else "%d bytes" % size))
    for h in found:
        print("  HIT: %s %s %s at byte %d (%d times, %s): ...%r..." % (h["file"], h["kind"], h["value"], h["offset"],
              h["count"], h["encoding"], h["context"]))
    return not found


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    cmd = args[0]
    if cmd == "hostile":
        ok = cmd_hostile(*args[1:6])
    elif cmd == "start":
        kill = args[args.index("--kill") + 1] if "--kill" in args else None
        ok = cmd_start(args[1], args[2], args[3], kill)
    elif cmd == "continue":
        ok = cmd_continue(args[1], args[2], args[3], args[4] if len(args) > 4 else None)
    elif cmd == "pii":
        ok = cmd_pii(args[1], args[2:])
    else:
        sys.exit(__doc__)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
