"""Reading segmentations from files for `bettimatch evaluate`: finding cases, loading arrays, and
turning label maps or per-class channels into one boolean mask per class.

Formats: PNG and TIFF (pillow / tifffile, extra ``io``), ``.npy`` / ``.npz``, and NIfTI ``.nii`` /
``.nii.gz`` (nibabel, extra ``nifti``). Every problem is raised as :class:`InputFileError` with a
message that names the file.

How an array is read is decided from its shape alone (and ``spatial_dims``), before any data is
decoded. With ``spatial_dims=None`` (the default):

- ``(H, W)``: a 2D label map of class indices (with ``num_classes == 2`` a float map with
  non-integer values is a foreground likelihood map, foreground = value > threshold);
- ``(D, H, W)``: a 3D label volume (a NIfTI image, a multi-page TIFF stack, an array);
- in a ``.npy`` / ``.npz`` file, an array whose first axis equals ``num_classes`` holds one channel
  per class, one-hot (integer or boolean, values 0/1) or likelihoods (float, foreground = value >
  threshold): ``(num_classes, H, W)`` are the channels of a 2D image (as before volumes were read;
  a label volume whose depth equals ``num_classes`` needs ``spatial_dims=3``) and
  ``(num_classes, D, H, W)`` those of a volume;
- size-1 axes before or after the image axes are dropped: ``(1, H, W)``, ``(H, W, 1)``,
  ``(1, D, H, W)``, ``(D, H, W, 1)``. A size-1 axis between them (``(24, 1, 32)``) is ambiguous
  (an image with an inserted axis, or a volume one voxel thick) and refused with a message that
  says how to pass it; so is any other shape. Nothing is guessed.

``spatial_dims=2`` reads every file as a 2D image (3D arrays other than per-class channels are
refused); ``spatial_dims=3`` reads every file as a volume: ``(num_classes, D, H, W)`` channels,
``(D, H, W)`` labels (a size-1 axis anywhere allowed), and a 2D image as a volume of one slice
``(1, H, W)``.

Voxel spacing (NIfTI ``pixdim``) is read from the header but does not enter any metric: topology,
Dice and clDice count voxels.

Memory: before decoding, every file's shape is read from its header and the file is refused when
it stores more than ``max_voxels`` values or its image needs more than ``max_voxels`` mask values
(voxels x num_classes).
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

EXTENSIONS = (".nii.gz", ".png", ".tif", ".tiff", ".npy", ".npz", ".nii")
_ARRAY_EXTENSIONS = (".npy", ".npz")
_IMAGE_EXTENSIONS = (".png", ".tif", ".tiff")
DEFAULT_MAX_VOXELS = 2**28
_INTEGER_CHECK_BLOCK = 1 << 20  # values per block when checking float labels, to bound the temporary


class InputFileError(Exception):
    """A file that cannot be evaluated; the message says which and why."""


def split_name(filename: str) -> Tuple[str, str]:
    """(case, extension) of a file name, or (name, "") when the extension is not supported."""
    lower = filename.lower()
    for ext in EXTENSIONS:
        if lower.endswith(ext) and len(filename) > len(ext):
            return filename[: -len(ext)], ext
    return filename, ""


def printable(text: str) -> str:
    """`text` with undecodable bytes of file names (lone surrogates) written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Listing:
    """What a folder holds: readable case files, case files that cannot be read (with the reason),
    and entries that are not cases at all (with the reason)."""

    cases: Dict[str, Path] = field(default_factory=dict)
    bad: Dict[str, str] = field(default_factory=dict)
    ignored: List[Tuple[Path, str]] = field(default_factory=list)


def _unreadable_entry(path: Path, entry: str) -> Optional[str]:
    """Why a supported-looking entry cannot be a case, or None when it is a regular file."""
    try:
        entry.encode("utf-8")
    except UnicodeEncodeError:
        return f"{printable(str(path))}: the file name is not valid UTF-8 (rename the file)"
    if path.is_symlink() and not path.exists():
        return f"{path}: a broken symbolic link (to {os.readlink(path)})"
    if not path.is_file():
        return f"{path}: not a regular file"
    return None


