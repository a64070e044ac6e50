"""All metrics of N pairs of boolean 3D masks, for `bettimatch evaluate` on volumes.

The volume twin of :func:`bettimatch.metrics.mask_metrics` (which takes 2D masks), built from the
same kernels so that the values equal the public 3D metrics: one native call for the matching
counts of all pairs. clDice needs a 3D skeleton; until the native thinning takes volumes it is NaN
(see :func:`volume_skeletons_available`).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from . import _core
from .metrics import _betti, _check_thinning, _counts, _dice_from_sums, _mask_cldice, _matching_error


def volume_skeletons_available(thinning: str) -> bool:
    """Whether the native code skeletonizes 3D volumes with `thinning` (asked on one voxel)."""
    try:
        _core.skeletonize_batch([np.zeros((1, 1, 1), dtype=bool)], thinning, 1)
    except ValueError:
        return False
    return True


def volume_mask_metrics(
    preds: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    *,
    connectivity: int = 6,
    num_threads: Optional[int] = None,
    thinning: str = "guo-hall",
    cldice: bool = True,
) -> Dict[str, np.ndarray]:
    """The fields of :func:`bettimatch.metrics.mask_metrics` for N pairs of boolean (D, H, W) masks
    (shapes may differ between pairs), with three homology dimensions: ``betti_matching_error``,
    ``betti_pred``, ``betti_target`` and ``betti_number_error`` are (N, 3). ``cldice`` (N,) is NaN
    for every pair when ``cldice=False``."""
    preds, targets = list(preds), list(targets)
    if len(preds) != len(targets):
        raise ValueError(f"preds and targets must have the same length, got {len(preds)} and {len(targets)}")
    for i, (p, t) in enumerate(zip(preds, targets)):
        if p.dtype != np.bool_ or t.dtype != np.bool_ or p.ndim != 3 or p.shape != t.shape:
            raise ValueError(f"pair {i}: expected two boolean 3D masks of one shape, got {p.dtype} {p.shape} and {t.dtype} {t.shape}")
    counts = _counts(preds, targets, connectivity, num_threads)
    bp, bt = _betti(counts)
    inter = np.array([np.count_nonzero(p & t) for p, t in zip(preds, targets)], dtype=np.int64)
    psum = np.array([np.count_nonzero(p) for p in preds], dtype=np.int64)
    tsum = np.array([np.count_nonzero(t) for t in targets], dtype=np.int64)
    if cldice:
        cl = _mask_cldice(preds, targets, _check_thinning(thinning), num_threads)
    else:
        cl = np.full(len(preds), np.nan)
    return {
        "betti_matching_error": _matching_error(counts),
        "betti_pred": bp,
        "betti_target": bt,
        "betti_number_error": np.abs(bp - bt),
        "dice": _dice_from_sums(inter, psum, tsum),
        "cldice": cl,
    }
