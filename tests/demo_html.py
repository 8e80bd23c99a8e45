"""HTML checks shared by the demo tests: image sources and tag balance with the standard library's parser, and
the page as a real browser shows it (headless Chromium over the DevTools protocol)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

VOID_TAGS = {"meta", "br", "img", "hr", "link", "input"}


class ImageSources(HTMLParser):
    """Collects every ``<img src>`` and fails on a closing tag that does not close the innermost open one."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs)["src"])
        if tag not in VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()


def parse_html(text: str) -> ImageSources:
    """Parse ``text``; every opened element must be closed."""
    parser = ImageSources()
    parser.feed(text)
    parser.close()
    assert not parser.open, f"unclosed elements: {parser.open}"
    return parser


# --------------------------------------------------------------------------------------- a real browser

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
LAUNCHER = """import os, sys
reads, writes = int(sys.argv[1]), int(sys.argv[2])
os.dup2(reads, 3); os.dup2(writes, 4); os.close(reads); os.close(writes)
os.execv(sys.argv[3], sys.argv[3:])
"""
# Everything the page shows that the tests compare: each image's loading state, each headline figure.
PAGE_STATE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({src: i.getAttribute("src"), complete: i.complete,
                                                   naturalWidth: i.naturalWidth})),
  figures: Array.from(document.querySelectorAll("span.figure")).map(s => ({...s.dataset, text: s.textContent})),
  height: document.documentElement.scrollHeight,
})"""


def _above_four(descriptor: int) -> int:
    """The same open file on a descriptor above 4 (so that moving it to 3 or 4 clobbers nothing)."""
    moved = fcntl.fcntl(descriptor, fcntl.F_DUPFD, 5)
    os.close(descriptor)
    return moved


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable on the PATH, if any."""
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


class ChromiumPage:
    """Headless Chromium driven over the DevTools protocol on a pipe (file descriptors 3 and 4 of the browser):
    no network port, nothing downloaded. Use as a context manager; :meth:`open` loads a page."""

    def __init__(self, executable: str, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()
        to_browser, from_browser = _above_four(to_browser), _above_four(from_browser)
        # A small launcher puts the two pipe ends on the descriptors Chromium reads and writes, then becomes it.
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                LAUNCHER,
                str(to_browser),
                str(from_browser),
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            pass_fds=(to_browser, from_browser),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session = ""

    def __enter__(self) -> ChromiumPage:
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.send(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}, session=False
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.send("Browser.close", session=False)
            self.process.wait(timeout=self.timeout_s)
        except (OSError, TimeoutError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._commands)
            os.close(self._replies)
            self._profile.cleanup()

    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        """Send one command and return its result (events arriving meanwhile are kept in :attr:`events`)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def open(self, path: Path, width: int = 1400, height: int = 900) -> dict:
        """Load ``path`` and return the page's state (images, headline figures, height); console errors,
        exceptions and failed loads are in :meth:`errors`."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.events.clear()
        self.send("Page.navigate", {"url": path.resolve().as_uri()})
        self._wait(lambda m: m.get("method") == "Page.loadEventFired")
        state = self.send("Runtime.evaluate", {"expression": PAGE_STATE, "returnByValue": True})
        return json.loads(state["result"]["value"])

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed resource loads seen since the page was opened."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
            elif event.get("method") == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"]["text"])
            elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
        return found

    def screenshot(self, path: Path, height: int) -> None:
        """A PNG of the whole page, ``height`` pixels tall."""
        metrics = {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics)
        shot = self.send("Page.captureScreenshot", {"format": "png"})
        path.write_bytes(base64.b64decode(shot["data"]))

    def _wait(self, wanted: Callable[[dict], bool]) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
                if "method" in message:
                    self.events.append(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._replies], [], [], remaining)[0]:
                raise TimeoutError(f"Chromium did not answer within {self.timeout_s:.0f} s")
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (status {self.process.poll()})")
            self._buffer += chunk


def check_report_in_browser(report_html: Path, chromium: str) -> dict:
    """Open the report in Chromium and check what a reader sees against report.json; returns the page state."""
    report = json.loads((report_html.parent / "report.json").read_text(encoding="utf-8"))
    with ChromiumPage(chromium) as page:
        state = page.open(report_html)
        errors = page.errors()
    assert not errors, f"console errors: {errors}"
    assert state["images"], "the report shows no image"
    for image in state["images"]:
        assert image["complete"] and image["naturalWidth"] > 0, f"image not displayed: {image['src']}"
    expected = {
        (group["key"], row["method"], protocol, figure): "n/a" if value is None else f"{value:.2f}"
        for group in report["groups"]
        for row in group["headline"]
        for protocol, figures in row.items()
        if protocol not in ("method", "label")
        for figure, value in figures.items()
    }
    shown = {(f["set"], f["method"], f["protocol"], f["figure"]): f["text"] for f in state["figures"]}
    assert len(shown) == len(state["figures"]), "a headline figure appears twice on the page"
    differing = {
        key: (shown.get(key), expected.get(key))
        for key in shown.keys() | expected.keys()
        if shown.get(key) != expected.get(key)
    }
    assert not differing, f"page vs report.json: {differing}"
    return state