def list_cases(directory: Path) -> Listing:
    """Every entry of a directory: case files by case name, and what was left out and why.

    Hidden entries (names starting with '.'), folders and files of unsupported types are ignored;
    supported names that cannot be read (broken symbolic links, special files, names that are not
    UTF-8) are bad cases. Raises InputFileError when the directory does not exist or two files
    share a case name.
    """
    if not directory.is_dir():
        raise InputFileError(f"{directory}: not a directory")
    listing = Listing()
    first_entry: Dict[str, str] = {}
    for entry in sorted(os.listdir(directory)):
        path = directory / entry
        case, ext = split_name(entry)
        if entry.startswith("."):
            listing.ignored.append((path, "hidden"))
        elif path.is_dir():
            listing.ignored.append((path, "folder"))
        elif not ext:
            broken = path.is_symlink() and not path.exists()
            listing.ignored.append((path, "broken symbolic link" if broken else "unsupported type"))
        else:
            key = printable(case)
            if key in first_entry:
                raise InputFileError(
                    f"{directory}: two files for case {key!r}: {first_entry[key]} and {printable(entry)}"
                )
            first_entry[key] = printable(entry)
            reason = _unreadable_entry(path, entry)
            if reason is None:
                listing.cases[case] = path
            else:
                listing.bad[key] = reason
    return listing


