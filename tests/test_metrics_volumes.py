"""Metrics of 3D masks (connectivity 6 and 26): Betti numbers against scipy labelling and the
Euler characteristic, the Betti matching error against Betti-Matching-3D's counts (plus the
essential rule; connectivity 6) and against the full matching's bars (26), one-voxel-thick volumes
against the 2D mask path, and hand-made solids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import bettimatch as bm
from conftest import _reference

EMPTY = np.zeros((1, 1, 1), dtype=bool)


def betti(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    """The Betti numbers of a mask: its Betti number error against the empty mask."""
    return bm.betti_number_error(mask, np.zeros_like(mask), per_dimension=True, connectivity=connectivity)


def labelled_betti(mask: np.ndarray, connectivity: int = 6):
    """(β0, β1, β2) by labelling: foreground components (6- or 26-connected), background
    components of the other connectivity off the border (cavities), β1 from the Euler
    characteristic (skimage; its connectivity 1 is the 6-connected foreground's, 3 the
    26-connected one's)."""
    from skimage.measure import euler_number

    fg, bg = (1, 3) if connectivity == 6 else (3, 1)
    b0 = ndimage.label(mask, ndimage.generate_binary_structure(3, fg))[1]
    padded = np.pad(~mask, 1, constant_values=True)
    b2 = ndimage.label(padded, ndimage.generate_binary_structure(3, bg))[1] - 1
    chi = euler_number(np.pad(mask, 1), connectivity=fg)
    return b0, b0 + b2 - chi, b2


@settings(max_examples=120, deadline=None)
@given(mask=hnp.arrays(np.bool_, st.tuples(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7))), connectivity=st.sampled_from([6, 26]))
def test_betti_numbers_equal_labelling_and_euler(mask, connectivity):
    assert tuple(int(v) for v in betti(mask, connectivity)) == labelled_betti(mask, connectivity)


def test_26_connected_matching_error_counts_the_full_matching():
    """The mask path's counts (births only for the inputs' loops) against the unmatched bars of
    the general matching of the same two-level values."""
    rng = np.random.default_rng(24)
    for case in range(40):
        shape = tuple(int(s) for s in rng.integers(2, 10, 3))
        p = rng.random(shape) < rng.uniform(0.2, 0.8)
        t = ndimage.binary_dilation(p) if case % 4 == 0 else rng.random(shape) < rng.uniform(0.2, 0.8)
        m = bm.betti_matching(p.astype(np.float64), t.astype(np.float64), connectivity=26)
        want = [len(m.pred_unmatched_birth[d]) + len(m.target_unmatched_birth[d]) for d in range(3)]
        want[0] += p.any() != t.any()
        assert list(bm.betti_matching_error(p, t, per_dimension=True, connectivity=26)) == want, case


