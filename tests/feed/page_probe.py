#!/usr/bin/env python3
# page_probe.py: run a script inside a page in headless Chromium and print
# what it returns, as JSON; optionally a screenshot of a part of the page.
# Speaks the DevTools protocol over --remote-debugging-pipe (fds 3 and 4,
# NUL-terminated JSON), so it needs no port and nothing beyond Python.
#
#   page_probe.py CHROMIUM URL SCRIPT.js [--shot OUT.png] [--profile DIR]
#
# SCRIPT.js is an expression for an async function; it is called once the
# page has fired its load event, and may wait on the page's own signals
# (a data attribute, a mutation). If it returns an object with "shot":
# {x, y, width, height} (CSS pixels of the page), that region is written to
# OUT.png at twice the scale. Exits 1 with a reason on any failure: a thrown
# error in the script, a crash, or no answer within --limit seconds (a guard
# against a hang, not a wait: nothing here sleeps).
import argparse
import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import time


class Browser:
    def __init__(self, chromium, profile, log, limit):
        cmd_r, self.cmd_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        # the child reads commands on fd 3 and writes answers on fd 4: move
        # its ends above both (close-on-exec) so dup2 onto 3 and 4 is clean
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(resp_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(resp_w)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--hide-scrollbars", "--window-size=1400,1900",
                "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     close_fds=False, preexec_fn=child)
        os.close(hi_r)
        os.close(hi_w)
        self.deadline = time.monotonic() + limit
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read(self):
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.resp_r], [], [], left)[0]:
            raise RuntimeError("no answer from chromium in time")
        chunk = os.read(self.resp_r, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed its pipe (crashed?)")
        self.buf += chunk

    def _message(self):
        while b"\0" not in self.buf:
            self._read()
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, params=None, session=None):
        """Send a command, return its result; events seen meanwhile are kept."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._message()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"].get("message")))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, session):
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method and m.get("sessionId") == session:
                    del self.events[i]
                    return m.get("params", {})
            self.events.append(self._message())

    def close(self):
        try:
            self.send("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chromium")
    ap.add_argument("url")
    ap.add_argument("script")
    ap.add_argument("--shot")
    ap.add_argument("--profile", default=None)
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--limit", type=float, default=60)
    a = ap.parse_args()
    with open(a.script) as f:
        script = f.read()
    profile = a.profile or os.path.join(os.environ.get("TMPDIR", "/tmp"), "page_probe.%d" % os.getpid())
    with open(a.log, "ab") as log:
        b = Browser(a.chromium, profile, log, a.limit)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            b.send("Page.enable", session=s)
            b.send("Page.navigate", {"url": a.url}, session=s)
            b.wait_event("Page.loadEventFired", s)
            r = b.send("Runtime.evaluate", {"expression": "(" + script + ")()", "awaitPromise": True,
                                            "returnByValue": True}, session=s)
            if "exceptionDetails" in r:
                d = r["exceptionDetails"]
                raise RuntimeError("the script failed: %s" % d.get("exception", {}).get("description", d.get("text")))
            value = r["result"].get("value")
            if a.shot and isinstance(value, dict) and value.get("shot"):
                clip = dict(value["shot"], scale=2)
                png = b.send("Page.captureScreenshot", {"format": "png", "clip": clip,
                                                        "captureBeyondViewport": True}, session=s)
                with open(a.shot, "wb") as f:
                    f.write(base64.b64decode(png["data"]))
            json.dump(value, sys.stdout)
            sys.stdout.write("\n")
        except RuntimeError as e:
            print("page_probe: %s" % e, file=sys.stderr)
            return 1
        finally:
            b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
