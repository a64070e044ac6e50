"""The metrics (bettimatch.metrics) against independent oracles.

- Betti numbers: scipy.ndimage.label with the matching structures (4-connected foreground with
  8-connected background and vice versa; holes = background components off the border).
- Betti matching error: the general matching (bm.betti_matching on the masks as float images) plus
  the essential rule of DESIGN.md section 3.
- Dice / clDice: hand-computed values on small masks.
- The multi-class functions: against the one-pair functions, per image and class, and one native
  call per user call.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

import bettimatch as bm
from bettimatch import _core
from bettimatch import metrics as M

from conftest import masks, shapes

# --------------------------------------------------------------------------------------------
# oracles
# --------------------------------------------------------------------------------------------


def betti_oracle(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """(beta0, beta1) of a mask: scipy labelling of the foreground and of the holes."""
    mask = np.asarray(mask, dtype=bool)
    fg = ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    bg = ndi.generate_binary_structure(2, 2 if connectivity == 4 else 1)
    beta0 = ndi.label(mask, fg)[1]
    labels, n = ndi.label(~mask, bg)
    border = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))) - {0}
    return np.array([beta0, n - len(border)])


def matching_error_oracle(pred: np.ndarray, target: np.ndarray, connectivity: int) -> np.ndarray:
    """Unmatched finite bars of the general matching, plus the essential pair when exactly one mask
    is empty."""
    m = bm.betti_matching(pred.astype(np.float64), target.astype(np.float64), connectivity=connectivity)
    err = m.num_unmatched_pred + m.num_unmatched_target
    err[0] += int(pred.any() != target.any())
    return err


@st.composite
def mask_pairs(draw, max_side: int = 9):
    shape = draw(shapes(max_side))
    return draw(masks(shape)), draw(masks(shape))


def grid(rows):
    return np.array([[c == "#" for c in r] for r in rows])


# --------------------------------------------------------------------------------------------
# one pair against the oracles
# --------------------------------------------------------------------------------------------


@given(mask_pairs(), st.sampled_from([4, 8]))
def test_betti_number_error_matches_scipy_labelling(pair, connectivity):
    p, t = pair
    want = np.abs(betti_oracle(p, connectivity) - betti_oracle(t, connectivity))
    got = M.betti_number_error(p, t, per_dimension=True, connectivity=connectivity)
    assert got.dtype == np.int64 and np.array_equal(got, want)
    assert M.betti_number_error(p, t, connectivity=connectivity) == int(want.sum())


@given(mask_pairs(), st.sampled_from([4, 8]))
def test_betti_matching_error_matches_general_matching(pair, connectivity):
    p, t = pair
    want = matching_error_oracle(p, t, connectivity)
    got = M.betti_matching_error(p, t, per_dimension=True, connectivity=connectivity)
    assert np.array_equal(got, want)
    assert M.betti_matching_error(p, t, connectivity=connectivity) == int(want.sum())


def special_masks(shape=(17, 19)):
    """Empty, full, checkerboard (diagonal touches everywhere), nested rings, noise, blobs."""
    rows, cols = np.indices(shape)
    rings = np.zeros(shape, bool)
    for k in range(0, min(shape) // 2, 2):
        rings[k : shape[0] - k, k : shape[1] - k] = not rings[k, k] if k else True
        rings[k + 1 : shape[0] - k - 1, k + 1 : shape[1] - k - 1] = False
    rng = np.random.default_rng(0)
    return [
        np.zeros(shape, bool),
        np.ones(shape, bool),
        (rows + cols) % 2 == 0,
        rings,
        rng.random(shape) < 0.5,
        ndi.gaussian_filter(rng.standard_normal(shape), 1.5) > 0.2,
    ]


@pytest.mark.parametrize("connectivity", [4, 8])
def test_larger_and_special_masks_against_the_general_matching(connectivity):
    ms = special_masks()
    rng = np.random.default_rng(1)
    ms += [ndi.gaussian_filter(rng.standard_normal((40, 40)), s) > 0.1 for s in (1.0, 2.0)]
    pairs = [(a, b) for a in ms for b in ms if a.shape == b.shape]
    for p, t in pairs:
        want = matching_error_oracle(p, t, connectivity)
        assert np.array_equal(M.betti_matching_error(p, t, per_dimension=True, connectivity=connectivity), want)
        want_b = np.abs(betti_oracle(p, connectivity) - betti_oracle(t, connectivity))
        assert np.array_equal(M.betti_number_error(p, t, per_dimension=True, connectivity=connectivity), want_b)


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("shape", [(9, 63), (12, 64), (7, 65), (10, 128), (6, 200)])
def test_masks_across_word_boundaries_against_the_general_matching(connectivity, shape):
    # The mask path packs 64 pixels per word: widths around and past one and two words.
    rng = np.random.default_rng(shape[1])
    ms = [rng.random(shape) < d for d in (0.3, 0.5, 0.7)]
    ms += [ndi.gaussian_filter(rng.standard_normal(shape), s) > 0.0 for s in (0.7, 1.5)]
    ms.append(np.ones(shape, bool))
    for p in ms:
        for t in ms:
            want = matching_error_oracle(p, t, connectivity)
            assert np.array_equal(M.betti_matching_error(p, t, per_dimension=True, connectivity=connectivity), want)
            want_b = np.abs(betti_oracle(p, connectivity) - betti_oracle(t, connectivity))
            assert np.array_equal(M.betti_number_error(p, t, per_dimension=True, connectivity=connectivity), want_b)


@given(mask_pairs(), st.sampled_from([4, 8]))
def test_error_properties(pair, connectivity):
    p, t = pair
    e = M.betti_matching_error(p, t, per_dimension=True, connectivity=connectivity)
    # error(x, x) = 0, symmetry, BM error >= Betti number error per dimension.
    assert M.betti_matching_error(p, p, connectivity=connectivity) == 0
    assert np.array_equal(M.betti_matching_error(t, p, per_dimension=True, connectivity=connectivity), e)
    assert np.all(e >= M.betti_number_error(p, t, per_dimension=True, connectivity=connectivity))
    # Betti numbers do not depend on the orientation (the matching error may: see below).
    for f in (lambda x: x[::-1], lambda x: x[:, ::-1], lambda x: x.T):
        assert np.array_equal(
            M.betti_number_error(f(p), f(t), per_dimension=True, connectivity=connectivity),
            M.betti_number_error(p, t, per_dimension=True, connectivity=connectivity),
        )


def test_matching_error_of_masks_follows_the_pixel_order():
    """For masks every bar is born and dies at the same two levels, so which components pair up is
    decided by the index order (DESIGN.md section 3), and the error is not invariant under flips.
    Smallest example: pred {(0,0), (1,1)} and target {(0,0), (2,0)} (4-connected) score 2 (the
    objects at (1,1) and (2,0) are unmatched); flipped upside down, the oldest components are
    (1,1) and (0,0), the essential pair, and (2,0) matches (2,0): 0."""
    p = grid(["#..", ".#.", "..."])
    t = grid(["#..", "...", "#.."])
    assert M.betti_matching_error(p, t) == 2
    assert M.betti_matching_error(p[::-1], t[::-1]) == 0
    assert matching_error_oracle(p[::-1], t[::-1], 4).sum() == 0  # the general matching agrees


def test_specific_masks_with_known_errors():
    blob = grid(["......", ".##...", ".##...", "......"])
    two = grid(["......", ".##.##", ".##.##", "......"])
    ring = grid(["#####", "#...#", "#...#", "#####"])
    broken = grid(["#####", "#...#", "#....", "#####"])
    empty = np.zeros((4, 6), bool)
    # Empty prediction against one object: the essential class is one error (not 0).
    assert M.betti_matching_error(empty, blob) == 1
    assert list(M.betti_matching_error(empty, two, per_dimension=True)) == [2, 0]
    assert M.betti_matching_error(empty, empty) == 0
    assert M.betti_number_error(empty, blob, per_dimension=True).tolist() == [1, 0]
    # A split object: one extra component.
    assert list(M.betti_matching_error(two, blob, per_dimension=True)) == [1, 0]
    # A broken ring loses its hole.
    assert list(M.betti_matching_error(broken, ring, per_dimension=True)) == [0, 1]
    assert list(M.betti_number_error(broken, ring, per_dimension=True)) == [0, 1]
    # Diagonal touch: one component with 8-connectivity, two with 4.
    diag = grid(["#.", ".#"])
    one = grid(["#.", ".."])
    assert M.betti_number_error(diag, one, connectivity=4) == 1
    assert M.betti_number_error(diag, one, connectivity=8) == 0


def test_binarization_and_input_types():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    prob_p, prob_t = rng.random((12, 12)), rng.random((12, 12))
    p, t = prob_p > 0.5, prob_t > 0.5
    want = M.betti_matching_error(p, t, per_dimension=True)
    for a, b in [
        (prob_p, prob_t),
        (prob_p.astype(np.float32), prob_t.astype(np.float32)),
        (p.astype(np.uint8), t.astype(np.uint8)),
        (p.astype(np.uint8) * 255, t.astype(np.uint8) * 255),
        (torch.from_numpy(prob_p), torch.from_numpy(prob_t)),
    ]:
        assert np.array_equal(M.betti_matching_error(a, b, per_dimension=True), want)
    # Strictly greater than the threshold: exactly 0.5 is background.
    half = np.full((3, 3), 0.5)
    assert M.dice(half, half) != M.dice(half, half)  # both empty -> NaN
    assert M.dice(half, half, threshold=0.49) == 1.0
    # Boolean masks ignore the threshold.
    assert M.dice(p, t, threshold=0.99) == M.dice(p, t)
    with pytest.raises(ValueError, match="NaN"):
        M.dice(np.full((3, 3), np.nan), half)
    with pytest.raises(ValueError, match="shape"):
        M.betti_matching_error(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2D image or a 3D volume"):
        M.betti_matching_error(np.zeros((2, 2, 3, 3)), np.zeros((2, 2, 3, 3)))
    with pytest.raises(ValueError, match="connectivity"):
        M.betti_matching_error(p, t, connectivity=6)
    with pytest.raises(ValueError, match="threshold"):
        M.dice(p, t, threshold=float("nan"))


# --------------------------------------------------------------------------------------------
# Dice and clDice by hand
# --------------------------------------------------------------------------------------------


def test_dice_by_hand():
    p = grid(["##..", "##..", "...."])  # 4 pixels
    t = grid([".##.", ".##.", ".##."])  # 6 pixels, overlap 2
    assert M.dice(p, t) == pytest.approx(2 * 2 / (4 + 6))
    assert M.dice(p, p) == 1.0
    assert M.dice(p, np.zeros_like(p)) == 0.0
    assert np.isnan(M.dice(np.zeros_like(p), np.zeros_like(p)))


def test_cldice_by_hand():
    # Target: a 3-pixel-thick bar whose skeleton is its middle row (columns 1..7 of row 2 here,
    # as skimage.morphology.thin also gives). Prediction: that middle row only, columns 1..4.
    t = grid(["..........", ".########.", ".########.", ".########.", ".........."])
    p = grid(["..........", "..........", ".####.....", "..........", ".........."])
    st_ = M.skeletonize(t)
    sp = M.skeletonize(p)
    assert np.array_equal(sp, p)  # a line is its own skeleton
    assert st_[2].sum() == st_.sum() and st_.sum() > 0  # the bar thins to a piece of its middle row
    tprec = (sp & t).sum() / sp.sum()  # = 1: the predicted line lies in the target
    tsens = (st_ & p).sum() / st_.sum()  # the part of the target's centerline covered
    assert tprec == 1.0
    assert M.cldice(p, t) == pytest.approx(2 * tprec * tsens / (tprec + tsens))
    # Hand numbers for this shape: the skeleton is row 2, columns 2..7 (6 pixels), 3 of them
    # (columns 2..4) covered by the prediction: Tsens = 1/2, clDice = 2/3.
    assert st_.sum() == 6 and tsens == 0.5
    assert M.cldice(p, t) == pytest.approx(2 / 3)
    # Disjoint: 0. Identical: 1. One empty: 0. Both empty: NaN.
    far = grid(["#.........", "..........", "..........", "..........", ".........."])
    assert M.cldice(far, t) == 0.0
    assert M.cldice(t, t) == 1.0
    assert M.cldice(np.zeros_like(t), t) == 0.0
    assert np.isnan(M.cldice(np.zeros_like(t), np.zeros_like(t)))


def test_cldice_zhang_suen_vanished_skeleton_uses_the_mask():
    # Zhang-Suen erases a 2x2 square; the square then stands in for its own skeleton.
    sq = grid(["....", ".##.", ".##.", "...."])
    assert not M.skeletonize(sq, thinning="zhang-suen").any()
    assert M.cldice(sq, sq, thinning="zhang-suen") == 1.0
    assert M.cldice(sq, sq) == 1.0
    with pytest.raises(ValueError, match="thinning"):
        M.cldice(sq, sq, thinning="medial-axis")


# --------------------------------------------------------------------------------------------
# multi-class
# --------------------------------------------------------------------------------------------


def random_labels(rng, shape, num_classes):
    x = ndi.gaussian_filter(rng.standard_normal((num_classes,) + shape), (0, 1.2, 1.2))
    return x.argmax(0)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(7)
    c = 4
    y_pred = np.stack([random_labels(rng, (20, 24), c) for _ in range(3)])
    y = np.stack([random_labels(rng, (20, 24), c) for _ in range(3)])
    y[1][y[1] == 2] = 0  # class 2 absent from one target
    y_pred[1][y_pred[1] == 2] = 0  # ... and from its prediction: Dice undefined there
    return y_pred, y, c


def onehot(labels, c):
    return labels[:, None] == np.arange(c)[None, :, None, None]


def test_multiclass_equals_single_pairs(batch):
    y_pred, y, c = batch
    for include_background in (False, True):
        classes = list(range(0 if include_background else 1, c))
        kw = dict(include_background=include_background, num_classes=c)
        bme = M.compute_betti_matching_error(y_pred, y, per_dimension=True, **kw)
        bne = M.compute_betti_number_error(y_pred, y, per_dimension=True, **kw)
        dice = M.compute_dice(y_pred, y, **kw)
        cld = M.compute_cldice(y_pred, y, **kw)
        assert bme.shape == bne.shape == (3, len(classes), 2) and dice.shape == cld.shape == (3, len(classes))
        assert bme.dtype == np.float64
        for b in range(3):
            for k, cls in enumerate(classes):
                p, t = y_pred[b] == cls, y[b] == cls
                assert np.array_equal(bme[b, k], M.betti_matching_error(p, t, per_dimension=True))
                assert np.array_equal(bne[b, k], M.betti_number_error(p, t, per_dimension=True))
                np.testing.assert_equal(dice[b, k], M.dice(p, t))
                np.testing.assert_equal(cld[b, k], M.cldice(p, t))
        summed = M.compute_betti_matching_error(y_pred, y, **kw)
        assert np.array_equal(summed, bme.sum(-1))


def test_nan_exactly_where_both_masks_are_empty(batch):
    y_pred, y, c = batch
    dice = M.compute_dice(y_pred, y, num_classes=c)
    cld = M.compute_cldice(y_pred, y, num_classes=c)
    both_empty = ~(onehot(y_pred, c)[:, 1:].any((2, 3)) | onehot(y, c)[:, 1:].any((2, 3)))
    assert both_empty.any()
    assert np.array_equal(np.isnan(dice), both_empty) and np.array_equal(np.isnan(cld), both_empty)
    assert not np.isnan(M.compute_betti_matching_error(y_pred, y, num_classes=c)).any()
    # A prediction on an empty target scores 0 (not NaN).
    yp2 = y_pred.copy()
    yp2[1, :2, :2] = 2
    d2 = M.compute_dice(yp2, y, num_classes=c)
    assert d2[1, 1] == 0.0


def test_input_formats_agree(batch):
    torch = pytest.importorskip("torch")
    y_pred, y, c = batch
    want = M.compute_betti_matching_error(y_pred, y, num_classes=c)
    variants = [
        (onehot(y_pred, c), onehot(y, c), None),
        (onehot(y_pred, c).astype(np.float32), onehot(y, c).astype(np.uint8), None),
        (onehot(y_pred, c), y[:, None], None),  # one-hot prediction, label-map target
        (y_pred[:, None], y[:, None], c),
        (y_pred.astype(np.float64), y.astype(np.int32), c),
        (torch.from_numpy(onehot(y_pred, c)), torch.from_numpy(y), c),
    ]
    for a, b, nc in variants:
        assert np.array_equal(M.compute_betti_matching_error(a, b, num_classes=nc), want)
    # Probabilities binarized with the threshold.
    probs = onehot(y_pred, c) * 0.8 + 0.1
    assert np.array_equal(M.compute_betti_matching_error(probs, y, num_classes=c), want)
    # Threads do not change anything.
    for n in (1, 3):
        assert np.array_equal(M.compute_betti_matching_error(y_pred, y, num_classes=c, num_threads=n), want)


def test_single_channel_one_hot_keeps_its_channel():
    p = np.zeros((2, 1, 6, 6), bool)
    t = np.zeros((2, 1, 6, 6), bool)
    t[:, 0, 1:3, 1:3] = True
    out = M.compute_betti_matching_error(p, t)
    assert out.shape == (2, 1) and np.all(out == 1)


def test_multiclass_errors(batch):
    y_pred, y, c = batch
    with pytest.raises(ValueError, match="num_classes is required"):
        M.compute_betti_matching_error(y_pred, y)
    with pytest.raises(ValueError, match="label value 4"):
        M.compute_betti_matching_error(y_pred, np.where(y == 1, 4, y), num_classes=c)
    with pytest.raises(ValueError, match="label value -1"):
        M.compute_dice(y_pred, np.where(y == 1, -1, y), num_classes=c)
    with pytest.raises(ValueError, match="integer class indices"):
        M.compute_dice(y_pred + 0.5, y, num_classes=c)
    with pytest.raises(ValueError, match="channels but num_classes"):
        M.compute_dice(onehot(y_pred, c), y, num_classes=c + 1)
    with pytest.raises(ValueError, match="do not match"):
        M.compute_dice(y_pred[:, :, :10], y, num_classes=c)
    with pytest.raises(ValueError, match=r"\(B, C, D, H, W\)"):
        M.compute_dice(np.zeros((1, 2, 3, 4, 5, 6)), np.zeros((1, 2, 3, 4, 5, 6)))
    with pytest.raises(ValueError, match="num_threads"):
        M.compute_betti_matching_error(y_pred, y, num_classes=c, num_threads=0)
    with pytest.raises(ValueError, match="per-dimension"):
        M.compute_dice(y_pred, y, num_classes=c, per_dimension=True)


def test_one_native_call_per_user_call(batch, monkeypatch):
    y_pred, y, c = batch
    calls = {"counts": 0, "skeletons": 0}
    counts, skel = _core.mask_matching_counts, _core.skeletonize_batch

    def counting_counts(*a, **k):
        calls["counts"] += 1
        return counts(*a, **k)

    def counting_skel(*a, **k):
        calls["skeletons"] += 1
        return skel(*a, **k)

    monkeypatch.setattr(_core, "mask_matching_counts", counting_counts)
    monkeypatch.setattr(_core, "skeletonize_batch", counting_skel)
    M.compute_betti_matching_error(y_pred, y, num_classes=c)
    M.compute_betti_number_error(y_pred, y, num_classes=c, per_dimension=True)
    assert calls == {"counts": 2, "skeletons": 0}
    M.compute_cldice(y_pred, y, num_classes=c)
    assert calls["skeletons"] == 1
    M.mask_metrics([y_pred[0] == 1, y_pred[1] == 2], [y[0] == 1, y[1] == 2])
    assert calls == {"counts": 3, "skeletons": 2}


def test_public_names():
    for name in ("betti_matching_error", "betti_number_error", "dice", "cldice"):
        assert getattr(bm, name) is getattr(M, name)
        assert name in bm.__all__
    # plot_matching is reachable but not in __all__: a star import must not need matplotlib.
    assert "plot_matching" not in bm.__all__ and callable(bm.plot_matching)


# --------------------------------------------------------------------------------------------
# label dtypes, label ranges and NaN
# --------------------------------------------------------------------------------------------

LABEL_DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64, np.uint64, np.float32]


@st.composite
def label_pairs(draw):
    """Two (B, H, W) label maps with values below min(num_classes, 128) and their num_classes."""
    num_classes = draw(st.integers(2, 300))
    shape = (draw(st.integers(1, 2)),) + draw(shapes(7))
    values = st.integers(0, min(num_classes, 128) - 1)
    y_pred = draw(hnp.arrays(np.int64, shape, elements=values))
    y = draw(hnp.arrays(np.int64, shape, elements=values))
    return y_pred, y, num_classes


def multiclass_values(y_pred, y, num_classes):
    return (
        M.compute_betti_matching_error(y_pred, y, num_classes=num_classes, per_dimension=True),
        M.compute_dice(y_pred, y, num_classes=num_classes),
        M.compute_cldice(y_pred, y, num_classes=num_classes),
    )


@given(label_pairs(), st.sampled_from(LABEL_DTYPES))
def test_label_dtype_does_not_change_the_result(pair, dtype):
    y_pred, y, num_classes = pair
    want = multiclass_values(y_pred, y, num_classes)
    got = multiclass_values(y_pred.astype(dtype), y.astype(dtype), num_classes)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.int64])
@pytest.mark.parametrize("num_classes", [2, 255, 256, 257, 300, 1000])
def test_narrow_label_dtypes_with_many_classes(dtype, num_classes):
    # Classes past the label dtype's range are absent from both maps: Dice NaN, no errors. Before,
    # the class indices were built in the label dtype and wrapped (class 256 of uint8 labels = 0).
    rng = np.random.default_rng(num_classes)
    top = 1 if dtype is np.bool_ else min(num_classes, np.iinfo(dtype).max + 1) - 1
    y_pred, y = rng.integers(0, top + 1, (2, 2, 9, 8))
    dice = M.compute_dice(y_pred.astype(dtype), y.astype(dtype), num_classes=num_classes, include_background=True)
    bme = M.compute_betti_matching_error(y_pred.astype(dtype), y.astype(dtype), num_classes=num_classes, include_background=True)
    assert dice.shape == bme.shape == (2, num_classes)
    for c in range(num_classes):
        for b in range(2):
            p, t = y_pred[b] == c, y[b] == c
            np.testing.assert_equal(dice[b, c], M.dice(p, t))
            assert bme[b, c] == M.betti_matching_error(p, t)
    assert np.isnan(dice[:, top + 1 :]).all() and (bme[:, top + 1 :] == 0).all()


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.float32])
@pytest.mark.parametrize("argument", ["y_pred", "y"])
def test_negative_labels_are_refused_naming_the_argument(dtype, argument):
    labels = {"y_pred": np.zeros((1, 4, 4), dtype), "y": np.zeros((1, 4, 4), dtype)}
    labels[argument][0, 2, 1] = -3
    with pytest.raises(ValueError, match=rf"^{argument}: label value -3 outside \[0, 300\) \(num_classes=300\)$"):
        M.compute_dice(labels["y_pred"], labels["y"], num_classes=300)


@pytest.mark.parametrize("dtype, bad", [(np.uint8, 200), (np.int8, 100), (np.uint16, 4000), (np.bool_, 1)])
@pytest.mark.parametrize("argument", ["y_pred", "y"])
def test_labels_not_below_num_classes_are_refused_naming_the_argument(dtype, bad, argument):
    labels = {"y_pred": np.zeros((1, 4, 4), dtype), "y": np.zeros((1, 4, 4), dtype)}
    labels[argument][0, 1, 1] = bad
    with pytest.raises(ValueError, match=rf"^{argument}: label value {bad} outside \[0, {bad}\)"):
        M.compute_betti_matching_error(labels["y_pred"], labels["y"], num_classes=bad)


@pytest.mark.parametrize(
    "function", [M.compute_betti_matching_error, M.compute_betti_number_error, M.compute_dice, M.compute_cldice]
)
@pytest.mark.parametrize("argument", ["y_pred", "y"])
def test_nan_likelihoods_are_refused_naming_argument_and_position(function, argument):
    maps = {"y_pred": np.full((2, 3, 6, 5), 0.2), "y": np.full((2, 3, 6, 5), 0.7)}
    maps[argument][1, 2, 3, 4] = np.nan
    with pytest.raises(ValueError, match=rf"^{argument}\[1, 2\]: value at \(3, 4\) is NaN$"):
        function(maps["y_pred"], maps["y"])
    # a label map given as floats: the message names the image
    labels = np.zeros((2, 6, 5))
    labels[1, 3, 4] = np.nan
    with pytest.raises(ValueError, match=r"^y\[1\]: value at \(3, 4\) is NaN$"):
        function(maps["y_pred"] if argument == "y" else np.zeros((2, 3, 6, 5)), labels)


@pytest.mark.parametrize("function", [M.betti_matching_error, M.betti_number_error, M.dice, M.cldice, M.skeletonize])
def test_nan_in_one_pair_is_refused_naming_the_position(function):
    x = np.zeros((5, 6), np.float32)
    x[4, 1] = np.nan
    name = "mask" if function is M.skeletonize else "pred"
    with pytest.raises(ValueError, match=rf"^{name}: value at \(4, 1\) is NaN$"):
        function(x) if function is M.skeletonize else function(x, np.zeros((5, 6)))
    if function is not M.skeletonize:
        with pytest.raises(ValueError, match=r"^target: value at \(4, 1\) is NaN$"):
            function(np.zeros((5, 6)), x)


def test_infinite_likelihoods_binarize_like_any_other_value():
    # Unlike NaN an infinity has a side of the threshold; the losses refuse it because it poisons
    # the gradient, a metric has no gradient.
    x = np.zeros((1, 2, 6, 6))
    x[0, 1, 1:3, 1:3] = np.inf
    x[0, 0] = -np.inf
    np.testing.assert_array_equal(M.compute_betti_matching_error(x, x > 0.5), [[0.0]])
    np.testing.assert_array_equal(M.compute_dice(x, x > 0.5), [[1.0]])