def test_hand_made_solids():
    hollow = np.ones((5, 5, 5), dtype=bool)
    hollow[2, 2, 2] = False
    assert list(betti(hollow)) == [1, 0, 1]
    diagonal = np.zeros((2, 2, 2), dtype=bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True
    assert list(betti(diagonal)) == [2, 0, 0] and list(betti(diagonal, 26)) == [1, 0, 0]
    # Six voxels around an empty centre touch only along edges: a cavity for the 6-connected
    # background only if the background cannot leak through the corners (it cannot: 6-connected).
    star = np.ones((3, 3, 3), dtype=bool)
    star[1, 1, 1] = False
    assert list(betti(star, 26)) == [1, 0, 1]
    torus = np.zeros((3, 5, 5), dtype=bool)
    torus[1, 1:4, 1:4] = True
    torus[1, 2, 2] = False
    assert list(betti(torus)) == [1, 1, 0]
    two = np.zeros((3, 3, 5), dtype=bool)
    two[1, 1, 0] = two[1, 1, 4] = True
    assert list(betti(two)) == [2, 0, 0]
    assert list(betti(np.zeros((4, 4, 4), dtype=bool))) == [0, 0, 0]
    assert list(betti(np.ones((4, 4, 4), dtype=bool))) == [1, 0, 0]
    # A hollow cube against a solid one: the cavity is the only error; against the empty mask,
    # the essential component too.
    assert list(bm.betti_matching_error(hollow, np.ones_like(hollow), per_dimension=True)) == [0, 0, 1]
    assert list(bm.betti_matching_error(hollow, np.zeros_like(hollow), per_dimension=True)) == [1, 0, 1]


REF, _WHY = _reference()


@pytest.mark.skipif(REF is None, reason=f"reference Betti-Matching-3D extension not available: {_WHY}")
def test_matching_error_equals_betti_matching_3d_counts():
    rng = np.random.default_rng(21)
    for case in range(40):
        shape = tuple(int(s) for s in rng.integers(2, 12, 3))
        p = rng.random(shape) < rng.uniform(0.2, 0.8)
        t = rng.random(shape) < rng.uniform(0.2, 0.8)
        if case % 5 == 0:
            t = ndimage.binary_dilation(p, iterations=1) if case % 2 else np.zeros(shape, dtype=bool)
        r = REF.compute_matching(np.ascontiguousarray(1.0 - p), np.ascontiguousarray(1.0 - t))
        want = np.asarray(r.num_unmatched_input1, dtype=np.int64) + np.asarray(r.num_unmatched_input2, dtype=np.int64)
        want[0] += p.any() != t.any()  # the essential component, which the reference drops
        assert list(bm.betti_matching_error(p, t, per_dimension=True)) == list(want), (case, shape)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_one_voxel_thick_volume_has_its_slice_errors(axis):
    """The 2D mask path (labelling) and the 3D one (general matching) are independent."""
    rng = np.random.default_rng([22, axis])
    for _ in range(30):
        p, t = rng.random((9, 11)) < 0.5, rng.random((9, 11)) < 0.5
        p3, t3 = np.expand_dims(p, axis), np.expand_dims(t, axis)
        for f in (bm.betti_matching_error, bm.betti_number_error):
            assert list(f(p3, t3, per_dimension=True)) == list(f(p, t, per_dimension=True)) + [0]
            assert list(f(p3, t3, per_dimension=True, connectivity=26)) == list(f(p, t, per_dimension=True, connectivity=8)) + [0]
        assert bm.dice(p3, t3) == bm.dice(p, t)


def test_likelihood_volumes_are_thresholded_and_bad_input_refused():
    rng = np.random.default_rng(23)
    x, y = rng.random((6, 7, 8)), rng.random((6, 7, 8))
    assert bm.betti_matching_error(x, y, threshold=0.3) == bm.betti_matching_error(x > 0.3, y > 0.3)
    with pytest.raises(ValueError, match="shape"):
        bm.betti_matching_error(x, y[:, :, :4])
    with pytest.raises(ValueError, match="connectivity"):
        bm.betti_number_error(x, y, connectivity=8)
    with pytest.raises(ValueError, match="NaN"):
        bm.dice(np.full((2, 2, 2), np.nan), x[:2, :2, :2])


# ----------------------------------------------------------------------------- multi-class volumes


def test_multiclass_volumes_equal_the_per_class_singles():
    from bettimatch.metrics import compute_betti_matching_error, compute_betti_number_error, compute_dice

    rng = np.random.default_rng(24)
    labels_pred = rng.integers(0, 3, (2, 6, 7, 8))
    labels = rng.integers(0, 3, (2, 6, 7, 8))
    onehot_pred = np.moveaxis(np.eye(3, dtype=bool)[labels_pred], -1, 1)  # (B, C, D, H, W)
    err = compute_betti_matching_error(onehot_pred, labels[:, None], num_classes=3, per_dimension=True)
    assert err.shape == (2, 2, 3)
    for b in range(2):
        for c in (1, 2):
            want = bm.betti_matching_error(labels_pred[b] == c, labels[b] == c, per_dimension=True)
            assert list(err[b, c - 1]) == list(want)
            assert compute_betti_number_error(onehot_pred, labels[:, None], num_classes=3)[b, c - 1] == bm.betti_number_error(labels_pred[b] == c, labels[b] == c)
            assert compute_dice(onehot_pred, labels[:, None], num_classes=3)[b, c - 1] == bm.dice(labels_pred[b] == c, labels[b] == c)
    # (B, D, H, W) label volumes only with spatial_dims=3; by default a 4-D array is (B, C, H, W).
    by_labels = compute_betti_matching_error(labels_pred, labels, num_classes=3, spatial_dims=3, per_dimension=True)
    assert np.array_equal(by_labels, err)
    with pytest.raises(ValueError, match="spatial_dims=3"):
        compute_betti_matching_error(labels_pred, labels, num_classes=3)  # (B, C=6, H, W)? refused


def test_the_4d_rule_is_documented_and_never_silent():
    from bettimatch.metrics import compute_betti_matching_error

    vol = np.zeros((1, 8, 8, 8), dtype=np.int64)
    vol[0, 2:5, 2:5, 2:5] = 1
    with pytest.raises(ValueError, match="spatial_dims"):
        compute_betti_matching_error(vol, vol, num_classes=2, spatial_dims=4)
    with pytest.raises(ValueError, match=r"5-D arrays are volumes"):
        compute_betti_matching_error(vol[:, None], vol[:, None, 0], num_classes=2, spatial_dims=2)
    assert compute_betti_matching_error(vol, vol, num_classes=2, spatial_dims=3).shape == (1, 1)
