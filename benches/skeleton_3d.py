"""3D thinning for clDice: bettimatch's Lee thinning against skimage.morphology.skeletonize on the
same volumes, one thread each, interleaved; median of `--repeat` calls. Checks voxel for voxel
equality first.

    python benches/skeleton_3d.py [--size 128] [--repeat 7] [--clock cpu|wall]

Run from the repository root with the test venv (scikit-image, scipy). ``--clock cpu`` (process
time) is steadier than wall time on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from bettimatch import _core


def volumes(n: int, seed: int = 0):
    """Smooth blobs at two densities, a bundle of bent tubes (vessel-like, sparse) and a solid cube."""
    rng = np.random.default_rng(seed)

    def blobs(sigma: float, fraction: float) -> np.ndarray:
        field = ndimage.gaussian_filter(rng.random((n, n, n)), sigma)
        return field > np.quantile(field, 1 - fraction)

    z, y, x = np.mgrid[:n, :n, :n]
    tubes = np.zeros((n, n, n), bool)
    for k in range(6):
        cy, cx = rng.uniform(0.15 * n, 0.85 * n, 2)
        r = rng.uniform(3, 8)
        tubes |= (y - cy - 10 * np.sin(z / 15 + k)) ** 2 + (x - cx) ** 2 < r * r
    cube = np.zeros((n, n, n), bool)
    m = n // 8
    cube[m : n - m, m : n - m, m : n - m] = True
    return {
        "blobs sigma 2, 30%": blobs(2, 0.3),
        "blobs sigma 4, 50%": blobs(4, 0.5),
        "six bent tubes": tubes,
        f"solid cube {n - 2 * m}^3": cube,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(f"{args.size}^3 volumes, median of {args.repeat} ({args.clock} time), one thread each")
    print(f"{'volume':24s} {'fg':>5s} {'skeleton':>8s} {'bettimatch':>11s} {'skimage':>9s} {'ratio':>6s}")
    for name, mask in volumes(args.size).items():
        ours = _core.skeletonize_batch([mask], "lee", 1)[0]
        assert np.array_equal(ours, skeletonize(mask)), name
        t_ours, t_ref = [], []
        for _ in range(args.repeat):
            t = clock()
            _core.skeletonize_batch([mask], "lee", 1)
            t_ours.append(clock() - t)
            t = clock()
            skeletonize(mask)
            t_ref.append(clock() - t)
        a, b = statistics.median(t_ours), statistics.median(t_ref)
        print(f"{name:24s} {mask.mean():5.2f} {int(ours.sum()):8d} {a * 1e3:8.1f} ms {b * 1e3:6.1f} ms {b / a:5.1f}x")


if __name__ == "__main__":
    main()
