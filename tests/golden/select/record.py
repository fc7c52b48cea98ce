#!/usr/bin/env python3
"""Records the SELECT golden cases from a running InfluxDB 1.x (the reference).

    python3 tests/golden/select/record.py --url http://127.0.0.1:8086

Creates database `golden` (plain CREATE DATABASE: infinite retention), writes data.lp into it,
sends every query of queries.txt and writes cases.json next to this script: one object per query,
in file order, with the exact status and body the reference answered. tests/compat_select.rs
replays the same requests against wispmon and compares byte for byte.

Use a fresh reference server (empty data directory): the queries expect exactly data.lp.

`"note"` fields of an existing cases.json are carried over to the new recording for queries
whose text and options did not change, and reported when the recorded answer changed (so a note
never silently describes an answer that is no longer there).

queries.txt format: one query per line; blank lines and lines starting with `#` are skipped.
A line may start with options in brackets, each `[key=value]`:
    [db=golden]   database (the default); `[db=]` sends no db parameter
    [epoch=s]     the epoch parameter (absent by default: RFC3339 times)
    [method=POST] POST with a form body instead of GET with a query string
    [params={"name":"value"}]  bound parameters, sent verbatim as the `params` parameter
    [chunked=true] [chunk_size=2] [pretty=true]  the same-named parameters
    [accept=application/csv]  the Accept header
Several options: `[epoch=s][method=POST] SELECT ...`.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CHUNK_LINES = 1000


def request(method, url, fields=None, body=None, accept=None):
    """Returns (status, body as str) whatever the status."""
    data = None
    headers = {}
    if accept is not None:
        headers["Accept"] = accept
    if method == "GET" and fields:
        url = url + "?" + urllib.parse.urlencode(fields)
    elif method == "POST" and fields is not None:
        data = urllib.parse.urlencode(fields).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = body
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def parse_line(line):
    """'[epoch=s][method=POST] SELECT ...' -> (options dict, query)."""
    opts = {}
    rest = line
    while rest.startswith("["):
        eq = rest.index("=")
        key = rest[1:eq]
        if key == "params":
            # The value is JSON and may itself contain ']'.
            value, end = json.JSONDecoder().raw_decode(rest, eq + 1)
            if rest[end] != "]":
                raise ValueError(f"expected ] after params JSON in: {line}")
            opts[key] = json.dumps(value, separators=(",", ":"))
            rest = rest[end + 1 :]
        else:
            close = rest.index("]")
            opts[key] = rest[eq + 1 : close]
            rest = rest[close + 1 :]
        rest = rest.lstrip()
    unknown = set(opts) - {"db", "epoch", "method", "params", "chunked", "chunk_size", "pretty", "accept"}
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} in: {line}")
    return opts, rest


def read_queries(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            opts, q = parse_line(line.strip())
            db = opts.get("db", "golden")
            cases.append(
                {
                    "q": q,
                    "db": db if db != "" else None,
                    "epoch": opts.get("epoch"),
                    "method": opts.get("method", "GET").upper(),
                    "params": opts.get("params"),
                    "chunked": opts.get("chunked"),
                    "chunk_size": opts.get("chunk_size"),
                    "pretty": opts.get("pretty"),
                    "accept": opts.get("accept"),
                }
            )
    return cases


def case_key(c):
    return (
        c["q"],
        c["db"],
        c["epoch"],
        c["method"],
        c["params"],
        c.get("chunked"),
        c.get("chunk_size"),
        c.get("pretty"),
        c.get("accept"),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="base URL of the reference, e.g. http://127.0.0.1:8086")
    ap.add_argument("--queries", default=os.path.join(HERE, "queries.txt"))
    ap.add_argument("--data", default=os.path.join(HERE, "data.lp"))
    ap.add_argument("--out", default=os.path.join(HERE, "cases.json"))
    args = ap.parse_args()
    base = args.url.rstrip("/")

    status, body = request("GET", base + "/ping")
    if status != 204:
        sys.exit(f"{base}/ping answered {status}: {body}")

    status, body = request("POST", base + "/query", {"q": "CREATE DATABASE golden"})
    if status != 200 or "error" in body:
        sys.exit(f"CREATE DATABASE golden: {status} {body}")

    with open(args.data, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i in range(0, len(lines), CHUNK_LINES):
        chunk = ("\n".join(lines[i : i + CHUNK_LINES]) + "\n").encode("utf-8")
        status, body = request("POST", base + "/write?db=golden&precision=ns", body=chunk)
        if status != 204:
            sys.exit(f"write of lines {i + 1}..: {status} {body}")

    old_notes = {}
    if os.path.exists(args.out):
        with open(args.out, encoding="utf-8") as f:
            for c in json.load(f):
                if "note" in c or "wispmon" in c:
                    old_notes[case_key(c)] = (c.get("note"), c["status"], c["body"], c.get("wispmon"))

    cases = read_queries(args.queries)
    for c in cases:
        fields = {"q": c["q"]}
        if c["db"] is not None:
            fields["db"] = c["db"]
        if c["epoch"] is not None:
            fields["epoch"] = c["epoch"]
        if c["params"] is not None:
            fields["params"] = c["params"]
        for k in ("chunked", "chunk_size", "pretty"):
            if c[k] is not None:
                fields[k] = c[k]
        c["status"], c["body"] = request(c["method"], base + "/query", fields, accept=c["accept"])
        old = old_notes.get(case_key(c))
        if old is not None:
            if old[0] is not None:
                c["note"] = old[0]
            if old[3] is not None:
                # wispmon's deliberate departure from this answer (see compat_select.rs).
                c["wispmon"] = old[3]
            if (old[1], old[2]) != (c["status"], c["body"]):
                print(f"answer changed, check the note: {c['q']}", file=sys.stderr)

    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write("\n")
    errors = sum(1 for c in cases if c["status"] != 200 or '"error"' in c["body"])
    print(f"recorded {len(cases)} cases ({errors} with an error) into {args.out}")


if __name__ == "__main__":
    main()
