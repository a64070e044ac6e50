# Hand-written stubs for the native module `bettimatch._core` (rust/python/src/lib.rs).
#
# The functions here are the private binding layer: the public API in bettimatch/__init__.py checks
# and converts arguments, then calls these. Inputs are lists of 2D numpy arrays (bool, uint8,
# float32, float64); outputs are tuples of int64 arrays of *flat* pixel indices, which the Python
# layer turns into coordinates.
#
# Errors: bad arguments or inputs raise ValueError/TypeError (MemoryError when an input cannot be
# converted); an internal failure is a RuntimeError naming the call, never a PanicException.
# Calls on large inputs answer Ctrl-C (KeyboardInterrupt) between items, within about 50 ms of
# the running items' end.
#
# Checked against the built module by `python -m mypy.stubtest bettimatch._core` (part of
# scripts/test.sh). To add a native function: register it in `_core` in lib.rs, add its name to
# `__all__` below and its signature here (same parameter names, same order), rebuild, rerun the
# test command.

from typing import Any

import numpy as np
import numpy.typing as npt

_Image = npt.NDArray[Any]
"""A 2D array of any numeric or bool dtype (integers, float16/32/64), any byte order and memory
layout: the buffer is read through its strides (bool bytes: nonzero is True). 64-bit integers
beyond ±(2**53 - 1) are refused (ValueError); sizes are checked before anything is allocated."""

_Index = npt.NDArray[np.int64]
"""A 1D int64 array of flat (row-major) pixel indices."""

_BarcodeRaw = tuple[_Index, ...]
"""3 arrays per homology dimension: (birth_d, death_d) for each d, then essential_d for each d;
in 2D (birth0, death0, birth1, death1, essential0, essential1)."""

_Stack = npt.NDArray[Any]
"""An (N, H, W) array of N images of one shape (same dtypes as _Image)."""

_PairRows = tuple[_Index, _Index, _Index, _Index, _Index, _Index, _Index]
"""Seven int64 arrays of equal length, one entry per row:
(item, dim, kind, pred_birth, pred_death, target_birth, target_death). Births and deaths are global
flat indices into the (N, H, W) stack, -1 where a side has no bar."""

_MatchingRaw = tuple[_Index, ...]
"""10 arrays per homology dimension (20 in 2D). For each d, eight: pred matched birth, death;
target matched birth, death (row-aligned with pred's); pred unmatched birth, death; target
unmatched birth, death. Then pred essential d for each d, then target essential d for each d."""

__all__ = [
    "barcode_batch",
    "matching_batch",
    "mask_matching_counts",
    "volume_betti_numbers",
    "loss_pairs",
    "skeletonize_batch",
    "diagram_matching_pairs",
    "__version__",
    "MAX_THREADS",
]

__version__: str
MAX_THREADS: int
"""The largest num_threads any call accepts (and the largest RAYON_NUM_THREADS honoured)."""

def barcode_batch(
    images: list[_Image],
    filtration: str,
    connectivity: int,
    num_threads: int | None,
    batched: bool,
) -> list[_BarcodeRaw]:
    """Barcodes of a list of 2D images, computed in one parallel call with the GIL released.

    filtration: "superlevel" or "sublevel"; connectivity: 4 or 8 (the foreground's);
    num_threads: None for all cores (honours RAYON_NUM_THREADS); batched: only changes how errors
    name the offending image ("image[3]" instead of "image").
    """

def matching_batch(
    preds: list[_Image],
    targets: list[_Image],
    filtration: str,
    connectivity: int,
    num_threads: int | None,
    batched: bool,
    ties: str = "index",
) -> list[_MatchingRaw]:
    """Betti matchings of two equal-length lists of 2D images or 3D volumes of pairwise equal
    shapes; ties: "index" or "distance" (the order of cells of equal value)."""

def volume_betti_numbers(
    masks: list[_Image],
    connectivity: int,
    num_threads: int | None,
) -> npt.NDArray[np.int64]:
    """Betti numbers (beta0, beta1, beta2) of 3D binary masks (nonzero = foreground) by labelling
    and the Euler characteristic: an (N, 3) int64 array, one row per mask."""
    ...

def mask_matching_counts(
    preds: list[_Image],
    targets: list[_Image],
    connectivity: int,
    num_threads: int | None,
    ties: str = "index",
) -> npt.NDArray[np.int64]:
    """Matching counts of binary masks (nonzero = foreground): an (N, 4 * dims + 2) int64 array,
    one row per pair: unmatched pred bars per dimension, unmatched target bars per dimension,
    finite pred bars, finite target bars, then pred_nonempty, target_nonempty. In 2D (N, 10):
    unmatched_pred0, unmatched_pred1, unmatched_target0, unmatched_target1, finite_pred0,
    finite_pred1, finite_target0, finite_target1, pred_nonempty, target_nonempty. 3D volumes
    (N, 14), from the general matching of the two-level volumes. ``ties="distance"``: the counts
    of the general matching under the distance tie order (images and volumes).
    """

def loss_pairs(
    preds: _Stack,
    targets: _Stack,
    filtration: str,
    connectivity: int,
    num_threads: int | None,
    include_essential: bool,
    ties: str = "index",
) -> _PairRows:
    """The persistence pairs a Betti matching loss needs, as _PairRows. kind: 0 matched,
    1 unmatched in pred, 2 unmatched in target, 3 the essential component of both (only with
    include_essential; deaths -1).
    """

def skeletonize_batch(
    masks: list[_Image],
    method: str,
    num_threads: int | None,
) -> list[npt.NDArray[np.bool_]]:
    """Skeletons of a list of 2D masks or 3D volumes (nonzero = foreground) as bool arrays of the
    same shapes. method: "guo-hall" or "zhang-suen" (2D only), "lee" (Lee, Kashyap & Chu 1994,
    equal to skimage.morphology.skeletonize on volumes) or "lee-topological" (the same sweeps,
    every deletion re-checked in full: topology preserving), 2D or 3D.
    """

def diagram_matching_pairs(
    preds: _Stack,
    targets: _Stack,
    filtration: str,
    connectivity: int,
    num_threads: int | None,
) -> _PairRows:
    """Optimal matchings (finite bars, squared Euclidean costs, the diagonal allowed) of the
    barcodes of each (pred, target) pair, as _PairRows. kind: 0 matched, 1 pred bar sent to the
    diagonal, 2 target bar sent to the diagonal.
    """
