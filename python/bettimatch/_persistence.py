"""Barcodes and Betti matchings: the public result types and the functions that build them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import numpy as np

from . import _core
from ._inputs import (
    as_array,
    as_image_list,
    check_connectivity,
    check_filtration,
    check_image,
    check_num_threads,
    check_ties,
)

def _coords(flat: np.ndarray, shape: tuple) -> np.ndarray:
    """(n,) flat pixel indices -> (n, ndim) int64 coordinates."""
    return np.stack(np.unravel_index(flat, shape), axis=1).astype(np.int64, copy=False).reshape(-1, len(shape))


@dataclass(frozen=True)
class Barcode:
    """Finite persistence pairs of one image, per homology dimension ``d`` (0 and 1 in 2D; 0, 1
    and 2 in 3D).

    ``birth[d]`` and ``death[d]`` are (n, ndim) int64 pixel (voxel) coordinates in the array's
    axis order, ``birth_value[d]`` and ``death_value[d]`` the image's values there (float64).
    ``essential[d]`` holds the birth coordinates of the bars that never die (dimension 0: exactly
    one, the first pixel to enter).
    """

    birth: List[np.ndarray]
    death: List[np.ndarray]
    birth_value: List[np.ndarray]
    death_value: List[np.ndarray]
    essential: List[np.ndarray]

    def num_pairs(self) -> np.ndarray:
        return np.array([len(b) for b in self.birth], dtype=np.int64)


@dataclass(frozen=True)
class BettiMatching:
    """The Betti matching of a prediction and a target.

    All coordinate fields are lists indexed by homology dimension ``d`` (0 and 1 for 2D images; 0,
    1 and 2 for 3D volumes) of ``(n, ndim)`` int64 pixel (voxel) coordinates of finite bars, in
    the array's axis order:

    - ``pred_matched_birth[d]``, ``pred_matched_death[d]``, ``target_matched_birth[d]``,
      ``target_matched_death[d]``: the matched bars, row-aligned (row ``i`` of the ``pred_`` fields
      is matched to row ``i`` of the ``target_`` fields);
    - ``pred_unmatched_birth[d]``, ``pred_unmatched_death[d]`` (and ``target_unmatched_*``): the
      bars of each side without a partner;
    - ``pred_essential[d]``, ``target_essential[d]``: birth coordinates of the bars that never die
      (dimension 0: one each, the first pixel to enter; none above).

    ``num_matched``, ``num_unmatched_pred``, ``num_unmatched_target``: int64 arrays of counts per
    dimension.
    """

    pred_matched_birth: List[np.ndarray]
    pred_matched_death: List[np.ndarray]
    target_matched_birth: List[np.ndarray]
    target_matched_death: List[np.ndarray]
    pred_unmatched_birth: List[np.ndarray]
    pred_unmatched_death: List[np.ndarray]
    target_unmatched_birth: List[np.ndarray]
    target_unmatched_death: List[np.ndarray]
    pred_essential: List[np.ndarray]
    target_essential: List[np.ndarray]

    @property
    def num_matched(self) -> np.ndarray:
        return np.array([len(x) for x in self.pred_matched_birth], dtype=np.int64)

    @property
    def num_unmatched_pred(self) -> np.ndarray:
        return np.array([len(x) for x in self.pred_unmatched_birth], dtype=np.int64)

    @property
    def num_unmatched_target(self) -> np.ndarray:
        return np.array([len(x) for x in self.target_unmatched_birth], dtype=np.int64)


def _barcode_from(raw: tuple, image: np.ndarray) -> Barcode:
    """From the native layout: (birth_d, death_d) for each dimension d, then essential_d for each d."""
    shape = image.shape
    dims = len(raw) // 3
    flat = image.reshape(-1)
    births, deaths = raw[0 : 2 * dims : 2], raw[1 : 2 * dims : 2]
    return Barcode(
        birth=[_coords(b, shape) for b in births],
        death=[_coords(d, shape) for d in deaths],
        birth_value=[flat[b].astype(np.float64) for b in births],
        death_value=[flat[d].astype(np.float64) for d in deaths],
        essential=[_coords(e, shape) for e in raw[2 * dims : 3 * dims]],
    )


def _matching_from(raw: tuple, shape: tuple) -> BettiMatching:
    """From the native layout: eight arrays per dimension (see `order`), then the pred essential
    bars per dimension, then the target's."""
    dims = len(raw) // 10
    fields: dict = {name: [] for name in BettiMatching.__dataclass_fields__}
    order = [
        "pred_matched_birth", "pred_matched_death", "target_matched_birth", "target_matched_death",
        "pred_unmatched_birth", "pred_unmatched_death", "target_unmatched_birth", "target_unmatched_death",
    ]
    for d in range(dims):
        for k, name in enumerate(order):
            fields[name].append(_coords(raw[8 * d + k], shape))
    fields["pred_essential"] = [_coords(e, shape) for e in raw[8 * dims : 9 * dims]]
    fields["target_essential"] = [_coords(e, shape) for e in raw[9 * dims : 10 * dims]]
    return BettiMatching(**fields)


