"""Properties that must hold for every input (hypothesis).

What is NOT claimed here: that flipping or transposing both inputs preserves the matching counts.
It does not, neither in bettimatch nor in the reference (Betti-Matching-3D): equal values are
ordered by pixel index, and cells tie even on tie-free pixels (an edge takes its later vertex's
value), so which bar of the comparison image an input bar reaches can depend on the grid's
orientation. ``test_flip_changes_counts_known_case`` pins a 1x4 tie-free example (xfail, strict).
Flips do preserve the barcodes and, hence, the per-side totals; those are tested.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage

import bettimatch as bm

from conftest import (
    CONNECTIVITIES,
    FILTRATIONS,
    assert_barcodes_equal,
    assert_matchings_equal,
    check_matching_consistency,
    image_pairs,
    images,
    images_of_kind,
    masks,
    matching_counts,
    rows,
    shapes,
    sublevel_values,
    tie_free_images,
)

settings_options = st.sampled_from([(f, c) for f in FILTRATIONS for c in CONNECTIVITIES])


# --- matching with itself, symmetry, consistency ---------------------------------------------------


@given(x=images(max_side=10), opts=settings_options)
def test_matching_with_itself_matches_every_bar(x, opts):
    filtration, connectivity = opts
    bc = bm.barcode(x, filtration=filtration, connectivity=connectivity)
    m = bm.betti_matching(x, x.copy(), filtration=filtration, connectivity=connectivity)
    assert matching_counts(m) == (tuple(bc.num_pairs()), (0, 0), (0, 0))
    for d in range(2):
        # each bar is matched with itself
        assert np.array_equal(m.pred_matched_birth[d], m.target_matched_birth[d])
        assert np.array_equal(m.pred_matched_death[d], m.target_matched_death[d])
        assert sorted(zip(rows(m.pred_matched_birth[d]), rows(m.pred_matched_death[d]))) == sorted(
            zip(rows(bc.birth[d]), rows(bc.death[d]))
        )
    assert np.array_equal(m.pred_essential[0], m.target_essential[0])


@given(pair=image_pairs(max_side=10), opts=settings_options)
def test_swapping_pred_and_target_swaps_the_sides(pair, opts):
    filtration, connectivity = opts
    f, g = pair
    a = bm.betti_matching(f, g, filtration=filtration, connectivity=connectivity)
    b = bm.betti_matching(g, f, filtration=filtration, connectivity=connectivity)
    assert np.array_equal(a.num_matched, b.num_matched)
    assert np.array_equal(a.num_unmatched_pred, b.num_unmatched_target)
    assert np.array_equal(a.num_unmatched_target, b.num_unmatched_pred)
    for d in range(2):
        for side, other in (("pred", "target"), ("target", "pred")):
            for what in ("matched_birth", "matched_death", "unmatched_birth", "unmatched_death"):
                # same pairs, same row order
                assert np.array_equal(getattr(a, f"{side}_{what}")[d], getattr(b, f"{other}_{what}")[d]), (side, what, d)
        assert np.array_equal(a.pred_essential[d], b.target_essential[d])


@given(pair=image_pairs(max_side=10), opts=settings_options)
def test_matching_partitions_both_barcodes(pair, opts):
    """Matched + unmatched bars of each side are exactly that side's barcode; matched bars are
    distinct; the essential components are the barcodes' own."""
    filtration, connectivity = opts
    f, g = pair
    m = bm.betti_matching(f, g, filtration=filtration, connectivity=connectivity)
    check_matching_consistency(
        m,
        bm.barcode(f, filtration=filtration, connectivity=connectivity),
        bm.barcode(g, filtration=filtration, connectivity=connectivity),
    )


# --- batches and threads ---------------------------------------------------------------------------


@st.composite
def batches(draw, same_shape=False):
    n = draw(st.integers(1, 6))
    shape = draw(shapes(8))
    pairs = []
    for _ in range(n):
        if not same_shape:
            shape = draw(shapes(8))
        f = draw(images_of_kind(draw(st.sampled_from(["float", "ties", "mask"])), shape))
        g = draw(images_of_kind(draw(st.sampled_from(["float", "ties", "mask"])), shape))
        pairs.append((f, g))
    return pairs


