"""The admin page in a real browser: headless Chromium loads it from a gateway serving the seed scenario
(plus a route whose backend does not exist), and finds the v1 and v2 backends and the dashed mirror arrow,
figures that move after requests are sent, the broken route in red, a route's conditions on a click, and a
request id's primary and copy side by side. Screenshots go to MG_SCREENSHOT_DIR (docs/images for the docs:
`MG_SCREENSHOT_DIR=docs/images python3 tests/e2e/test_admin_page.py`), else to the test's temporary
directory, so that a test run never rewrites files of the source tree.

The browser is driven over WebDriver (tests/e2e/browser.py).

Loopback block 127.0.61.0/24: gateway 127.0.61.1, pods 127.0.61.2-5 (the seed scenario's .2-.5)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import browser
import mgtest
from mgtest import get, unique_id, wait_for

NET = "127.0.61"
V1 = "backend:default/infra-backend-v1:8080"
V2 = "backend:default/infra-backend-v2:8080"
RULE = "rule:default/mirror/0"
BROKEN_RULE = "rule:default/broken/0"

BROKEN_ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: broken
  namespace: default
spec:
  parentRefs:
  - name: mirror-gateway
  rules:
  - matches:
    - path: {type: PathPrefix, value: /broken}
    backendRefs:
    - name: no-such-service
      port: 8080
"""


