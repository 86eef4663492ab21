"""Open the generated report and runbook in headless Chromium: no console errors, no network
requests, and a screenshot that is not blank.

How: Chromium's DevTools protocol over ``--remote-debugging-pipe`` (JSON messages, NUL
terminated, commands on fd 3, replies and events on fd 4). Chosen over the alternatives
because it needs nothing beyond Debian's ``chromium`` and the standard library:

* ``--dump-dom`` and ``--screenshot`` alone cannot see requests or console messages;
* ``--remote-debugging-port`` needs a WebSocket client (not a dependency of the project)
  and opens a TCP port;
* playwright-python downloads its own browsers, which is impossible offline.

Every ``Network.requestWillBeSent`` is recorded: the only request allowed is the page's own
``file://`` load. Console errors (``Runtime.consoleAPICalled`` of type error or assert),
uncaught exceptions and browser log entries of level error all fail the test. The screenshot
is taken by ``Page.captureScreenshot`` at a quarter scale, so the small PNG decoder below
(8-bit RGB or RGBA, the formats Chromium writes) stays fast in pure Python.

Without Chromium the tests skip, unless ``CI=true``: then they fail, since CI must run them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from hkcompute.report.runbook import write_runbook
from hkcompute.report.site_report import write_report
from hkcompute.validate import load_valid_site

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventories" / "lab"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--window-size=1280,1000",
    "--remote-debugging-pipe",
)
PAGE_TIMEOUT_S = 20.0

# dup2 the pipe ends onto fds 3 and 4 and exec Chromium: done in a tiny Python shim rather
# than preexec_fn, so no fd number of the test process is assumed free or disturbed.
# The ends are first moved above 9, so that either may already be 3 or 4.
_SHIM = (
    "import fcntl, os, sys\n"
    "src = [int(sys.argv[1]), int(sys.argv[2])]\n"
    "high = [fcntl.fcntl(f, fcntl.F_DUPFD, 10) for f in src]\n"
    "for f in src: os.close(f)\n"
    "os.dup2(high[0], 3); os.dup2(high[1], 4)\n"
    "for f in high: os.close(f)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def chromium() -> str | None:
    for name in (os.environ.get("HKCOMPUTE_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture(scope="module")
def browser() -> str:
    exe = chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(
                "chromium is missing on CI: install Debian's `chromium` package "
                "(scripts/setup-debian.sh does)"
            )
        pytest.skip(
            "chromium is not installed (apt-get install chromium); CI=true makes this a failure"
        )
    return exe


class Cdp:
    """A minimal DevTools client over the pipe transport."""

    def __init__(self, exe: str, profile: Path) -> None:
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SHIM,
                str(cmd_r),
                str(res_w),
                exe,
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(cmd_r, res_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        deadline = time.monotonic() + PAGE_TIMEOUT_S
        while True:
            m = self._read(deadline)
            if m.get("id") == want:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                result: dict[str, Any] = m.get("result", {})
                return result
            self.events.append(m)

    def wait_event(self, method: str, timeout: float = PAGE_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def drain(self, seconds: float) -> None:
        """Collect events for a while (late requests, deferred console messages)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.events.append(self._read(deadline))
            except TimeoutError:
                return

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from chromium in time")
            ready, _, _ = select.select([self.res_r], [], [], left)
            if ready:
                chunk = os.read(self.res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.res_r)


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw pixel bytes) of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    out = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        out += line
        prev = line
    return width, height, channels, bytes(out)


def luminance_stats(png: bytes) -> tuple[float, int]:
    """(standard deviation of luminance, number of distinct colours)."""
    w, h, ch, px = decode_png(png)
    lum = []
    colours = set()
    for i in range(0, w * h * ch, ch):
        r, g, b = px[i], px[i + 1], px[i + 2]
        colours.add((r, g, b))
        lum.append(0.299 * r + 0.587 * g + 0.114 * b)
    mean = sum(lum) / len(lum)
    var = sum((v - mean) ** 2 for v in lum) / len(lum)
    return var**0.5, len(colours)


def open_page(exe: str, page: Path, profile: Path) -> tuple[list[str], list[str], bytes]:
    """(requests other than the page itself, errors, screenshot PNG)."""
    cdp = Cdp(exe, profile)
    try:
        target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.send(f"{domain}.enable", session=session)
        url = page.resolve().as_uri()
        cdp.send("Page.navigate", {"url": url}, session=session)
        cdp.wait_event("Page.loadEventFired")
        cdp.drain(0.5)
        shot = cdp.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "clip": {"x": 0, "y": 0, "width": 1280, "height": 1000, "scale": 0.25},
            },
            session=session,
        )
        cdp.drain(0.2)
    finally:
        cdp.close()
    requests, errors = [], []
    for e in cdp.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Network.requestWillBeSent":
            req = params["request"]["url"]
            if req != url:
                requests.append(req)
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            errors.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
    return requests, errors, base64.b64decode(shot["data"])


def check(exe: str, page: Path, profile: Path) -> None:
    requests, errors, png = open_page(exe, page, profile)
    assert requests == [], f"{page.name} made network requests: {requests}"
    assert errors == [], f"{page.name} logged errors: {errors}"
    spread, colours = luminance_stats(png)
    assert spread > 8 and colours > 16, (page.name, spread, colours)


def test_report_in_chromium(browser: str, tmp_path: Path) -> None:
    site, _ = load_valid_site(LAB)
    write_report(site, tmp_path / "report")
    check(browser, tmp_path / "report" / "report.html", tmp_path / "profile")


def test_runbook_in_chromium(browser: str, tmp_path: Path) -> None:
    site, _ = load_valid_site(LAB)
    write_runbook(site, 1, tmp_path / "runbook", "inventories/lab")
    check(browser, tmp_path / "runbook" / "runbook.html", tmp_path / "profile")


def test_blank_page_is_detected(browser: str, tmp_path: Path) -> None:
    """The screenshot check itself: a white page must fail it, so a pass means something."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body style='background:#fff'></body></html>")
    requests, errors, png = open_page(browser, page, tmp_path / "profile")
    assert requests == [] and errors == []
    spread, colours = luminance_stats(png)
    assert spread < 1 and colours <= 2