def _need(module: str, extra: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputFileError(
            f"reading {what} files needs {module.split('.')[0]}: pip install 'bettimatch[{extra}]'"
        ) from None


# ----------------------------------------------------------------------------- headers and decoding
#
# Each format has a reader that opens the file, learns the stored shape (and dtype and voxel
# spacing where the header has them) without decoding, and hands them to `check` before decoding
# anything. `check` may raise to stop there (reading the header only).

_COLOUR_MODES = ("RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "HSV", "LAB", "RGBX", "RGBa", "La")


@contextlib.contextmanager
def _pillow_size_guard_lifted(image_mod) -> Iterator[None]:
    # Pillow's decompression-bomb guard uses its own pixel limit; ours (checked on the header size
    # before decoding) replaces it, so both limits do not disagree about which files are readable.
    saved = image_mod.MAX_IMAGE_PIXELS
    image_mod.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        image_mod.MAX_IMAGE_PIXELS = saved


def _colour_error(path: Path, what: str) -> InputFileError:
    return InputFileError(
        f"{path}: a {what} colour image; expected a single-channel label map "
        "(grayscale or palette image whose pixel values are class indices)"
    )


def _read_pillow(path: Path, check, what: str) -> np.ndarray:
    image_mod = _need("PIL.Image", "io", what)
    with _pillow_size_guard_lifted(image_mod):
        with image_mod.open(path) as im:
            if im.mode in _COLOUR_MODES:
                raise _colour_error(path, im.mode)
            if what == "TIFF" and getattr(im, "n_frames", 1) > 1:  # pillow would read the first page only
                raise InputFileError(f"{path}: a multi-page {what} file ({im.n_frames} pages); reading it needs tifffile: pip install 'bettimatch[io]'")
            width, height = im.size
            bands = len(im.getbands())
            check((height, width) if bands == 1 else (height, width, bands), None)
            return np.asarray(im)


def _read_png(path: Path, check) -> np.ndarray:
    return _read_pillow(path, check, "PNG")


def _tiff_pages(path: Path, tif) -> list:
    """The series of a TIFF file that make up its image: the first series, or all of them when the
    file is a stack of single pages of one shape and type (written page by page, without
    metadata that would make them one series)."""
    series = list(tif.series)
    if not series:
        raise InputFileError(f"{path}: the TIFF file holds no image")
    for s in series:
        if "S" in s.axes and s.shape[s.axes.index("S")] > 1:
            raise _colour_error(path, "multi-sample (RGB)")
    if len(series) == 1:
        return series
    first = series[0]
    if all(len(s.shape) == 2 and s.shape == first.shape and s.dtype == first.dtype for s in series):
        return series
    shapes = ", ".join(str(tuple(s.shape)) for s in series[:4]) + (", ..." if len(series) > 4 else "")
    raise InputFileError(
        f"{path}: the TIFF file holds {len(series)} images of different shapes or types ({shapes}); "
        "expected one image, or a stack of slices of one shape"
    )


def _read_tiff(path: Path, check) -> np.ndarray:
    try:
        import tifffile
    except ImportError:
        try:
            import PIL.Image  # noqa: F401
        except ImportError:
            raise InputFileError("reading TIFF files needs tifffile (or pillow): pip install 'bettimatch[io]'") from None
        return _read_pillow(path, check, "TIFF")
    with tifffile.TiffFile(path) as tif:
        pages = _tiff_pages(path, tif)
        if len(pages) == 1:
            check(tuple(pages[0].shape), np.dtype(pages[0].dtype))
            return pages[0].asarray()  # what tifffile.imread reads
        check((len(pages),) + tuple(pages[0].shape), np.dtype(pages[0].dtype))
        stack = np.empty((len(pages),) + tuple(pages[0].shape), dtype=pages[0].dtype)
        for k, page in enumerate(pages):
            stack[k] = page.asarray()
        return stack


def _npy_header(stream, path: Path) -> Tuple[Tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    version = fmt.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(stream)
    else:  # version 3 exists only for structured types, which are refused anyway
        raise InputFileError(f"{path}: .npy format version {version[0]}.{version[1]} is not supported")
    return tuple(shape), dtype


def _read_npy(path: Path, check) -> np.ndarray:
    with open(path, "rb") as f:
        check(*_npy_header(f, path))
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)


def _read_npz(path: Path, check) -> np.ndarray:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        if len(names) != 1:
            keys = [n[:-4] if n.endswith(".npy") else n for n in names]
            raise InputFileError(f"{path}: expected exactly one array in the .npz file, found {len(keys)}: {', '.join(keys) or 'none'}")
        with z.open(names[0]) as member:
            check(*_npy_header(member, path))
        with z.open(names[0]) as member:
            return np.lib.format.read_array(member, allow_pickle=False)


def _read_nifti(path: Path, check) -> np.ndarray:
    nib = _need("nibabel", "nifti", "NIfTI")
    image = nib.load(str(path))  # reads the header only; the data stay on disk until asked for
    spacing = tuple(float(z) for z in image.header.get_zooms())
    check(tuple(image.shape), np.dtype(image.get_data_dtype()), spacing)
    return np.asanyarray(image.dataobj)


_READERS = {
    ".png": _read_png, ".tif": _read_tiff, ".tiff": _read_tiff, ".npy": _read_npy, ".npz": _read_npz,
    ".nii": _read_nifti, ".nii.gz": _read_nifti,
}


# ----------------------------------------------------------------------------- shape rules


@dataclass(frozen=True)
class Layout:
    """How a stored array is read: ``kind`` is "labels" (a label map or volume) or "channels" (one
    channel per class); ``image`` is (H, W) for a 2D image or (D, H, W) for a volume."""

    kind: str
    image: Tuple[int, ...]

    @property
    def spatial_dims(self) -> int:
        return len(self.image)

    def describe(self) -> str:
        """'a 2D image (24, 32)' or 'a 3D volume (5, 24, 32)'."""
        return f"a 2D image {self.image}" if len(self.image) == 2 else f"a 3D volume {self.image}"


def _squeeze_outer(shape: Tuple[int, ...], keep: int) -> Tuple[int, ...]:
    """`shape` without size-1 axes at its ends, keeping at least `keep` axes."""
    core = list(shape)
    while len(core) > keep and core[0] == 1:
        core.pop(0)
    while len(core) > keep and core[-1] == 1:
        core.pop()
    return tuple(core)


def layout_of(shape: Tuple[int, ...], path: Path, num_classes: int, spatial_dims: Optional[int] = None) -> Layout:
    """The reading of an array of `shape` stored in `path` (the rules in the module docstring):
    `spatial_dims` None reads 2D images and 3D volumes, 2 only images, 3 only volumes."""
    _, ext = split_name(path.name)
    shape = tuple(int(n) for n in shape)
    if ext in _ARRAY_EXTENSIONS and len(shape) in (3, 4) and shape[0] == num_classes:
        if len(shape) == 3 and spatial_dims != 3:
            return Layout("channels", shape[1:])
        if len(shape) == 4 and spatial_dims != 2:
            return Layout("channels", shape[1:])
    core = _squeeze_outer(shape, 3 if spatial_dims == 3 else 2)
    if len(core) == 2:
        return Layout("labels", (1,) + core if spatial_dims == 3 else core)
    if len(core) == 3 and not (ext == ".png" and core[-1] in (3, 4)):
        if spatial_dims == 3 or (spatial_dims is None and 1 not in core):
            return Layout("labels", core)
    raise _refusal(shape, core, path, ext, num_classes, spatial_dims)


def _refusal(
    shape: Tuple[int, ...], core: Tuple[int, ...], path: Path, ext: str, num_classes: int, spatial_dims: Optional[int]
) -> InputFileError:
    """The error for a shape that `layout_of` cannot read, saying how to pass the data."""
    if spatial_dims == 2:
        return _refusal_2d(shape, core, path, ext, num_classes)
    if len(core) < 2:
        return InputFileError(f"{path}: expected a 2D image or a 3D volume, got an array of shape {shape}")
    if len(core) == 3 and ext == ".png":
        return InputFileError(f"{path}: a colour image of shape {shape}; expected a single-channel label map")
    how = (
        "label maps are (H, W) arrays and label volumes (D, H, W) arrays (size-1 axes are dropped only "
        "before or after the image axes, never between them)"
    )
    if ext in _ARRAY_EXTENSIONS:
        how += (
            "; per-class channels are (num_classes, H, W) or (num_classes, D, H, W) arrays, read when the "
            f"first axis equals --num-classes ({num_classes})"
        )
    else:
        how += "; per-class channels are read from .npy/.npz files of shape (num_classes, H, W) or (num_classes, D, H, W)"
    if len(core) == 3:  # only an inner size-1 axis (spatial_dims None) gets here
        what = "an ambiguous shape (an image with an inserted axis, or a volume one voxel thick? pass --spatial-dims 3 to read it as a (D, H, W) volume)"
    elif ext in (".nii", ".nii.gz"):
        what = "too many axes (a time series or a multi-channel image? expected a 3D label volume)"
    else:
        what = "too many axes for a volume" if spatial_dims == 3 else "too many axes"
    return InputFileError(f"{path}: a {len(shape)}D array of shape {shape}: {what} ({how})")


def _refusal_2d(shape: Tuple[int, ...], core: Tuple[int, ...], path: Path, ext: str, num_classes: int) -> InputFileError:
    """The refusal with --spatial-dims 2 (every file a 2D image), as before volumes were read."""
    if len(core) < 2:
        return InputFileError(f"{path}: expected a 2D image, got an array of shape {shape}")
    if len(core) == 3 and core[-1] in (3, 4) and ext in _IMAGE_EXTENSIONS:
        return InputFileError(f"{path}: a colour image of shape {shape}; expected a single-channel label map")
    how = (
        "label maps are (H, W) arrays (size-1 axes are dropped only before or after the image axes, "
        "never between them)"
    )
    if ext in _ARRAY_EXTENSIONS:
        how += f"; per-class channels are (num_classes, H, W) arrays, read when the first axis equals --num-classes ({num_classes})"
    else:
        how += "; per-class channels are read from .npy/.npz files of shape (num_classes, H, W)"
    what = "an ambiguous shape" if 1 in core else "not a 2D image (--spatial-dims 2 reads 2D images only)"
    return InputFileError(f"{path}: a {len(shape)}D array of shape {shape}: {what} ({how})")


def _size_text(image: Tuple[int, ...]) -> str:
    return "x".join(map(str, image)) + (" image" if len(image) == 2 else " volume")


def check_size(shape: Tuple[int, ...], layout: Layout, path: Path, num_classes: int, max_voxels: int) -> None:
    """Refuse a file that stores, or whose class masks need, more than `max_voxels` values."""
    stored = int(np.prod(shape, dtype=object))
    needed = int(np.prod(layout.image, dtype=object)) * num_classes
    if stored > max_voxels:
        raise InputFileError(
            f"{path}: too large: the file stores {stored} values (shape {tuple(shape)}), more than "
            f"--max-voxels {max_voxels}"
        )
    if needed > max_voxels:
        raise InputFileError(
            f"{path}: too large: a {_size_text(layout.image)} with {num_classes} classes needs {needed} mask "
            f"values, more than --max-voxels {max_voxels}"
        )


def _check_dtype(dtype: Optional[np.dtype], path: Path) -> None:
    if dtype is not None and dtype.kind not in "biuf":
        raise InputFileError(f"{path}: unsupported data type {dtype}; expected integer, boolean or float values")


@dataclass(frozen=True)
class Header:
    """What a file's header says: the stored shape, how it is read, and the voxel spacing (NIfTI
    only; None for other formats)."""

    shape: Tuple[int, ...]
    layout: Layout
    spacing: Optional[Tuple[float, ...]]


class _HeaderRead(Exception):
    """Raised by the header check to stop a reader before it decodes anything."""

    def __init__(self, header: Header):
        super().__init__()
        self.header = header


def _reader(path: Path):
    _, ext = split_name(path.name)
    if ext not in _READERS:
        raise InputFileError(f"{path}: unsupported file type (supported: {', '.join(EXTENSIONS)})")
    return _READERS[ext]


def _header_check(path: Path, num_classes: int, max_voxels: int, spatial_dims: Optional[int], found: list, stop: bool):
    def check(shape: Tuple[int, ...], dtype: Optional[np.dtype], spacing: Optional[Tuple[float, ...]] = None) -> None:
        _check_dtype(dtype, path)
        layout = layout_of(shape, path, num_classes, spatial_dims)
        check_size(shape, layout, path, num_classes, max_voxels)
        header = Header(tuple(int(n) for n in shape), layout, spacing)
        found.append(header)
        if stop:
            raise _HeaderRead(header)

    return check


def _call_reader(path: Path, check) -> np.ndarray:
    try:
        return np.asarray(_reader(path)(path, check))
    except (InputFileError, _HeaderRead):
        raise
    except MemoryError:
        raise InputFileError(f"{path}: not enough memory to decode the file") from None
    except Exception as exc:  # any reader failure means the file is unreadable
        raise InputFileError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})") from None


