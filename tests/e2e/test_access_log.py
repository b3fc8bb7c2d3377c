"""The access log's two formats and its rotation, and W3C trace context end to end.

- `--access-log-format text`: one line per request and per copy, the fields docs/operations.md lists, in
  its order, strings quoted, `-` for no value; JSON lines carry the same fields in the same order.
- SIGUSR1 after `mv access.log access.log.1` reopens the file: every request of a steady stream is
  logged once, whole, in one file or the other; SIGUSR1 with `--access-log -` only says so.
- traceparent: a valid one keeps its trace id and sampled flag and the backend gets a new span id; a copy
  gets the same trace id with a span id of its own; none or an invalid one starts a trace (sampled per
  --trace-sampling-ratio); tracestate passes unchanged, or is dropped with an invalid traceparent.

Loopback block 127.0.80.0/24: JSON gateway .1, text gateway .5, stdout gateway .6, v1 pod .2, the
mirror (a capture server that records each copy's head) .4."""

import json
import re
import signal
import subprocess
import threading
import time

import mgtest
from mgtest import get, http_request, unique_id, wait_for

NET = "127.0.80"
V1 = "infra-backend-v1-7d9c6b5f4-acc01"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
TEXT_FIELD_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"]+')


def documented_fields(kind: str) -> list[str]:
    """The field names of docs/operations.md's access-log table for `kind` ("request" or "mirror") lines."""
    text = (mgtest.SOURCE_DIR / "docs" / "operations.md").read_text()
    section = text.split("## Access log", 1)[1]
    table = section.split(f"**{kind.capitalize()} lines**", 1)[1].split("\n\n", 2)[1]
    return re.findall(r"^\| \d+ \| `([a-z_]+)` \|", table, re.M)


def config(name: str, ip: str, port: int, capture_port: int) -> str:
    return mgtest.join_docs(
        mgtest.gatewayclass_yaml(),
        mgtest.gateway_yaml(name, ip, port),
        mgtest.route_yaml("mirror", name, "/mirror", "infra-backend-v1", mirror="capture"),
        mgtest.route_yaml("plain", name, "/plain", "infra-backend-v1"),
        mgtest.service_yaml("infra-backend-v1"),
        mgtest.service_yaml("capture", target_port=capture_port),
        mgtest.endpointslice_yaml("infra-backend-v1", [(f"{NET}.2", V1, True)]),
        mgtest.endpointslice_yaml("capture", [(f"{NET}.4", "capture-5b7c8d9f6-acc04", True)], port=capture_port),
    )


def header_of(echo_json: dict, name: str) -> list[str]:
    for k, v in echo_json["headers"].items():
        if k.lower() == name.lower():
            return v
    return []


