"""The Betti matching of 3D volumes (connectivity 6 and 26) against independent oracles.

- ``oracle_nd.matching``: image persistence by plain reduction of explicit boundary matrices (no
  union-find, no clearing, no apparent pairs), in the reference's row order, on thousands of small
  volumes with ties, masks and tie-free values (hypothesis and seeded bulk);
- Betti-Matching-3D (the module inside the topolosses wheel): every field, voxel for voxel, row
  for row, on larger seeded pairs (likelihood vs mask included);
- properties: matching(x, x) matches every bar, swapping the inputs swaps the sides, batch =
  singles, any num_threads gives the same result, a 1 x H x W volume gives its slice's 2D result,
  superlevel = sublevel of the negation, and the barcodes inside equal ``barcode()``'s.

Connectivity 26 (the T-construction) has no reference implementation: its conventions (cell keys,
reported voxels, row order) are ``oracle_nd``'s, chosen so that a slab reproduces its slice's 2D
8-connected answer; the oracle and the properties check it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import bettimatch as bm
import oracle_nd as nd
from conftest import _reference
from test_oracle_nd import seeded_pair, shapes3, tie_free_pairs3, volumes

FIELDS = ("pred_matched_birth", "pred_matched_death", "target_matched_birth", "target_matched_death")


def rows(m: bm.BettiMatching, d: int):
    """(matched rows, unmatched pred rows, unmatched target rows) of dimension ``d`` as voxel tuples."""
    flat = lambda arrays: [tuple(int(v) for v in row) for row in np.concatenate(arrays, axis=1)]
    return (
        flat([getattr(m, f)[d] for f in FIELDS]),
        flat([m.pred_unmatched_birth[d], m.pred_unmatched_death[d]]),
        flat([m.target_unmatched_birth[d], m.target_unmatched_death[d]]),
    )


def oracle_rows(f, g, connectivity=6):
    out = []
    m = nd.matching(f, g, connectivity, rule="reference")
    for matched, pred, target in nd.rows_like_reference(m, f.shape, connectivity):
        flat = lambda rs: [tuple(itertools.chain.from_iterable(r)) for r in rs]
        out.append((flat(matched), flat(pred), flat(target)))
    return out


def assert_equals_oracle(f, g, connectivity=6):
    m = bm.betti_matching(f, g, filtration="sublevel", connectivity=connectivity)
    want = oracle_rows(f, g, connectivity)
    for d in range(3):
        assert rows(m, d) == want[d], f"dimension {d}"


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_matching_equals_the_boundary_matrix_oracle(data):
    shape = data.draw(shapes3(5))
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    assert_equals_oracle(f, g)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_26_connected_matching_equals_the_boundary_matrix_oracle(data):
    shape = data.draw(shapes3(4))
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    assert_equals_oracle(f, g, 26)


@settings(max_examples=30, deadline=None)
@given(pair=tie_free_pairs3(), connectivity=st.sampled_from([6, 26]))
def test_tie_free_matching_equals_the_oracle(pair, connectivity):
    assert_equals_oracle(*pair, connectivity)


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("kind", ["tiefree", "ties", "levels3", "mask", "shell"])
def test_matching_equals_the_oracle_bulk(kind, connectivity):
    rng = np.random.default_rng([9, len(kind), connectivity])
    for _ in range(40 if connectivity == 6 else 25):
        high = 6 if connectivity == 6 else 5
        shape = tuple(int(s) for s in rng.integers(3 if kind == "shell" else 1, high, 3))
        assert_equals_oracle(*seeded_pair(rng, shape, kind), connectivity)


REF, _WHY = _reference()
needs_reference = pytest.mark.skipif(REF is None, reason=f"reference Betti-Matching-3D extension not available: {_WHY}")


def reference_rows(r, d):
    flat = lambda arrays: [tuple(int(v) for v in row) for row in np.concatenate([np.asarray(a).reshape(-1, 3) for a in arrays], axis=1)]
    return (
        flat([getattr(r, f"input{k}_matched_{e}_coordinates")[d] for k in (1, 2) for e in ("birth", "death")]),
        flat([getattr(r, f"input1_unmatched_{e}_coordinates")[d] for e in ("birth", "death")]),
        flat([getattr(r, f"input2_unmatched_{e}_coordinates")[d] for e in ("birth", "death")]),
    )


def likelihood_and_mask(rng, shape):
    from scipy.ndimage import gaussian_filter

    mask = (gaussian_filter(rng.standard_normal(shape), 1.5) > 0).astype(np.float64)
    likelihood = gaussian_filter(mask + 0.8 * rng.standard_normal(shape), 1.0)
    return likelihood, mask


@needs_reference
@pytest.mark.parametrize("kind", ["tiefree", "ties", "mask", "likelihood-mask", "noise-mask"])
def test_matching_equals_betti_matching_3d(kind):
    """Pairs, voxels and row order of every field, on volumes up to 16^3."""
    rng = np.random.default_rng([10, len(kind)])
    for case in range(12):
        shape = tuple(int(s) for s in rng.integers(4, 17, 3))
        if kind == "likelihood-mask":
            f, g = likelihood_and_mask(rng, shape)
        elif kind == "noise-mask":
            f, g = rng.random(shape), (rng.random(shape) < 0.4).astype(np.float64)
        else:
            f, g = seeded_pair(rng, shape, kind)
        r = REF.compute_matching(np.ascontiguousarray(f), np.ascontiguousarray(g))
        m = bm.betti_matching(f, g, filtration="sublevel")
        for d in range(3):
            assert rows(m, d) == reference_rows(r, d), f"case {case} {shape} dimension {d}"


def random_volume(rng, shape, kind):
    if kind == "ties":
        return rng.integers(0, 4, shape).astype(np.float64)
    if kind == "mask":
        return (rng.random(shape) < 0.5).astype(np.float64)
    return rng.random(shape)


def assert_same_matching(a: bm.BettiMatching, b: bm.BettiMatching):
    for name in a.__dataclass_fields__:
        for x, y in zip(getattr(a, name), getattr(b, name)):
            assert np.array_equal(x, y), name


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("kind", ["ties", "mask", "float"])
def test_a_volume_matches_itself_completely(kind, connectivity):
    rng = np.random.default_rng(11)
    for _ in range(10):
        x = random_volume(rng, tuple(rng.integers(2, 9, 3)), kind)
        m = bm.betti_matching(x, x, connectivity=connectivity)
        bc = bm.barcode(x, connectivity=connectivity)
        for d in range(3):
            assert len(m.pred_unmatched_birth[d]) == 0 and len(m.target_unmatched_birth[d]) == 0
            assert len(m.pred_matched_birth[d]) == len(bc.birth[d])
            assert np.array_equal(m.pred_matched_birth[d], m.target_matched_birth[d])


@pytest.mark.parametrize("connectivity", [6, 26])
def test_swapping_the_inputs_swaps_the_sides(connectivity):
    rng = np.random.default_rng(12)
    for kind in ("ties", "mask", "float"):
        for _ in range(6):
            shape = tuple(rng.integers(2, 9, 3))
            f, g = random_volume(rng, shape, kind), random_volume(rng, shape, "float")
            a, b = bm.betti_matching(f, g, connectivity=connectivity), bm.betti_matching(g, f, connectivity=connectivity)
            for d in range(3):
                assert np.array_equal(a.pred_matched_birth[d], b.target_matched_birth[d])
                assert np.array_equal(a.pred_matched_death[d], b.target_matched_death[d])
                assert np.array_equal(a.pred_unmatched_birth[d], b.target_unmatched_birth[d])
                assert np.array_equal(a.target_unmatched_death[d], b.pred_unmatched_death[d])


@pytest.mark.parametrize("connectivity", [6, 26])
def test_the_barcodes_inside_equal_barcode(connectivity):
    rng = np.random.default_rng(13)
    for kind in ("ties", "mask", "float"):
        f, g = random_volume(rng, (7, 6, 8), kind), random_volume(rng, (7, 6, 8), "float")
        m, bc = bm.betti_matching(f, g, connectivity=connectivity), bm.barcode(f, connectivity=connectivity)
        for d in range(3):
            births = np.concatenate([m.pred_matched_birth[d], m.pred_unmatched_birth[d]])
            deaths = np.concatenate([m.pred_matched_death[d], m.pred_unmatched_death[d]])
            assert sorted(map(tuple, np.concatenate([births, deaths], 1))) == sorted(map(tuple, np.concatenate([bc.birth[d], bc.death[d]], 1)))


@pytest.mark.parametrize("connectivity", [6, 26])
def test_batch_equals_singles_and_threads_do_not_matter(connectivity):
    rng = np.random.default_rng(14)
    preds = [random_volume(rng, (9, 10, 11), k) for k in ("float", "ties", "mask", "float")]
    targets = [random_volume(rng, (9, 10, 11), k) for k in ("mask", "float", "ties", "float")]
    singles = [bm.betti_matching(p, t, connectivity=connectivity) for p, t in zip(preds, targets)]
    for threads in (1, 2, 3, 8):
        for a, b in zip(bm.betti_matching_batch(preds, targets, num_threads=threads, connectivity=connectivity), singles):
            assert_same_matching(a, b)
    for a, b in zip(bm.betti_matching_batch(np.stack(preds), np.stack(targets), connectivity=connectivity), singles):
        assert_same_matching(a, b)


@pytest.mark.parametrize("connectivity", [(4, 6), (8, 26)])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_one_voxel_thick_volume_gives_its_slice(axis, connectivity):
    rng = np.random.default_rng([15, axis])
    c2, c3 = connectivity
    for kind in ("ties", "mask", "float"):
        f2, g2 = random_volume(rng, (7, 9), kind), random_volume(rng, (7, 9), "float")
        flat = bm.betti_matching(f2, g2, connectivity=c2)
        thick = bm.betti_matching(np.expand_dims(f2, axis), np.expand_dims(g2, axis), connectivity=c3)
        for d in range(2):
            # Same rows; in 2D dimension 1 is the top one, listed by the dual sweep's order, in 3D
            # it is the middle one, listed by death (the reference's rules): compare as sets.
            want = [sorted(tuple(r) for r in rows_) for rows_ in rows(flat, d)]
            lift = lambda r: tuple(itertools.chain.from_iterable(np.insert(np.reshape(r, (-1, 2)), axis, 0, axis=1)))
            got = [sorted(tuple(r) for r in rows_) for rows_ in rows(thick, d)]
            assert got == [sorted(lift(r) for r in rows_) for rows_ in want], d
        assert all(len(getattr(thick, name)[2]) == 0 for name in thick.__dataclass_fields__)


@pytest.mark.parametrize("connectivity", [6, 26])
def test_superlevel_is_the_sublevel_of_the_negation(connectivity):
    rng = np.random.default_rng(16)
    f, g = rng.random((6, 7, 8)), (rng.random((6, 7, 8)) < 0.5).astype(np.float64)
    sub = bm.betti_matching(-f, -g, filtration="sublevel", connectivity=connectivity)
    assert_same_matching(bm.betti_matching(f, g, connectivity=connectivity), sub)


def test_the_loss_pairs_of_volumes_follow_the_matching():
    from bettimatch import _core

    rng = np.random.default_rng(17)
    f, g = rng.random((6, 7, 8)), (rng.random((6, 7, 8)) < 0.5).astype(np.float64)
    m = bm.betti_matching(f, g)
    raw = _core.loss_pairs(f[None], g[None], "superlevel", 6, None, False)
    dims, kinds = raw[1], raw[2]
    for d in range(3):
        assert np.sum((dims == d) & (kinds == 0)) == len(m.pred_matched_birth[d])
        assert np.sum((dims == d) & (kinds == 1)) == len(m.pred_unmatched_birth[d])
        assert np.sum((dims == d) & (kinds == 2)) == len(m.target_unmatched_birth[d])


def test_bad_volume_pairs_are_refused_clearly():
    v = np.zeros((3, 4, 5))
    with pytest.raises(ValueError, match=r"pred.*\(3, 4, 5\).*target.*\(3, 5, 4\)"):
        bm.betti_matching(v, np.zeros((3, 5, 4)))
    for bad in (4, 8, 18):
        with pytest.raises(ValueError, match="connectivity"):
            bm.betti_matching(v, v, connectivity=bad)
    with pytest.raises(ValueError, match="empty"):
        bm.betti_matching(np.zeros((0, 3, 3)), np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match="finite|NaN"):
        bm.betti_matching(np.full((2, 2, 2), np.nan), v[:2, :2, :2])
