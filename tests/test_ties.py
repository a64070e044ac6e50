"""The opt-in tie order ``ties="distance"`` (issue 12).

- The oracle: ``oracle_nd.matching`` (boundary matrices, written from the definition) run on the
  same total order, which is computed here independently: the key from scipy's Euclidean distance
  transform of the comparison's binarization, the joint ranking by ``np.lexsort``.
- Hand-made masks with the object that must be blamed written down.
- Barcodes as multisets of values do not change with the tie order; the order is invariant under
  flips and transposes where the distances have no exact ties (squares of distinct odd sides,
  gaps of distinct odd widths), which the index order is not.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

import bettimatch as bm
import oracle_nd as nd
from test_oracle_nd import shapes3, volumes

FIELDS = ("pred_matched_birth", "pred_matched_death", "target_matched_birth", "target_matched_death")


# --------------------------------------------------------------------------------------------
# the total order, independently
# --------------------------------------------------------------------------------------------


def distance_key(c: np.ndarray) -> np.ndarray:
    """Signed squared distance to the boundary of the comparison (sublevel) binarized halfway."""
    middle = c.min() + (c.max() - c.min()) / 2
    foreground = c <= middle
    if foreground.all():
        return np.zeros(c.shape, np.int64)
    inside = np.rint(ndimage.distance_transform_edt(foreground) ** 2).astype(np.int64)
    outside = np.rint(ndimage.distance_transform_edt(~foreground) ** 2).astype(np.int64)
    return np.where(foreground, -inside, outside)


def refined_orders(f: np.ndarray, g: np.ndarray):
    """``(f', g')``: the dense ranks of ``(value, key)`` over both sublevel inputs together."""
    key = distance_key(np.minimum(f, g))
    values = np.concatenate([f.ravel(), g.ravel()])
    keys = np.concatenate([key.ravel(), key.ravel()])
    order = np.lexsort((keys, values))
    new_class = np.r_[True, (np.diff(values[order]) != 0) | (np.diff(keys[order]) != 0)]
    ranks = np.empty(values.size, np.float64)
    ranks[order] = np.cumsum(new_class) - 1
    return ranks[: f.size].reshape(f.shape), ranks[f.size:].reshape(f.shape)


def rows(m: bm.BettiMatching, d: int):
    flat = lambda arrays: sorted(tuple(int(v) for v in row) for row in np.concatenate(arrays, axis=1))
    return (
        flat([getattr(m, f)[d] for f in FIELDS]),
        flat([m.pred_unmatched_birth[d], m.pred_unmatched_death[d]]),
        flat([m.target_unmatched_birth[d], m.target_unmatched_death[d]]),
    )


def oracle_rows(f, g, connectivity):
    m = nd.matching(f, g, connectivity, order=refined_orders(f, g))
    out = []
    for d in range(f.ndim):
        matched = sorted(a.birth_voxel + a.death_voxel + b.birth_voxel + b.death_voxel for a, b in m.matched[d])
        pred = sorted(b.birth_voxel + b.death_voxel for b in m.unmatched("pred", d))
        target = sorted(b.birth_voxel + b.death_voxel for b in m.unmatched("target", d))
        out.append((matched, pred, target))
    return out, m


def assert_equals_oracle(f, g, connectivity):
    m = bm.betti_matching(f, g, filtration="sublevel", connectivity=connectivity, ties="distance")
    want, om = oracle_rows(f, g, connectivity)
    for d in range(f.ndim):
        assert rows(m, d) == want[d], f"dimension {d}"
    first = tuple(int(i) for i in np.unravel_index(np.lexsort((np.arange(f.size), refined_orders(f, g)[0].ravel()))[0], f.shape))
    assert tuple(m.pred_essential[0][0]) == first


def images2(max_side=7):
    return st.tuples(st.integers(1, max_side), st.integers(1, max_side))


@settings(max_examples=120, deadline=None)
@given(data=st.data(), connectivity=st.sampled_from([4, 8]))
def test_images_equal_the_oracle_on_the_same_total_order(data, connectivity):
    shape = data.draw(images2())
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["mask", "ties", "float"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["mask", "ties", "float"]))))
    assert_equals_oracle(f, g, connectivity)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), connectivity=st.sampled_from([6, 26]))
def test_volumes_equal_the_oracle_on_the_same_total_order(data, connectivity):
    shape = data.draw(shapes3(4))
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["mask", "ties"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["mask", "ties"]))))
    assert_equals_oracle(f, g, connectivity)


@pytest.mark.parametrize("connectivity", [4, 8, 6, 26])
def test_masks_equal_the_oracle_bulk(connectivity):
    rng = np.random.default_rng([12, connectivity])
    for _ in range(60 if connectivity in (4, 8) else 25):
        shape = tuple(int(s) for s in rng.integers(2, 9 if connectivity in (4, 8) else 5, 2 if connectivity in (4, 8) else 3))
        f, g = ((rng.random(shape) < rng.uniform(0.2, 0.8)).astype(np.float64) for _ in range(2))
        assert_equals_oracle(f, g, connectivity)


def test_the_orders_nest():
    """The refined comparison is the minimum of the refined inputs: each input's sublevel set
    stays inside the comparison's at every step of the total order."""
    rng = np.random.default_rng(5)
    for _ in range(50):
        f, g = (rng.integers(0, 3, (6, 7)).astype(np.float64) for _ in range(2))
        fo, go = refined_orders(f, g)
        co_direct = refined_orders(np.minimum(f, g), np.minimum(f, g))[0]
        # (c, key) ranked on its own orders the pixels as min(f', g') does.
        co = np.minimum(fo, go)
        assert (np.argsort(co.ravel(), kind="stable") == np.argsort(co_direct.ravel(), kind="stable")).all()
        for t in np.unique(np.r_[fo.ravel(), go.ravel()]):
            assert ((fo <= t) | (go <= t) <= (co <= t)).all()


