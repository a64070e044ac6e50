"""How much the tie order matters for masks, and what ``ties="distance"`` costs.

For pairs of masks (random, and realistic: scikit-image's bundled sample images thresholded at
Otsu's level, with predictions made from them the way a segmentation network errs — a blurred and
noisy copy thresholded, dilated or eroded copies, specks and pinholes — plus binary blobs in 2D
and 3D), it reports:

- how often the Betti matching error (per dimension) differs between ``ties="index"`` and
  ``ties="distance"``, and by how much;
- how often each order's error changes when both masks are flipped or transposed (the distance
  order can change only through exact distance ties);
- the time of one ``betti_matching_error`` call in each order (the index order takes the labelling
  fast path, the distance order the general matching), medians of repeats.

Run: ``python benches/ties.py`` (``--quick`` for fewer pairs). Needs scikit-image and scipy.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, Iterator, List, Tuple

import numpy as np
from scipy import ndimage

import bettimatch.metrics as M

Pair = Tuple[np.ndarray, np.ndarray]


def sample_masks() -> Dict[str, np.ndarray]:
    from skimage import data, filters

    out = {}
    for name in ("coins", "camera", "cell"):
        image = getattr(data, name)().astype(np.float64)
        out[name] = image > filters.threshold_otsu(image)
    return out


def network_like(target: np.ndarray, rng: np.random.Generator, kind: str) -> np.ndarray:
    if kind == "blurred+noise":
        likelihood = ndimage.gaussian_filter(target.astype(np.float64), 2.0) + rng.normal(0, 0.25, target.shape)
        return ndimage.gaussian_filter(likelihood, 1.0) > 0.5
    if kind == "dilated":
        return ndimage.binary_dilation(target)
    if kind == "eroded":
        return ndimage.binary_erosion(target)
    if kind == "specks+pinholes":
        pred = target.copy()
        flips = rng.random(target.shape) < 0.002
        return pred ^ flips
    raise ValueError(kind)


KINDS = ("blurred+noise", "dilated", "eroded", "specks+pinholes")


def realistic_pairs(quick: bool) -> Iterator[Tuple[str, Pair]]:
    from skimage.data import binary_blobs

    rng = np.random.default_rng(0)
    for name, target in sample_masks().items():
        for kind in KINDS:
            yield f"{name} {kind}", (network_like(target, rng, kind), target)
    for seed in range(4 if quick else 12):
        target = binary_blobs(256, blob_size_fraction=0.08, volume_fraction=0.4, rng=seed)
        for kind in KINDS:
            yield f"blobs256 {kind}", (network_like(target, rng, kind), target)
    for seed in range(2 if quick else 4):
        target = binary_blobs(48, blob_size_fraction=0.15, volume_fraction=0.35, n_dim=3, rng=seed)
        for kind in KINDS:
            yield f"blobs48^3 {kind}", (network_like(target, rng, kind), target)


def random_pairs(quick: bool) -> Iterator[Tuple[str, Pair]]:
    rng = np.random.default_rng(1)
    for shape, n in (((16, 16), 200), ((64, 64), 60), ((8, 8, 8), 100), ((24, 24, 24), 20)):
        for _ in range(n // 4 if quick else n):
            density = rng.uniform(0.3, 0.7)
            yield f"random {'x'.join(map(str, shape))}", (rng.random(shape) < density, rng.random(shape) < density)


def transforms(ndim: int) -> List[Callable[[np.ndarray], np.ndarray]]:
    if ndim == 2:
        return [np.flipud, np.fliplr, np.transpose]
    return [lambda a: a[::-1], lambda a: a[:, ::-1], lambda a: np.transpose(a, (2, 1, 0))]


def connectivities(ndim: int) -> Tuple[int, ...]:
    return (4, 8) if ndim == 2 else (6, 26)


def tally(pairs: Iterator[Tuple[str, Pair]], check_flips: bool) -> None:
    rows: Dict[Tuple[str, int], Dict[str, float]] = {}
    for name, (p, t) in pairs:
        for conn in connectivities(p.ndim):
            err = {ties: M.betti_matching_error(p, t, per_dimension=True, connectivity=conn, ties=ties) for ties in ("index", "distance")}
            r = rows.setdefault((name, conn), {"pairs": 0, "differ": 0, "abs_diff": 0, "index_error": 0, "flip_index": 0, "flip_distance": 0, "flips": 0})
            r["pairs"] += 1
            r["differ"] += bool((err["index"] != err["distance"]).any())
            r["abs_diff"] += int(np.abs(err["index"] - err["distance"]).sum())
            r["index_error"] += int(err["index"].sum())
            if check_flips:
                for f in transforms(p.ndim):
                    r["flips"] += 1
                    for ties in ("index", "distance"):
                        flipped = M.betti_matching_error(f(p), f(t), per_dimension=True, connectivity=conn, ties=ties)
                        r[f"flip_{ties}"] += bool((flipped != err[ties]).any())
    print(f"{'pairs':34} {'conn':>4} {'n':>4} {'differ':>7} {'|Δ|/err':>8} {'flip idx':>9} {'flip dist':>9}")
    for (name, conn), r in rows.items():
        rel = r["abs_diff"] / r["index_error"] if r["index_error"] else 0.0
        flips = f"{r['flip_index'] / r['flips']:9.1%} {r['flip_distance'] / r['flips']:9.1%}" if r["flips"] else ""
        print(f"{name:34} {conn:>4} {r['pairs']:>4} {r['differ'] / r['pairs']:7.1%} {rel:8.2%} {flips}")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timings(repeat: int) -> None:
    from skimage.data import binary_blobs

    rng = np.random.default_rng(2)
    coins = sample_masks()["coins"]
    cases = {
        "coins 303x384": (network_like(coins, rng, "blurred+noise"), coins),
        "blobs 1024^2": None,
        "blobs 64^3": None,
        "blobs 128^3": None,
    }
    target = binary_blobs(1024, blob_size_fraction=0.05, volume_fraction=0.4, rng=3)
    cases["blobs 1024^2"] = (network_like(target, rng, "blurred+noise"), target)
    for size in (64, 128):
        target = binary_blobs(size, blob_size_fraction=0.12, volume_fraction=0.35, n_dim=3, rng=4)
        cases[f"blobs {size}^3"] = (network_like(target, rng, "blurred+noise"), target)
    print(f"\n{'betti_matching_error':24} {'index (ms)':>11} {'distance (ms)':>14} {'ratio':>6}   (medians of {repeat}, 1 pair per call)")
    for name, (p, t) in cases.items():
        conn = 4 if p.ndim == 2 else 6
        times = {ties: median_time(lambda: M.betti_matching_error(p, t, connectivity=conn, ties=ties), repeat) for ties in ("index", "distance")}
        print(f"{name:24} {times['index'] * 1e3:11.2f} {times['distance'] * 1e3:14.2f} {times['distance'] / times['index']:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print("Realistic masks (scikit-image samples at Otsu's threshold; binary blobs), predictions made from them:")
    tally(realistic_pairs(args.quick), check_flips=True)
    print("\nRandom masks (density 0.3-0.7):")
    tally(random_pairs(args.quick), check_flips=True)
    timings(args.repeat)


if __name__ == "__main__":
    main()
