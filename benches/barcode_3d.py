"""3D barcodes (connectivity 6, sublevel) against GUDHI, CubicalRipser and Betti-Matching-3D, in
one run on the same volumes: median seconds of `--repeat` calls (peers once each above 64³).

    python benches/barcode_3d.py [--sizes 32,64,128] [--repeat 3]

Run from the repository root with the test venv (gudhi, cripser and topolosses installed);
missing peers are skipped. Peak memory is not measured here (one process for all candidates).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
from scipy.ndimage import gaussian_filter

import bettimatch as bm


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peers():
    out = {}
    try:
        import gudhi

        out["GUDHI CubicalComplex(vertices=)"] = lambda x: gudhi.CubicalComplex(vertices=x).persistence()
    except ImportError:
        pass
    try:
        import cripser

        out["CubicalRipser computePH"] = lambda x: cripser.computePH(x, maxdim=2)
    except ImportError:
        pass
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    try:
        from conftest import _reference

        ref, _ = _reference()
        if ref is not None:
            out["Betti-Matching-3D compute_barcode"] = lambda x: ref.compute_barcode(np.ascontiguousarray(x))
    except Exception:
        pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32,64,128")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    others = peers()
    print(f"| volume | {'bettimatch':>10} | " + " | ".join(others) + " |")
    for n in map(int, args.sizes.split(",")):
        for kind in ("smooth", "noise"):
            x = rng.random((n, n, n))
            if kind == "smooth":
                x = gaussian_filter(x, 2)
            ours = median_seconds(lambda: bm.barcode(x, "sublevel", 6), args.repeat)
            row = [f"{ours:.3f} s"]
            for name, fn in others.items():
                theirs = median_seconds(lambda: fn(x), args.repeat if n <= 64 else 1)
                row.append(f"{theirs:.3f} s ({theirs / ours:.1f}×)")
            print(f"| {n}³ {kind} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