# --------------------------------------------------------------------------------------------
# hand-made masks: the object that must be blamed
# --------------------------------------------------------------------------------------------


def square_with_speck(corner):
    target = np.zeros((32, 32), bool)
    target[8:24, 8:24] = True
    pred = target.copy()
    pred[corner] = True
    return pred, target


@pytest.mark.parametrize("corner", [(0, 0), (0, 31), (31, 0), (31, 31)])
@pytest.mark.parametrize("transform", ["none", "transpose", "flipud", "fliplr"])
def test_the_speck_is_blamed_wherever_it_is(corner, transform):
    pred, target = square_with_speck(corner)
    apply = {"none": lambda a: a, "transpose": np.transpose, "flipud": np.flipud, "fliplr": np.fliplr}[transform]
    pred, target = apply(pred), apply(target)
    speck = tuple(int(i) for i in np.argwhere(pred & ~target)[0])
    m = bm.betti_matching(pred, target, ties="distance")
    assert m.num_unmatched_pred.tolist() == [1, 0] and m.num_unmatched_target.tolist() == [0, 0]
    assert [tuple(r) for r in m.pred_unmatched_birth[0]] == [speck]
    assert target[tuple(m.pred_essential[0][0])]  # the square is the elder component
    assert target[tuple(m.target_essential[0][0])]


def test_the_index_order_blames_the_square_for_a_speck_before_it():
    """The reference's order, kept as the default: what the distance order is for."""
    pred, target = square_with_speck((0, 0))
    m = bm.betti_matching(pred, target)
    assert [tuple(r) for r in m.pred_unmatched_birth[0]] == [(8, 8)]
    assert tuple(m.pred_essential[0][0]) == (0, 0)


def disc(shape, center, radius):
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return (yy - center[0]) ** 2 + (xx - center[1]) ** 2 <= radius ** 2


