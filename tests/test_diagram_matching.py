"""The optimal diagram matching behind HuTopoLoss against POT's exact transport on the textbook
(n + m) x (n + m) assignment, for the diagrams of noisy images (thousands of candidate pairs,
hundreds of points per side): the loss must equal the optimal cost, not just a good one."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ot = pytest.importorskip("ot")

import bettimatch as bm  # noqa: E402
from bettimatch.losses import HuTopoLoss  # noqa: E402


def _diagram(bc, d):
    return np.stack([bc.birth_value[d], bc.death_value[d]], axis=1).astype(np.float64)


def _textbook_cost(p: np.ndarray, q: np.ndarray) -> float:
    """min over bijections of the (n + m)-square problem: pred points and target's diagonal
    projections against target points and pred's diagonal projections (a point only reaches its
    own projection; two projections match for free), solved by POT's network simplex."""
    n, m = len(p), len(q)
    big = 1e6  # stands in for "not allowed": far above any real cost of points in [0, 1]
    cost = np.zeros((n + m, n + m))
    cost[:n, :m] = ((p[:, None, :] - q[None, :, :]) ** 2).sum(-1)
    cost[:n, m:] = big
    cost[np.arange(n), m + np.arange(n)] = 0.5 * (p[:, 1] - p[:, 0]) ** 2
    cost[n:, :m] = big
    cost[n + np.arange(m), np.arange(m)] = 0.5 * (q[:, 1] - q[:, 0]) ** 2
    w = np.ones(n + m)
    total = float(ot.emd2(w, w, cost, numItermax=10_000_000))
    assert total < big, "POT used a forbidden cell"
    return total


# 24²-40²: the dense path (small r²(R + r)); 64² noise vs noise (~850 points a side): the sparse one
@pytest.mark.parametrize("size, seed", [(24, 0), (32, 1), (40, 2), (64, 3)])
def test_hutopo_loss_equals_the_optimal_cost_on_noise(size, seed):
    rng = np.random.default_rng(seed)
    # white noise against a smoothed, noisy blob: one dense and one mixed diagram
    p = rng.random((size, size))
    yy, xx = np.mgrid[:size, :size]
    t = np.exp(-((yy - size / 2) ** 2 + (xx - size / 3) ** 2) / (size * 2.0)) + 0.3 * rng.random((size, size))
    t = t / t.max()
    for pred, target in ((p, t), (p, rng.random((size, size)))):
        # superlevel filtration of the probabilities = sublevel of 1 - p, as the loss uses
        bp, bt = bm.barcode(pred), bm.barcode(target)
        want = sum(_textbook_cost(_diagram(bp, d), _diagram(bt, d)) for d in (0, 1))
        got = HuTopoLoss(include_background=True)(torch.tensor(pred)[None, None], torch.tensor(target)[None, None])
        assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-12)


gudhi_wasserstein = pytest.importorskip("gudhi.wasserstein")


@pytest.mark.parametrize("size, seed, smooth", [(16, 10, False), (32, 11, False), (48, 12, False), (32, 13, True), (64, 14, True)])
def test_hutopo_loss_equals_gudhi_wasserstein(size, seed, smooth):
    """The loss against GUDHI's exact 2-Wasserstein distance (POT's network simplex with the
    diagonal), squared, summed over dimensions 0 and 1: white noise against white noise and
    smooth maps against smooth maps."""
    rng = np.random.default_rng(seed)
    pred, target = rng.random((size, size)), rng.random((size, size))
    if smooth:
        k = np.ones(5) / 5
        blur = lambda x: np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 0, np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, x))  # noqa: E731
        pred, target = blur(pred), blur(target)
    bp, bt = bm.barcode(pred), bm.barcode(target)
    want = 0.0
    for d in (0, 1):
        p, q = _diagram(bp, d), _diagram(bt, d)
        w = gudhi_wasserstein.wasserstein_distance(p, q, order=2, internal_p=2)
        want += w * w
    got = HuTopoLoss(include_background=True)(torch.tensor(pred)[None, None], torch.tensor(target)[None, None])
    assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-12)
