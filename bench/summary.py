#!/usr/bin/env python3
"""One table from the JSON lines the bench scripts print (`bench/run` collects them).

Reads a file of JSON lines (or stdin); for each bench, prints the figures that are ratios,
medians, p99s, throughputs or target flags, flattened to dotted names, as a Markdown table.
"""

import json
import sys

KEEP = ("ratio", "median", "p50", "p99", "rps", "per_s", "_ok", "mib", "users_per_s", "ms")


def flatten(prefix: str, v, out: list):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(f"{prefix}.{k}" if prefix else k, x, out)
    elif isinstance(v, (int, float, bool)) and any(k in prefix.rsplit(".", 1)[-1] for k in KEEP):
        out.append((prefix, v))


def main() -> int:
    src = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    rows = []
    for line in src:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = doc.pop("bench", None) or doc.pop("name", "?")
        figures: list = []
        flatten("", doc, figures)
        for k, v in figures:
            rows.append((name, k, v))
    print("| bench | figure | value |")
    print("|---|---|---|")
    for name, k, v in rows:
        shown = ("yes" if v else "**NO**") if isinstance(v, bool) else (f"{v:g}" if isinstance(v, float) else v)
        print(f"| {name} | {k} | {shown} |")
    failed = [r for r in rows if isinstance(r[2], bool) and not r[2]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
