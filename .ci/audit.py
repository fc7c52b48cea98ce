#!/usr/bin/env python3
"""Dependency advisory check, in the manner of `cargo audit`, run by .ci/run.

What it checks, for every crate of Cargo.lock and every npm package of the UI's and the browser
test's package-lock.json files:

1. Advisories: OSV-format advisories (the RustSec database's export, `crates/RUSTSEC-*.json`)
   from audit/advisories/ (a snapshot kept in the repository) and from every `--db DIR` given
   (a clone of github.com/rustsec/advisory-db, where the network allows; CI's does not reach
   GitHub). A locked version inside an advisory's SEMVER range is a finding.
2. Yanked crates: the crates.io index (reachable wherever cargo can build) says whether each
   locked version was yanked, which is how crate authors withdraw broken or vulnerable
   releases. `--offline` skips this.
3. Deprecated npm versions: the npm registry's metadata (GET only; its bulk audit endpoint is
   not reachable from CI) says whether each locked version was deprecated.

A finding fails the run unless audit/waivers.toml waives it, with a reason. Exit status: 0
clean, 1 findings, 2 the check itself could not run (a lock file unreadable, a registry down).
`--self-test` checks the version-range logic and exits.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import pathlib
import re
import sys
import time
import tomllib
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRATES_INDEX = "https://index.crates.io"
NPM_REGISTRY = "https://registry.npmjs.org"
TIMEOUT = 30


def parse_version(v: str) -> tuple:
    """A semver version as a sortable tuple; a pre-release sorts before its release."""
    core, _, pre = v.partition("-")
    core = core.partition("+")[0]
    nums = [int(x) if x.isdigit() else 0 for x in core.split(".")]
    while len(nums) < 3:
        nums.append(0)
    # (major, minor, patch, is_release, pre-release identifiers)
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (nums[0], nums[1], nums[2], 0 if pre else 1, ids)


def affected(version: str, ranges: list) -> bool:
    """Whether `version` falls in an OSV SEMVER range list (introduced/fixed/last_affected)."""
    v = parse_version(version)
    for r in ranges:
        if r.get("type") != "SEMVER":
            continue
        inside = False
        for e in r.get("events", []):
            if "introduced" in e and v >= parse_version(e["introduced"]):
                inside = True
            elif "fixed" in e and v >= parse_version(e["fixed"]):
                inside = False
            elif "last_affected" in e and v > parse_version(e["last_affected"]):
                inside = False
        if inside:
            return True
    return False


def load_advisories(dirs: list[pathlib.Path]) -> list[dict]:
    out = []
    for d in dirs:
        for f in sorted(d.rglob("*.json")):
            try:
                a = json.loads(f.read_text())
            except (OSError, ValueError) as e:
                raise SystemExit(f"audit: cannot read advisory {f}: {e}") from e
            if a.get("id") and a.get("affected"):
                out.append(a)
    return out


def advisory_findings(crates: list[tuple[str, str]], advisories: list[dict]) -> list[tuple]:
    found = []
    for a in advisories:
        for aff in a["affected"]:
            pkg = aff.get("package", {})
            if pkg.get("ecosystem") != "crates.io":
                continue
            kind = (aff.get("database_specific") or {}).get("informational") or "vulnerability"
            for name, version in crates:
                if name == pkg.get("name") and (
                    version in aff.get("versions", []) or affected(version, aff.get("ranges", []))
                ):
                    found.append((a["id"], name, version, f"{kind}: {a.get('summary', '')}"))
    return found


def fetch(url: str) -> str:
    """The body at `url`. A failed name lookup, a reset connection, a timeout or a server error
    is retried (four tries, 1, 2 and 4 s apart): hundreds of requests go out at once, and one
    transient failure among them (seen in a CI run: "Temporary failure in name resolution")
    must not fail the audit. A client error (404 and the like) is an answer, not retried."""
    req = urllib.request.Request(url, headers={"User-Agent": "wispmon-audit"})
    for attempt in range(4):
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            if e.code < 500 or attempt == 3:
                raise
        except (urllib.error.URLError, OSError):
            if attempt == 3:
                raise
        time.sleep(2**attempt)
    raise AssertionError("unreachable")


def index_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def yanked_crate(name: str, version: str) -> tuple | None:
    text = fetch(f"{CRATES_INDEX}/{index_path(name)}")
    for line in text.splitlines():
        entry = json.loads(line)
        if entry.get("vers") == version:
            return ("yanked", name, version, "withdrawn from crates.io") if entry.get("yanked") else None
    return ("yanked", name, version, "not in the crates.io index")


def deprecated_npm(name: str, version: str) -> tuple | None:
    meta = json.loads(fetch(f"{NPM_REGISTRY}/{name.replace('/', '%2F')}"))
    info = meta.get("versions", {}).get(version)
    if info is None:
        return ("deprecated", name, version, "not in the npm registry")
    if info.get("deprecated"):
        return ("deprecated", name, version, str(info["deprecated"]))
    return None


def locked_crates() -> list[tuple[str, str]]:
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    return sorted(
        (p["name"], p["version"])
        for p in lock.get("package", [])
        if str(p.get("source", "")).startswith("registry+")
    )


def locked_npm() -> list[tuple[str, str]]:
    out = set()
    for lock in (ROOT / "web/package-lock.json", ROOT / "tests/browser/package-lock.json"):
        if not lock.exists():
            continue
        for path, p in json.loads(lock.read_text()).get("packages", {}).items():
            if path.startswith("node_modules/") and p.get("version") and not p.get("link"):
                out.add((path.rsplit("node_modules/", 1)[1], p["version"]))
    return sorted(out)


def load_waivers() -> list[dict]:
    f = ROOT / "audit/waivers.toml"
    waivers = tomllib.loads(f.read_text()).get("waiver", []) if f.exists() else []
    for w in waivers:
        for key in ("id", "crate", "reason"):
            if not w.get(key):
                raise SystemExit(f"audit: a waiver in {f} has no {key}: {w}")
    return waivers


def waived(finding: tuple, waivers: list[dict]) -> dict | None:
    fid, name, _, _ = finding
    for w in waivers:
        if w["id"] == fid and w["crate"] == name:
            return w
    return None


def self_test() -> None:
    r = [{"type": "SEMVER", "events": [{"introduced": "0.5.12-0"}, {"fixed": "0.5.15"}]}]
    assert affected("0.5.12", r) and affected("0.5.14", r)
    assert not affected("0.5.11", r) and not affected("0.5.15", r) and not affected("0.5.17", r)
    t = [{"type": "SEMVER", "events": [{"introduced": "0.2.5"}, {"fixed": "1.38.2"},
                                       {"introduced": "1.39.0"}, {"fixed": "1.43.1"}]}]
    assert affected("1.38.1", t) and not affected("1.38.2", t) and affected("1.40.0", t)
    assert not affected("1.43.1", t) and not affected("1.54.1", t) and not affected("0.2.4", t)
    assert affected("0.1.13", [{"type": "SEMVER", "events": [{"introduced": "0.0.0-0"}]}])
    last = [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"last_affected": "1.2.3"}]}]
    assert affected("1.2.3", last) and not affected("1.2.4", last)
    assert parse_version("1.0.0-alpha") < parse_version("1.0.0-beta") < parse_version("1.0.0")
    assert index_path("syn") == "3/s/syn" and index_path("serde") == "se/rd/serde"
    assert index_path("cc") == "2/cc" and index_path("A") == "1/a"
    adv = [{"id": "X-1", "summary": "s", "affected": [{"package": {"ecosystem": "crates.io",
            "name": "foo"}, "ranges": r}]}]
    assert advisory_findings([("foo", "0.5.13"), ("bar", "0.5.13")], adv) == [
        ("X-1", "foo", "0.5.13", "vulnerability: s")]
    print("audit: self-test passed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", action="append", default=[], type=pathlib.Path,
                    help="an advisory database directory (OSV JSON), in addition to the snapshot")
    ap.add_argument("--offline", action="store_true", help="skip the registry checks")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
        return 0

    crates = locked_crates()
    npm = locked_npm()
    advisories = load_advisories([ROOT / "audit/advisories", *args.db])
    findings = advisory_findings(crates, advisories)
    if not args.offline:
        jobs = [(yanked_crate, n, v) for n, v in crates] + [(deprecated_npm, n, v) for n, v in npm]
        try:
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                for f in pool.map(lambda j: j[0](j[1], j[2]), jobs):
                    if f:
                        findings.append(f)
        except (urllib.error.URLError, OSError, ValueError) as e:
            print(f"audit: a registry could not be read: {e}", file=sys.stderr)
            return 2
    waivers = load_waivers()
    failed = False
    for f in sorted(findings):
        w = waived(f, waivers)
        if w:
            print(f"waived  {f[0]} {f[1]} {f[2]}: {f[3]} (waiver: {w['reason']})")
        else:
            failed = True
            print(f"FINDING {f[0]} {f[1]} {f[2]}: {f[3]}")
    unused = [w for w in waivers if not any(waived(f, [w]) for f in findings)]
    for w in unused:
        print(f"note: waiver {w['id']} for {w['crate']} no longer matches anything; remove it")
    print(
        f"audit: {len(crates)} crates and {len(npm)} npm packages against {len(advisories)} "
        f"advisories{'' if args.offline else ', crates.io yanks and npm deprecations'}: "
        f"{'FAILED' if failed else 'ok'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
