#!/usr/bin/env python3
"""Summarises bench/load.sh's results.tsv (one row per configuration and round) as Markdown tables:
medians over the rounds, ratios to nginx taken per round (same round, neighbouring runs) and then the
median, and for "-slow"/"-refused" configurations the ratio to the same proxy mirroring to fast pods."""

import csv
import statistics
import sys
from collections import OrderedDict

# Project targets (docs: engine issue): CPU per request, relative to nginx, and the slow-mirror budget.
CPU_NO_MIRROR_US = 15.0
CPU_MIRROR_US = 22.0
SLOW_RPS_KEEP = 0.95
SLOW_P99_GROWTH = 1.10
# HTTP/2 targets (the front-door issue): CPU per request against nginx's http2, mirroring against not.
H2_CPU_VS_NGINX = 0.8
H2_MIRROR_VS_PLAIN = 1.5
# Observability targets (the observability issue): an access log and an open admin page each cost <= 3%.
LOOKING_SUFFIXES = ("-jsonlog", "-textlog", "-page")
LOOKING_CPU_GROWTH = 1.03


def med(values):
    return statistics.median(values) if values else float("nan")


def main(path: str) -> None:
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    by_mode = OrderedDict()
    for r in rows:
        by_mode.setdefault(r["mode"], []).append(r)

    for mode, mrows in by_mode.items():
        data = OrderedDict()  # config -> round -> row
        for r in mrows:
            data.setdefault(r["config"], {})[r["round"]] = r
        rounds = sorted({r["round"] for r in mrows}, key=int)

        def per_round_ratio(cfg, base, field, invert=False):
            out = []
            for rd in rounds:
                a, b = data.get(cfg, {}).get(rd), data.get(base, {}).get(rd)
                if a and b and float(b[field]) > 0:
                    out.append(float(a[field]) / float(b[field]))
            return med(out) if out else None

        # The reference: nginx as a proxy of the same protocol (its http2 listener in MODE=h2c, with TLS in
        # MODE=h2tls, its TLS listener in MODE=tls-new).
        base = next((b for b in ("nginx", "nginx-h2", "nginx-h2-tls", "nginx-tls") if b in data), None)
        print(f"### mode: {mode} ({len(rounds)} rounds, medians)\n")
        print("| config | req/s | p50 ms | p99 ms | CPU us/req | req/s vs nginx | CPU/req vs nginx | errors |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        summary = {}
        for cfg, per in data.items():
            rs = list(per.values())
            rps = med([float(r["rps"]) for r in rs])
            p50 = med([float(r["p50_us"]) for r in rs]) / 1000
            p99 = med([float(r["p99_us"]) for r in rs]) / 1000
            cpu = med([float(r["cpu_us_per_req"]) for r in rs])
            errs = sum(int(r["errors"]) + int(r["non2xx"]) for r in rs)
            rr = per_round_ratio(cfg, base, "rps") if base else None
            cr = per_round_ratio(cfg, base, "cpu_us_per_req") if base else None
            summary[cfg] = dict(rps=rps, p99=p99, cpu=cpu, rr=rr, cr=cr)
            fmt = lambda v: "-" if v is None else f"{v:.2f}"
            print(f"| {cfg} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:.1f} | {fmt(rr)} | {fmt(cr)} | {errs} |")
        print()
        print("range over rounds (min-max): " + "; ".join(
            f"{cfg} {min(float(r['rps']) for r in per.values()):,.0f}-{max(float(r['rps']) for r in per.values()):,.0f} req/s, "
            f"{min(float(r['cpu_us_per_req']) for r in per.values()):.1f}-{max(float(r['cpu_us_per_req']) for r in per.values()):.1f} us"
            for cfg, per in data.items()))
        print()

        pairs = [(c, c.rsplit("-", 1)[0]) for c in data
                 if c.endswith(("-slow", "-refused") + LOOKING_SUFFIXES) and c.rsplit("-", 1)[0] in data]
        if pairs:
            print("| config | vs | req/s ratio | p99 ratio | CPU/req ratio |")
            print("|---|---|---:|---:|---:|")
            for cfg, base in pairs:
                rr = per_round_ratio(cfg, base, "rps")
                pr = per_round_ratio(cfg, base, "p99_us")
                cr = per_round_ratio(cfg, base, "cpu_us_per_req")
                summary[cfg].update(keep=rr, p99growth=pr, cpu_vs_base=cr)
                print(f"| {cfg} | {base} | {rr:.3f} | {pr:.3f} | {cr:.3f} |")
            print()

        checks = []
        s = summary
        if mode in ("h2c", "h2tls"):
            # The same three checks over h2c and over TLS: configuration names differ by "-tls".
            t = "-tls" if mode == "h2tls" else ""
            mg, h2o = "mirrorgate" + t, "h2o" + t
            if mg in s and s[mg]["cr"] is not None:
                checks.append((f"{mode}: CPU/request <= 0.8x nginx's", s[mg]["cr"] <= H2_CPU_VS_NGINX,
                               f"{s[mg]['cr']:.2f}x {base}"))
            if mg in s and h2o in s:
                r = per_round_ratio(mg, h2o, "cpu_us_per_req")
                checks.append((f"{mode}: CPU/request at or below h2o's", r <= 1.0, f"{r:.2f}x {h2o}"))
            if mg in s and mg + "-mirror" in s:
                r = per_round_ratio(mg + "-mirror", mg, "cpu_us_per_req")
                checks.append((f"{mode}: mirroring every request <= 1.5x not mirroring", r <= H2_MIRROR_VS_PLAIN,
                               f"{r:.2f}x"))
        elif mode == "tls-new" and "mirrorgate-tls" in s and s["mirrorgate-tls"]["rr"] is not None:
            checks.append(("new TLS 1.3 connections/s >= nginx's", s["mirrorgate-tls"]["rr"] >= 1.0,
                           f"{s['mirrorgate-tls']['rr']:.2f}x nginx-tls"))
        elif "mirrorgate" in s:
            checks.append(("no mirror: CPU/request <= 15 us", s["mirrorgate"]["cpu"] <= CPU_NO_MIRROR_US,
                           f"{s['mirrorgate']['cpu']:.1f} us"))
            if s["mirrorgate"]["rr"] is not None:
                checks.append(("no mirror: req/s >= nginx", s["mirrorgate"]["rr"] >= 1.0,
                               f"{s['mirrorgate']['rr']:.2f}x nginx"))
                p99r = per_round_ratio("mirrorgate", "nginx", "p99_us")
                checks.append(("no mirror: p99 no worse than nginx", p99r <= 1.0, f"{p99r:.2f}x nginx's p99"))
        if "mirrorgate-mirror" in s and mode == "standard":
            checks.append(("mirror: CPU/request <= 22 us", s["mirrorgate-mirror"]["cpu"] <= CPU_MIRROR_US,
                           f"{s['mirrorgate-mirror']['cpu']:.1f} us"))
        if "mirrorgate-mirror-slow" in s and s["mirrorgate-mirror-slow"].get("keep") is not None:
            k, g = s["mirrorgate-mirror-slow"]["keep"], s["mirrorgate-mirror-slow"]["p99growth"]
            checks.append(("50 ms mirror: primary keeps >= 95% req/s", k >= SLOW_RPS_KEEP, f"{k * 100:.1f}%"))
            checks.append(("50 ms mirror: primary p99 within 10%", g <= SLOW_P99_GROWTH, f"{(g - 1) * 100:+.1f}%"))
        for cfg in (c for c in s if c.startswith("mirrorgate") and c.endswith(LOOKING_SUFFIXES)
                    and s[c].get("cpu_vs_base") is not None):
            r = s[cfg]["cpu_vs_base"]
            checks.append((f"{cfg}: CPU/request within 3% of {cfg.rsplit('-', 1)[0]}", r <= LOOKING_CPU_GROWTH,
                           f"{(r - 1) * 100:+.1f}%"))
        if checks:
            print("| target | met | measured |")
            print("|---|---|---|")
            for name, ok, measured in checks:
                print(f"| {name} | {'yes' if ok else 'NO'} | {measured} |")
            print()


if __name__ == "__main__":
    main(sys.argv[1])
