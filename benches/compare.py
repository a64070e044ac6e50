#!/usr/bin/env python
"""End-to-end timings of bettimatch's Python API against its peers, in one run, on the same inputs.

    python benches/compare.py                 # all sizes (154, 301, 512, 1024), 7 repeats
    python benches/compare.py --quick         # 154 and 301, 3 repeats, small batches
    python benches/compare.py --sizes 512 --repeat 11 --only barcode,matching
    python benches/compare.py --sizes 512 --only masks  # the metrics' binary-mask path
    python benches/compare.py --clock cpu     # CPU time instead of wall time (busy machines)
    python benches/compare.py --only hutopo --hutopo-sizes 64,128,256 --repeat 5  # Hu et al.'s loss
    python benches/compare.py --only volume --volume-sizes 32,64,128 --repeat 3  # 3D, one process each

Rivals (each optional: a missing one is skipped with a note, never an error):
  - GUDHI            pip install gudhi      CubicalComplex(vertices=...) (V) / (top_dimensional_cells=...) (T)
                                            .persistence(), and for T its specialised 2D path
                                            (_persistence_on_rectangle_from_top_cells, values only)
  - CubicalRipser    pip install cripser    cripser.compute_ph(..., filtration="V"/"T") (its
                                            `computePH(top_dim=True)` is not the T-construction: it
                                            gives the V-construction's top dimension alone)
  - Betti-Matching-3D, as shipped in topolosses (pip install topolosses): compute_barcode /
    compute_matching (its pybind module is loaded directly, without importing topolosses' heavy
    __init__), and topolosses.losses.BettiMatchingLoss for the loss.
  - Hu et al.'s loss (--only hutopo): GUDHI's barcodes + gudhi.wasserstein.wasserstein_distance
    (order=2, internal_p=2, matching=True: POT's ot.emd, network simplex) on the same images, and
    topolosses.losses.HutopoLoss, next to bettimatch's HuTopoLoss (pip install pot).

  - 3D (--only volume): barcodes at connectivity 6 (GUDHI vertices=, CubicalRipser V, Betti-Matching-3D
    compute_barcode) and 26 (GUDHI top_dimensional_cells=, CubicalRipser T), and likelihood-vs-mask
    matchings (smooth, white noise, two masks through the metric's mask path) against
    Betti-Matching-3D's compute_matching. Every candidate runs in a process of its own, so that its
    peak RSS (getrusage) is its own; the volumes are those of benches/matching_3d.py, sublevel.

All of them are sublevel-only, so they get `1 - p` (prepared outside the timed region); bettimatch
gets the probabilities `p` and its default `filtration="superlevel"` (the negation happens inside).
Every implementation returns locations (birth/death pixels) except GUDHI, which returns values only.
Each table row is the median (and min) over `--repeat` runs after one warm-up; candidates of one
case run round-robin so that machine noise hits them alike. "ratio" = that row's median / the
bettimatch row's median of the same case (> 1: bettimatch is faster).
"""

from __future__ import annotations

import argparse
import glob
import importlib.machinery
import importlib.util
import inspect
import math
import os
import platform
import statistics
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

NOTES: List[str] = []