def read_header(
    path: Path, num_classes: int, max_voxels: int = DEFAULT_MAX_VOXELS, spatial_dims: Optional[int] = None
) -> Header:
    """The shape, reading and spacing of the array in `path`, from its header alone (no data are
    decoded); raises InputFileError as `read_array` would for a bad header."""
    try:
        _call_reader(path, _header_check(path, num_classes, max_voxels, spatial_dims, [], stop=True))
    except _HeaderRead as done:
        return done.header
    raise InputFileError(f"{path}: the reader decoded the file without reading its header first")  # pragma: no cover


def read_array(
    path: Path, num_classes: int, max_voxels: int = DEFAULT_MAX_VOXELS, spatial_dims: Optional[int] = None
) -> Tuple[np.ndarray, Layout]:
    """The array stored in `path` (as stored, no conversion) and how it is read; the shape and
    size are checked from the header before the data are decoded."""
    found: List[Header] = []
    arr = _call_reader(path, _header_check(path, num_classes, max_voxels, spatial_dims, found, stop=False))
    _check_dtype(arr.dtype, path)
    # The decoded array must match what the header announced (a reader that ignored it, or a lying
    # header, is caught here rather than trusted).
    layout = layout_of(arr.shape, path, num_classes, spatial_dims)
    check_size(arr.shape, layout, path, num_classes, max_voxels)
    if found and found[0].layout != layout:
        raise InputFileError(f"{path}: the decoded image {arr.shape} does not match the file's header")
    return arr, layout


