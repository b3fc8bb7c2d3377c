"""Headless Chromium for the end-to-end tests, driven over W3C WebDriver by chromedriver from the standard
library (urllib), rather than by Playwright: Debian builds `chromium-driver` from the same Chromium release as
`chromium`, so driver and browser always agree on a version, and the tests need no npm package, no cache of
one and no Node. Both come from scripts/deps.sh."""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import mgtest
from mgtest import wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


class WebDriver:
    """The few W3C WebDriver commands the test needs, as JSON over HTTP to chromedriver."""

    def __init__(self, port: int, extra_args: list[str]):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--hide-scrollbars", *extra_args]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method: str, path: str, body=None):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def go(self, url: str) -> None:
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script: str, *args):
        return self.call("POST", self.s("/execute/sync"), {"script": script, "args": list(args)})

    def js_async(self, script: str, *args):
        """Runs script with a callback as its last argument (`arguments[arguments.length - 1]`); its value."""
        return self.call("POST", self.s("/execute/async"), {"script": script, "args": list(args)})

    def find(self, css: str) -> str:
        found = self.call("POST", self.s("/element"), {"using": "css selector", "value": css})
        return next(iter(found.values()))

    def click(self, css: str) -> None:
        self.call("POST", self.s(f"/element/{self.find(css)}/click"))

    def type(self, css: str, text: str) -> None:
        self.call("POST", self.s(f"/element/{self.find(css)}/value"), {"text": text})

    def window(self, width: int, height: int) -> None:
        self.call("POST", self.s("/window/rect"), {"width": width, "height": height})

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("GET", self.s("/screenshot"))))

    def quit(self) -> None:
        try:
            self.call("DELETE", self.s(""))
        except Exception:  # noqa: BLE001 - chromedriver is killed next anyway
            pass


def start(c: mgtest.Cluster, extra_args: list[str] | None = None) -> WebDriver:
    """chromedriver as one of c's processes, and a browser session on it (quit it before c closes)."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.access(binary, os.X_OK):
            raise AssertionError(f"{binary} is missing: scripts/deps.sh installs chromium and chromium-driver")
    driver_port = mgtest.free_port("127.0.0.1")
    driver = mgtest.Proc("chromedriver", [CHROMEDRIVER, f"--port={driver_port}"], c.dir)
    c.procs.append(driver)
    wait_for(lambda: json.loads(urllib.request.urlopen(f"http://127.0.0.1:{driver_port}/status", timeout=1)
                                .read())["value"]["ready"], mgtest.START_TIMEOUT, "chromedriver")
    return WebDriver(driver_port, extra_args or [])
