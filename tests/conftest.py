"""Shared helpers and hypothesis strategies for the bettimatch test-suite.

Hypothesis profiles (pick one with ``HYPOTHESIS_PROFILE=<name>``; default ``dev``):

- ``ci``: few examples per property, the whole suite in well under a minute on 2 cores;
- ``dev`` (default): more examples, still about a minute;
- ``thorough``: many examples, for a long local run before a release.
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import sys
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], print_blob=True)
settings.register_profile("ci", max_examples=30, **_COMMON)
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("thorough", max_examples=1500, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

FILTRATIONS = ("sublevel", "superlevel")
CONNECTIVITIES = (4, 8)

# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


def shapes(max_side: int = 8, min_side: int = 1) -> st.SearchStrategy:
    """2D shapes, thin ones (1xN, Nx1, 1x1) included and drawn often."""
    side = st.integers(min_side, max_side)
    thin = st.one_of(st.tuples(st.just(1), side), st.tuples(side, st.just(1)))
    return st.one_of(st.tuples(side, side), thin)


def float_images(shape, dtype=np.float64) -> st.SearchStrategy:
    """Arbitrary floats in [0, 1]; hypothesis favours 0, 1 and repeats, so ties are common."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    return hnp.arrays(dtype, shape, elements=st.floats(0, 1, allow_nan=False, allow_infinity=False, width=width))


def tie_images(shape, levels: int = 4) -> st.SearchStrategy:
    """Integer levels 0..levels-1 as float64: very many ties."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, levels - 1)).map(lambda a: a.astype(np.float64))


def masks(shape) -> st.SearchStrategy:
    return hnp.arrays(np.bool_, shape, elements=st.booleans())


def tie_free_images(shape) -> st.SearchStrategy:
    """All pixel values distinct (a random permutation of a grid of values in (0, 1))."""
    n = int(np.prod(shape))
    return st.permutations(range(n)).map(lambda p: ((np.array(p, dtype=np.float64) + 0.5) / n).reshape(shape))


@st.composite
def tie_free_pairs(draw, max_side: int = 6):
    """(pred, target) whose 2n values are all distinct: no ties within or across the images."""
    shape = draw(shapes(max_side))
    n = int(np.prod(shape))
    perm = np.array(draw(st.permutations(range(2 * n))), dtype=np.float64)
    values = (perm + 0.5) / (2 * n)
    return values[:n].reshape(shape), values[n:].reshape(shape)


IMAGE_KINDS = ("float", "ties", "mask", "tiefree")


def images_of_kind(kind: str, shape) -> st.SearchStrategy:
    return {
        "float": lambda: float_images(shape),
        "ties": lambda: tie_images(shape),
        "mask": lambda: masks(shape).map(lambda m: m.astype(np.float64)),
        "tiefree": lambda: tie_free_images(shape),
    }[kind]()


@st.composite
def images(draw, max_side: int = 8, kinds: Sequence[str] = IMAGE_KINDS):
    """One float64 image of a random kind (floats, integer levels, 0/1 mask, tie-free)."""
    shape = draw(shapes(max_side))
    return draw(images_of_kind(draw(st.sampled_from(kinds)), shape))


@st.composite
def image_pairs(draw, max_side: int = 8, kinds: Sequence[str] = IMAGE_KINDS):
    """(pred, target) of equal shape; each of a random kind, so float-vs-mask pairs occur too."""
    shape = draw(shapes(max_side))
    a = draw(images_of_kind(draw(st.sampled_from(kinds)), shape))
    b = draw(images_of_kind(draw(st.sampled_from(kinds)), shape))
    return a, b


def seeded_images(seed: int, shape, kind: str) -> np.ndarray:
    """Larger images from a numpy generator (hypothesis only draws the seed, shape and kind)."""
    rng = np.random.default_rng(seed)
    if kind == "float":
        return rng.random(shape)
    if kind == "ties":
        return rng.integers(0, 4, shape).astype(np.float64)
    if kind == "mask":
        return (rng.random(shape) < rng.uniform(0.2, 0.8)).astype(np.float64)
    if kind == "smooth":  # blobs and rings, closer to real probability maps
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(rng.random(shape), sigma=1.5)
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def sublevel_values(x: np.ndarray, filtration: str) -> np.ndarray:
    """The values bettimatch filters by (low first), as float64: ``x`` or ``1 - x`` computed in
    the input's own precision (float32 stays float32 until the subtraction is done)."""
    x = np.asarray(x)
    if filtration == "sublevel":
        return x.astype(np.float64)
    if x.dtype == np.float32:
        return (np.float32(1) - x).astype(np.float64)
    return 1.0 - x.astype(np.float64)


def rows(coords: np.ndarray) -> List[Tuple[int, ...]]:
    return [tuple(int(v) for v in r) for r in np.asarray(coords).reshape(-1, 2)]


MATCHING_FIELDS = (
    "pred_matched_birth",
    "pred_matched_death",
    "target_matched_birth",
    "target_matched_death",
    "pred_unmatched_birth",
    "pred_unmatched_death",
    "target_unmatched_birth",
    "target_unmatched_death",
    "pred_essential",
    "target_essential",
)
BARCODE_FIELDS = ("birth", "death", "birth_value", "death_value", "essential")


