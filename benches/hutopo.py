#!/usr/bin/env python
"""HuTopoLoss (Hu et al. 2019) forward + backward against GUDHI's barcodes + POT's exact transport,
in one run, on the same inputs.

    python benches/hutopo.py                                  # 16² .. 256², batch 1 and 8, 7 repeats
    python benches/hutopo.py --sizes 16,32,64 --batches 1 --repeat 21
    python benches/hutopo.py --cases noise --ref-max-cells 2e7

Cases (superlevel filtration, connectivity 4 = GUDHI's ``CubicalComplex(vertices=1 - x)``):

- ``noise``: two independent white-noise maps, the hardest case for the matching (hundreds to
  thousands of points per diagram, most near the diagonal, over half of all pairs candidates);
- ``smooth``: two independent smooth random maps (box-blurred noise, tens of points);
- ``mask``: a smooth likelihood map against the binary mask it predicts (the training case: the
  target's points all repeat (0, 1)).

Rows: ``bettimatch``: ``HuTopoLoss(include_background=True)`` on a (B, 1, H, W) float64 tensor,
forward and backward (``num_threads=None``: all cores); ``native``: the barcodes and matchings
alone (``_core.diagram_matching_pairs``, no torch), the same work as the reference's.
``gudhi+POT``: per image, GUDHI's cubical persistence of ``1 - x`` and ``1 - t`` (timed), then per dimension 0
and 1 the (n + 1) x (m + 1) cost matrix with the diagonal (squared distances, ``½ (d - b)²`` to
the diagonal, weights 1 and m / n for the diagonal) and ``ot.emd`` (the plan, which the gradient
needs; the loss is its cost). The reference computes values only, no gradient, in one thread.
Each row is the median (and min) over ``--repeat`` runs after one warm-up, candidates run
round-robin; "ratio" = gudhi+POT median / bettimatch median (> 1: bettimatch is faster), "native
ratio" the same for the native row. The
loss values of the two are compared (relative 1e-9) and a mismatch is printed.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

from compare import smooth  # the benches' shared smooth random maps


def inputs(case: str, batch: int, size: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(B, H, W) predictions and targets, float64."""
    rng = np.random.default_rng(seed)
    if case == "noise":
        return rng.random((batch, size, size)), rng.random((batch, size, size))
    if case == "smooth":
        r = max(1, size // 16)
        return smooth(rng.random((batch, size, size)), r), smooth(rng.random((batch, size, size)), r)
    target = (smooth(rng.random((batch, size, size)), max(1, size // 32)) > 0.5).astype(np.float64)
    likelihood = smooth(0.75 * target + 0.5 * rng.random((batch, size, size)), 1)
    return np.ascontiguousarray(likelihood), target


def gudhi_diagrams(gudhi, x: np.ndarray) -> List[np.ndarray]:
    """Finite intervals of dimensions 0 and 1 of the superlevel filtration of `x`."""
    cc = gudhi.CubicalComplex(vertices=np.ascontiguousarray(1.0 - x))
    cc.persistence()
    out = []
    for d in (0, 1):
        iv = cc.persistence_intervals_in_dimension(d)
        out.append(iv[np.isfinite(iv).all(axis=1)] if len(iv) else np.zeros((0, 2)))
    return out


def pot_cost(ot, p: np.ndarray, q: np.ndarray) -> float:
    """Optimal cost of the diagram problem with the diagonal, by POT's network simplex (the plan)."""
    n, m = len(p), len(q)
    if n == 0 or m == 0:
        return float(0.5 * ((p[:, 1] - p[:, 0]) ** 2).sum() + 0.5 * ((q[:, 1] - q[:, 0]) ** 2).sum())
    cost = np.empty((n + 1, m + 1))
    cost[:n, :m] = ((p[:, None, :] - q[None, :, :]) ** 2).sum(-1)
    cost[:n, m] = 0.5 * (p[:, 1] - p[:, 0]) ** 2
    cost[n, :m] = 0.5 * (q[:, 1] - q[:, 0]) ** 2
    cost[n, m] = 0.0
    a = np.ones(n + 1)
    a[n] = m
    b = np.ones(m + 1)
    b[m] = n
    plan = ot.emd(a, b, cost, numItermax=100_000_000)
    return float((plan * cost).sum())


def time_round_robin(cands: List[Tuple[str, Callable[[], object]]], repeat: int) -> Dict[str, List[float]]:
    times: Dict[str, List[float]] = {name: [] for name, _ in cands}
    for _, fn in cands:
        fn()
    for _ in range(repeat):
        for name, fn in cands:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="16,32,64,128,256")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--cases", default="noise,smooth,mask")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--ref-max-cells",
        type=float,
        default=2e7,
        help="skip gudhi+POT where one (n + 1)(m + 1) cost matrix would have more cells (memory, minutes)",
    )
    args = ap.parse_args()

    import torch
    import gudhi
    import ot

    import bettimatch as bm
    from bettimatch import _core
    from bettimatch.losses import HuTopoLoss

    print(f"torch {torch.__version__}, gudhi {gudhi.__version__}, POT {ot.__version__}, torch threads {torch.get_num_threads()}")
    print(f"| {'case':<6} | {'size':>5} | {'B':>2} | {'points dim0/dim1 (pred+target, image 0)':<40} | {'bettimatch ms':>13} | {'native ms':>9} | {'gudhi+POT ms':>12} | {'ratio':>6} | {'native ratio':>12} |")
    print(f"|{'-' * 8}|{'-' * 6}:|{'-' * 3}:|{'-' * 42}|{'-' * 14}:|{'-' * 10}:|{'-' * 13}:|{'-' * 7}:|{'-' * 13}:|")
    loss_fn = HuTopoLoss(include_background=True)
    for case in args.cases.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            for batch in (int(b) for b in args.batches.split(",")):
                p, t = inputs(case, batch, size, 1000 * size + batch)
                pt, tt = torch.from_numpy(p)[:, None], torch.from_numpy(t)[:, None]
                values: Dict[str, float] = {}

                def ours():
                    x = pt.clone().requires_grad_(True)
                    loss = loss_fn(x, tt)
                    loss.backward()
                    values["ours"] = float(loss.detach())

                def native():
                    _core.diagram_matching_pairs(p, t, "superlevel", 4, None)

                cands = [("ours", ours), ("native", native)]
                bp, bt = bm.barcode(p[0]), bm.barcode(t[0])
                counts = [(len(bp.birth_value[d]), len(bt.birth_value[d])) for d in (0, 1)]
                points = " / ".join(f"{a}+{b}" for a, b in counts)
                cells = max((a + 1) * (b + 1) for a, b in counts)
                if cells <= args.ref_max_cells:

                    def reference():
                        total = 0.0
                        for k in range(batch):
                            dp, dt = gudhi_diagrams(gudhi, p[k]), gudhi_diagrams(gudhi, t[k])
                            total += sum(pot_cost(ot, dp[d], dt[d]) for d in (0, 1))
                        values["ref"] = total / batch

                    cands.append(("ref", reference))
                times = time_round_robin(cands, args.repeat)
                ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
                ref = f"{ms['ref']:>12.2f}" if "ref" in ms else f"{'skipped':>12}"
                ratio = f"{ms['ref'] / ms['ours']:>6.2f}" if "ref" in ms else f"{'':>6}"
                native_ratio = f"{ms['ref'] / ms['native']:>12.2f}" if "ref" in ms else f"{'':>12}"
                print(
                    f"| {case:<6} | {size:>4}² | {batch:>2} | {points:<40} | {ms['ours']:>13.2f} | {ms['native']:>9.2f} | {ref} | {ratio} | {native_ratio} |",
                    flush=True,
                )
                if "ref" in values and not math.isclose(values["ours"], values["ref"], rel_tol=1e-9, abs_tol=1e-12):
                    print(f"  MISMATCH {case} {size}² B={batch}: bettimatch {values['ours']!r} vs gudhi+POT {values['ref']!r}", file=sys.stderr)


if __name__ == "__main__":
    main()
