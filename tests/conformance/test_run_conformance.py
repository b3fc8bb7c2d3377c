#!/usr/bin/env python3
"""Self-tests of the conformance harness's own logic (no mirrorgate needed): status checks against a
fake admin /status, the Go client's header canonicalisation, request ids, Gateway address insertion
and the judging order. Run: python3 tests/conformance/test_run_conformance.py"""

from __future__ import annotations

import http.server
import json
import sys
import tempfile
import threading
import unittest
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_conformance as rc  # noqa: E402

GW = "gateway-conformance-infra/same-namespace"
ROUTE = "gateway-conformance-infra/r"


class FakeAdmin:
    """Serves GET /status from `self.items` (None: 404, as before the endpoint exists)."""

    def __init__(self):
        self.items: list[dict] | None = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/status" or owner.items is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps({"items": owner.items}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def cond(t, s="True", reason=None, gen=1):
    return {"type": t, "status": s, "reason": reason or t, "observedGeneration": gen, "message": ""}


def gateway(listeners=None, addresses=True, gen=1):
    ns, name = GW.split("/")
    if listeners is None:
        listeners = [{"name": "http", "attachedRoutes": 1,
                      "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                      "conditions": [cond("Accepted"), cond("ResolvedRefs"), cond("Programmed")]}]
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": ns, "generation": gen},
            "status": {"addresses": [{"type": "IPAddress", "value": "127.101.1.1"}] if addresses else [],
                       "conditions": [cond("Accepted", gen=gen), cond("Programmed", gen=gen)],
                       "listeners": listeners}}


def route(parents, gen=1):
    ns, name = ROUTE.split("/")
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ns, "generation": gen},
            "status": {"parents": parents}}


def parent(conditions, controller=rc.CONTROLLER_NAME, name="same-namespace"):
    return {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                          "namespace": "gateway-conformance-infra", "name": name},
            "controllerName": controller, "conditions": conditions}


