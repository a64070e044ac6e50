"""Bad input gives a clear ValueError/TypeError whose message names the offending argument (and,
for non-finite values, the pixel) -- never a crash, a hang or a silently wrong answer."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bettimatch as bm

X = np.zeros((3, 4))


def raises(exc, *patterns):
    """pytest.raises whose message must contain every pattern (regexes, case-insensitive)."""

    class _Ctx:
        def __enter__(self):
            self.ctx = pytest.raises(exc)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *args):
            handled = self.ctx.__exit__(*args)
            if handled:
                msg = str(self.info.value)
                for p in patterns:
                    assert re.search(p, msg, re.IGNORECASE), f"message {msg!r} lacks {p!r}"
            return handled

    return _Ctx()


# --- shapes ----------------------------------------------------------------------------------------


def test_mismatched_shapes():
    with raises(ValueError, r"\bpred\b", r"\btarget\b", r"\(3, 4\)", r"\(4, 3\)"):
        bm.betti_matching(X, np.zeros((4, 3)))
    with raises(ValueError, r"preds\[0\]", r"targets\[0\]"):
        bm.betti_matching_batch([X], [np.zeros((4, 3))])
    with raises(ValueError, r"preds\[1\]", r"targets\[1\]"):
        bm.betti_matching_batch([X, X], [X, np.zeros((3, 5))])


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), (1, 2, 3, 4), ()])
def test_wrong_number_of_dimensions(shape):
    bad = np.zeros(shape)
    if len(shape) == 3:  # volumes are fine (test_volumes.py); against a 2D image, a mismatch
        with raises(ValueError, r"\bpred\b", r"\btarget\b", r"\(3, 4\)", r"\(2, 3, 4\)"):
            bm.betti_matching(X, bad)
        return
    with raises(ValueError, r"\bimage\b", "2D"):
        bm.barcode(bad)
    with raises(ValueError, r"\bpred\b", "2D"):
        bm.betti_matching(bad, bad)
    with raises(ValueError, r"\btarget\b", "2D"):
        bm.betti_matching(X, bad)


def test_batch_items_with_wrong_dimensions():
    with raises(ValueError, r"images\[1\]"):
        bm.barcode_batch([X, np.zeros(3)])
    with raises(ValueError, r"targets\[0\]"):
        bm.betti_matching_batch([X], [np.zeros((1, 3, 4))])
    with raises(ValueError, r"\bimages\b", r"\(N, H, W\)"):
        bm.barcode_batch(np.zeros((3, 4)))  # a single 2D array is not a batch
    with raises(ValueError, r"\bpreds\b"):
        bm.betti_matching_batch(np.zeros((2, 3, 4, 5, 6)), np.zeros((2, 3, 4, 5, 6)))
    with raises(ValueError, r"\bpreds\b", "either 2D images or 3D volumes"):
        bm.betti_matching_batch([X, np.zeros((2, 3, 4))], [X, np.zeros((2, 3, 4))])


@pytest.mark.parametrize("shape", [(0, 4), (4, 0), (0, 0)])
def test_empty_images(shape):
    empty = np.zeros(shape)
    with raises(ValueError, r"\bimage\b", "empty"):
        bm.barcode(empty)
    with raises(ValueError, r"\bpred\b", "empty"):
        bm.betti_matching(empty, empty)
    with raises(ValueError, r"images\[1\]", "empty"):
        bm.barcode_batch([X, empty])


def test_empty_batches_are_fine():
    assert bm.betti_matching_batch(np.zeros((0, 3, 3)), np.zeros((0, 3, 3))) == []
    assert bm.barcode_batch(np.zeros((0, 2, 2))) == []


def test_batch_length_mismatch():
    with raises(ValueError, r"\bpreds\b", r"\btargets\b", r"\b2\b", r"\b1\b"):
        bm.betti_matching_batch([X, X], [X])
    with raises(ValueError, r"\bpreds\b", r"\btargets\b"):
        bm.betti_matching_batch(np.zeros((3, 2, 2)), np.zeros((2, 2, 2)))


# --- values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_values_name_the_pixel(bad, dtype):
    img = np.zeros((3, 4), dtype=dtype)
    img[2, 1] = bad
    with raises(ValueError, r"\bimage\b", r"\(2, 1\)", r"NaN|inf"):
        bm.barcode(img)
    with raises(ValueError, r"\btarget\b", r"\(2, 1\)"):
        bm.betti_matching(X.astype(dtype), img)
    with raises(ValueError, r"\bpred\b", r"\(2, 1\)"):
        bm.betti_matching(img, X.astype(dtype), filtration="sublevel", connectivity=8)
    with raises(ValueError, r"preds\[1\]", r"\(2, 1\)"):
        bm.betti_matching_batch([X, img], [X, X])
    with raises(ValueError, r"\bimages\[2\]", r"\(2, 1\)"):
        bm.barcode_batch(np.stack([X, X, img.astype(np.float64)]))


def test_barcode_batch_names_its_argument_for_non_finite_values():
    img = np.zeros((3, 4))
    img[2, 1] = np.nan
    with raises(ValueError, r"\bimages\[1\]"):
        bm.barcode_batch([X, img])


def test_non_finite_pixel_is_named_in_logical_coordinates():
    """The reported pixel is (row, col) of the array as the user sees it, whatever its layout."""
    img = np.zeros((5, 6))
    img[4, 1] = np.nan
    with raises(ValueError, r"\(4, 1\)"):
        bm.barcode(np.asfortranarray(img))
    with raises(ValueError, r"\(1, 4\)"):
        bm.barcode(img.T)
    with raises(ValueError, r"\(0, 1\)"):
        bm.barcode(img[::-1, :][:, ::1])
    with raises(ValueError, r"\(2, 0\)"):
        bm.barcode(img[::2, 1::2])


def test_non_finite_in_torch_tensor():
    torch = pytest.importorskip("torch")
    t = torch.zeros(3, 3)
    t[1, 2] = float("nan")
    with raises(ValueError, r"\bimage\b", r"\(1, 2\)"):
        bm.barcode(t)


def test_extreme_but_finite_values_are_fine():
    big = np.finfo(np.float64).max
    x = np.array([[big, -big, 0.0], [1.0, -1.0, 5e-324]])
    for filtration in ("sublevel", "superlevel"):
        bc = bm.barcode(x, filtration=filtration)
        assert np.all(np.isfinite(bc.birth_value[0]))
        bm.betti_matching(x, x[::-1], filtration=filtration)


# --- options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("filtration", ["up", "Superlevel", "", None, 1])
def test_unknown_filtration(filtration):
    with raises(ValueError, "filtration"):
        bm.barcode(X, filtration=filtration)
    with raises(ValueError, "filtration"):
        bm.betti_matching(X, X, filtration=filtration)
    with raises(ValueError, "filtration"):
        bm.betti_matching_batch([X], [X], filtration=filtration)
    with raises(ValueError, "filtration"):
        bm.barcode_batch([X], filtration=filtration)


@pytest.mark.parametrize("connectivity", [6, 26, 0, 2, -4, True, "4", "eight"])
def test_unknown_connectivity(connectivity):
    with raises(ValueError, "connectivity"):
        bm.barcode(X, connectivity=connectivity)
    with raises(ValueError, "connectivity"):
        bm.betti_matching(X, X, connectivity=connectivity)
    with raises(ValueError, "connectivity"):
        bm.betti_matching_batch([X], [X], connectivity=connectivity)


@pytest.mark.parametrize("num_threads", [0, -1, -100, 1.5, "2", True])
def test_bad_num_threads(num_threads):
    with raises(ValueError, "num_threads"):
        bm.betti_matching_batch([X], [X], num_threads=num_threads)
    with raises(ValueError, "num_threads"):
        bm.barcode_batch([X], num_threads=num_threads)


def test_numpy_integer_options_are_accepted():
    a = bm.betti_matching_batch([X], [X], connectivity=np.int64(8), num_threads=np.int32(2))
    b = bm.betti_matching_batch([X], [X], connectivity=8, num_threads=2)
    assert a[0].num_matched.tolist() == b[0].num_matched.tolist()


# --- dtypes and types ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.array([["a", "b"], ["c", "d"]]),
        np.array([[b"a", b"b"]]),
        np.array([[1.0, None]], dtype=object),
        np.array([[1.0, 2.0]], dtype=object),  # numeric values, but an object array
        np.zeros((2, 2), dtype=complex),
        np.zeros((2, 2), dtype="datetime64[s]"),
        np.zeros((2, 2), dtype="timedelta64[s]"),
    ],
    ids=["str", "bytes", "object-none", "object-float", "complex", "datetime", "timedelta"],
)
def test_unsupported_dtypes(bad):
    with raises(TypeError, r"\bimage\b", "dtype"):
        bm.barcode(bad)
    with raises(TypeError, r"\bpred\b", "dtype"):
        bm.betti_matching(bad, bad)
    with raises(TypeError, r"\btarget\b", "dtype"):
        bm.betti_matching(np.zeros(bad.shape), bad)
    with raises(TypeError, r"images\[0\]"):
        bm.barcode_batch([bad])


def test_non_array_inputs():
    with raises(TypeError, r"\bimage\b"):
        bm.barcode(None)
    with raises(TypeError, r"\bimage\b"):
        bm.barcode([[0.0, 1.0], [1.0]])  # ragged
    with raises(TypeError, r"\bimages\b"):
        bm.barcode_batch(5)
    with raises(TypeError, r"\bpreds\b"):
        bm.betti_matching_batch(None, [X])
    # nested lists of numbers are fine and equal the array
    lst = [[0.0, 1.0, 0.2], [0.5, 0.1, 0.9]]
    a, b = bm.barcode(lst), bm.barcode(np.array(lst))
    assert all(np.array_equal(a.birth[d], b.birth[d]) for d in range(2))


def test_errors_leave_the_library_usable():
    for bad in (np.full((2, 2), np.nan), np.zeros((0, 2)), np.zeros(3)):
        with pytest.raises(ValueError):
            bm.betti_matching_batch([X, bad], [X, X], num_threads=2)
    m = bm.betti_matching(np.eye(4), np.eye(4))
    assert m.num_unmatched_pred.sum() == 0