@given(pairs=batches(), opts=settings_options)
def test_batch_equals_singles(pairs, opts):
    filtration, connectivity = opts
    preds, targets = [p for p, _ in pairs], [t for _, t in pairs]
    batch = bm.betti_matching_batch(preds, targets, filtration=filtration, connectivity=connectivity)
    assert len(batch) == len(pairs)
    for i, (f, g) in enumerate(pairs):
        assert_matchings_equal(batch[i], bm.betti_matching(f, g, filtration=filtration, connectivity=connectivity), f"item {i}")
    bcs = bm.barcode_batch(preds, filtration=filtration, connectivity=connectivity)
    for i, f in enumerate(preds):
        assert_barcodes_equal(bcs[i], bm.barcode(f, filtration=filtration, connectivity=connectivity), f"item {i}")


@given(pairs=batches(same_shape=True), opts=settings_options)
def test_stacked_batch_equals_list_batch(pairs, opts):
    filtration, connectivity = opts
    preds = np.stack([p for p, _ in pairs])
    targets = np.stack([t for _, t in pairs])
    stacked = bm.betti_matching_batch(preds, targets, filtration=filtration, connectivity=connectivity)
    listed = bm.betti_matching_batch(list(preds), list(targets), filtration=filtration, connectivity=connectivity)
    for i, (a, b) in enumerate(zip(stacked, listed)):
        assert_matchings_equal(a, b, f"item {i}")
    for a, b in zip(
        bm.barcode_batch(preds, filtration=filtration, connectivity=connectivity),
        bm.barcode_batch(list(preds), filtration=filtration, connectivity=connectivity),
    ):
        assert_barcodes_equal(a, b)


def test_results_independent_of_num_threads():
    rng = np.random.default_rng(3)
    shapes_ = [tuple(int(s) for s in rng.integers(1, 40, 2)) for _ in range(17)]
    preds = [rng.random(s) for s in shapes_]
    targets = [(rng.random(s) < 0.5) for s in shapes_]
    for filtration in FILTRATIONS:
        for connectivity in CONNECTIVITIES:
            runs = {
                n: bm.betti_matching_batch(preds, targets, filtration=filtration, connectivity=connectivity, num_threads=n)
                for n in (None, 1, 2, 3)
            }
            for n in (None, 2, 3):
                for i, (a, b) in enumerate(zip(runs[1], runs[n])):
                    assert_matchings_equal(a, b, f"num_threads={n} item {i}")
            bruns = {n: bm.barcode_batch(preds, filtration=filtration, connectivity=connectivity, num_threads=n) for n in (1, 3)}
            for a, b in zip(bruns[1], bruns[3]):
                assert_barcodes_equal(a, b)


def test_empty_batch():
    assert bm.betti_matching_batch([], []) == []
    assert bm.barcode_batch([]) == []


# --- flips and transposes ----------------------------------------------------------------------------

TRANSFORMS = {
    "fliplr": (np.fliplr, lambda rc, shape: (rc[0], shape[1] - 1 - rc[1])),
    "flipud": (np.flipud, lambda rc, shape: (shape[0] - 1 - rc[0], rc[1])),
    "transpose": (np.transpose, lambda rc, shape: (rc[1], rc[0])),
    "rot180": (lambda a: a[::-1, ::-1], lambda rc, shape: (shape[0] - 1 - rc[0], shape[1] - 1 - rc[1])),
}