def test_two_discs_against_one_blames_the_extra_small_disc():
    shape = (40, 40)
    big, small = disc(shape, (26, 12), 7), disc(shape, (5, 33), 2)  # the small one first in raster order
    target, pred = big, big | small
    index, distance = bm.betti_matching(pred, target), bm.betti_matching(pred, target, ties="distance")
    assert index.num_unmatched_pred.tolist() == distance.num_unmatched_pred.tolist() == [1, 0]
    assert big[tuple(index.pred_unmatched_birth[0][0])]  # index: the real disc is blamed
    assert small[tuple(distance.pred_unmatched_birth[0][0])]  # distance: the extra one


def ring(shape, center, outer, inner):
    return disc(shape, center, outer) & ~disc(shape, center, inner)


def test_a_ring_with_a_speck_inside_blames_the_speck_and_matches_the_hole():
    shape = (32, 32)
    target = ring(shape, (16, 16), 12, 8)
    pred = target.copy()
    pred[16, 16] = True
    for ties in ("index", "distance"):
        m = bm.betti_matching(pred, target, ties=ties)
        assert [tuple(r) for r in m.pred_unmatched_birth[0]] == [(16, 16)], ties
        assert m.num_matched.tolist() == [0, 1] and m.num_unmatched_target.tolist() == [0, 0], ties


def test_nested_objects_blame_the_missing_ring_not_the_disc_inside_it():
    shape = (40, 40)
    outer, inner = ring(shape, (20, 20), 17, 14), disc(shape, (20, 20), 6)
    target, pred = outer | inner, inner
    index, distance = bm.betti_matching(pred, target), bm.betti_matching(pred, target, ties="distance")
    for m in (index, distance):
        assert m.num_unmatched_target.tolist() == [1, 1] and m.num_unmatched_pred.tolist() == [0, 0]
    assert inner[tuple(index.target_unmatched_birth[0][0])]  # index: the ring comes first in raster order
    assert outer[tuple(distance.target_unmatched_birth[0][0])]  # distance: the thick disc is elder
    assert inner[tuple(distance.target_essential[0][0])]


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------


def value_multisets(m: bm.BettiMatching, pred, target):
    """Per side, the sorted (dim, birth value, death value) of the finite bars."""
    out = []
    for side, image in (("pred", pred), ("target", target)):
        bars = []
        for d in range(image.ndim):
            for kind in ("matched", "unmatched"):
                b, e = getattr(m, f"{side}_{kind}_birth")[d], getattr(m, f"{side}_{kind}_death")[d]
                bars += [(d, float(image[tuple(x)]), float(image[tuple(y)])) for x, y in zip(b, e)]
        out.append(sorted(bars))
    return out


@settings(max_examples=150, deadline=None)
@given(data=st.data(), connectivity=st.sampled_from([4, 8, 6, 26]))
def test_barcodes_as_value_multisets_do_not_depend_on_the_tie_order(data, connectivity):
    shape = data.draw(images2(9) if connectivity in (4, 8) else shapes3(5))
    kind = data.draw(st.sampled_from(["mask", "ties", "float"]))
    f, g = data.draw(volumes(shape, kind)), data.draw(volumes(shape, kind))
    # Sublevel: the superlevel filtration is that of 1 - x, which can tie values that differ here.
    index = bm.betti_matching(f, g, filtration="sublevel", connectivity=connectivity)
    distance = bm.betti_matching(f, g, filtration="sublevel", connectivity=connectivity, ties="distance")
    assert value_multisets(index, f, g) == value_multisets(distance, f, g)
    assert (distance.num_matched + distance.num_unmatched_pred == index.num_matched + index.num_unmatched_pred).all()


