#!/usr/bin/env python3
"""The upstream Gateway API conformance suite, unmodified (scripts/conformance.sh), as a CTest test: runs the
GATEWAY-HTTP and GATEWAY-TLS profiles against the build's mirrorgate in a local cluster of its own, then reads the
ConformanceReport it wrote and fails unless every core test and every extended test of every claimed feature
passed. The suite, its echo-basic and CoreDNS are built by scripts/test.sh beforehand (cached), so this
test's time is the run's: about a minute and a half."""

import argparse
import os
import subprocess
import sys
import tempfile

import yaml


# The profiles scripts/conformance.sh runs; each must pass in full.
PROFILES = ("GATEWAY-HTTP", "GATEWAY-TLS")


def profile_problems(report: dict, name: str) -> list[str]:
    """What in the report's profile NAME falls short: failed or skipped core tests, failed extended ones."""
    profile = next((p for p in report.get("profiles", []) if p.get("name") == name), None)
    if profile is None:
        return [f"the report has no {name} profile"]
    problems = []
    for part in ("core", "extended"):
        # A profile of which no extended feature is claimed (GATEWAY-TLS: TLSRouteModeTerminate and
        # TLSRouteModeMixed are not) has no extended section to judge.
        if part == "extended" and part not in profile:
            continue
        section = profile.get(part) or {}
        stats = section.get("statistics") or {}
        if section.get("result") != "success":
            problems.append(f"{part}: result {section.get('result')!r} ({stats})")
        if stats.get("Failed", 0):
            problems.append(f"{part}: {stats['Failed']} failed: {section.get('failedTests', [])}")
        # A core test skipped is one not run: the profile's core is not optional.
        if part == "core" and stats.get("Skipped", 0):
            problems.append(f"core: {stats['Skipped']} skipped: {section.get('skippedTests', [])}")
        if not stats.get("Passed", 0):
            problems.append(f"{part}: nothing passed")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    env = dict(os.environ)
    # Addresses and ports of its own, so that it never meets the e2e tests' clusters.
    env.setdefault("MG_CONFORMANCE_POOL", "127.0.109.0/24")
    env.setdefault("MG_CONFORMANCE_ADMIN", "127.0.0.1:49901")
    env.setdefault("MG_CLUSTER_POD_SUBNET", "10.244.109.0/24")
    env.setdefault("MG_CLUSTER_API_PORT", "46443")
    env.setdefault("MG_CLUSTER_ETCD_PORT", "46379")
    env.setdefault("MG_CLUSTER_ETCD_PEER_PORT", "46380")
    env["MG_CONFORMANCE_REPORT"] = args.report
    with tempfile.TemporaryDirectory(prefix="mg-upstream-conformance-") as state:
        env["MG_CLUSTER_DIR"] = os.path.join(state, "cluster")
        run = subprocess.run([os.path.join(args.source_dir, "scripts/conformance.sh")], env=env,
                             stdin=subprocess.DEVNULL, timeout=1500, check=False)
        if run.returncode != 0:
            # The suite's own output (above) names the failing tests; the cluster's logs go with the state dir.
            for log in ("mirrorgate.log", "process-kubelet.log"):
                path = os.path.join(env["MG_CLUSTER_DIR"], log)
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print(f"--- last lines of {log} ---\n" + "".join(f.readlines()[-40:]), file=sys.stderr)
    if not os.path.exists(args.report):
        print(f"scripts/conformance.sh exited {run.returncode} and wrote no report", file=sys.stderr)
        return 1
    with open(args.report) as f:
        report = yaml.safe_load(f)
    problems = []
    for name in PROFILES:
        for p in profile_problems(report, name):
            problems.append(f"{name} {p}")
            print(problems[-1], file=sys.stderr)
    if run.returncode != 0 and not problems:
        problems.append(f"scripts/conformance.sh exited {run.returncode}")
        print(problems[-1], file=sys.stderr)
    for profile in report["profiles"]:
        print(f"upstream suite {report.get('gatewayAPIVersion')} ({report.get('gatewayAPIChannel')} channel) "
              f"{profile['name']}: core {profile['core']['statistics']}, extended "
              f"{profile.get('extended', {}).get('statistics')}, "
              f"{len(profile.get('extended', {}).get('supportedFeatures', []))} extended features claimed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