class StatusChecks(unittest.TestCase):
    def setUp(self):
        self.admin = FakeAdmin()
        self.tmp = tempfile.TemporaryDirectory()
        h = SimpleNamespace(args=SimpleNamespace(consistency_timeout=0.3, verbose=False), workdir=Path(self.tmp.name))
        test = {"name": "T", "conformanceLevel": "core", "features": [], "provisional": False, "gateway": GW,
                "cases": []}
        self.run_ = rc.TestRun(h, test, 1)
        self.run_.admin_port = self.admin.port
        self.run_.gateway_addr = {GW: "127.101.1.1"}

    def tearDown(self):
        self.admin.close()
        self.tmp.cleanup()

    def check(self, c):
        return self.run_.status_check(c)

    def test_404_fails_every_check_at_once(self):
        self.admin.items = None
        for c in ({"check": "namespacesReady", "namespaces": ["gateway-conformance-infra"]},
                  {"check": "routeCondition", "route": ROUTE, "gateway": GW,
                   "condition": {"type": "Accepted", "status": "True", "reason": ""}}):
            self.assertEqual(self.check(c), "status endpoint not available")

    def test_gateway_and_routes_accepted(self):
        c = {"check": "gatewayAndRoutesAccepted", "gateway": GW, "routes": [ROUTE]}
        self.admin.items = [gateway(), route([parent([cond("Accepted"), cond("ResolvedRefs")])])]
        self.assertIsNone(self.check(c))
        self.admin.items = [gateway(), route([parent([cond("Accepted", gen=0)])])]
        self.assertIn("observedGeneration", self.check(c))
        self.admin.items = [gateway(), route([parent([cond("Accepted")], controller="other")])]
        self.assertIn("controllerName", self.check(c))
        self.admin.items = [gateway(addresses=False), route([parent([cond("Accepted")])])]
        self.assertIn("addresses", self.check(c))
        self.admin.items = [gateway(), route([])]
        self.assertIn("no status.parents entry", self.check(c))

    def test_route_condition_any_reason(self):
        self.admin.items = [route([parent([cond("Accepted", "False", "NotAllowedByListeners")])])]
        c = {"check": "routeCondition", "route": ROUTE, "gateway": GW,
             "condition": {"type": "Accepted", "status": "False", "reason": ""}}
        self.assertIsNone(self.check(c))
        c["condition"]["reason"] = "NoMatchingParent"
        self.assertIn("expected Accepted=False/NoMatchingParent", self.check(c))

    def test_route_parents(self):
        self.admin.items = [route([parent([cond("Accepted", "False", "NoMatchingListenerHostname")])])]
        want = {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "namespace": "gateway-conformance-infra", "name": "same-namespace"},
                "controllerName": "{CONTROLLER_NAME}",
                "conditions": [{"type": "Accepted", "status": "False", "reason": "NoMatchingListenerHostname"}]}
        c = {"check": "routeParents", "route": ROUTE, "namespaceRequired": True, "parents": [want]}
        self.assertIsNone(self.check(c))
        want["parentRef"]["name"] = "other"
        self.assertIsNotNone(self.check(c))

    def test_no_accepted_parents(self):
        c = {"check": "routeHasNoAcceptedParents", "route": ROUTE}
        self.admin.items = [route([])]
        self.assertIsNone(self.check(c))
        self.admin.items = [route([parent([cond("Accepted", "False", "NotAllowedByListeners")])])]
        self.assertIsNone(self.check(c))
        self.admin.items = [route([parent([cond("Accepted")])])]
        self.assertIsNotNone(self.check(c))

    def test_gateway_zero_routes_and_listeners(self):
        self.admin.items = [gateway()]
        self.assertIsNotNone(self.check({"check": "gatewayHasZeroRoutes", "gateway": GW}))
        listeners = [{"name": "http", "attachedRoutes": 1,
                      "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                      "conditions": [{"type": "Accepted", "status": "True", "reason": ""}]}]
        c = {"check": "gatewayListeners", "gateway": GW, "listeners": listeners}
        self.assertIsNone(self.check(c))
        listeners[0]["attachedRoutes"] = 2
        self.assertIn("attachedRoutes", self.check(c))

    def test_namespaces_ready(self):
        c = {"check": "namespacesReady", "namespaces": ["gateway-conformance-infra"]}
        self.admin.items = [gateway()]
        self.assertIsNone(self.check(c))
        g = gateway()
        g["status"]["conditions"][1]["status"] = "False"
        self.admin.items = [g]
        self.assertIn("Programmed", self.check(c))


class Client(unittest.TestCase):
    def test_canonical_header(self):
        self.assertEqual(rc.canonical_header("x-header-set"), "X-Header-Set")
        self.assertEqual(rc.canonical_header("X-HEADER"), "X-Header")
        self.assertEqual(rc.canonical_header("bad header"), "bad header")

    def test_request_id(self):
        self.assertEqual(rc.with_request_id("/mirror", "u"), "/mirror?gateway-api-conformance-request-id=u")
        self.assertEqual(rc.with_request_id("/p?z=1&a=2", "u"), "/p?a=2&gateway-api-conformance-request-id=u&z=1")

    def test_gateway_address_keeps_the_text(self):
        text = "apiVersion: v1\nkind: Gateway\nmetadata:\n  name: g\nspec:\n    gatewayClassName: x\n"
        doc = rc.Doc(text, rc.yaml.safe_load(text))
        rc.with_gateway_address(doc, "127.101.1.1")
        self.assertTrue(doc.text.startswith("apiVersion: v1\nkind: Gateway\nmetadata:\n  name: g\nspec:\n"
                                            "    addresses:\n"))
        self.assertEqual(doc.obj["spec"]["addresses"], [{"type": "IPAddress", "value": "127.101.1.1"}])
        self.assertEqual(doc.obj["spec"]["gatewayClassName"], "x")

    def test_judge_order(self):
        run = rc.TestRun.__new__(rc.TestRun)
        case = {"response": {"statusCodes": [200]}, "expectedRequest": {"method": "GET", "path": "/"},
                "namespace": "ns", "backend": "infra-backend-v1"}
        echo = {"path": "/", "method": "GET", "namespace": "ns", "pod": "infra-backend-v2-a-b", "headers": {}}
        resp = rc.Response(200, [("Content-Type", "application/json")], json.dumps(echo).encode(), "http://x/")
        self.assertIn("expected pod of 'infra-backend-v1'", run.judge(case, resp, "GET", "/"))
        resp = rc.Response(504, [], b"", "http://x/")
        self.assertIn("expected status", run.judge(case, resp, "GET", "/"))
        case["response"]["statusCodes"] = [200, 504]
        self.assertIsNone(run.judge(case, resp, "GET", "/"))
        text = rc.Response(200, [("Content-Type", "application/json; charset=utf-8")], json.dumps(echo).encode(), "")
        self.assertIn("expected path", run.judge(case, text, "GET", "/"))


if __name__ == "__main__":
    unittest.main()
