"""One source of truth for defaults: every default that the docs or the examples state for a flag is
the default `mirrorgate --help` reports (the code's). Checked where they are written down:

- docs/operations.md and docs/kubernetes.md, the options tables: "| `--flag X` | default | ...";
- docs/config.md, a MirrorPolicy field's "no policy" column: "`--flag` (value)";
- examples/*/*.yaml comments: "(default --flag, value)", and a MirrorPolicy field's comment names the
  flag that docs/config.md names for that field (or says "no" default only where docs names no flag).

Values compare as numbers: durations in seconds ("5s", "5"), sizes in bytes ("8Mi", "8 MiB", "8388608")."""

import re
import subprocess
import unittest

import mgtest

UNITS = {"": 1, "ki": 1024, "mi": 1024**2, "gi": 1024**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def number(text: str) -> float | None:
    t = text.strip().strip("`").lower().replace(" ", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", t)
    if m:
        scale = {"ms": 0.001, "s": 1, "m": 60, None: 1}[m.group(2)]
        return float(m.group(1)) * scale
    m = re.fullmatch(r"(\d+)(ki|mi|gi|kib|mib|gib)", t)
    if m:
        return float(int(m.group(1)) * UNITS[m.group(2)])
    return None


def help_defaults() -> dict[str, float]:
    out = subprocess.run([mgtest.GATEWAY_BIN, "--help"], capture_output=True, text=True, timeout=20).stdout
    found = {}
    for flag, value in re.findall(r"^\s+(--[a-z-]+) [A-Z:]+(?: in \[[^]]*\])?=(\S+)", out, re.M):
        v = number(value)
        if v is not None:
            found[flag] = v
    return found


class DocumentedDefaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.defaults = help_defaults()
        assert "--mirror-timeout" in cls.defaults, cls.defaults  # the parse itself works

    def check(self, source: str, flag: str, written: str):
        with self.subTest(source=source, flag=flag):
            self.assertIn(flag, self.defaults, f"{source}: {flag} is not a flag with a default")
            value = number(written)
            self.assertIsNotNone(value, f"{source}: cannot read {written!r} as a value")
            self.assertEqual(value, self.defaults[flag], f"{source}: says {flag} defaults to {written}")

    def check_table(self, doc: str, at_least: int):
        text = (mgtest.SOURCE_DIR / "docs" / doc).read_text()
        rows = re.findall(r"^\| `(--[a-z-]+)(?: [A-Z]+)?` \| ([^|]+) \|", text, re.M)
        checked = 0
        for flag, written in rows:
            if number(written) is not None:
                self.check(f"docs/{doc}", flag, written)
                checked += 1
        self.assertGreaterEqual(checked, at_least, rows)

    def test_operations_options_table(self):
        self.check_table("operations.md", 10)

    def test_kubernetes_options_table(self):
        self.check_table("kubernetes.md", 5)

    def test_mirror_policy_no_policy_column(self):
        text = (mgtest.SOURCE_DIR / "docs" / "config.md").read_text()
        pairs = re.findall(r"`(--mirror-[a-z-]+)` \(([^)]+)\)", text)
        self.assertGreaterEqual(len(pairs), 4, pairs)
        for flag, written in pairs:
            self.check("docs/config.md", flag, written)

    def test_example_comments(self):
        checked = 0
        for path in sorted((mgtest.SOURCE_DIR / "examples").rglob("*.yaml")):
            for flag, written in re.findall(r"default (--[a-z-]+), ([^)]+)\)", path.read_text()):
                self.check(str(path.relative_to(mgtest.SOURCE_DIR)), flag, written)
                checked += 1
        self.assertGreaterEqual(checked, 3)

    def test_example_policy_fields_name_the_documented_flag(self):
        text = (mgtest.SOURCE_DIR / "docs" / "config.md").read_text()
        documented = {}  # MirrorPolicy field -> the flag its "no policy" column names first (None: no flag)
        for field, no_policy in re.findall(r"^\| `([a-zA-Z.]+)` \|[^|]*\|[^|]*\| ([^|]*) \|$", text, re.M):
            flags = re.findall(r"`(--[a-z-]+)`", no_policy)
            documented.setdefault(field, flags[0] if flags else None)
        self.assertIn("maxInFlight", documented)
        checked = 0
        for path in sorted((mgtest.SOURCE_DIR / "examples").rglob("*.yaml")):
            for field, comment in re.findall(r"^\s*([a-zA-Z]+):[^#\n]*#[^\n]*\(default([^)]*)\)", path.read_text(), re.M):
                if field not in documented:
                    continue
                flag = re.search(r"--[a-z-]+", comment)
                with self.subTest(example=str(path.relative_to(mgtest.SOURCE_DIR)), field=field):
                    self.assertEqual(flag.group(0) if flag else None, documented[field],
                                     f"{field}: the example says (default{comment}), docs/config.md names "
                                     f"{documented[field]}")
                checked += 1
        self.assertGreaterEqual(checked, 4)


if __name__ == "__main__":
    mgtest.main()