# ----------------------------------------------------------------------------- class masks


def _all_integer_valued(arr: np.ndarray) -> bool:
    flat = arr.reshape(-1)
    for start in range(0, flat.size, _INTEGER_CHECK_BLOCK):
        block = flat[start : start + _INTEGER_CHECK_BLOCK]
        if not np.array_equal(block, np.floor(block)):
            return False
    return True


def _channel_masks(arr: np.ndarray, layout: Layout, path: Path, threshold: float) -> np.ndarray:
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise InputFileError(f"{path}: contains NaN")
        return arr > threshold
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        hint = ""
        if layout.spatial_dims == 2:
            hint = (
                f" (a label volume of depth {arr.shape[0]}? an array whose first axis equals --num-classes is read "
                "as per-class channels of a 2D image; pass --spatial-dims 3 to read it as a (D, H, W) volume)"
            )
        raise InputFileError(
            f"{path}: integer channels must be one-hot (values 0 and 1), found values from {arr.min()} to "
            f"{arr.max()}; pass likelihoods as floats, or a label map as an (H, W) array{hint}"
        )
    return arr.astype(bool)


def _label_masks(labels: np.ndarray, path: Path, num_classes: int, threshold: float) -> np.ndarray:
    if labels.size == 0:
        raise InputFileError(f"{path}: the image is empty (shape {labels.shape})")
    if labels.dtype == np.bool_:
        labels = labels.view(np.uint8)
    if labels.dtype.kind == "f":
        if np.isnan(labels).any():
            raise InputFileError(f"{path}: contains NaN")
        if not np.isfinite(labels).all():
            raise InputFileError(f"{path}: contains infinite values")
        if not _all_integer_valued(labels):
            if num_classes == 2:
                fg = labels > threshold
                return np.stack([~fg, fg])
            raise InputFileError(
                f"{path}: non-integer values in a label map (likelihood maps are read for --num-classes 2, "
                "or as (num_classes, H, W) .npy arrays)"
            )
    lo, hi = labels.min(), labels.max()
    if lo < 0:
        raise InputFileError(f"{path}: negative label value {int(lo)}")
    if hi >= num_classes:
        raise InputFileError(f"{path}: label value {int(hi)} is not below --num-classes {num_classes}")
    masks = np.zeros((num_classes,) + labels.shape, dtype=bool)
    # Classes above the largest label stay empty; comparing only up to it keeps every constant
    # inside the labels' own type (no wrap-around for small integer types).
    for c in range(int(hi) + 1):
        np.equal(labels, c, out=masks[c])
    return masks


def class_masks(arr: np.ndarray, layout: Layout, path: Path, num_classes: int, threshold: float) -> np.ndarray:
    """One boolean mask per class, (num_classes, H, W) or (num_classes, D, H, W), from an array
    read as `layout`."""
    try:
        if layout.kind == "channels":
            return _channel_masks(arr, layout, path, threshold)
        return _label_masks(arr.reshape(layout.image), path, num_classes, threshold)
    except MemoryError:
        raise InputFileError(
            f"{path}: not enough memory for the class masks of a {_size_text(layout.image)} with {num_classes} "
            "classes (lower --max-voxels to refuse such files up front)"
        ) from None


def load_masks(
    path: Path,
    num_classes: int,
    threshold: float,
    max_voxels: int = DEFAULT_MAX_VOXELS,
    spatial_dims: Optional[int] = None,
) -> np.ndarray:
    """(num_classes, H, W) or (num_classes, D, H, W) boolean masks of the segmentation stored in
    `path`, read as `layout_of` says."""
    arr, layout = read_array(path, num_classes, max_voxels, spatial_dims)
    return class_masks(arr, layout, path, num_classes, threshold)