def barcode(image: Any, filtration: str = "superlevel", connectivity: Optional[int] = None) -> Barcode:
    """Persistence barcode of a 2D image or a 3D volume, with the pixel (voxel) where each bar is
    born and where it dies.

    Parameters
    ----------
    image : array-like, shape (H, W) or (D, H, W)
        A numpy array of any real or boolean dtype, byte order and memory layout, or a torch
        tensor (any device; copied to the CPU). NaN, infinite values and empty arrays are refused
        with a ValueError.
    filtration : {"superlevel", "sublevel"}
    connectivity : {None, 4, 8, 6, 26}
        See below; ``None`` is 4 for images and 6 for volumes.

    Returns
    -------
    Barcode
        Per homology dimension ``d``: ``birth[d]``, ``death[d]`` (n, ndim) int64 coordinates,
        ``birth_value[d]``, ``death_value[d]`` (n,) float64 values of ``image`` there, and
        ``essential[d]``. Zero-length bars are dropped.

    Filtration and connectivity
    ---------------------------
    ``filtration="superlevel"`` (default) lets high values enter first (probabilities, masks);
    ``"sublevel"`` low values. ``connectivity`` is the foreground's, the background getting the
    complementary one: in 2D 4 (default, V-construction: pixels are vertices) or 8
    (T-construction: pixels are closed squares, GUDHI's ``top_dimensional_cells``); in 3D 6
    (default, V-construction: voxels are vertices, Betti-Matching-3D's convention) or 26
    (T-construction: voxels are closed cubes; the background is 6-connected). The result has one
    entry per homology dimension: 0 components, 1 holes (loops, tunnels), 2 cavities (3D only).
    """
    img = check_image(as_array(image, "image"), "image", volumes=True)
    conn = check_connectivity(connectivity, img.ndim)
    raw = _core.barcode_batch([img], check_filtration(filtration), conn, None, False)[0]
    return _barcode_from(raw, img)


def barcode_batch(
    images: Any, filtration: str = "superlevel", connectivity: Optional[int] = None, num_threads: Optional[int] = None
) -> List[Barcode]:
    """Barcodes of a sequence of 2D images or 3D volumes (or an (N, H, W) / (N, D, H, W) array),
    computed in parallel; see :func:`barcode`.

    The items may differ in shape but must all be images or all volumes. ``num_threads``: the
    number of worker threads (``None``: all cores); the GIL is released while they run, and the
    result does not depend on it. Returns a list of :class:`Barcode`, one per item, in order.
    """
    imgs = as_image_list(images, "images", volumes=True)
    ndims = {img.ndim for img in imgs}
    if len(ndims) > 1:
        raise ValueError("images: a batch holds either 2D images or 3D volumes, not both")
    conn = check_connectivity(connectivity, ndims.pop() if ndims else 2)
    raws = _core.barcode_batch(imgs, check_filtration(filtration), conn, check_num_threads(num_threads), True)
    return [_barcode_from(r, img) for r, img in zip(raws, imgs)]


