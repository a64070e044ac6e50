#!/usr/bin/env python
"""Print the results of `cargo bench --bench persistence` as a Markdown table.

    python benches/summarize.py                      # target/criterion (wall clock)
    python benches/summarize.py target/criterion-cpu # after BETTIMATCH_BENCH_CLOCK=cpu cargo bench
    python benches/summarize.py --all                # also results older than the latest run

Reads criterion's `new/estimates.json` of every benchmark under the folder: the median, its 95%
confidence interval, and ns per pixel (from the benchmark's throughput, when it has one). In the
`gudhi` group, GUDHI's rows also get the ratio to bettimatch's single-threaded barcode with the same
connectivity (> 1: bettimatch is faster).
Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Dict, List, Tuple


def load(root: str, fresh_hours: float) -> List[Tuple[str, str, str, dict, dict]]:
    rows, stamps = [], []
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        rows.append((bench["group_id"], bench.get("function_id") or "", bench.get("value_str") or "", bench, est))
        stamps.append(os.path.getmtime(os.path.join(dirpath, "estimates.json")))
    if fresh_hours > 0 and stamps:
        newest = max(stamps)
        rows = [r for r, t in zip(rows, stamps) if newest - t <= fresh_hours * 3600]
    return rows


def fmt_ns(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}" if ns / scale < 100 else f"{ns / scale:.0f} {unit}"
    return f"{ns:.0f} ns"


def sort_key(row) -> tuple:
    group, func, value = row[:3]
    order = ["barcode", "betti_matching", "mask_counts", "batch", "gudhi"]
    g = order.index(group) if group in order else len(order)
    v = int(value) if value.isdigit() else 0
    return (g, group, v, func)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--all"]
    root = args[0] if args else os.path.join("target", "criterion")
    # Criterion keeps the results of benchmarks that no longer exist: by default show only those
    # from the latest run (within 3 hours of the newest result); --all shows everything.
    rows = sorted(load(root, 0 if "--all" in sys.argv else 3), key=sort_key)
    if not rows:
        sys.exit(f"no criterion results under {root}: run `cargo bench --bench persistence` first")
    ours: Dict[Tuple[str, str], float] = {}
    for group, func, value, _, est in rows:
        # GUDHI is single-threaded: its ratios are to bettimatch's one-thread barcode.
        if group == "gudhi" and func.startswith("bettimatch_threads1_"):
            ours[(func.split("_")[-1], value)] = est["median"]["point_estimate"]
    print("| group | benchmark | size | median | 95% CI | ns/pixel | ratio |")
    print("|---|---|---|---:|---|---:|---:|")
    for group, func, value, bench, est in rows:
        med = est["median"]["point_estimate"]
        ci = est["median"]["confidence_interval"]
        thr = (bench.get("throughput") or {}).get("Elements")
        per_px = f"{med / thr:.1f}" if thr else ""
        ratio = ""
        if group == "gudhi" and func.startswith("gudhi_"):
            base = ours.get((func.split("_")[-1], value))
            if base:
                ratio = f"{med / base:.2f}"
        size = f"{value}²" if value.isdigit() else value
        print(
            f"| {group} | {func} | {size} | {fmt_ns(med)} | {fmt_ns(ci['lower_bound'])} – {fmt_ns(ci['upper_bound'])} "
            f"| {per_px} | {ratio} |"
        )


if __name__ == "__main__":
    main()