def value_bars(x, filtration, connectivity):
    """Bars as values of the filtered function (x or 1 - x): those are what flips preserve. (The
    reported ``birth_value`` is x at the reported pixel, which may differ between pixels that tie
    in 1 - x, e.g. x = 0 and x = 1e-38.)"""
    y = sublevel_values(x, filtration)
    bc = bm.barcode(x, filtration=filtration, connectivity=connectivity)
    return [Counter(zip(y[tuple(bc.birth[d].T)].tolist(), y[tuple(bc.death[d].T)].tolist())) for d in range(2)]


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@given(x=images(max_side=9), opts=settings_options)
def test_flips_preserve_barcode_values(name, x, opts):
    filtration, connectivity = opts
    t, _ = TRANSFORMS[name]
    assert value_bars(t(x), filtration, connectivity) == value_bars(x, filtration, connectivity)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@given(data=st.data(), opts=settings_options)
def test_flips_move_barcode_locations_on_tie_free_inputs(name, data, opts):
    filtration, connectivity = opts
    x = data.draw(tie_free_images(data.draw(shapes(9))))
    t, move = TRANSFORMS[name]
    a = bm.barcode(x, filtration=filtration, connectivity=connectivity)
    b = bm.barcode(t(x), filtration=filtration, connectivity=connectivity)
    for d in range(2):
        moved = sorted((move(p, x.shape), move(q, x.shape)) for p, q in zip(rows(a.birth[d]), rows(a.death[d])))
        assert moved == sorted(zip(rows(b.birth[d]), rows(b.death[d])))
    assert [move(p, x.shape) for p in rows(a.essential[0])] == rows(b.essential[0])


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@given(pair=image_pairs(max_side=9), opts=settings_options)
def test_flips_preserve_matching_totals(name, pair, opts):
    """matched + unmatched per side is the size of that side's barcode, which flips preserve;
    and matching an image with itself stays complete."""
    filtration, connectivity = opts
    f, g = pair
    t, _ = TRANSFORMS[name]
    a = bm.betti_matching(f, g, filtration=filtration, connectivity=connectivity)
    b = bm.betti_matching(t(f), t(g), filtration=filtration, connectivity=connectivity)
    assert np.array_equal(a.num_matched + a.num_unmatched_pred, b.num_matched + b.num_unmatched_pred)
    assert np.array_equal(a.num_matched + a.num_unmatched_target, b.num_matched + b.num_unmatched_target)
    s = bm.betti_matching(t(f), t(f), filtration=filtration, connectivity=connectivity)
    assert s.num_unmatched_pred.sum() == s.num_unmatched_target.sum() == 0


@pytest.mark.xfail(strict=True, reason="tie-break by pixel index: the Betti-Matching-3D convention is not flip-invariant")
def test_flip_changes_counts_known_case():
    # sublevel, tie-free: f has the bar [2, 3) (pixel 3), g the bar [5, 6) (pixel 2), c = min = f.
    # g's bar is born after c's only bar has died, so by definition nothing matches; the
    # reduction pivot of g's birth lands on c's bar when the row is read right to left.
    f = np.array([[0.0, 1.0, 3.0, 2.0]])
    g = np.array([[4.0, 6.0, 5.0, 7.0]])
    a = bm.betti_matching(f, g, filtration="sublevel")
    b = bm.betti_matching(f[:, ::-1], g[:, ::-1], filtration="sublevel")
    assert matching_counts(a) == matching_counts(b)


# --- dtypes, torch, memory layouts ---------------------------------------------------------------------


@given(pair=st.tuples(shapes(9)).flatmap(lambda s: st.tuples(masks(s[0]), masks(s[0]))), opts=settings_options)
def test_mask_dtypes_give_identical_results(pair, opts):
    filtration, connectivity = opts
    p, t = pair
    ref = bm.betti_matching(p, t, filtration=filtration, connectivity=connectivity)
    ref_bc = bm.barcode(p, filtration=filtration, connectivity=connectivity)
    for dtype in (np.uint8, np.float32, np.float64, np.int64, np.int32, np.uint16):
        m = bm.betti_matching(p.astype(dtype), t.astype(dtype), filtration=filtration, connectivity=connectivity)
        assert_matchings_equal(m, ref, str(dtype))
        bc = bm.barcode(p.astype(dtype), filtration=filtration, connectivity=connectivity)
        for d in range(2):
            assert np.array_equal(bc.birth[d], ref_bc.birth[d]) and np.array_equal(bc.death[d], ref_bc.death[d])
            assert np.array_equal(bc.birth_value[d], ref_bc.birth_value[d])
    # mixed dtypes in one call
    m = bm.betti_matching(p.astype(np.float32), t, filtration=filtration, connectivity=connectivity)
    assert_matchings_equal(m, ref, "float32 vs bool")


