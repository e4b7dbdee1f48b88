"""Are the committed results still what the code produces? Compare two result trees.

    python -m initlab.io.check_results COMMITTED_DIR REGENERATED_DIR [--rtol 1e-6 --atol 1e-12]

Compared: every CSV table present in both trees, cell by cell (numbers with tolerance:
``|a - b| <= atol + rtol |b|``, NaN equal to NaN, inf to the same inf; integers and text
exactly), and every ``claims.json`` (each claim's pass/fail exactly, its measured and reference
values with the same tolerance). Reported: CSV and ``claims.json`` files missing from either tree,
other result files (figures, Markdown) missing from either tree (their contents are not
compared: PNGs are not byte-stable across matplotlib versions, and the Markdown is rendered from
the compared tables), and any claim that fails in either tree. One line per difference, then a
summary; exit 0 when there is none, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from pathlib import Path

_INT = re.compile(r"[-+]?[0-9]+\Z")
SKIP = {"manifest.json", "machine.json"}  # file hashes, timings and versions: expected to differ


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
            and p.name not in SKIP}


def _number(s: str) -> float | None:
    """The float of a cell that is a float (not an integer); None otherwise."""
    t = s.strip()
    if not t or _INT.match(t):
        return None
    try:
        return float(t)
    except ValueError:
        return None


def close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def compare_csv(a: Path, b: Path, name: str, rtol: float, atol: float) -> list[str]:
    with open(a, newline="", encoding="utf-8") as f:
        ra = list(csv.reader(f))
    with open(b, newline="", encoding="utf-8") as f:
        rb = list(csv.reader(f))
    if not ra or not rb:
        return [] if ra == rb else [f"{name}: one file is empty"]
    out = []
    if ra[0] != rb[0]:
        only_a = [c for c in ra[0] if c not in rb[0]]
        only_b = [c for c in rb[0] if c not in ra[0]]
        return [f"{name}: columns differ (only committed: {only_a or '-'}; only regenerated: {only_b or '-'}"
                + ("; same columns in another order" if not only_a and not only_b else "") + ")"]
    head = ra[0]
    if len(ra) != len(rb):
        out.append(f"{name}: {len(ra) - 1} rows committed, {len(rb) - 1} regenerated")
    for i, (x, y) in enumerate(zip(ra[1:], rb[1:]), start=2):
        for col, u, v in zip(head, x, y):
            if u == v:
                continue
            fu, fv = _number(u), _number(v)
            if fu is not None and fv is not None:
                if not close(fu, fv, rtol, atol):
                    rel = abs(fu - fv) / abs(fv) if fv and math.isfinite(fv) and math.isfinite(fu) else math.inf
                    out.append(f"{name}:{i}: {col}: {u} != {v} (rel diff {rel:.2e})")
            else:
                out.append(f"{name}:{i}: {col}: {u!r} != {v!r}")
    return out


def _val(x) -> float:
    return math.nan if x is None else float(x)


def compare_claims(a: Path, b: Path, name: str, rtol: float, atol: float) -> list[str]:
    ca = {c["id"]: c for c in json.loads(a.read_text())["claims"]}
    cb = {c["id"]: c for c in json.loads(b.read_text())["claims"]}
    out = [f"{name}: claim {k} only in the committed tree" for k in sorted(set(ca) - set(cb))]
    out += [f"{name}: claim {k} only in the regenerated tree" for k in sorted(set(cb) - set(ca))]
    for k in sorted(set(ca) & set(cb), key=lambda s: (len(s), s)):
        x, y = ca[k], cb[k]
        if x["pass"] != y["pass"]:
            out.append(f"{name}: claim {k}: {'pass' if x['pass'] else 'FAIL'} committed, "
                       f"{'pass' if y['pass'] else 'FAIL'} regenerated")
        for field in ("measured", "reference"):
            if not close(_val(x.get(field)), _val(y.get(field)), rtol, atol):
                out.append(f"{name}: claim {k}: {field} {x.get(field)!r} != {y.get(field)!r}")
    return out


def failed_claims(path: Path, name: str, tree: str) -> list[str]:
    claims = json.loads(path.read_text()).get("claims", [])
    return [f"{name}: claim {c['id']} FAILS in the {tree} tree ({c['statement']}: measured {c['measured']!r}, "
            f"reference {c['reference']!r}, tolerance {c.get('tolerance')})" for c in claims if not c["pass"]]


def check(committed: Path, regenerated: Path, rtol: float = 1e-6, atol: float = 1e-12) -> tuple[list[str], dict]:
    """All differences between two result trees, and counts for the summary."""
    fa, fb = _files(committed), _files(regenerated)
    lines: list[str] = []
    lines += [f"{n}: missing from the regenerated tree" for n in sorted(fa - fb)]
    lines += [f"{n}: missing from the committed tree" for n in sorted(fb - fa)]
    both = sorted(fa & fb)
    n_csv = n_claims = 0
    failed: list[str] = []
    for n in both:
        if n.endswith(".csv"):
            n_csv += 1
            lines += compare_csv(committed / n, regenerated / n, n, rtol, atol)
        elif Path(n).name == "claims.json":
            n_claims += 1
            lines += compare_claims(committed / n, regenerated / n, n, rtol, atol)
    for tree, root, names in (("committed", committed, fa), ("regenerated", regenerated, fb)):
        for n in sorted(names):
            if Path(n).name == "claims.json":
                failed += failed_claims(root / n, n, tree)
    lines += failed
    return lines, {"csv": n_csv, "claims": n_claims, "missing": len(fa ^ fb), "failed": len(failed),
                   "files": len(both)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m initlab.io.check_results",
                                description="Compare a committed results tree with a regenerated one.")
    p.add_argument("committed", type=Path)
    p.add_argument("regenerated", type=Path)
    p.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance for float cells (1e-6)")
    p.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance for float cells (1e-12)")
    args = p.parse_args(argv)
    for d in (args.committed, args.regenerated):
        if not d.is_dir():
            print(f"check_results: error: {d} is not a folder", file=sys.stderr)
            return 2
    lines, n = check(args.committed, args.regenerated, args.rtol, args.atol)
    for line in lines:
        print(line)
    status = "OK" if not lines else "DIFFERENT"
    print(f"check_results: {status}: {n['files']} files in both trees ({n['csv']} CSV tables and {n['claims']} "
          f"claims.json compared), {n['missing']} missing from one tree, {len(lines) - n['missing'] - n['failed']} "
          f"value differences, {n['failed']} failed claims (rtol {args.rtol:g}, atol {args.atol:g})")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