def betti_matching(
    pred: Any, target: Any, filtration: str = "superlevel", connectivity: Optional[int] = None, ties: str = "index"
) -> BettiMatching:
    """Betti matching (induced matching of persistence barcodes) of a prediction and a target:
    two 2D images or two 3D volumes of the same shape.

    Parameters
    ----------
    pred, target : array-like, shape (H, W) or (D, H, W), the same for both
        As for :func:`barcode` (likelihoods, masks, any dtype; torch tensors accepted).
    filtration : {"superlevel", "sublevel"}
        ``"superlevel"`` (default): high values (foreground probabilities, masks) enter first.
    connectivity : {None, 4, 8, 6, 26}
        As in :func:`barcode`.
    ties : {"index", "distance"}
        The order of cells of equal value. ``"index"`` (default): by packed cell index, the
        reference's order, so every number equals Betti-Matching-3D's. ``"distance"``: first by
        the signed distance to the boundary of the comparison image binarized halfway between its
        lowest and highest value (inside its foreground the deepest pixels first, outside it the
        closest ones first), then by index. Meant for masks, where every component is born at the
        same value: under ``"index"`` the object first in raster order is the elder one, so a speck
        in a corner can be matched in place of the real object; under ``"distance"`` thick objects
        are elder, specks die first and components merge across their narrowest gaps first. Only
        the order among equal values changes: the barcodes as multisets of values stay the same,
        zero-length bars are still dropped. One key serves prediction, target and comparison, so
        the matching stays defined (see the README).

    Returns
    -------
    BettiMatching
        Matched bars side by side, the unmatched bars of each side and the essential ones, per
        homology dimension, as ``(n, ndim)`` int64 coordinates (see :class:`BettiMatching`).

    Each bar of the prediction is matched to the bar of the target that reaches the same bar of
    the comparison image ``min`` (sublevel; ``max`` for superlevel), or left unmatched. The result
    holds one entry per homology dimension (0 components, 1 holes/tunnels, 2 cavities in 3D):
    matched bars side by side (row ``i`` of ``pred_matched_*`` is matched to row ``i`` of
    ``target_matched_*``), the unmatched ones of each side, and the essential component. Pixel
    (voxel) coordinates are ``(n, ndim)`` int64 arrays in the array's axis order. ``filtration``
    and ``connectivity`` as in :func:`barcode` (3D: 6, the V-construction, Betti-Matching-3D's,
    or 26, the T-construction, which the reference does not have).
    """
    p = check_image(as_array(pred, "pred"), "pred", volumes=True)
    t = check_image(as_array(target, "target"), "target", volumes=True)
    if p.shape != t.shape:
        raise ValueError(f"pred has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}")
    conn = check_connectivity(connectivity, p.ndim)
    raw = _core.matching_batch([p], [t], check_filtration(filtration), conn, None, False, check_ties(ties))[0]
    return _matching_from(raw, p.shape)


def betti_matching_batch(
    preds: Any,
    targets: Any,
    filtration: str = "superlevel",
    connectivity: Optional[int] = None,
    num_threads: Optional[int] = None,
    ties: str = "index",
) -> List[BettiMatching]:
    """Betti matchings of two sequences of 2D images or 3D volumes (or (N, H, W) / (N, D, H, W)
    arrays), in one parallel call over the pairs; see :func:`betti_matching`.

    Pair ``i`` is ``(preds[i], targets[i])``; pairs may differ in shape but must all be images or
    all volumes. ``num_threads``: worker threads (``None``: all cores; the result does not depend
    on it), the GIL released while they run; ``ties`` as in :func:`betti_matching`. Returns a list
    of :class:`BettiMatching` in order.
    """
    ps = as_image_list(preds, "preds", volumes=True)
    ts = as_image_list(targets, "targets", volumes=True)
    if len(ps) != len(ts):
        raise ValueError(f"preds and targets must have the same length, got {len(ps)} and {len(ts)}")
    ndims = {p.ndim for p in ps}
    if len(ndims) > 1:
        raise ValueError("preds: a batch holds either 2D images or 3D volumes, not both")
    conn = check_connectivity(connectivity, ndims.pop() if ndims else 2)
    raws = _core.matching_batch(
        ps, ts, check_filtration(filtration), conn, check_num_threads(num_threads), True, check_ties(ties)
    )
    return [_matching_from(r, p.shape) for r, p in zip(raws, ps)]