@given(pair=image_pairs(max_side=9, kinds=("ties",)), opts=settings_options)
def test_integer_images_equal_their_float64_copies(pair, opts):
    filtration, connectivity = opts
    f, g = pair
    ref = bm.betti_matching(f, g, filtration=filtration, connectivity=connectivity)
    for dtype in (np.int64, np.uint8, np.int16, np.float32):
        m = bm.betti_matching(f.astype(dtype), g.astype(dtype), filtration=filtration, connectivity=connectivity)
        assert_matchings_equal(m, ref, str(dtype))


@given(pair=image_pairs(max_side=9), opts=settings_options)
def test_torch_tensors_equal_numpy(pair, opts):
    torch = pytest.importorskip("torch")
    filtration, connectivity = opts
    f, g = pair
    for np_dtype, t_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        a = bm.betti_matching(f.astype(np_dtype), g.astype(np_dtype), filtration=filtration, connectivity=connectivity)
        tf = torch.tensor(f.astype(np_dtype), dtype=t_dtype, requires_grad=True)
        b = bm.betti_matching(tf, torch.tensor(g.astype(np_dtype)), filtration=filtration, connectivity=connectivity)
        assert_matchings_equal(a, b, str(t_dtype))
        assert_barcodes_equal(
            bm.barcode(f.astype(np_dtype), filtration=filtration, connectivity=connectivity),
            bm.barcode(tf, filtration=filtration, connectivity=connectivity),
        )
    masks_np = (f > 0.5, g > 0.5)
    a = bm.betti_matching(*masks_np, filtration=filtration, connectivity=connectivity)
    for t_dtype in (torch.bool, torch.uint8):
        b = bm.betti_matching(*(torch.tensor(m).to(t_dtype) for m in masks_np), filtration=filtration, connectivity=connectivity)
        assert_matchings_equal(a, b, str(t_dtype))
    # batches of tensors: a stacked (N, H, W) tensor and a list of tensors
    stacked = bm.betti_matching_batch(torch.tensor(np.stack([f, g])), torch.tensor(np.stack([g, f])), filtration=filtration, connectivity=connectivity)
    singles = [bm.betti_matching(f, g, filtration=filtration, connectivity=connectivity), bm.betti_matching(g, f, filtration=filtration, connectivity=connectivity)]
    for a, b in zip(stacked, singles):
        assert_matchings_equal(a, b)


def test_torch_float16_and_noncontiguous_tensors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.random((7, 9)).astype(np.float16)
    y = rng.random((7, 9)).astype(np.float16)
    # float16 is widened to float32 (exactly), then filtered like a float32 input
    a = bm.betti_matching(x.astype(np.float32), y.astype(np.float32))
    assert_matchings_equal(a, bm.betti_matching(torch.tensor(x), torch.tensor(y)), "torch float16")
    assert_matchings_equal(a, bm.betti_matching(x, y), "numpy float16")
    big = torch.tensor(rng.random((9, 14)))
    view = big.t()[::2, 1::3]  # a strided, transposed view
    assert_matchings_equal(
        bm.betti_matching(view, view.flip(0)),
        bm.betti_matching(np.ascontiguousarray(view.numpy()), np.ascontiguousarray(view.flip(0).numpy())),
    )


