"""Exact agreement with the reference implementation, Betti-Matching-3D (as shipped in topolosses).

The reference is sublevel-only and V-construction-only (connectivity 4), and reports finite bars
only (no essential component). On those terms bettimatch must return the very same pairs, with
the same pixel coordinates, in the same row order, for matched and unmatched bars alike -- ties
included. Superlevel is defined as the sublevel filtration of ``1 - x`` computed in the input's
precision, so it must equal the reference run on that array.

The reference extension is found (see ``conftest.reference_module``) through an installed
``topolosses`` package (located with ``importlib.util.find_spec`` and loaded without running
topolosses' heavy ``__init__``) or through ``$BETTIMATCH_REFERENCE_SO``; without either the module
is skipped.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bettimatch as bm

from conftest import _reference, image_pairs, images, seeded_images, sublevel_values

REF, _WHY = _reference()
if REF is None:
    pytest.skip(f"reference Betti-Matching-3D extension not available: {_WHY}", allow_module_level=True)

_FIELDS = [
    ("pred_matched_birth", "input1_matched_birth_coordinates"),
    ("pred_matched_death", "input1_matched_death_coordinates"),
    ("target_matched_birth", "input2_matched_birth_coordinates"),
    ("target_matched_death", "input2_matched_death_coordinates"),
    ("pred_unmatched_birth", "input1_unmatched_birth_coordinates"),
    ("pred_unmatched_death", "input1_unmatched_death_coordinates"),
    ("target_unmatched_birth", "input2_unmatched_birth_coordinates"),
    ("target_unmatched_death", "input2_unmatched_death_coordinates"),
]


def assert_same_as_reference(m, r, context=""):
    for ours, theirs in _FIELDS:
        for d in range(2):
            a = getattr(m, ours)[d]
            b = np.asarray(getattr(r, theirs)[d]).reshape(-1, 2)
            assert a.shape == b.shape and np.array_equal(a, b), f"{context} {ours}[{d}]:\nours\n{a}\nreference\n{b}"
    assert np.array_equal(m.num_matched, np.asarray(r.num_matched))
    assert np.array_equal(m.num_unmatched_pred, np.asarray(r.num_unmatched_input1))
    assert np.array_equal(m.num_unmatched_target, np.asarray(r.num_unmatched_input2))


def reference_matching(f, g):
    return REF.compute_matching(np.ascontiguousarray(f, dtype=np.float64), np.ascontiguousarray(g, dtype=np.float64))


def check_sublevel(f, g):
    m = bm.betti_matching(f, g, filtration="sublevel", connectivity=4)
    assert_same_as_reference(m, reference_matching(f, g), "sublevel")
    # the default connectivity is the reference's
    assert_same_as_reference(bm.betti_matching(f, g, filtration="sublevel"), reference_matching(f, g), "default")


@given(pair=image_pairs(max_side=12))
def test_sublevel_equals_reference(pair):
    check_sublevel(*pair)


@pytest.mark.parametrize("kinds", [("float", "float"), ("ties", "ties"), ("float", "mask"), ("mask", "mask"), ("smooth", "mask"), ("smooth", "smooth")])
@pytest.mark.parametrize("seed", range(4))
def test_sublevel_equals_reference_seeded(seed, kinds):
    """Random sizes 1..40 on each side, 10 pairs per case."""
    rng = np.random.default_rng([seed, len(kinds[0]), len(kinds[1])])
    for i in range(10):
        shape = tuple(int(s) for s in rng.integers(1, 41, 2))
        f = seeded_images(int(rng.integers(2**32)), shape, kinds[0])
        g = seeded_images(int(rng.integers(2**32)), shape, kinds[1])
        check_sublevel(f, g)


def test_sublevel_equals_reference_larger():
    for seed, shape in enumerate([(96, 96), (128, 57), (1, 500), (300, 1)]):
        f = seeded_images(seed, shape, "smooth")
        g = seeded_images(seed + 100, shape, "mask")
        check_sublevel(f, g)
        check_sublevel(seeded_images(seed, shape, "float"), seeded_images(seed + 7, shape, "ties"))


@given(data=st.data())
def test_superlevel_equals_reference_on_one_minus_x(data):
    f, g = data.draw(image_pairs(max_side=12))
    dtype = data.draw(st.sampled_from([np.float64, np.float32]))
    f, g = f.astype(dtype), g.astype(dtype)
    m = bm.betti_matching(f, g, filtration="superlevel")
    assert_same_as_reference(m, reference_matching(sublevel_values(f, "superlevel"), sublevel_values(g, "superlevel")))
    # superlevel is the default filtration
    assert_same_as_reference(bm.betti_matching(f, g), reference_matching(1 - f, 1 - g) if dtype == np.float64 else
                             reference_matching((np.float32(1) - f).astype(np.float64), (np.float32(1) - g).astype(np.float64)))


def test_superlevel_float32_rounding_is_the_inputs():
    """1 - x in float32 merges values that float64 keeps apart; the result follows float32."""
    x = np.array([[0.0, 1e-9, 0.5], [2e-9, 0.9, 3e-9]], dtype=np.float32)
    y = np.array([[0.3, 0.2, 0.1], [0.0, 0.6, 0.7]], dtype=np.float32)
    m = bm.betti_matching(x, y)
    one = np.float32(1)
    assert_same_as_reference(m, reference_matching((one - x).astype(np.float64), (one - y).astype(np.float64)))


@given(x=images(max_side=12))
def test_barcode_equals_reference(x):
    r = REF.compute_barcode(np.ascontiguousarray(x, dtype=np.float64))
    b = bm.barcode(x, filtration="sublevel")
    for d in range(2):
        assert np.array_equal(b.birth[d], np.asarray(r.birth_coordinates[d]).reshape(-1, 2))
        assert np.array_equal(b.death[d], np.asarray(r.death_coordinates[d]).reshape(-1, 2))


def test_batch_equals_reference_batch():
    rng = np.random.default_rng(5)
    shapes = [tuple(int(s) for s in rng.integers(1, 30, 2)) for _ in range(12)]
    preds = [seeded_images(i, s, "smooth") for i, s in enumerate(shapes)]
    targets = [seeded_images(i + 50, s, "mask") for i, s in enumerate(shapes)]
    ours = bm.betti_matching_batch(preds, targets, filtration="sublevel", num_threads=2)
    theirs = REF.compute_matching([np.ascontiguousarray(p) for p in preds], [np.ascontiguousarray(t) for t in targets])
    assert len(ours) == len(theirs) == len(shapes)
    for m, r in zip(ours, theirs):
        assert_same_as_reference(m, r)