def assert_matchings_equal(a, b, context: str = "") -> None:
    """Every field, every dimension, row for row."""
    for name in MATCHING_FIELDS:
        for d in range(2):
            x, y = getattr(a, name)[d], getattr(b, name)[d]
            assert x.dtype == y.dtype == np.int64, (context, name, d, x.dtype, y.dtype)
            assert x.shape == y.shape and np.array_equal(x, y), f"{context}: {name}[{d}]:\n{x}\n!=\n{y}"
    for prop in ("num_matched", "num_unmatched_pred", "num_unmatched_target"):
        assert np.array_equal(getattr(a, prop), getattr(b, prop)), (context, prop)


def assert_barcodes_equal(a, b, context: str = "") -> None:
    for name in BARCODE_FIELDS:
        for d in range(2):
            x, y = getattr(a, name)[d], getattr(b, name)[d]
            assert x.dtype == y.dtype, (context, name, d, x.dtype, y.dtype)
            assert x.shape == y.shape and np.array_equal(x, y), f"{context}: {name}[{d}]:\n{x}\n!=\n{y}"


def matching_counts(m) -> Tuple[Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]:
    return (
        tuple(int(v) for v in m.num_matched),
        tuple(int(v) for v in m.num_unmatched_pred),
        tuple(int(v) for v in m.num_unmatched_target),
    )


def check_matching_consistency(m, pred_bc, target_bc) -> None:
    """Structural invariants of one matching against the two barcodes computed on their own:
    the matched and unmatched bars of each side partition that side's finite barcode."""
    for d in range(2):
        for side, bc in (("pred", pred_bc), ("target", target_bc)):
            matched = list(zip(rows(getattr(m, f"{side}_matched_birth")[d]), rows(getattr(m, f"{side}_matched_death")[d])))
            unmatched = list(zip(rows(getattr(m, f"{side}_unmatched_birth")[d]), rows(getattr(m, f"{side}_unmatched_death")[d])))
            bars = list(zip(rows(bc.birth[d]), rows(bc.death[d])))
            assert sorted(matched + unmatched) == sorted(bars), (side, d)
            assert len(set(matched)) == len(matched), (side, d)
        assert len(m.pred_matched_birth[d]) == len(m.target_matched_birth[d])
    assert np.array_equal(m.pred_essential[0], pred_bc.essential[0])
    assert np.array_equal(m.target_essential[0], target_bc.essential[0])


# --------------------------------------------------------------------------------------------
# the reference implementation (Betti-Matching-3D as shipped in topolosses)
# --------------------------------------------------------------------------------------------

REFERENCE_ENV = "BETTIMATCH_REFERENCE_SO"


_TOPOLOSSES_EXT = ("losses", "betti_matching", "src")


def _reference_candidates() -> List[Tuple[str, str]]:
    """(path, module name) pairs to try, in order. The module name is the one topolosses itself
    imports the extension under, so that loading it here and importing topolosses elsewhere in the
    same process (other test files do) share one module: a pybind11 extension initialised twice
    under two names crashes the interpreter at exit."""
    canonical = {}
    try:
        spec = importlib.util.find_spec("topolosses")  # locates the package, runs nothing of it
    except (ImportError, ValueError):
        spec = None
    if spec is not None:
        for root in list(spec.submodule_search_locations or []):
            for path in sorted(glob.glob(os.path.join(root, *_TOPOLOSSES_EXT, "betti_matching*.so"))):
                canonical[os.path.realpath(path)] = ".".join(("topolosses",) + _TOPOLOSSES_EXT + ("betti_matching",))
    out = list(canonical.items())
    env = os.environ.get(REFERENCE_ENV)
    if env:  # the fallback where topolosses is not installed (or its extension does not load)
        out.append((env, canonical.get(os.path.realpath(env), "betti_matching")))
    return out


def _load_extension(path: str, name: str):
    real = os.path.realpath(path)
    for module in list(sys.modules.values()):  # already loaded (e.g. by `import topolosses`)?
        f = getattr(module, "__file__", None)
        if f and os.path.realpath(f) == real and hasattr(module, "compute_matching"):
            return module
    if not os.path.isfile(path):
        raise ImportError(f"{path}: no such file")
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    if not hasattr(module, "compute_matching"):
        raise ImportError(f"{path} has no compute_matching")
    sys.modules[name] = module
    return module


@lru_cache(maxsize=1)
def _reference() -> Tuple[Optional[object], str]:
    errors = []
    for path, name in _reference_candidates():
        try:
            return _load_extension(path, name), path
        except Exception as exc:  # wrong Python ABI, missing file, ...
            errors.append(f"{path}: {exc}")
    why = "; ".join(errors) or f"no topolosses package found and ${REFERENCE_ENV} is unset"
    return None, why


def reference_module():
    """The Betti-Matching-3D pybind11 module, or skip the calling test/module."""
    module, why = _reference()
    if module is None:
        pytest.skip(f"reference Betti-Matching-3D extension not available: {why}")
    return module
