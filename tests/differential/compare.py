#!/usr/bin/env python3
"""Lists every difference between two observation logs of the differential suite.

  compare.py A.jsonl B.jsonl [--markdown]

Each log is what gpool-differential wrote to GPOOL_DIFF_RECORD: one JSON line per check, keyed
by test and `what` (the call text and its occurrence in the test). A difference is a check whose
result (error code, or "value" and its value) differs, or a check that only one run made in a
test both runs made (one stopped early or crashed). A test that only one run made (skipped on
the other backend: a known difference, or forged handles on NVIDIA's driver) is listed once,
apart. Checks recorded as "machine" (SM count, driver version, register counts) are listed
separately; neither list counts as a difference.
Exit code: 0 no differences, 1 differences, 2 a log cannot be read.
"""
import argparse
import json
import sys


def load(path):
    """{(test, what): record} and the backend name, from one log."""
    records, backend = {}, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not a JSON line ({e})")
            backend = backend or r.get("backend")
            records[(r["test"], r["what"])] = r
    return records, backend or path


def shown(r):
    if r is None:
        return "(not checked)"
    if r["result"] in ("value", "machine"):
        return str(r.get("value"))
    return r["result"]


def differences(a, b):
    """(differences, machine values, tests only one run made): the first two are lists of
    (test, what, a record or None, b record or None), the last of (test, "a" or "b")."""
    diffs, machine = [], []
    tests_a, tests_b = {k[0] for k in a}, {k[0] for k in b}
    one_sided = sorted([(t, "a") for t in tests_a - tests_b] + [(t, "b") for t in tests_b - tests_a])
    for key in sorted(set(a) | set(b)):
        if key[0] not in tests_a or key[0] not in tests_b:
            continue
        ra, rb = a.get(key), b.get(key)
        if ra is not None and rb is not None and ra["result"] == rb["result"] == "machine":
            if ra.get("value") != rb.get("value"):
                machine.append((key[0], key[1], ra, rb))
            continue
        if ra is None or rb is None or ra["result"] != rb["result"] or ra.get("value") != rb.get("value"):
            diffs.append((key[0], key[1], ra, rb))
    return diffs, machine, one_sided


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args()
    try:
        a, name_a = load(args.a)
        b, name_b = load(args.b)
    except (OSError, ValueError, KeyError) as e:
        print(f"compare.py: cannot read a log: {e}", file=sys.stderr)
        return 2
    diffs, machine, one_sided = differences(a, b)
    only = lambda side: ", ".join(t for t, s in one_sided if s == side) or "none"
    if args.markdown:
        print(f"{len(diffs)} differences between {name_a} ({len(a)} checks) and {name_b} ({len(b)} checks).\n")
        if diffs:
            print(f"| test | check | {name_a} | {name_b} |\n| --- | --- | --- | --- |")
            for test, what, ra, rb in diffs:
                print(f"| {test} | `{what}` | {shown(ra)} | {shown(rb)} |")
        if machine:
            print(f"\nMachine-dependent values (not differences):\n\n| test | value | {name_a} | {name_b} |\n"
                  "| --- | --- | --- | --- |")
            for test, what, ra, rb in machine:
                print(f"| {test} | {what} | {shown(ra)} | {shown(rb)} |")
        if one_sided:
            print(f"\nTests run on one backend only (skipped on the other): {name_a} only: {only('a')}; "
                  f"{name_b} only: {only('b')}.")
    else:
        print(f"{name_a} ({len(a)} checks) vs {name_b} ({len(b)} checks): {len(diffs)} differences")
        for test, what, ra, rb in diffs:
            print(f"  {test}: {what}: {name_a} {shown(ra)}, {name_b} {shown(rb)}")
        for test, what, ra, rb in machine:
            print(f"  (machine) {test}: {what}: {name_a} {shown(ra)}, {name_b} {shown(rb)}")
        if one_sided:
            print(f"  run on {name_a} only: {only('a')}\n  run on {name_b} only: {only('b')}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
