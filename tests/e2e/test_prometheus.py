"""A real Prometheus scrapes a real gateway (docs/observability.md): Debian's `prometheus`, run directly with a
generated config (storage in the test's directory, a 1 s scrape interval) against the seed scenario's admin
listener, while the test sends traffic at a known rate. The PromQL answers must match what was sent: request
rate per route, mirror completion ratio, dropped copies by reason, upstream 5xx ratio, latency quantiles from
the histograms (the echo pods delay their answers so the quantile has a known bucket). Also:

- Prometheus asks for OpenMetrics by default; the gateway serves it (content type, `# EOF`), and Prometheus'
  metadata shows the `# UNIT` lines and the counter families named without `_total`, which only the OpenMetrics
  parser reads: so the scrape really went through OpenMetrics.
- `promtool check metrics` has nothing to say about /metrics.
- A second gateway whose admin listener is bound off loopback (0.0.0.0, so it asks for the admin token) is
  scraped with `authorization: {credentials_file: ...}`; without the credentials the same target is down.
- deploy/monitoring/'s alert rules load and evaluate without error, and every query of the Grafana dashboard
  parses and returns data (those on Kubernetes-only metrics parse only: these tests use files).
- The listener certificate expiry gauge is the certificate's notAfter.

Loopback block 127.0.71.0/24: gateway and admin 127.0.71.1, pods .2-.5, Prometheus .6."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import unittest
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import mgtest
from mgtest import get, wait_for
from test_tls import make_certificate, secret_yaml

NET = "127.0.71"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
MONITORING = mgtest.SOURCE_DIR / "deploy" / "monitoring"
TOKEN = "scrape-token-" + mgtest.unique_id()
# Prometheus 2.x's Accept header on a scrape (scrape/scrape.go, scrapeAcceptHeader).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")

# Prometheus is on loopback: a proxy from the environment (http_proxy) must not be asked.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Traffic: TICKS per second for SECONDS; each tick one request to the seed's mirrored route, and every
# fourth tick one to a route whose backend answers 503 and one to a route whose mirror has no endpoint.
TICKS, SECONDS = 20, 12
DELAY = "20ms"  # each echo answer waits this long: the latency histograms' p50 lies in (0.01, 0.025]
WINDOW = "6s"   # the rate window, inside the traffic


def extra_config(ip: str, tls_port: int, crt: str, key: str) -> dict[str, str]:
    routes = mgtest.join_docs(
        mgtest.route_yaml("status", "mirror-gateway", "/status", "infra-backend-v1"),
        mgtest.route_yaml("dark", "mirror-gateway", "/dark", "infra-backend-v1", mirror="mirror-down"),
        mgtest.service_yaml("mirror-down"),
        mgtest.endpointslice_yaml("mirror-down", [(f"{NET}.9", "mirror-down-0", False)]),
        secret_yaml("listener-cert", crt, key),
        mgtest.https_gateway_yaml("secure-gateway", ip, tls_port, "secure.example", "listener-cert"))
    return {"prometheus-test.yaml": routes}


class Prometheus(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        for tool in (PROMETHEUS, PROMTOOL):
            if not Path(tool).exists():
                raise AssertionError(f"{tool} is missing: run scripts/deps.sh (Debian package prometheus)")
        ip = f"{NET}.1"
        crt, key = make_certificate(c.dir, "secure.example")
        cls.crt_path = c.dir / "secure.example.crt"
        seed = mgtest.start_seed(c, NET, extra_config(ip, mgtest.free_port(ip), crt, key))
        cls.gw, cls.ip, cls.port = seed.gw, seed.ip, seed.port
        # A second gateway whose admin listener is bound off loopback (every address), so it asks for a
        # token, as in a pod. No Gateways: its listeners would collide with the seed's.
        other = c.config_dir("token-gateway")
        (other / "class.yaml").write_text(mgtest.gatewayclass_yaml())
        token_file = c.dir / "admin-token"
        token_file.write_text(TOKEN + "\n")
        token_port = mgtest.free_port(ip)
        cls.token_gw = c.gateway(other, admin_ip="0.0.0.0", admin_port=token_port, name="token-gateway",
                                 extra_args=["--admin-token-file", str(token_file)])
        wait_for(lambda: get(ip, token_port, "/ready", timeout=1).status == 200, mgtest.START_TIMEOUT,
                 "the token gateway's /ready (no token asked)")

        prom_ip = f"{NET}.6"
        cls.prom_port = mgtest.free_port(prom_ip)
        cls.prom = f"http://{prom_ip}:{cls.prom_port}"
        rules = sorted(str(p) for p in MONITORING.glob("*.yaml") if not p.name.endswith("_test.yaml"))
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": rules,
            "scrape_configs": [
                {"job_name": "mirrorgate", "static_configs": [{"targets": [f"{ip}:{cls.gw.admin_port}"]}]},
                {"job_name": "mirrorgate-token", "authorization": {"credentials_file": str(token_file)},
                 "static_configs": [{"targets": [f"{ip}:{cls.token_gw.admin_port}"]}]},
                {"job_name": "mirrorgate-no-token",
                 "static_configs": [{"targets": [f"{ip}:{cls.token_gw.admin_port}"]}]},
            ],
        }
        config_path = c.dir / "prometheus.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        proc = mgtest.Proc("prometheus", [
            PROMETHEUS, f"--config.file={config_path}", f"--storage.tsdb.path={c.dir / 'tsdb'}",
            f"--web.listen-address={prom_ip}:{cls.prom_port}", "--log.level=warn",
            "--storage.tsdb.retention.time=1h"], c.dir)
        c.procs.append(proc)

        def ready():
            if not proc.alive():
                raise mgtest.Abort(f"prometheus exited:\n{proc.describe()}")
            return get(prom_ip, cls.prom_port, "/-/ready", timeout=1).status == 200
        wait_for(ready, 60, "prometheus /-/ready")
        cls.wait_up("mirrorgate")
        cls.send_traffic()
        # Two scrapes after the last request, so that the window ending at the traffic's end is complete.
        wait_for(lambda: cls.last_scrape() > cls.traffic_end + 1.5, 20, "two scrapes after the traffic")

    # ---- Prometheus' HTTP API

    @classmethod
    def api(cls, path: str, **params) -> dict:
        url = f"{cls.prom}{path}?{urllib.parse.urlencode(params)}"
        try:
            with NO_PROXY.open(url, timeout=10) as r:
                doc = json.load(r)
        except urllib.error.HTTPError as e:  # a query that does not parse: 400 with Prometheus' reason
            raise AssertionError(f"{path} {params}: {e.code} {e.read().decode(errors='replace')}") from None
        if doc.get("status") != "success":
            raise AssertionError(f"{path} {params}: {doc}")
        return doc["data"]

    @classmethod
    def query(cls, promql: str, at: float | None = None) -> list[tuple[dict, float]]:
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = cls.api("/api/v1/query", **params)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    @classmethod
    def targets(cls) -> list[dict]:
        return cls.api("/api/v1/targets")["activeTargets"]

    @classmethod
    def wait_up(cls, job: str) -> None:
        def up():
            for t in cls.targets():
                if t["labels"]["job"] == job and t["health"] == "up":
                    return True
            return False
        wait_for(up, 30, f"target {job} up", detail=lambda: cls.targets())

    @classmethod
    def last_scrape(cls) -> float:
        got = cls.query('timestamp(up{job="mirrorgate"})')
        return got[0][1] if got else 0.0

    @classmethod
    def send_traffic(cls) -> None:
        mirrored = mgtest.RawConnection(cls.ip, cls.port)
        other = mgtest.RawConnection(cls.ip, cls.port)
        start = time.time()
        cls.sent = {"mirror": 0, "status": 0, "dark": 0}
        for i in range(TICKS * SECONDS):
            pause = start + i / TICKS - time.time()
            if pause > 0:
                time.sleep(pause)  # pacing, not synchronisation
            assert mirrored.request("GET", f"/mirror/{i}?delay={DELAY}").status == 200
            cls.sent["mirror"] += 1
            if i % 4 == 0:
                assert other.request("GET", "/status/503").status == 503
                assert other.request("GET", f"/dark/{i}").status == 200
                cls.sent["status"] += 1
                cls.sent["dark"] += 1
        cls.traffic_start, cls.traffic_end = start, time.time()
        cls.elapsed = cls.traffic_end - start
        mirrored.sock.close()
        other.sock.close()

    def at_end(self, promql: str) -> list[tuple[dict, float]]:
        """`promql` evaluated when the traffic ended (its rate windows lie inside the traffic)."""
        return self.query(promql, at=self.traffic_end - 0.5)

    def assertNear(self, got: float, want: float, tolerance: float, what: str) -> None:
        self.assertLessEqual(abs(got - want), tolerance * want, f"{what}: got {got}, want {want} ± {tolerance:.0%}")

    # ---- the answers

    def test_request_rate_per_route_is_the_rate_sent(self):
        got = {m["route"]: v for m, v in self.at_end(
            f'sum by (route) (rate(mirrorgate_downstream_requests_total{{job="mirrorgate"}}[{WINDOW}]))')}
        per_second = {k: n / self.elapsed for k, n in self.sent.items()}
        self.assertNear(got.get("default/mirror", 0), per_second["mirror"], 0.25, "default/mirror")
        self.assertNear(got.get("default/status", 0), per_second["status"], 0.35, "default/status")
        self.assertNear(got.get("default/dark", 0), per_second["dark"], 0.35, "default/dark")
        by_code = {m["code"]: v for m, v in self.at_end(
            f'sum by (code) (rate(mirrorgate_downstream_requests_total'
            f'{{job="mirrorgate",route="default/status"}}[{WINDOW}]))')}
        self.assertEqual(set(by_code), {"503"}, by_code)

    def test_mirror_completion_ratio_is_one(self):
        ratio = self.at_end(
            f'sum(rate(mirrorgate_mirror_copies_completed_total{{route="default/mirror"}}[{WINDOW}])) / '
            f'sum(rate(mirrorgate_mirror_copies_sent_total{{route="default/mirror"}}[{WINDOW}]))')
        self.assertEqual(len(ratio), 1, ratio)
        self.assertNear(ratio[0][1], 1.0, 0.1, "completed / sent")
        sent = self.at_end(f'sum(rate(mirrorgate_mirror_copies_sent_total{{route="default/mirror"}}[{WINDOW}]))')
        self.assertNear(sent[0][1], self.sent["mirror"] / self.elapsed, 0.25, "copies sent per second")

    def test_dropped_copies_by_reason(self):
        got = {m["reason"]: v for m, v in self.at_end(
            f'sum by (reason) (rate(mirrorgate_mirror_copies_dropped_total[{WINDOW}]))')}
        self.assertNear(got.get("no_endpoint", 0), self.sent["dark"] / self.elapsed, 0.35, "no_endpoint drops")
        for reason in ("budget", "body_too_large", "method_not_allowed", "upgrade"):
            self.assertEqual(got.get(reason), 0.0, (reason, got))
        sent = self.at_end('sum(mirrorgate_mirror_copies_sent_total{route="default/dark"})')
        self.assertEqual(sent[0][1], 0.0, "a copy without endpoint is dropped, never sent")

    def test_upstream_5xx_ratio(self):
        ratio = self.at_end(
            f'sum(rate(mirrorgate_upstream_requests_total{{code=~"5.."}}[{WINDOW}])) / '
            f'sum(rate(mirrorgate_upstream_requests_total[{WINDOW}]))')
        want = self.sent["status"] / sum(self.sent.values())
        self.assertNear(ratio[0][1], want, 0.35, "upstream 5xx ratio")

    def test_latency_quantiles_from_the_histograms(self):
        # Every answer waited 20 ms, few more than 25 ms: the median lies in the (10 ms, 25 ms] bucket.
        median = self.at_end(
            f'histogram_quantile(0.5, sum by (le) (rate('
            f'mirrorgate_upstream_response_seconds_bucket{{route="default/mirror"}}[{WINDOW}])))')
        self.assertEqual(len(median), 1, median)
        self.assertGreater(median[0][1], 0.010, "p50 primary")
        self.assertLessEqual(median[0][1], 0.025, "p50 primary")
        p99 = self.at_end(
            f'histogram_quantile(0.99, sum by (le) (rate('
            f'mirrorgate_upstream_response_seconds_bucket{{route="default/mirror"}}[{WINDOW}])))')
        self.assertGreater(p99[0][1], 0.010, "p99 primary")
        self.assertLessEqual(p99[0][1], 0.25, "p99 primary")
        mirror = self.at_end(
            f'histogram_quantile(0.5, sum by (le) (rate('
            f'mirrorgate_mirror_response_seconds_bucket{{route="default/mirror"}}[{WINDOW}])))')
        self.assertGreater(mirror[0][1], 0.010, "p50 mirror")
        self.assertLessEqual(mirror[0][1], 0.025, "p50 mirror")
        # The fast route (no delay) sits in the first buckets.
        fast = self.at_end(
            f'histogram_quantile(0.5, sum by (le) (rate('
            f'mirrorgate_upstream_response_seconds_bucket{{route="default/status"}}[{WINDOW}])))')
        self.assertLessEqual(fast[0][1], 0.01, "p50 of the undelayed route")
        count = self.at_end(
            f'sum(rate(mirrorgate_upstream_response_seconds_count{{route="default/mirror"}}[{WINDOW}]))')
        self.assertNear(count[0][1], self.sent["mirror"] / self.elapsed, 0.25, "histogram count rate")

    # ---- the formats

    def test_prometheus_negotiated_openmetrics(self):
        r = mgtest.http_request(
            self.ip, self.gw.admin_port, "GET", "/metrics", headers={"Accept": PROMETHEUS_ACCEPT})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.assertTrue(r.body.endswith(b"\n# EOF\n"), r.body[-200:])
        self.assertIn(b"# TYPE mirrorgate_downstream_requests counter\n", r.body)
        plain = self.gw.admin("/metrics")
        self.assertEqual(plain.header("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        self.assertNotIn(b"# EOF", plain.body)
        # What Prometheus stored: units and counter families as only its OpenMetrics parser reads them.
        meta = self.api("/api/v1/targets/metadata", match_target='{job="mirrorgate"}')
        by_metric = {m["metric"]: m for m in meta}
        self.assertEqual(by_metric.get("mirrorgate_upstream_response_seconds", {}).get("unit"), "seconds", meta)
        self.assertEqual(by_metric.get("mirrorgate_downstream_requests", {}).get("type"), "counter", meta)
        target = [t for t in self.targets() if t["labels"]["job"] == "mirrorgate"][0]
        self.assertEqual(target["lastError"], "", target)

    def test_promtool_check_metrics_reports_nothing(self):
        for accept in (None, PROMETHEUS_ACCEPT):
            headers = {"Accept": accept} if accept else {}
            body = mgtest.http_request(self.ip, self.gw.admin_port, "GET", "/metrics", headers=headers).body
            if accept:
                # promtool lints the text format; the OpenMetrics answer must carry the same samples.
                samples = lambda b: sorted(l for l in b.decode().splitlines() if l and not l.startswith("#"))  # noqa
                plain = self.gw.admin("/metrics").body
                self.assertEqual(len(samples(body)), len(samples(plain)))
                continue
            out = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
            self.assertEqual((out.returncode, out.stdout, out.stderr), (0, b"", b""), body.decode()[:3000])

    def test_every_family_is_documented(self):
        families = set(re.findall(r"^# TYPE (\S+) ", self.gw.admin("/metrics").body.decode(), re.M))
        self.assertGreater(len(families), 20)
        doc = (mgtest.SOURCE_DIR / "docs" / "observability.md").read_text()
        # A row may name siblings as `stem_total` / `_suffix`.
        def documented(f: str) -> bool:
            stem, suffix = f.rsplit("_", 1)
            return f"`{f}`" in doc or any(f"`{stem}_" in line and f"/ `_{suffix}`" in line
                                          for line in doc.splitlines())
        missing = {f for f in families if not documented(f)}
        self.assertEqual(missing, set(), "families missing from docs/observability.md")

    def test_label_sets_stay_bounded(self):
        # 240 distinct paths were sent (/mirror/0.., /dark/0..): none is a label value, and the request
        # families hold one series per route and code.
        text = self.gw.admin("/metrics").body.decode()
        self.assertIsNone(re.search(r'="/(mirror|dark)/\d', text), "a raw path as a label value")
        series = self.query('count by (__name__) ({job="mirrorgate",__name__=~"mirrorgate_downstream_requests_total|'
                            'mirrorgate_upstream_requests_total"})')
        self.assertEqual({m["__name__"]: v for m, v in series},
                         {"mirrorgate_downstream_requests_total": 3.0, "mirrorgate_upstream_requests_total": 2.0})

    # ---- scraping with a token

    def test_a_token_protected_admin_listener_is_scraped_with_credentials_file(self):
        self.wait_up("mirrorgate-token")
        up = {m["job"]: v for m, v in self.query('up{job=~"mirrorgate-.*"}')}
        self.assertEqual(up.get("mirrorgate-token"), 1.0, up)
        self.assertEqual(up.get("mirrorgate-no-token"), 0.0, up)
        no_token = [t for t in self.targets() if t["labels"]["job"] == "mirrorgate-no-token"][0]
        self.assertIn("401", no_token["lastError"], no_token)

    # ---- deploy/monitoring against this Prometheus

    def test_alert_rules_load_and_evaluate(self):
        groups = self.api("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        self.assertGreaterEqual(len(rules), 6, groups)
        wait_for(lambda: all(r.get("lastEvaluation", "").startswith("2") and r["health"] == "ok"
                             for g in self.api("/api/v1/rules")["groups"] for r in g["rules"]),
                 20, "every rule evaluated without error", detail=lambda: self.api("/api/v1/rules"))
        # The certificate made for this test expires in two days: both expiry alerts are at least pending.
        alerts = self.api("/api/v1/alerts")["alerts"]
        expiring = {a["labels"]["severity"] for a in alerts
                    if a["labels"]["alertname"] == "MirrorgateCertificateExpiringSoon"}
        self.assertEqual(expiring, {"warning", "critical"}, alerts)

    def test_every_dashboard_query_parses_and_returns_data(self):
        dashboard = json.loads((MONITORING / "mirrorgate-dashboard.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreaterEqual(len(exprs), 10)
        for expr in exprs:
            promql = expr.replace("$__rate_interval", WINDOW).replace("$job", "mirrorgate")
            self.assertNotIn("$", promql, f"a Grafana variable this test does not know: {expr}")
            result = self.at_end(promql)  # raises when Prometheus cannot parse it
            if "mirrorgate_kubernetes_" in expr:
                continue  # the Kubernetes provider's figures: none with files
            self.assertTrue(result, f"no data: {promql}")
            # A ratio is NaN for a series whose denominator is 0 (a mirror that sent nothing); not all are.
            self.assertTrue(any(v == v for _, v in result), f"only NaN from {promql}: {result}")

    # ---- the certificate gauge

    def test_certificate_expiry_gauge_is_the_certificates_not_after(self):
        out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(self.crt_path)],
                             capture_output=True, text=True, check=True).stdout.strip()
        not_after = datetime.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc)
        got = self.query('mirrorgate_listener_certificate_expiry_timestamp_seconds{job="mirrorgate"}')
        self.assertEqual(len(got), 1, got)
        labels, value = got[0]
        self.assertEqual((labels["gateway"], labels["listener"], labels["certificate"]),
                         ("default/secure-gateway", "https", "0"))
        self.assertEqual(value, not_after.timestamp())


if __name__ == "__main__":
    unittest.main()