class AccessLogAndTraceContext(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        capture_port = mgtest.free_port(f"{NET}.4")
        cls.capture = c.capture(f"{NET}.4", capture_port)
        cls.v1 = c.echo(V1, f"{NET}.2")
        cls.json_ip, cls.json_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.text_ip, cls.text_port = f"{NET}.5", mgtest.free_port(f"{NET}.5")
        cls.stdout_ip, cls.stdout_port = f"{NET}.6", mgtest.free_port(f"{NET}.6")
        for name, ip, port in (("json", cls.json_ip, cls.json_port), ("text", cls.text_ip, cls.text_port),
                               ("stdout", cls.stdout_ip, cls.stdout_port)):
            (c.config_dir(name) / "config.yaml").write_text(config(f"{name}-gateway", ip, port, capture_port))
        cls.gw = c.gateway(c.config_dir("json") / "config.yaml", admin_ip=cls.json_ip, name="json-gateway")
        cls.text_gw = c.gateway(c.config_dir("text") / "config.yaml", admin_ip=cls.text_ip, name="text-gateway",
                                extra_args=["--access-log-format", "text", "--trace-sampling-ratio", "0"])
        stdout_admin = mgtest.free_port(cls.stdout_ip)
        cls.stdout_gw = mgtest.Proc("stdout-gateway", [
            mgtest.GATEWAY_BIN, "-c", str(c.config_dir("stdout") / "config.yaml"), "--workers", "1",
            "--admin", f"{cls.stdout_ip}:{stdout_admin}", "--access-log", "-"], c.dir)
        c.procs.append(cls.stdout_gw)
        cls.stdout_admin = stdout_admin
        cls.v1.wait_ready()
        cls.gw.wait_ready()
        cls.text_gw.wait_ready()
        wait_for(lambda: get(cls.stdout_ip, stdout_admin, "/ready", timeout=1).status == 200, 20, "stdout gateway")

    # ---- helpers

    def json_lines(self) -> list[dict]:
        """Every complete line of the JSON gateway's log, rotated file first."""
        entries = []
        for path in (self.gw.access_log_path.with_name(self.gw.access_log_path.name + ".1"), self.gw.access_log_path):
            if path.exists():
                entries += [json.loads(line) for line in path.read_text().split("\n")[:-1] if line.strip()]
        return entries

    def text_lines(self, request_id: str) -> list[list[str]]:
        text = self.text_gw.access_log_path.read_text() if self.text_gw.access_log_path.exists() else ""
        return [TEXT_FIELD_RE.findall(line) for line in text.split("\n")[:-1] if f'"{request_id}"' in line]

    def copy_head(self, request_id: str):
        return next((r for r in self.capture.requests if r.header("x-request-id") == request_id), None)

    def mirrored(self, headers: dict, ip=None, port=None):
        """GET /mirror with `headers`: the echo's JSON (what v1 saw) and the copy's captured head."""
        r = get(ip or self.json_ip, port or self.json_port, f"/mirror?t={unique_id()}", headers=headers)
        self.assertEqual(r.status, 200, r)
        echoed = r.json()
        rid = header_of(echoed, "x-request-id")[0]
        copy = wait_for(lambda: self.copy_head(rid), 10, f"the copy of {rid}")
        return rid, echoed, copy

    # ---- access log formats

    def test_json_lines_follow_the_documented_field_order(self):
        rid, _echoed, _copy = self.mirrored({})
        for kind, mirror in (("request", False), ("mirror", True)):
            line = wait_for(lambda: next((e for e in self.json_lines() if e.get("request_id") == rid and
                                          (e["type"] == "mirror") == mirror), None), 10, f"the {kind} line")
            documented = ["time", "type"] + documented_fields(kind)
            keys = list(line.keys())
            # JSON leaves out fields that have no value; the rest come in the documented order.
            self.assertEqual(keys, [f for f in documented if f in line], (kind, keys, documented))
            self.assertEqual(len(line["trace_id"]), 32)
        request = next(e for e in self.json_lines() if e.get("request_id") == rid and e["type"] == "request")
        self.assertEqual(request["rule"], "0")
        self.assertEqual(request["retries"], 0)
        self.assertGreater(request["upstream_duration_ms"], 0)
        self.assertGreaterEqual(request["duration_ms"], request["upstream_duration_ms"])

    def test_text_lines_carry_every_documented_field_in_order(self):
        r = get(self.text_ip, self.text_port, f"/mirror?text={unique_id()}", headers={"User-Agent": "t"})
        self.assertEqual(r.status, 200, r)
        rid = header_of(r.json(), "x-request-id")[0]
        lines = wait_for(lambda: (lambda ls: ls if len(ls) == 2 else None)(self.text_lines(rid)), 10,
                         "the request and mirror text lines")
        for fields in lines:
            kind = fields[1]
            names = ["time", "type"] + documented_fields(kind)
            self.assertEqual(len(fields), len(names), (fields, names))
            got = dict(zip(names, fields))
            self.assertRegex(got["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual(got["request_id"], f'"{rid}"')
            self.assertRegex(got["trace_id"], r'^"[0-9a-f]{32}"$')
            self.assertEqual(got["route"], '"default/mirror"')
            self.assertEqual(got["rule"], '"0"')
            if kind == "request":
                self.assertEqual(got["method"], '"GET"')
                self.assertEqual(got["status"], "200")
                self.assertEqual(got["protocol"], '"HTTP/1.1"')
                self.assertEqual(got["upstream_pod"], f'"{V1}"')
                self.assertEqual(got["mirrors"], "1")
                self.assertEqual(got["retries"], "0")
                self.assertEqual(got["error"], "-")  # no value: a bare dash
                float(got["duration_ms"])
            else:
                self.assertEqual(got["outcome"], '"completed"')
                self.assertEqual(got["reason"], "-")

    def test_a_404_text_line_has_dashes_for_what_it_never_had(self):
        r = get(self.text_ip, self.text_port, "/nothing-here")
        self.assertEqual(r.status, 404)
        rid = r.header("x-request-id")
        fields = wait_for(lambda: next(iter(self.text_lines(rid)), None), 10, "the 404's text line")
        got = dict(zip(["time", "type"] + documented_fields("request"), fields))
        self.assertEqual(got["status"], "404")
        self.assertEqual(got["route"], "-")
        self.assertEqual(got["upstream_duration_ms"], "-")
        self.assertEqual(got["error"], '"no route matched"')

    # ---- rotation

    def test_sigusr1_reopens_the_file_without_losing_or_splitting_a_line(self):
        sent, stop, errors = [], threading.Event(), []

        def traffic():
            while not stop.is_set():
                try:
                    r = get(self.json_ip, self.json_port, f"/plain?rotate={unique_id()}")
                    sent.append(r.header("x-request-id"))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
        threads = [threading.Thread(target=traffic) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(sent) >= 60, 20, "requests before the rotation")
            path = self.gw.access_log_path
            path.rename(path.with_name(path.name + ".1"))
            self.gw.signal(signal.SIGUSR1)
            wait_for(lambda: "reopened" in self.gw.stderr(), 10, "the reopen log line")
            at_rotation = len(sent)
            wait_for(lambda: len(sent) >= at_rotation + 60, 20, "requests after the rotation")
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(errors, [])
        self.assertTrue(self.gw.alive())
        new_text = self.gw.access_log_path.read_text()
        old_text = self.gw.access_log_path.with_name(self.gw.access_log_path.name + ".1").read_text()
        self.assertTrue(new_text.endswith("\n") and old_text.endswith("\n"))
        logged = {}
        for name, text in (("old", old_text), ("new", new_text)):
            for line in text.split("\n")[:-1]:
                entry = json.loads(line)  # a split line would not parse
                if entry["type"] == "request" and entry["path"].startswith("/plain?rotate="):
                    logged.setdefault(entry["request_id"], []).append(name)
        missing = [rid for rid in sent if rid not in logged]
        self.assertEqual(missing, [], "requests with no access-log line")
        self.assertTrue(all(len(files) == 1 for files in logged.values()), "a line logged twice")
        self.assertIn("new", {f for files in logged.values() for f in files})
        self.assertIn("old", {f for files in logged.values() for f in files})
        self.assertIn(f"SIGUSR1: access log {self.gw.access_log_path} reopened", self.gw.stderr())

    def test_sigusr1_with_the_log_on_stdout_only_says_so(self):
        self.stdout_gw.signal(signal.SIGUSR1)
        wait_for(lambda: "the access log is stdout: nothing to reopen" in self.stdout_gw.stderr(), 10,
                 "the SIGUSR1 log line", detail=lambda: self.stdout_gw.stderr())
        self.assertTrue(self.stdout_gw.alive())
        r = get(self.stdout_ip, self.stdout_port, f"/plain?after-usr1={unique_id()}")
        self.assertEqual(r.status, 200)
        rid = r.header("x-request-id")
        wait_for(lambda: any(json.loads(l).get("request_id") == rid for l in self.stdout_gw.stdout_lines()
                             if l.startswith("{")), 10, "its access-log line on stdout")

    # ---- trace context

    def test_a_valid_traceparent_keeps_its_trace_and_each_hop_gets_its_own_span(self):
        sent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
        rid, echoed, copy = self.mirrored({"traceparent": sent, "tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"})
        primary = TRACEPARENT_RE.match(header_of(echoed, "traceparent")[0])
        self.assertIsNotNone(primary, echoed)
        self.assertEqual(primary.group(1), CLIENT_TRACE)
        self.assertNotEqual(primary.group(2), CLIENT_SPAN)
        self.assertEqual(primary.group(3), "01")
        self.assertEqual(header_of(echoed, "tracestate"), ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"])
        copied = TRACEPARENT_RE.match(copy.header("traceparent"))
        self.assertIsNotNone(copied, copy.headers)
        self.assertEqual(copied.group(1), CLIENT_TRACE)  # the same trace...
        self.assertNotIn(copied.group(2), (CLIENT_SPAN, primary.group(2)))  # ...a sibling span
        self.assertEqual(copied.group(3), "01")
        self.assertEqual(copy.header("tracestate"), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        self.assertEqual(sum(1 for k, _ in copy.headers if k.lower() == "traceparent"), 1)
        lines = wait_for(lambda: (lambda ls: ls if len(ls) == 2 else None)(
            [e for e in self.json_lines() if e.get("request_id") == rid]), 10, "request and mirror lines")
        self.assertEqual({e["trace_id"] for e in lines}, {CLIENT_TRACE})
        trace = wait_for(lambda: self.gw.admin(f"/mirrors?request_id={rid}").json()["mirrors"], 10, "the trace")
        self.assertEqual(trace[0]["trace_id"], CLIENT_TRACE)

    def test_an_unsampled_traceparent_stays_unsampled(self):
        _rid, echoed, copy = self.mirrored({"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"})
        self.assertTrue(header_of(echoed, "traceparent")[0].endswith("-00"))
        self.assertTrue(copy.header("traceparent").endswith("-00"))

    def test_a_future_version_is_read_by_its_first_fields(self):
        _rid, echoed, _copy = self.mirrored({"traceparent": f"cc-{CLIENT_TRACE}-{CLIENT_SPAN}-01-later-fields"})
        primary = TRACEPARENT_RE.match(header_of(echoed, "traceparent")[0])
        self.assertEqual(primary.group(1), CLIENT_TRACE)  # sent on as version 00

    def test_no_traceparent_starts_a_trace_that_copies_share(self):
        rid, echoed, copy = self.mirrored({})
        primary = TRACEPARENT_RE.match(header_of(echoed, "traceparent")[0])
        copied = TRACEPARENT_RE.match(copy.header("traceparent"))
        self.assertEqual(primary.group(1), copied.group(1))
        self.assertNotEqual(primary.group(2), copied.group(2))
        self.assertEqual(primary.group(3), "01")  # the default ratio, 1, samples every trace started
        self.assertEqual(header_of(echoed, "tracestate"), [])
        line = wait_for(lambda: next((e for e in self.json_lines() if e.get("request_id") == rid and
                                      e["type"] == "request"), None), 10, "the request line")
        self.assertEqual(line["trace_id"], primary.group(1))

    def test_an_invalid_traceparent_is_replaced_and_its_tracestate_dropped(self):
        for bad in (f"00-{CLIENT_TRACE.upper()}-{CLIENT_SPAN}-01", f"00-{'0' * 32}-{CLIENT_SPAN}-01",
                    f"00-{CLIENT_TRACE}-{'0' * 16}-01", f"ff-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                    f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01-extra", "garbage"):
            with self.subTest(traceparent=bad):
                _rid, echoed, copy = self.mirrored({"traceparent": bad, "tracestate": "congo=t61rcWkgMzE"})
                got = header_of(echoed, "traceparent")
                self.assertEqual(len(got), 1, echoed)
                primary = TRACEPARENT_RE.match(got[0])
                self.assertIsNotNone(primary, got)
                self.assertNotEqual(primary.group(1), CLIENT_TRACE)
                self.assertEqual(header_of(echoed, "tracestate"), [])
                self.assertEqual(TRACEPARENT_RE.match(copy.header("traceparent")).group(1), primary.group(1))

    def test_http2_requests_keep_the_trace_and_copies_get_a_sibling_span(self):
        path = f"/mirror?h2={unique_id()}"
        r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10",
                            "-H", f"traceparent: 00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "-H", "tracestate: congo=t61",
                            f"http://{self.json_ip}:{self.json_port}{path}"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        echoed = json.loads(r.stdout)
        primary = TRACEPARENT_RE.match(header_of(echoed, "traceparent")[0])
        self.assertEqual(primary.group(1), CLIENT_TRACE)
        self.assertNotEqual(primary.group(2), CLIENT_SPAN)
        self.assertEqual(header_of(echoed, "tracestate"), ["congo=t61"])
        rid = header_of(echoed, "x-request-id")[0]
        copy = wait_for(lambda: self.copy_head(rid), 10, "the copy of the HTTP/2 request")
        copied = TRACEPARENT_RE.match(copy.header("traceparent"))
        self.assertEqual(copied.group(1), CLIENT_TRACE)
        self.assertNotIn(copied.group(2), (CLIENT_SPAN, primary.group(2)))
        line = wait_for(lambda: next((e for e in self.json_lines() if e.get("request_id") == rid and
                                      e["type"] == "request"), None), 10, "the request line")
        self.assertEqual((line["protocol"], line["trace_id"]), ("HTTP/2", CLIENT_TRACE))

    def test_two_traceparent_fields_start_a_new_trace(self):
        conn = mgtest.RawConnection(self.json_ip, self.json_port)
        try:
            r = conn.request("GET", f"/plain?dup={unique_id()}", headers={
                "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                "Traceparent": f"00-{'a' * 32}-{CLIENT_SPAN}-01"})
        finally:
            conn.close()
        got = header_of(r.json(), "traceparent")
        self.assertEqual(len(got), 1)
        self.assertNotIn(TRACEPARENT_RE.match(got[0]).group(1), (CLIENT_TRACE, "a" * 32))

    def test_an_invalid_tracestate_is_dropped_and_the_trace_kept(self):
        _rid, echoed, copy = self.mirrored({"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                                            "tracestate": "Bad Key=1"})
        self.assertEqual(TRACEPARENT_RE.match(header_of(echoed, "traceparent")[0]).group(1), CLIENT_TRACE)
        self.assertEqual(header_of(echoed, "tracestate"), [])
        self.assertIsNone(copy.header("tracestate"))
        _rid, echoed, _copy = self.mirrored({"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
                                             "tracestate": "k=" + "x" * 600})
        self.assertEqual(header_of(echoed, "tracestate"), [])  # over the 512-byte bound

    def test_sampling_ratio_zero_starts_unsampled_traces(self):
        _rid, echoed, copy = self.mirrored({}, self.text_ip, self.text_port)
        self.assertTrue(header_of(echoed, "traceparent")[0].endswith("-00"))
        self.assertTrue(copy.header("traceparent").endswith("-00"))
        # A client's decision is its own, whatever the ratio.
        _rid, echoed, _copy = self.mirrored({"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"},
                                            self.text_ip, self.text_port)
        self.assertTrue(header_of(echoed, "traceparent")[0].endswith("-01"))


if __name__ == "__main__":
    mgtest.main()
