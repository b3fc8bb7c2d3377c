"""MirrorPolicy on a running gateway: /status and `mirrorgate status -c` give each policy its GEP-713
status, /config_dump shows which policy governs the live mirror, a reload that retargets the policy
takes effect in both, and a reload with an invalid policy is rejected with file, line and field while
the previous configuration keeps serving. (What the settings do to copies is tested with the mirror
runtime.)

Loopback block 127.0.26.0/24: gateway and admin .1; no pods are needed (status and config only)."""

import os
import subprocess

import mgtest
from mgtest import wait_for

NET = "127.0.26"


def policy_yaml(name: str, section: str | None = None, extra: str = "  timeout: 2s\n") -> str:
    section_line = f"\n    sectionName: {section}" if section else ""
    return f"""apiVersion: mirrorgate.io/v1alpha1
kind: MirrorPolicy
metadata:
  name: {name}
  namespace: default
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: shop{section_line}
{extra}"""


class MirrorPolicyStatus(mgtest.ClusterTestCase):
    @classmethod
    def start(cls, c):
        cls.gw_ip, cls.gw_port = f"{NET}.1", mgtest.free_port(f"{NET}.1")
        cls.dir = c.config_dir("policy")
        (cls.dir / "base.yaml").write_text(mgtest.join_docs(
            mgtest.gatewayclass_yaml(),
            mgtest.gateway_yaml("policy-gateway", cls.gw_ip, cls.gw_port),
            mgtest.service_yaml("shop-v1"),
            mgtest.service_yaml("shop-v2"),
            mgtest.route_yaml("shop", "policy-gateway", "/shop", "shop-v1", mirror="shop-v2"),
            policy_yaml("missing-rule", section="checkout"),
        ))
        cls.write_policy(policy_yaml("shadow"))
        cls.gw = c.gateway(cls.dir, admin_ip=cls.gw_ip, extra_args=["--watch-interval", "0.1"])
        cls.gw.wait_ready()

    @classmethod
    def write_policy(cls, text: str) -> None:
        tmp = cls.dir / ".policy.yaml.tmp"  # write then rename: the watcher never sees half a file
        tmp.write_text(text)
        os.replace(tmp, cls.dir / "policy.yaml")

    def policy_reasons(self) -> dict[str, list[str]]:
        items = self.gw.admin("/status").json()["items"]
        return {o["metadata"]["name"]: [a["conditions"][0]["reason"] for a in o["status"]["ancestors"]]
                for o in items if o["kind"] == "MirrorPolicy"}

    def live_mirror_policy(self):
        rules = self.gw.admin("/config_dump").json()["listeners"][0]["rules"]
        return rules[0]["mirrors"][0]["policy"]

    def reload_error(self) -> str:
        return self.gw.admin("/status").json().get("lastReloadError", "")

    def test_1_status_and_config_dump_show_the_policies(self):
        self.assertEqual(self.policy_reasons(), {"missing-rule": ["TargetNotFound"], "shadow": ["Accepted"]})
        items = self.gw.admin("/status").json()["items"]
        shadow = next(o for o in items if o["kind"] == "MirrorPolicy" and o["metadata"]["name"] == "shadow")
        self.assertEqual(shadow["apiVersion"], "mirrorgate.io/v1alpha1")
        ancestor = shadow["status"]["ancestors"][0]
        self.assertEqual(ancestor["ancestorRef"], {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                                   "name": "shop", "namespace": "default"})
        self.assertEqual(ancestor["controllerName"], "mirrorgate.io/gateway-controller")
        self.assertEqual(ancestor["conditions"][0]["message"],
                         "applies to the mirrors of HTTPRoute default/shop rules[0]")
        self.assertEqual(self.live_mirror_policy(), "default/shadow")

    def test_2_status_command_prints_the_same(self):
        r = subprocess.run([mgtest.GATEWAY_BIN, "status", "-c", str(self.dir)], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        docs = r.stdout.split("---\n")
        policies = [d for d in docs if "kind: MirrorPolicy" in d]
        self.assertEqual(len(policies), 2, r.stdout)
        by_name = {("shadow" if "name: shadow" in d else "missing-rule"): d for d in policies}
        self.assertIn("reason: Accepted", by_name["shadow"])
        self.assertIn("reason: TargetNotFound", by_name["missing-rule"])
        self.assertIn('message: HTTPRoute default/shop has no rule named "checkout"', by_name["missing-rule"])

    def test_3_reloads_retarget_and_reject(self):
        try:
            # Retargeted at a rule the route does not have: the live mirror falls back to the defaults.
            self.write_policy(policy_yaml("shadow", section="nope"))
            wait_for(lambda: self.policy_reasons().get("shadow") == ["TargetNotFound"], 10,
                     "the retargeted policy's status")
            wait_for(lambda: self.live_mirror_policy() is None, 10, "the mirror to lose its policy")
            self.assertEqual(self.reload_error(), "")

            # An invalid field: the reload is rejected with file, line and field; the old config stays.
            self.write_policy(policy_yaml("shadow", extra="  maxInFlight: 0\n"))
            wait_for(lambda: "spec.maxInFlight" in self.reload_error(), 10, "the rejection reason")
            self.assertIn("policy.yaml:11: MirrorPolicy default/shadow: spec.maxInFlight: must be between 1 and "
                          "1000000, got 0", self.reload_error())
            self.assertEqual(self.policy_reasons().get("shadow"), ["TargetNotFound"])
            self.assertIsNone(self.live_mirror_policy())
        finally:
            self.write_policy(policy_yaml("shadow"))
        wait_for(lambda: self.live_mirror_policy() == "default/shadow" and self.reload_error() == "", 10,
                 "the policy to govern the mirror again")
        self.assertTrue(self.gw.alive())


if __name__ == "__main__":
    mgtest.main()
