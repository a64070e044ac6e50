"""Reading segmentations from files for `bettimatch evaluate`: finding cases, loading arrays, and
turning label maps or likelihood maps into one boolean mask per class.

Formats: PNG and TIFF (pillow / tifffile, extra ``io``), ``.npy`` / ``.npz``, and NIfTI ``.nii`` /
``.nii.gz`` (nibabel, extra ``nifti``). Every problem is raised as :class:`InputFileError` with a
message that names the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

EXTENSIONS = (".nii.gz", ".png", ".tif", ".tiff", ".npy", ".npz", ".nii")
_ARRAY_EXTENSIONS = (".npy", ".npz")


class InputFileError(Exception):
    """A file that cannot be evaluated; the message says which and why."""


def split_name(filename: str) -> Tuple[str, str]:
    """(case, extension) of a file name, or (name, "") when the extension is not supported."""
    lower = filename.lower()
    for ext in EXTENSIONS:
        if lower.endswith(ext) and len(filename) > len(ext):
            return filename[: -len(ext)], ext
    return filename, ""


def list_cases(directory: Path) -> Tuple[Dict[str, Path], List[Path]]:
    """Supported files of a directory by case name, and the files that were not recognised.

    Raises InputFileError when the directory does not exist or two files share a case name.
    """
    if not directory.is_dir():
        raise InputFileError(f"{directory}: not a directory")
    cases: Dict[str, Path] = {}
    ignored: List[Path] = []
    for entry in sorted(os.listdir(directory)):
        path = directory / entry
        if entry.startswith(".") or not path.is_file():
            continue
        case, ext = split_name(entry)
        if not ext:
            ignored.append(path)
            continue
        if case in cases:
            raise InputFileError(f"{directory}: two files for case {case!r}: {cases[case].name} and {entry}")
        cases[case] = path
    return cases, ignored


def _need(module: str, extra: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputFileError(
            f"reading {what} files needs {module.split('.')[0]}: pip install 'bettimatch[{extra}]'"
        ) from None


def _read_png(path: Path) -> np.ndarray:
    image_mod = _need("PIL.Image", "io", "PNG")
    with image_mod.open(path) as im:
        if im.mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA"):
            raise InputFileError(
                f"{path}: a {im.mode} colour image; expected a single-channel label map "
                "(grayscale or palette PNG whose pixel values are class indices)"
            )
        return np.asarray(im)


def _read_tiff(path: Path) -> np.ndarray:
    try:
        import tifffile
    except ImportError:
        tifffile = None
    if tifffile is not None:
        return np.asarray(tifffile.imread(path))
    try:
        from PIL import Image
    except ImportError:
        raise InputFileError("reading TIFF files needs tifffile (or pillow): pip install 'bettimatch[io]'") from None
    with Image.open(path) as im:
        return np.asarray(im)


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        keys = list(z.files)
        if len(keys) != 1:
            raise InputFileError(f"{path}: expected exactly one array in the .npz file, found {len(keys)}: {', '.join(keys) or 'none'}")
        return z[keys[0]]


def _read_nifti(path: Path) -> np.ndarray:
    nib = _need("nibabel", "nifti", "NIfTI")
    return np.asanyarray(nib.load(str(path)).dataobj)


def read_array(path: Path) -> np.ndarray:
    """The array stored in `path`, as stored (no conversion)."""
    _, ext = split_name(path.name)
    readers = {
        ".png": _read_png, ".tif": _read_tiff, ".tiff": _read_tiff, ".npy": lambda p: np.load(p, allow_pickle=False),
        ".npz": _read_npz, ".nii": _read_nifti, ".nii.gz": _read_nifti,
    }
    if ext not in readers:
        raise InputFileError(f"{path}: unsupported file type (supported: {', '.join(EXTENSIONS)})")
    try:
        arr = readers[ext](path)
    except InputFileError:
        raise
    except Exception as exc:  # any reader failure means the file is unreadable
        raise InputFileError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})") from None
    arr = np.asarray(arr)
    if arr.dtype.kind not in "biuf":
        raise InputFileError(f"{path}: unsupported data type {arr.dtype}; expected integer, boolean or float values")
    return arr


def _drop_extra_singletons(arr: np.ndarray) -> np.ndarray:
    """(1, H, W), (H, W, 1), (H, W, 1, 1) ... -> (H, W); 2D arrays stay as they are."""
    while arr.ndim > 2 and 1 in arr.shape:
        arr = arr.squeeze(axis=arr.shape.index(1))
    return arr


def class_masks(arr: np.ndarray, path: Path, num_classes: int, threshold: float) -> np.ndarray:
    """One boolean mask per class, (num_classes, H, W), from what a file holds.

    - a 2D array of class indices (any integer or bool type, or floats with integer values);
    - with ``num_classes == 2``, a 2D float likelihood map of the foreground (``x > threshold``);
    - in ``.npy`` / ``.npz`` files, a (num_classes, H, W) array of per-class likelihoods or one-hot
      channels (``x > threshold``).
    """
    _, ext = split_name(path.name)
    arr = _drop_extra_singletons(arr)
    if arr.ndim == 3 and ext in _ARRAY_EXTENSIONS and arr.shape[0] == num_classes:
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise InputFileError(f"{path}: contains NaN")
        return arr > threshold if arr.dtype != np.bool_ else arr.copy()
    if arr.ndim != 2:
        if arr.ndim == 3 and arr.shape[-1] in (3, 4) and ext in (".png", ".tif", ".tiff"):
            raise InputFileError(f"{path}: a colour image of shape {arr.shape}; expected a single-channel label map")
        if arr.ndim >= 3:
            raise InputFileError(
                f"{path}: a {arr.ndim}D array of shape {arr.shape}; 3D volumes are not supported yet "
                "(bettimatch evaluates 2D images; .npy/.npz arrays of shape (num_classes, H, W) are read "
                "as per-class channels)"
            )
        raise InputFileError(f"{path}: expected a 2D image, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise InputFileError(f"{path}: the image is empty (shape {arr.shape})")
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise InputFileError(f"{path}: contains NaN")
        if not np.all(arr == np.round(arr)):
            if num_classes == 2:
                fg = arr > threshold
                return np.stack([~fg, fg])
            raise InputFileError(
                f"{path}: non-integer values in a label map (likelihood maps are read for --num-classes 2, "
                "or as (num_classes, H, W) .npy arrays)"
            )
    labels = arr.astype(np.int64) if arr.dtype != np.bool_ else arr.astype(np.int64)
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0:
        raise InputFileError(f"{path}: negative label value {lo}")
    if hi >= num_classes:
        raise InputFileError(f"{path}: label value {hi} is not below --num-classes {num_classes}")
    return labels[None, :, :] == np.arange(num_classes).reshape(num_classes, 1, 1)