def note(msg: str) -> None:
    NOTES.append(msg)
    print(f"  note: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Optional imports


def load_bettimatch():
    try:
        import bettimatch

        return bettimatch
    except Exception as e:  # pragma: no cover - the one thing we cannot skip
        sys.exit(f"cannot import bettimatch ({e}); build it first: maturin develop --release")


def load_gudhi():
    try:
        import gudhi

        return gudhi
    except Exception as e:
        note(f"GUDHI skipped ({type(e).__name__}: {e}); pip install gudhi")
        return None


def load_cripser():
    try:
        import cripser

        return cripser
    except Exception as e:
        note(f"CubicalRipser skipped ({type(e).__name__}: {e}); pip install cripser")
        return None


REF_MODULE = "topolosses.losses.betti_matching.src.betti_matching"


def load_reference():
    """Betti-Matching-3D's pybind module from the topolosses wheel, without importing topolosses.

    pybind11 refuses to register its types twice, so if topolosses already imported the module
    (the loss comparison imports topolosses first), that copy is reused.
    """
    if REF_MODULE in sys.modules:
        return sys.modules[REF_MODULE]
    try:
        spec = importlib.util.find_spec("topolosses")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        note("Betti-Matching-3D (topolosses) skipped: not installed; pip install topolosses")
        return None
    root = list(spec.submodule_search_locations)[0]
    found = glob.glob(os.path.join(root, "losses", "betti_matching", "src", "betti_matching*.so")) + glob.glob(
        os.path.join(root, "losses", "betti_matching", "src", "betti_matching*.pyd")
    )
    if not found:
        note(f"Betti-Matching-3D skipped: no betti_matching extension under {root}")
        return None
    try:
        loader = importlib.machinery.ExtensionFileLoader("betti_matching", found[0])
        mod_spec = importlib.util.spec_from_loader("betti_matching", loader)
        module = importlib.util.module_from_spec(mod_spec)
        loader.exec_module(module)
        return module
    except Exception as e:
        note(f"Betti-Matching-3D skipped: loading {found[0]} failed ({e})")
        return None


# ---------------------------------------------------------------------------------------------
# Inputs: the same recipe as benches/persistence.rs (not bit-identical: a different RNG)


def box_blur(x: np.ndarray, r: int, axis: int) -> np.ndarray:
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis)
    n = x.shape[axis]
    hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return (hi - lo) / (2 * r + 1)