def squares_in_a_row(rng):
    """Squares of distinct odd sides (a unique deepest pixel each) in a row, separated by gaps of
    distinct odd widths (a unique narrowest crossing each), and two masks covering them."""
    n = int(rng.integers(3, 6))
    sides = rng.choice([1, 3, 5, 7, 9], n, replace=False)
    gaps = rng.choice([1, 3, 5, 7, 9], n - 1, replace=False)
    height = int(sides.max()) + 6
    width = int(sides.sum() + gaps.sum()) + 6
    labels = np.zeros((height, width), np.int64)
    x = 3
    for i, s in enumerate(sides):
        y = int(rng.integers(3, height - 3 - s + 1))
        labels[y : y + s, x : x + s] = i + 1
        x += int(s) + (int(gaps[i]) if i < n - 1 else 0)
    in_pred = rng.random(n) < 0.6
    in_target = ~in_pred | (rng.random(n) < 0.5)
    pred = np.isin(labels, 1 + np.flatnonzero(in_pred))
    target = np.isin(labels, 1 + np.flatnonzero(in_target))
    return labels, pred, target


def blamed(m: bm.BettiMatching, labels):
    """Dimension 0 by object: the matched (pred object, target object) pairs, the unmatched
    objects of each side, the essential objects."""
    at = lambda xy: int(labels[tuple(xy)])
    return (
        sorted(zip(map(at, m.pred_matched_birth[0]), map(at, m.target_matched_birth[0]))),
        sorted(map(at, m.pred_unmatched_birth[0])),
        sorted(map(at, m.target_unmatched_birth[0])),
        at(m.pred_essential[0][0]) if len(m.pred_essential[0]) else None,
        at(m.target_essential[0][0]) if len(m.target_essential[0]) else None,
    )


TRANSFORMS = {"flipud": np.flipud, "fliplr": np.fliplr, "transpose": np.transpose, "rot90": np.rot90}


@pytest.mark.parametrize("connectivity", [4, 8])
def test_distance_order_is_invariant_under_flips_and_transposes(connectivity):
    rng = np.random.default_rng(connectivity)
    index_differs = 0
    for _ in range(60):
        labels, pred, target = squares_in_a_row(rng)
        want = blamed(bm.betti_matching(pred, target, connectivity=connectivity, ties="distance"), labels)
        base_index = blamed(bm.betti_matching(pred, target, connectivity=connectivity), labels)
        for name, t in TRANSFORMS.items():
            m = bm.betti_matching(t(pred), t(target), connectivity=connectivity, ties="distance")
            assert blamed(m, t(labels)) == want, name
            index_differs += blamed(bm.betti_matching(t(pred), t(target), connectivity=connectivity), t(labels)) != base_index
    assert index_differs > 0  # the index order is not invariant on these very cases


# --------------------------------------------------------------------------------------------
# the rest of the API
# --------------------------------------------------------------------------------------------


def test_batch_equals_singles_and_threads_do_not_matter():
    rng = np.random.default_rng(3)
    preds = [rng.random((12, 12)) < 0.5 for _ in range(6)]
    targets = [rng.random((12, 12)) < 0.5 for _ in range(6)]
    singles = [bm.betti_matching(p, t, ties="distance") for p, t in zip(preds, targets)]
    for threads in (1, 3):
        batch = bm.betti_matching_batch(preds, targets, ties="distance", num_threads=threads)
        for a, b in zip(batch, singles):
            for d in range(2):
                assert rows(a, d) == rows(b, d)


def test_a_likelihood_without_ties_is_unchanged():
    rng = np.random.default_rng(4)
    p = rng.permutation(400).reshape(20, 20) / 400.0
    t = rng.permutation(400).reshape(20, 20) / 400.0 + 1e-4
    a, b = bm.betti_matching(p, t), bm.betti_matching(p, t, ties="distance")
    for d in range(2):
        assert rows(a, d) == rows(b, d)


@pytest.mark.parametrize("bad", ["Distance", "", None, 1, "raster"])
def test_a_bad_tie_order_is_refused(bad):
    x = np.zeros((4, 4))
    with pytest.raises(ValueError, match="ties must be 'index' or 'distance'"):
        bm.betti_matching(x, x, ties=bad)
    with pytest.raises(ValueError, match="ties must be 'index' or 'distance'"):
        bm.betti_matching_batch([x], [x], ties=bad)