class AdminPage(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        seed = mgtest.start_seed(c, NET, {"broken.yaml": BROKEN_ROUTE})
        cls.gw, cls.gw_ip, cls.gw_port, cls.config = seed.gw, seed.ip, seed.port, seed.config
        cls.shots = Path(os.environ.get("MG_SCREENSHOT_DIR") or c.dir)
        cls.shots.mkdir(parents=True, exist_ok=True)
        cls.browser = browser.start(c)
        cls.page = f"http://{cls.gw_ip}:{cls.gw.admin_port}/"

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "browser", None):
            cls.browser.quit()
        super().tearDownClass()

    def attr(self, css: str, name: str):
        return self.browser.js("const e = document.querySelector(arguments[0]);"
                               "return e ? e.getAttribute(arguments[1]) : null;", css, name)

    def send(self, n: int, path: str = "/mirror") -> list[str]:
        """n requests through the gateway; their request ids."""
        ids = []
        for _ in range(n):
            r = get(self.gw_ip, self.gw_port, f"{path}?page={unique_id()}")
            self.assertEqual(r.status, 200, r)
            ids.append(r.json()["headers"]["X-Request-Id"][0])
        return ids

    def test_1_topology_with_backends_mirror_arrow_and_moving_counts(self):
        b = self.browser
        b.window(1400, 1000)
        b.go(self.page)
        wait_for(lambda: b.js(f"return !!document.querySelector('g.node[data-id=\"{V2}\"]')"), 15,
                 "the page to draw the v2 backend")
        for node in (V1, V2, RULE, "gateway:default/mirror-gateway", "listener:default/mirror-gateway/http"):
            self.assertTrue(b.js("return !!document.querySelector(arguments[0])", f'g.node[data-id="{node}"]'), node)
        primary = f'path.edge[data-from="{RULE}"][data-to="{V1}"][data-kind="backend"]'
        mirror = f'path.edge.mirror[data-from="{RULE}"][data-to="{V2}"]'
        self.assertIsNotNone(self.attr(primary, "d"), "the primary edge rule -> v1")
        self.assertIsNotNone(self.attr(mirror, "d"), "the mirror arrow rule -> v2")
        # Dashed: the mirror is drawn differently from the primary.
        self.assertNotEqual(b.js("return getComputedStyle(document.querySelector(arguments[0])).strokeDasharray",
                                 mirror), "none")
        self.assertEqual(b.js("return getComputedStyle(document.querySelector(arguments[0])).strokeDasharray",
                              primary), "none")
        # The route whose backend does not exist is red, with why.
        self.assertIn("bad", self.attr(f'g.node[data-id="{BROKEN_RULE}"]', "class"))
        self.assertIn("BackendNotFound (ResolvedRefs)", b.js("return document.querySelector(arguments[0]).textContent",
                                                             f'g.node[data-id="{BROKEN_RULE}"]'))

        before = {css: int(self.attr(css, "data-total")) for css in (primary, mirror)}
        self.send(20)
        for css in (primary, mirror):
            wait_for(lambda css=css: int(self.attr(css, "data-total")) >= before[css] + 20, 15,
                     f"the count of {css} to move by 20 (was {before[css]})")
        # Rates need two polls with traffic between them: keep sending until a label shows one.
        label = f'text.edge-label.mirror[data-from="{RULE}"][data-to="{V2}"]'

        def mirror_rate_shown():
            self.send(5)
            text = b.js("return document.querySelector(arguments[0]).textContent", label)
            return "sent –/s" not in text and "sent 0.00/s" not in text and text
        text = wait_for(mirror_rate_shown, 15, "a mirror rate in the arrow's label")
        self.assertIn("completed", text)
        b.screenshot(self.shots / "admin-page-topology.png")

    def test_2_clicking_a_route_shows_its_conditions_and_rules(self):
        b = self.browser
        b.click(f'g.node[data-id="{BROKEN_RULE}"]')
        wait_for(lambda: b.js("return !document.getElementById('details').hidden"), 5, "the details panel")
        details = wait_for(lambda: (lambda t: t if "no-such-service" in t and "PathPrefix /broken" in t else None)(
            b.js("return document.getElementById('details').textContent")), 5, "the rule's matches and backend")
        self.assertIn("ResolvedRefs", details)
        self.assertIn("BackendNotFound", details)

    def test_3_request_lookup_shows_primary_and_copy(self):
        b = self.browser
        request_id = self.send(1)[0]
        wait_for(lambda: any("primary_status" in m for m in get(
            self.gw_ip, self.gw.admin_port, f"/mirrors?request_id={request_id}").json()["mirrors"]),
                 10, "the copy and its primary's outcome in /mirrors")
        b.js("document.getElementById('request-id').value = ''")
        b.type("#request-id", request_id)
        b.click("#lookup button")
        table = wait_for(lambda: b.js("const t = document.querySelector('#lookup-result table');"
                                      "return t ? t.textContent : null"), 10, "the lookup's table")
        self.assertIn("infra-backend-v1-", table)  # the primary's pod
        self.assertIn("infra-backend-v2-", table)  # the copy's pod
        self.assertIn("completed", table)
        self.assertIn("default/mirror", table)
        # The primary's own status and latency, from the mirror trace (not "–").
        primary_cell = ("return [...document.querySelectorAll('#lookup-result tbody tr')]"
                        ".find(r => r.cells[0].textContent === arguments[0]).cells[1].textContent")
        self.assertEqual(b.js(primary_cell, "status"), "200")
        self.assertRegex(b.js(primary_cell, "latency"), r"^\d+\.\d ms$")
        self.assertRegex(b.js(primary_cell, "trace id"), r"^[0-9a-f]{32}$")
        b.js("document.getElementById('lookup-title').scrollIntoView()")
        b.screenshot(self.shots / "admin-page-lookup.png")
        # Narrow: the comparison stacks and nothing needs a wider window than a phone's.
        b.window(420, 1000)
        time.sleep(0.3)  # a resize has no event to wait for that WebDriver exposes
        self.assertLessEqual(b.js("return document.querySelector('#lookup-result').scrollWidth"),
                             b.js("return document.querySelector('#lookup-result').clientWidth") + 1)
        b.screenshot(self.shots / "admin-page-narrow.png")
        b.window(1400, 1000)

    def test_4_an_unknown_request_is_said_to_be_unmirrored(self):
        b = self.browser
        b.js("document.getElementById('request-id').value = ''")
        b.type("#request-id", "no-such-request")
        b.click("#lookup button")
        wait_for(lambda: b.js("return !!document.getElementById('lookup-none')"), 10, "'was not mirrored'")

    def test_5_a_hidden_page_asks_nothing(self):
        b = self.browser
        # The test's own instrument, not the page's: every fetch with the visibility at its call, and the
        # visibility changes.
        b.js("window.seen = []; const f = window.fetch;"
             "window.fetch = (...a) => { seen.push([document.visibilityState, String(a[0])]); return f(...a); };"
             "document.addEventListener('visibilitychange', () => seen.push([document.visibilityState, 'event']));")
        wait_for(lambda: any("topology" in url for _, url in b.js("return seen")), 10, "a poll while visible")
        page_tab = b.call("GET", b.s("/window"))
        other = b.call("POST", b.s("/window/new"), {"type": "tab"})["handle"]
        b.call("POST", b.s("/window"), {"handle": other})  # the page's tab is now in the background
        time.sleep(5)  # two and a half poll intervals in which nothing may happen: no event marks "nothing"
        b.call("DELETE", b.s("/window"))
        b.call("POST", b.s("/window"), {"handle": page_tab})
        seen = wait_for(lambda: (lambda s: s if s[-1] == ["visible", "event"] else None)(b.js("return seen")), 5,
                        "the page to be visible again")
        self.assertIn(["hidden", "event"], seen, "the page's tab never went to the background")
        self.assertEqual([url for state, url in seen if state == "hidden" and url != "event"], [])
        # Visible again: it polls at once, not at the next interval.
        hidden_at = seen.index(["hidden", "event"])
        self.assertTrue(any("topology" in url for _, url in seen[hidden_at:]), seen)

    def test_6_a_reload_is_drawn_with_its_conditions(self):
        # /status is read again only when the table changed: a new route must come with its conditions.
        b = self.browser
        (self.config / "later.yaml").write_text(BROKEN_ROUTE.replace("name: broken", "name: later")
                                                .replace("/broken", "/later"))
        node = 'g.node[data-id="rule:default/later/0"]'
        wait_for(lambda: "bad" in (self.attr(node, "class") or ""), 15, "the new route, red, on the page")
        self.assertIn("BackendNotFound (ResolvedRefs)",
                      b.js("return document.querySelector(arguments[0]).textContent", node))


if __name__ == "__main__":
    mgtest.main()