@given(data=st.data(), opts=settings_options)
def test_memory_layout_does_not_matter(data, opts):
    filtration, connectivity = opts
    shape = data.draw(shapes(8))
    big_shape = (3 * shape[0], 2 * shape[1] + 1)
    kind = data.draw(st.sampled_from(["float", "ties", "mask"]))
    big_f = data.draw(images_of_kind(kind, big_shape))
    big_g = data.draw(images_of_kind(kind, big_shape))
    for dtype in (np.float64, np.float32, np.uint8):
        f_view = big_f.astype(dtype)[::3, 1::2]  # strided view, shape == shape
        g_view = big_g.astype(dtype)[2::3, ::-2][:, : shape[1]]  # negative strides
        assert f_view.shape == g_view.shape == shape
        f_c, g_c = np.ascontiguousarray(f_view), np.ascontiguousarray(g_view)
        f_f, g_f = np.asfortranarray(f_view), np.asfortranarray(g_view)
        ref = bm.betti_matching(f_c, g_c, filtration=filtration, connectivity=connectivity)
        for a, b, label in ((f_view, g_view, "strided"), (f_f, g_f, "fortran"), (f_c, g_f, "mixed")):
            assert_matchings_equal(bm.betti_matching(a, b, filtration=filtration, connectivity=connectivity), ref, label)
        assert_barcodes_equal(
            bm.barcode(f_f, filtration=filtration, connectivity=connectivity),
            bm.barcode(f_c, filtration=filtration, connectivity=connectivity),
        )
        # (N, H, W) stacks that are themselves non-contiguous
        stack_f = np.stack([f_c, g_c], axis=-1).transpose(2, 0, 1)
        stack_g = np.stack([g_c, f_c], axis=-1).transpose(2, 0, 1)
        out = bm.betti_matching_batch(stack_f, stack_g, filtration=filtration, connectivity=connectivity)
        assert_matchings_equal(out[0], ref, "stack")


def test_inputs_are_not_modified():
    rng = np.random.default_rng(1)
    f = rng.random((6, 7))
    g = rng.random((6, 7)) > 0.5
    f0, g0 = f.copy(), g.copy()
    bm.betti_matching(f, g)
    bm.betti_matching_batch([f], [g])
    bm.barcode(f, filtration="sublevel", connectivity=8)
    assert np.array_equal(f, f0) and np.array_equal(g, g0)


# --- masks: Betti numbers from scipy.ndimage.label ---------------------------------------------------


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@given(m=st.tuples(shapes(12)).flatmap(lambda s: masks(s[0])))
def test_mask_barcode_counts_components_and_holes(m, connectivity):
    """For a mask (superlevel) every foreground component but the first is a finite dim-0 bar
    [1, 0), and every hole -- a background component, with the complementary connectivity, not
    touching the border -- is a finite dim-1 bar [1, 0)."""
    fg_structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    bg_structure = ndimage.generate_binary_structure(2, 2 if connectivity == 4 else 1)
    _, n_fg = ndimage.label(m, structure=fg_structure)
    _, n_bg = ndimage.label(np.pad(~m, 1, constant_values=True), structure=bg_structure)
    holes = n_bg - 1  # the padding joins every background component that touches the border
    bc = bm.barcode(m, connectivity=connectivity)
    assert bc.num_pairs().tolist() == [max(n_fg - 1, 0), holes if n_fg else 0]
    for d in range(2):
        assert np.all(bc.birth_value[d] == 1.0) and np.all(bc.death_value[d] == 0.0)
    # essential: the first foreground pixel in row-major order (or (0, 0) for an empty mask)
    first = tuple(int(v) for v in np.argwhere(m)[0]) if m.any() else (0, 0)
    assert rows(bc.essential[0]) == [first]


@given(x=images(max_side=8), opts=settings_options)
def test_superlevel_is_sublevel_of_one_minus_x(x, opts):
    filtration, connectivity = opts
    a = bm.barcode(x, filtration="superlevel", connectivity=connectivity)
    b = bm.barcode(sublevel_values(x, "superlevel"), filtration="sublevel", connectivity=connectivity)
    for d in range(2):
        assert np.array_equal(a.birth[d], b.birth[d]) and np.array_equal(a.death[d], b.death[d])
    assert np.array_equal(a.essential[0], b.essential[0])
