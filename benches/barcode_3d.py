"""3D barcodes (sublevel) against GUDHI, CubicalRipser and Betti-Matching-3D, in one run on the
same volumes: median seconds of `--repeat` calls (peers once each above 64³).

    python benches/barcode_3d.py [--sizes 32,64,128] [--repeat 3] [--connectivity 6|26]

Connectivity 26 (T-construction) compares with GUDHI's `top_dimensional_cells` and CubicalRipser's
`filtration="T"` (Betti-Matching-3D has no T-construction).

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


def peers(connectivity: int):
    out = {}
    v = connectivity == 6
    try:
        import gudhi

        if v:
            out["GUDHI CubicalComplex(vertices=)"] = lambda x: gudhi.CubicalComplex(vertices=x).persistence()
        else:
            out["GUDHI CubicalComplex(top_dimensional_cells=)"] = lambda x: gudhi.CubicalComplex(top_dimensional_cells=x).persistence()
    except ImportError:
        pass
    try:
        import cripser

        # `filtration=` picks the construction; `computePH(top_dim=True)` is not the T-construction
        # (on a 64³ noise volume it returns the 8881 cavities of the V-construction and nothing else).
        construction = "V" if v else "T"
        out[f"CubicalRipser compute_ph ({construction})"] = lambda x: cripser.compute_ph(x, maxdim=2, filtration=construction)
    except ImportError:
        pass
    if not v:
        return out
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
    parser.add_argument("--connectivity", type=int, choices=(6, 26), default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    others = peers(args.connectivity)
    print(f"| volume | {'bettimatch':>10} | " + " | ".join(others) + " |")
    for n in map(int, args.sizes.split(",")):
        for kind in ("smooth", "noise"):
            x = rng.random((n, n, n))
            if kind == "smooth":
                x = gaussian_filter(x, 2)
            ours = median_seconds(lambda: bm.barcode(x, "sublevel", args.connectivity), args.repeat)
            row = [f"{ours:.3f} s"]
            for name, fn in others.items():
                theirs = median_seconds(lambda: fn(x), args.repeat if n <= 64 else 1)
                row.append(f"{theirs:.3f} s ({theirs / ours:.1f}×)")
            print(f"| {n}³ {kind} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
