"""Argument handling shared by the public functions: arrays in, clear errors out."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _core

_FILTRATIONS = ("superlevel", "sublevel")


def as_array(x: Any, name: str) -> np.ndarray:
    """A plain numpy array of `x` (numpy array of any layout or byte order, torch tensor on any
    device, or nested sequence) with a numeric or bool dtype in native byte order.

    Masked arrays are accepted only when nothing is masked (then their data is used): the
    topology of an image with holes in its domain is not defined here, and silently using the
    values under the mask would be a wrong answer. Subclasses such as ``np.matrix`` are read as
    plain arrays.
    """
    if type(x).__module__.startswith("torch"):
        x = x.detach()
        if x.dtype.is_floating_point and x.dtype not in _torch_native_floats():
            x = x.float()  # float16/bfloat16 have no exact numpy twin we accept
        x = x.cpu().numpy()
    elif np.ma.isMaskedArray(x):
        if np.ma.getmaskarray(x).any():
            raise ValueError(
                f"{name}: masked arrays with masked values are not supported; "
                f"fill them first (x.filled(value)) or pass x.data"
            )
        x = np.ma.getdata(x)
    if not isinstance(x, np.ndarray) or type(x) is not np.ndarray:
        try:
            x = np.asarray(x)
        except Exception as exc:
            raise TypeError(f"{name}: cannot convert {type(x).__name__} to an array: {exc}") from exc
    if x.dtype.kind not in "biuf" or x.dtype.fields is not None or x.dtype.subdtype is not None:
        raise TypeError(f"{name}: expected a numeric or boolean array, got dtype {x.dtype}")
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    if x.dtype == np.float16:
        x = x.astype(np.float32)  # exact; the native code compares float32 values
    return x


def _torch_native_floats():
    import torch

    return (torch.float32, torch.float64)


def check_image(x: np.ndarray, name: str, volumes: bool = False) -> np.ndarray:
    """`x` if it is a non-empty 2D image (or, with `volumes`, a 3D volume)."""
    if x.ndim != 2 and not (volumes and x.ndim == 3):
        if volumes:
            raise ValueError(f"{name}: expected a 2D image or a 3D volume, got shape {tuple(x.shape)}")
        hint = " (3D volumes are not supported yet here)" if x.ndim == 3 else ""
        raise ValueError(f"{name}: expected a 2D image, got shape {tuple(x.shape)}{hint}")
    if x.size == 0:
        raise ValueError(f"{name}: image is empty (shape {tuple(x.shape)})")
    return x


def check_filtration(filtration: str) -> str:
    if filtration not in _FILTRATIONS:
        raise ValueError(f"filtration must be 'superlevel' or 'sublevel', got {filtration!r}")
    return filtration


_TIES = ("index", "distance")


def check_ties(ties: str) -> str:
    """The tie order among equal values: "index" (the reference's) or "distance"."""
    if not isinstance(ties, str) or ties not in _TIES:
        raise ValueError(f"ties must be 'index' or 'distance', got {ties!r}")
    return ties


_CONNECTIVITIES = {2: (4, 8), 3: (6, 26)}


def check_connectivity(connectivity: Optional[int], ndim: int = 2) -> int:
    """The connectivity for images of `ndim` axes: 4 or 8 in 2D, 6 or 26 in 3D; None picks 4 or 6."""
    allowed = _CONNECTIVITIES[ndim]
    if connectivity is None:
        return allowed[0]
    if isinstance(connectivity, bool) or not isinstance(connectivity, (int, np.integer)) or connectivity not in allowed:
        raise ValueError(
            f"connectivity must be 4 or 8 for 2D images or 6 or 26 for 3D volumes (None: 4 or 6), "
            f"got {connectivity!r} for a {ndim}D input"
        )
    return int(connectivity)


def check_num_threads(num_threads: Optional[int]) -> Optional[int]:
    if num_threads is None:
        return None
    if (
        isinstance(num_threads, bool)
        or not isinstance(num_threads, (int, np.integer))
        or not 1 <= num_threads <= _core.MAX_THREADS
    ):
        raise ValueError(
            f"num_threads must be an integer between 1 and {_core.MAX_THREADS}, or None, got {num_threads!r}"
        )
    return int(num_threads)


def as_image_list(images: Any, name: str, volumes: bool = False) -> list:
    """A list of 2D arrays from a sequence of images or an (N, H, W) array/tensor; with `volumes`,
    also 3D volumes from a sequence of them or an (N, D, H, W) array."""
    if isinstance(images, np.ndarray) or type(images).__module__.startswith("torch"):
        stacked = as_array(images, name)
        if stacked.ndim != 3 and not (volumes and stacked.ndim == 4):
            expected = "an (N, H, W) or (N, D, H, W) array" if volumes else "an (N, H, W) array"
            raise ValueError(f"{name}: expected {expected} or a sequence of images, got shape {tuple(stacked.shape)}")
        return [check_image(stacked[i], f"{name}[{i}]", volumes) for i in range(stacked.shape[0])]
    try:
        items = list(images)
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of 2D images or an (N, H, W) array, got {type(images).__name__}") from None
    return [check_image(as_array(x, f"{name}[{i}]"), f"{name}[{i}]", volumes) for i, x in enumerate(items)]