def smooth(x: np.ndarray, r: int) -> np.ndarray:
    for _ in range(3):
        for axis in (-2, -1):
            x = box_blur(x, r, axis)
    lo = x.min(axis=(-2, -1), keepdims=True)
    hi = x.max(axis=(-2, -1), keepdims=True)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def pair(size: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """A likelihood map (float64 in [0, 1]) and the binary target it predicts (float64 0/1)."""
    rng = np.random.default_rng(seed)
    target = (smooth(rng.random((size, size)), 4) > 0.5).astype(np.float64)
    likelihood = smooth(0.75 * target + 0.5 * rng.random((size, size)), 1)
    return np.ascontiguousarray(likelihood), target


def segmentation_batch(batch: int, classes: int, size: int, seed: int):
    """Logits (B, C, H, W) of a plausible network output and a one-hot target of the same shape."""
    rng = np.random.default_rng(seed)
    labels = smooth(rng.random((batch, classes, size, size)), 4).argmax(axis=1)
    onehot = np.eye(classes, dtype=np.float32)[labels].transpose(0, 3, 1, 2)
    logits = 4.0 * smooth(onehot + 0.6 * rng.random(onehot.shape), 1) - 2.0
    return logits.astype(np.float32), np.ascontiguousarray(onehot)


# ---------------------------------------------------------------------------------------------
# Timing


CLOCK: Callable[[], float] = time.perf_counter


def time_round_robin(
    candidates: Sequence[Tuple[str, Callable[[], object]]], repeat: int, settle: float = 0.0
) -> Dict[str, List[float]]:
    """`settle` seconds of pause (untimed) after each call, for candidates that leave work behind
    when they return (worker processes shutting down) which would otherwise land on the next one."""
    times: Dict[str, List[float]] = {name: [] for name, _ in candidates}
    for name, fn in candidates:  # warm-up (imports, allocations, thread pools)
        fn()
    for _ in range(repeat):
        for name, fn in candidates:
            t0 = CLOCK()
            fn()
            times[name].append(CLOCK() - t0)
            if settle:
                time.sleep(settle)
    return times


class Table:
    def __init__(self) -> None:
        self.rows: List[Tuple[str, str, str, float, float, str]] = []

    def add_case(self, case: str, size: str, times: Dict[str, List[float]], baseline: str) -> None:
        base = statistics.median(times[baseline])
        for name, ts in times.items():
            med = statistics.median(ts)
            ratio = "1.00" if name == baseline else f"{med / base:.2f}"
            self.rows.append((case, size, name, 1e3 * med, 1e3 * min(ts), ratio))
        self.print_rows(self.rows[-len(times):], header=len(self.rows) == len(times))

    @staticmethod
    def print_rows(rows, header: bool) -> None:
        if header:
            print(f"| {'case':<30} | {'size':<16} | {'implementation':<58} | {'median ms':>10} | {'min ms':>10} | {'ratio':>6} |")
            print(f"|{'-' * 32}|{'-' * 18}|{'-' * 60}|{'-' * 11}:|{'-' * 11}:|{'-' * 7}:|")
        for case, size, name, med, mn, ratio in rows:
            print(f"| {case:<30} | {size:<16} | {name:<58} | {med:>10.2f} | {mn:>10.2f} | {ratio:>6} |", flush=True)


# ---------------------------------------------------------------------------------------------
# Cases


def default_threads() -> int:
    """What bettimatch's num_threads=None means: RAYON_NUM_THREADS, else one per core."""
    try:
        n = int(os.environ.get("RAYON_NUM_THREADS", "0"))
    except ValueError:
        n = 0
    return n if n > 0 else (os.cpu_count() or 1)


def bench_barcodes(bm, gudhi, cripser, ref, sizes, repeat, table: Table) -> None:
    threads = default_threads()
    gudhi_fast = None
    if gudhi is not None:
        try:  # private, but it is what gudhi.sklearn.CubicalPersistence runs on 2D top cells
            from gudhi._pers_cub_low_dim_ext import _persistence_on_rectangle_from_top_cells as gudhi_fast
        except Exception as e:
            note(f"GUDHI's 2D fast path unavailable ({e})")
    for size in sizes:
        p, _ = pair(size, 1)
        sub = np.ascontiguousarray(1.0 - p)
        for conn in (4, 8):
            cands = [
                ("bettimatch, 1 thread (barcode_batch, num_threads=1)", lambda conn=conn: bm.barcode_batch([p], connectivity=conn, num_threads=1)),
                (f"bettimatch.barcode ({threads} threads)", lambda conn=conn: bm.barcode(p, connectivity=conn)),
            ]
            if gudhi is not None:
                kw = "vertices" if conn == 4 else "top_dimensional_cells"
                cands.append(
                    (f"gudhi CubicalComplex({kw}=).persistence()", lambda kw=kw: gudhi.CubicalComplex(**{kw: sub}).persistence())
                )
            if gudhi_fast is not None and conn == 8:
                cands.append(("gudhi 2D fast path (T, values only)", lambda: gudhi_fast(sub, 0.0)))
            if cripser is not None:
                construction = "V" if conn == 4 else "T"
                cands.append(
                    (
                        f'cripser.compute_ph(maxdim=1, filtration="{construction}")',
                        lambda construction=construction: cripser.compute_ph(sub, maxdim=1, filtration=construction),
                    )
                )
            if ref is not None and conn == 4:
                cands.append(("Betti-Matching-3D compute_barcode", lambda: ref.compute_barcode(sub)))
            table.add_case(f"barcode, conn {conn}", f"{size}²", time_round_robin(cands, repeat), cands[0][0])


def bench_matchings(bm, ref, sizes, repeat, batch_for, table: Table) -> None:
    from bettimatch import _core

    threads = default_threads()

    for size in sizes:
        p, t = pair(size, 2)
        ps, ts = np.ascontiguousarray(1.0 - p), np.ascontiguousarray(1.0 - t)
        cands = [
            ("bettimatch, 1 thread (betti_matching_batch, num_threads=1)", lambda: bm.betti_matching_batch([p], [t], num_threads=1)),
            (f"bettimatch.betti_matching ({threads} threads)", lambda: bm.betti_matching(p, t)),
        ]
        # The Rust call alone (flat indices, no coordinate arrays): the Python layer's share.
        try:
            raw_call = lambda: _core.matching_batch([p], [t], "superlevel", 4, 1, False)  # noqa: E731
            raw_call()
            cands.append(("  _core.matching_batch, 1 thread (no Python wrapping)", raw_call))
        except Exception as e:
            note(f"_core.matching_batch row skipped (internal signature changed? {e})")
        if ref is not None:
            cands.append(("Betti-Matching-3D compute_matching (1 thread)", lambda: ref.compute_matching(ps, ts)))
        table.add_case("matching likelihood vs binary", f"{size}²", time_round_robin(cands, repeat), cands[0][0])

        n = batch_for(size)
        pairs = [pair(size, 10 + i) for i in range(n)]
        preds = [x[0] for x in pairs]
        targets = [x[1] for x in pairs]
        subs = [(np.ascontiguousarray(1.0 - a), np.ascontiguousarray(1.0 - b)) for a, b in pairs]
        cands = [
            ("bettimatch.betti_matching_batch(threads=1)", lambda: bm.betti_matching_batch(preds, targets, num_threads=1)),
            (f"bettimatch.betti_matching_batch(default={threads})", lambda: bm.betti_matching_batch(preds, targets)),
        ]
        if ref is not None:
            cands.append(("Betti-Matching-3D, loop of single calls", lambda: [ref.compute_matching(a, b) for a, b in subs]))
            cands.append(
                ("Betti-Matching-3D, batch call (std::async)", lambda: ref.compute_matching([a for a, _ in subs], [b for _, b in subs]))
            )
        table.add_case(f"matching batch of {n}", f"{size}²", time_round_robin(cands, repeat), cands[0][0])


def bench_masks(bm, ref, sizes, repeat, table: Table) -> None:
    """The metrics' path (binary masks: labelling, no persistence) against the general matching of
    the same masks and against Betti-Matching-3D; thresholded likelihoods and 50% speckle."""
    for size in sizes:
        p, t = pair(size, 3)
        rng = np.random.default_rng(size)
        cases = {
            "masks: likelihood > 0.5 vs target": (p > 0.5, t > 0.5),
            "masks: 50% speckle": (rng.random((size, size)) < 0.5, rng.random((size, size)) < 0.5),
        }
        for case, (pm, tm) in cases.items():
            as_values = pm.astype(np.float64), tm.astype(np.float64)
            subs = np.ascontiguousarray(1.0 - as_values[0]), np.ascontiguousarray(1.0 - as_values[1])
            cands = [
                ("bettimatch.betti_matching_error (mask path)", lambda pm=pm, tm=tm: bm.betti_matching_error(pm, tm)),
                (
                    "bettimatch.betti_matching_batch(num_threads=1) of the masks",
                    lambda v=as_values: bm.betti_matching_batch([v[0]], [v[1]], num_threads=1),
                ),
            ]
            if ref is not None:
                cands.append(("Betti-Matching-3D compute_matching", lambda s=subs: ref.compute_matching(s[0], s[1])))
            table.add_case(case, f"{size}²", time_round_robin(cands, repeat), cands[0][0])


def load_losses():
    """(torch, DiceBettiMatchingLoss or None, topolosses' BettiMatchingLoss or None), or None."""
    try:
        import torch
    except Exception as e:
        note(f"loss comparison skipped: torch unavailable ({e})")
        return None
    ours = theirs = None
    try:
        from bettimatch.losses import DiceBettiMatchingLoss

        ours = DiceBettiMatchingLoss
    except Exception as e:
        note(f"bettimatch.losses.DiceBettiMatchingLoss unavailable ({type(e).__name__}: {e})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from topolosses.losses import BettiMatchingLoss

        theirs = BettiMatchingLoss
    except Exception as e:
        note(f"topolosses.losses.BettiMatchingLoss unavailable ({type(e).__name__}: {e})")
    if ours is None and theirs is None:
        return None
    return torch, ours, theirs


def bench_losses(losses, repeat, quick, table: Table) -> None:
    if losses is None:
        return
    torch, ours, theirs = losses
    torch.set_num_threads(os.cpu_count() or 1)
    threads = os.cpu_count() or 1

    def make(cls, **extra):
        params = inspect.signature(cls).parameters
        kwargs = {k: v for k, v in dict(softmax=True, **extra).items() if k in params}
        return cls(**kwargs), "softmax" in kwargs

    cases = [(8, 4, 154), (4, 2, 301)] if not quick else [(8, 4, 154)]
    for batch, classes, size in cases:
        logits_np, target_np = segmentation_batch(batch, classes, size, 7)
        target = torch.from_numpy(target_np)
        cands = []

        def step(loss_fn, applies_softmax):
            def run():
                logits = torch.from_numpy(logits_np).requires_grad_(True)
                x = logits if applies_softmax else torch.softmax(logits, 1)
                loss = loss_fn(x, target)
                loss.backward()
                return float(loss.detach())

            return run

        if ours is not None:
            try:
                fn, sm = make(ours)
                cands.append(("bettimatch DiceBettiMatchingLoss", step(fn, sm)))
            except Exception as e:
                note(f"DiceBettiMatchingLoss could not be built ({e})")
        if theirs is not None:
            fn, sm = make(theirs)
            cands.append(("topolosses BettiMatchingLoss (num_processes=1)", step(fn, sm)))
            n_inst = batch * (classes - 1)
            fn, sm = make(theirs, num_processes=n_inst)
            cands.append((f"topolosses BettiMatchingLoss (num_processes={n_inst})", step(fn, sm)))
        if not cands:
            continue
        table.add_case(
            f"loss fwd+bwd, {threads} torch threads",
            f"{batch}x{classes}x{size}²",
            # topolosses with num_processes > 1 starts and stops a process pool per call
            time_round_robin(cands, repeat, settle=0.2),
            cands[0][0],
        )


# ---------------------------------------------------------------------------------------------
# Hu et al.'s loss: optimal diagram matching on noisy predictions


def noise_pair(size: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Two independent white-noise "probability" maps: the hardest case for the diagram matching
    (thousands of points per diagram, most of them close to the diagonal)."""
    rng = np.random.default_rng(seed)
    return rng.random((size, size)), rng.random((size, size))


def load_hutopo_reference():
    """(gudhi, gudhi.wasserstein.wasserstein_distance) or None; the distance needs POT."""
    try:
        import gudhi
        from gudhi.wasserstein import wasserstein_distance
        import ot  # noqa: F401  (gudhi imports POT lazily, inside the call)

        return gudhi, wasserstein_distance
    except Exception as e:
        note(f"gudhi + POT reference for HuTopoLoss skipped ({type(e).__name__}: {e}); pip install gudhi pot")
        return None


def gudhi_pot_hutopo(gudhi, wasserstein_distance, p: np.ndarray, t: np.ndarray) -> float:
    """Hu et al.'s loss of one superlevel (prediction, target) pair the way topolosses computes its
    matching: GUDHI's cubical barcodes (V-construction = connectivity 4) and POT's exact transport
    on the (n + 1) x (m + 1) diagram problem, per dimension 0 and 1."""
    total = 0.0
    diagrams = []
    for x in (p, t):
        cc = gudhi.CubicalComplex(vertices=np.ascontiguousarray(1.0 - x))
        cc.persistence()
        diagrams.append([cc.persistence_intervals_in_dimension(d) for d in (0, 1)])
    for d in (0, 1):
        dist, _ = wasserstein_distance(
            diagrams[0][d], diagrams[1][d], order=2.0, internal_p=2.0, matching=True, keep_essential_parts=False
        )
        total += dist**2
    return total


def bench_hutopo(sizes, repeat, table: Table, ref_max_cells: float) -> None:
    try:
        import torch
        from bettimatch.losses import HuTopoLoss
    except Exception as e:
        note(f"HuTopoLoss comparison skipped ({type(e).__name__}: {e})")
        return
    import bettimatch as bm

    reference = load_hutopo_reference()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from topolosses.losses import HutopoLoss as TopolossesHutopo
    except Exception as e:
        TopolossesHutopo = None
        note(f"topolosses.losses.HutopoLoss unavailable ({type(e).__name__}: {e})")
    threads = default_threads()
    for size in sizes:
        p, t = noise_pair(size, 20 + size)
        pt, tt = torch.from_numpy(p)[None, None], torch.from_numpy(t)[None, None]
        ours = HuTopoLoss(include_background=True)
        values: Dict[str, float] = {}

        def ours_step():
            x = pt.clone().requires_grad_(True)
            loss = ours(x, tt)
            loss.backward()
            values["bettimatch"] = float(loss.detach())

        cands: List[Tuple[str, Callable[[], object]]] = [(f"bettimatch HuTopoLoss fwd+bwd ({threads} threads)", ours_step)]
        bp, bt = bm.barcode(p), bm.barcode(t)
        cells = max((len(bp.birth_value[d]) + 1) * (len(bt.birth_value[d]) + 1) for d in (0, 1))
        points = "/".join(f"{len(bp.birth_value[d])}+{len(bt.birth_value[d])}" for d in (0, 1))
        if cells > ref_max_cells:
            note(
                f"{size}²: the dense references are skipped, their cost matrix would have {cells:.3g} cells "
                f"(> --hutopo-ref-max-cells {ref_max_cells:.3g})"
            )
        else:
            if reference is not None:

                def reference_step():
                    values["gudhi+POT"] = gudhi_pot_hutopo(*reference, p, t)

                cands.append(("gudhi barcodes + POT ot.emd (gudhi.wasserstein, values only)", reference_step))
            if TopolossesHutopo is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    theirs = TopolossesHutopo(include_background=True, use_base_loss=False, alpha=1.0)

                def theirs_step():
                    x = pt.float().clone().requires_grad_(True)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        loss = theirs(x, tt.float())
                    loss.backward()
                    values["topolosses"] = float(loss.detach())

                cands.append(("topolosses HutopoLoss fwd+bwd (Betti-Matching-3D + POT)", theirs_step))
        note(f"{size}² noise: diagram points (pred+target) dim 0 / dim 1: {points}")
        table.add_case("HuTopo loss, noise vs noise", f"{size}²", time_round_robin(cands, repeat), cands[0][0])
        # A faster matching is only worth something if it is still optimal: compare the costs.
        base = values.get("bettimatch")
        for name in ("gudhi+POT", "topolosses"):
            other = values.get(name)
            if base is not None and other is not None and not math.isclose(base, other, rel_tol=1e-5, abs_tol=1e-6):
                note(f"{size}²: HuTopo loss {base!r} (bettimatch) vs {other!r} ({name}); POT stops after 2e6 iterations")


# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# 3D: one process per candidate (peak memory is a process's)

VOLUME_BARCODE_CANDIDATES = {
    6: ("bettimatch", "gudhi", "cripser", "reference"),
    26: ("bettimatch", "gudhi", "cripser"),
}
VOLUME_NAMES = {
    "bettimatch": "bettimatch.barcode ({threads} threads)",
    "gudhi": "gudhi CubicalComplex({kw}=).persistence()",
    "cripser": "cripser.compute_ph(maxdim=2, filtration=\"{construction}\")",
    "reference": "Betti-Matching-3D compute_barcode",
}


def volume_barcode_worker(candidate: str, size: int, kind: str, connectivity: int, repeat: int) -> dict:
    """Median seconds and this process's peak RSS for `repeat` barcodes of the prediction volume of
    benches/matching_3d.py (no warm-up call, as in matching_3d.py), and the number of bars of
    positive length per dimension (to check that every candidate computed the same barcode:
    cripser's `top_dim=True`, for one, is not the T-construction)."""
    import resource

    from matching_3d import rss_mib, volumes

    x, _ = volumes(size, kind)
    if candidate == "bettimatch":
        bm = load_bettimatch()
        run = lambda: bm.barcode(x, "sublevel", connectivity)
        bars = lambda bc: [int(np.sum(b < d)) for b, d in zip(bc.birth_value, bc.death_value)]
    elif candidate == "gudhi":
        import gudhi

        kw = "vertices" if connectivity == 6 else "top_dimensional_cells"
        run = lambda: gudhi.CubicalComplex(**{kw: x}).persistence()
        bars = lambda pairs: [sum(1 for dim, (b, e) in pairs if dim == d and b < e < np.inf) for d in range(3)]
    elif candidate == "cripser":
        import cripser

        run = lambda: cripser.compute_ph(x, maxdim=2, filtration="V" if connectivity == 6 else "T")
        bars = lambda table: [int(np.sum((table[:, 0] == d) & (table[:, 1] < table[:, 2]) & np.isfinite(table[:, 2]))) for d in range(3)]
    else:
        ref = load_reference()
        if ref is None:
            return {"skipped": "Betti-Matching-3D unavailable"}
        run = lambda: ref.compute_barcode(x)
        bars = lambda _: None
    before = rss_mib()
    times = []
    for _ in range(repeat):
        t0 = CLOCK()
        result = run()
        times.append(CLOCK() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": statistics.median(times), "min": min(times), "peak_mib": peak, "before_mib": before, "bars": bars(result)}


def run_volume_worker(args: Sequence[str], timeout: float) -> dict:
    import json
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), "--volume-worker", *map(str, args)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    except subprocess.CalledProcessError as e:
        return {"failed": (e.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_volume_rows(case: str, size: int, results: Dict[str, dict], baseline: str) -> None:
    base = results.get(baseline, {})
    for name, r in results.items():
        if base.get("bars") is not None and r.get("bars") is not None and r["bars"] != base["bars"]:
            r = {"wrong barcode": r["bars"], "bettimatch": base["bars"]}
        if "seconds" not in r:
            print(f"| {case:<30} | {f'{size}³':<6} | {name:<48} | {str(r):>34} |", flush=True)
            continue
        ratio = mem = ""
        if "seconds" in base:
            ratio = f"{r['seconds'] / base['seconds']:.2f}"
            mem = f"{r['peak_mib'] / base['peak_mib']:.2f}"
        print(
            f"| {case:<30} | {f'{size}³':<6} | {name:<48} | {1e3 * r['seconds']:>10.1f} | {r['peak_mib']:>8.0f} "
            f"| {ratio:>6} | {mem:>6} |",
            flush=True,
        )


def bench_volumes(sizes: Sequence[int], repeat: int, peer_max: int, timeout: float) -> None:
    """Ratios are the row's ÷ bettimatch's (> 1: bettimatch is faster, or leaner). Peers run once
    (after no warm-up) above `peer_max`, as one 128³ white-noise matching takes them minutes."""
    from matching_3d import measure as measure_matching

    threads = default_threads()
    print(f"| {'case':<30} | {'size':<6} | {'implementation':<48} | {'median ms':>10} | {'peak MiB':>8} | {'time':>6} | {'memory':>6} |")
    print(f"|{'-' * 32}|{'-' * 8}|{'-' * 50}|{'-' * 11}:|{'-' * 9}:|{'-' * 7}:|{'-' * 7}:|")
    for connectivity, candidates in VOLUME_BARCODE_CANDIDATES.items():
        for kind in ("smooth", "noise"):
            for size in sizes:
                results = {}
                for cand in candidates:
                    reps = repeat if cand == "bettimatch" or size <= peer_max else 1
                    name = VOLUME_NAMES[cand].format(
                        threads=threads,
                        kw="vertices" if connectivity == 6 else "top_dimensional_cells",
                        construction="V" if connectivity == 6 else "T",
                    )
                    results[name] = run_volume_worker((cand, size, kind, connectivity, reps), timeout)
                print_volume_rows(f"barcode {kind}, conn {connectivity}", size, results, next(iter(results)))
    for kind in ("smooth", "noise", "masks"):
        for size in sizes:
            reps_peer = repeat if size <= peer_max else 1
            results = {
                f"bettimatch ({threads} threads)": measure_matching(f"bettimatch:{threads}", size, kind, repeat, timeout),
                "Betti-Matching-3D compute_matching": measure_matching("reference", size, kind, reps_peer, timeout),
            }
            case = "mask vs mask (metric)" if kind == "masks" else f"matching {kind} vs mask"
            print_volume_rows(case, size, results, next(iter(results)))


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--volume-worker"]:
        import json

        candidate, size, kind, connectivity, repeat = argv[1:]
        print(json.dumps(volume_barcode_worker(candidate, int(size), kind, int(connectivity), int(repeat))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 154 and 301, 3 repeats, smaller batches")
    ap.add_argument("--sizes", type=str, default=None, help="comma-separated side lengths (default 154,301,512,1024)")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per candidate (default 7; --quick 3)")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: elapsed time (default); cpu: this process's CPU time, steadier on a machine shared with "
        "other jobs, but for multi-threaded rows it is the total work of all threads, not the latency",
    )
    ap.add_argument(
        "--only",
        type=str,
        default="barcode,matching,masks,loss",
        help="comma-separated subset of barcode,matching,masks,loss,hutopo,volume (opt-in: hutopo, Hu et al.'s loss on "
        "noise; volume, 3D barcodes and matchings with peak memory)",
    )
    ap.add_argument("--volume-sizes", type=str, default="32,64", help="side lengths for --only volume (default 32,64)")
    ap.add_argument(
        "--volume-peer-max", type=int, default=64, help="above this side, 3D peers run once instead of --repeat times"
    )
    ap.add_argument("--volume-timeout", type=float, default=900.0, help="seconds before a 3D candidate's process is stopped")
    ap.add_argument(
        "--hutopo-sizes", type=str, default="64,128,256", help="side lengths for --only hutopo (default 64,128,256)"
    )
    ap.add_argument(
        "--hutopo-ref-max-cells",
        type=float,
        default=2.5e8,
        help="skip the dense gudhi+POT / topolosses references when their (n+1)(m+1) cost matrix has more cells",
    )
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([154, 301] if args.quick else [154, 301, 512, 1024])
    repeat = args.repeat or (3 if args.quick else 7)
    only = {s.strip() for s in args.only.split(",")}
    unknown = only - {"barcode", "matching", "masks", "loss", "hutopo", "volume"}
    if unknown:
        ap.error(f"unknown --only entries: {sorted(unknown)}")

    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    def batch_for(size: int) -> int:
        if args.quick:
            return 4
        return 8 if size <= 301 else 4

    bm = load_bettimatch()
    print(
        f"# bettimatch {getattr(bm, '__version__', '?')} | python {platform.python_version()} | numpy {np.__version__} | "
        f"{platform.machine()} | {os.cpu_count()} cores | repeat {repeat} | {args.clock} clock"
    )
    gudhi = load_gudhi() if "barcode" in only else None
    cripser = load_cripser() if "barcode" in only else None
    # topolosses first: it loads the reference extension under its own name (see load_reference).
    losses = load_losses() if "loss" in only else None
    ref = load_reference() if only & {"barcode", "matching", "masks"} else None
    versions = []
    for name, mod in (("gudhi", gudhi), ("cripser", cripser)):
        if mod is not None:
            versions.append(f"{name} {getattr(mod, '__version__', '?')}")
    try:
        from importlib.metadata import version

        versions.append(f"topolosses {version('topolosses')}")
    except Exception:
        pass
    if versions:
        print("# rivals: " + ", ".join(versions))
    print()

    table = Table()
    if "barcode" in only:
        bench_barcodes(bm, gudhi, cripser, ref, sizes, repeat, table)
    if "matching" in only:
        bench_matchings(bm, ref, sizes, repeat, batch_for, table)
    if "masks" in only:
        bench_masks(bm, ref, sizes, repeat, table)
    if "loss" in only:
        bench_losses(losses, repeat, args.quick, table)
    if "hutopo" in only:
        bench_hutopo([int(s) for s in args.hutopo_sizes.split(",")], repeat, table, args.hutopo_ref_max_cells)
    if "volume" in only:
        print()
        bench_volumes([int(s) for s in args.volume_sizes.split(",")], repeat, args.volume_peer_max, args.volume_timeout)
    if NOTES:
        print()
        for n in NOTES:
            print(f"note: {n}")


if __name__ == "__main__":
    main()
