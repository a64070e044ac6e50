"""The n-dimensional oracle (``oracle_nd.py``) checked against independent implementations.

The oracle is the yardstick for the 3D engine, so it must be right on its own: its barcodes equal
GUDHI's and CubicalRipser's (both constructions, ties included); the Betti numbers of masks equal
scipy labelling counts and satisfy Euler's formula; on 2D inputs it reproduces the 2D oracle of
``test_matching_oracle.py`` exactly (pairs, pixel locations, both rules); a one-voxel-thick slab
reproduces its slice; and with the reference rule its 3D matchings and barcodes equal
Betti-Matching-3D's, voxel for voxel and row for row (which confirms the conventions table in
``oracle_nd``'s docstring). Nothing here needs the 3D engine.

``BETTIMATCH_ORACLE_ND_EXHAUSTIVE=1`` runs the bulk tests with 2000 volumes or pairs per case (about
12 minutes on 2 busy cores; the default run takes 15-45 s).
"""

from __future__ import annotations

import itertools
import os

import cripser
import gudhi
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

import bettimatch as bm
import oracle_nd as nd
import test_matching_oracle as oracle2d
from conftest import _reference, shapes

EXHAUSTIVE = os.environ.get("BETTIMATCH_ORACLE_ND_EXHAUSTIVE", "") not in ("", "0")
BULK = 2000 if EXHAUSTIVE else 60

CONNECTIVITIES = {2: (4, 8), 3: (6, 26)}

# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


def shapes3(max_side: int = 5) -> st.SearchStrategy:
    """3D shapes; flat and thin ones (a side of 1) drawn often."""
    side = st.integers(1, max_side)
    big = st.integers(2, max_side)
    return st.one_of(st.tuples(big, big, big), st.tuples(side, side, side))


def volumes(shape, kind: str) -> st.SearchStrategy:
    if kind == "ties":  # integer levels 0..3: very many ties
        return hnp.arrays(np.int64, shape, elements=st.integers(0, 3)).map(lambda a: a.astype(np.float64))
    if kind == "mask":
        return hnp.arrays(np.bool_, shape, elements=st.booleans()).map(lambda a: a.astype(np.float64))
    if kind == "float":
        return hnp.arrays(np.float64, shape, elements=st.floats(0, 1, allow_nan=False, allow_infinity=False))
    n = int(np.prod(shape))  # tie-free
    return st.permutations(range(n)).map(lambda p: ((np.array(p, dtype=np.float64) + 0.5) / n).reshape(shape))


@st.composite
def volume_and_connectivity(draw, max_side3=5, max_side2=7):
    ndim = draw(st.sampled_from([2, 3]))
    shape = draw(shapes3(max_side3) if ndim == 3 else shapes(max_side2))
    x = draw(volumes(shape, draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    return x, draw(st.sampled_from(CONNECTIVITIES[ndim]))


@st.composite
def tie_free_pairs3(draw, shapes_=((4, 4, 4), (3, 4, 5))):
    """(f, g) whose 2n values are all distinct."""
    shape = draw(st.sampled_from(shapes_))
    n = int(np.prod(shape))
    v = (np.array(draw(st.permutations(range(2 * n))), dtype=np.float64) + 0.5) / (2 * n)
    return v[:n].reshape(shape), v[n:].reshape(shape)


def seeded_pair(rng, shape, kind):
    n = int(np.prod(shape))
    if kind == "shell":  # a box with walls at level 0: many cavities (dim-2 bars), tied deaths
        return tuple(shelled(rng, shape) for _ in range(2))
    if kind == "levels3":
        return tuple(rng.integers(0, 3, shape).astype(np.float64) for _ in range(2))
    if kind == "tiefree":
        v = (rng.permutation(2 * n) + 0.5) / (2 * n)
        return v[:n].reshape(shape), v[n:].reshape(shape)
    if kind == "ties":
        return tuple(rng.integers(0, 4, shape).astype(np.float64) for _ in range(2))
    if kind == "mask":
        return tuple((rng.random(shape) < 0.5).astype(np.float64) for _ in range(2))
    return rng.random(shape), (rng.random(shape) < 0.5).astype(np.float64)  # likelihood vs mask


def shelled(rng, shape):
    x = rng.integers(1, 4, shape).astype(np.float64)
    x[rng.random(shape) < 0.5] = 0.0
    for axis in range(x.ndim):
        idx = [slice(None)] * x.ndim
        idx[axis] = [0, -1]
        x[tuple(idx)] = 0.0
    return x


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def value_multiset(bc: nd.Barcode):
    return sorted((d, b.birth, b.death) for d, bars in enumerate(bc.bars) for b in bars)


def is_v(connectivity):
    return connectivity in (4, 6)


def gudhi_multiset(x, connectivity):
    kw = {"vertices": x} if is_v(connectivity) else {"top_dimensional_cells": x}
    pairs = gudhi.CubicalComplex(**kw).persistence(homology_coeff_field=2)
    return sorted((d, b, e) for d, (b, e) in pairs if np.isfinite(e) and b < e)


def cripser_multiset(x, connectivity):
    """CubicalRipser's finite bars. Its V construction mis-handles 2D arrays with a side of 1
    (cripser 0.0.37: ``[[0, 1, 0]]`` gives three essential classes, one born at 1), so those go
    in as one-voxel-thick 3D volumes, which it handles correctly."""
    if x.ndim == 2 and 1 in x.shape:
        x = x[None]
    table = cripser.compute_ph(x, filtration="V" if is_v(connectivity) else "T", maxdim=x.ndim - 1)
    return sorted((int(d), b, e) for d, b, e in table[:, :3] if np.isfinite(e) and b < e)


def located(bars):
    return sorted((b.birth, b.death, b.location) for b in bars)


# --------------------------------------------------------------------------------------------
# barcodes against GUDHI and CubicalRipser
# --------------------------------------------------------------------------------------------


@given(case=volume_and_connectivity())
def test_barcode_equals_gudhi(case):
    x, connectivity = case
    bc = nd.barcode(x, connectivity)
    assert value_multiset(bc) == gudhi_multiset(x, connectivity)
    assert bc.essential_birth == x.min() and x[bc.essential] == x.min()


@given(case=volume_and_connectivity())
def test_barcode_equals_cripser(case):
    x, connectivity = case
    assert value_multiset(nd.barcode(x, connectivity)) == cripser_multiset(x, connectivity)


def test_barcode_equals_gudhi_bulk():
    """Seeded 3D volumes up to 6x6x6 with integer levels (hypothesis explores few large ones)."""
    rng = np.random.default_rng(11)
    for _ in range(BULK // 3):
        shape = tuple(int(s) for s in rng.integers(2, 7, 3))
        x = rng.integers(0, 4, shape).astype(np.float64)
        for connectivity in (6, 26):
            assert value_multiset(nd.barcode(x, connectivity)) == gudhi_multiset(x, connectivity), (shape, connectivity)


# --------------------------------------------------------------------------------------------
# Betti numbers of masks: labelling and Euler characteristic
# --------------------------------------------------------------------------------------------


def euler_characteristic(mask: np.ndarray, connectivity: int) -> int:
    """χ of the foreground's cubical complex, counted with numpy over blocks of voxels: a V cell
    is present when all of its voxels are, a T cell when any voxel it bounds is."""
    ndim = mask.ndim
    total = 0
    for spanned in itertools.product((False, True), repeat=ndim):
        if is_v(connectivity):  # cells spanning the axes in `spanned`: AND over the block
            block = mask.copy()
            for axis in range(ndim):
                if spanned[axis]:
                    n = block.shape[axis]
                    block = block.take(range(n - 1), axis) & block.take(range(1, n), axis)
            total += (-1) ** sum(spanned) * int(block.sum())
        else:  # cells thin along the axes in `spanned` (walls between voxels): OR over the block
            block = np.pad(mask, 1)
            for axis in range(ndim):
                n = block.shape[axis]
                if spanned[axis]:
                    block = block.take(range(n - 1), axis) | block.take(range(1, n), axis)
                else:
                    block = block.take(range(1, n - 1), axis)
            total += (-1) ** (ndim - sum(spanned)) * int(block.sum())
    return total


def labelled_betti(mask: np.ndarray, connectivity: int):
    """(β0, β_top) by scipy: foreground components, and background components of the
    complementary connectivity that do not touch the border."""
    ndim = mask.ndim
    full, faces = ndimage.generate_binary_structure(ndim, ndim), ndimage.generate_binary_structure(ndim, 1)
    fg, bg = (faces, full) if is_v(connectivity) else (full, faces)
    b0 = ndimage.label(mask, structure=fg)[1]
    labels, n = ndimage.label(~mask, structure=bg)
    border = np.zeros(mask.shape, bool)
    for axis in range(ndim):
        idx = [slice(None)] * ndim
        idx[axis] = [0, -1]
        border[tuple(idx)] = True
    touching = set(np.unique(labels[border]).tolist()) - {0}
    return b0, n - len(touching)


@given(data=st.data())
def test_mask_betti_numbers_equal_labelling_and_euler(data):
    ndim = data.draw(st.sampled_from([2, 3]))
    shape = data.draw(shapes3(5) if ndim == 3 else shapes(7))
    mask = data.draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
    connectivity = data.draw(st.sampled_from(CONNECTIVITIES[ndim]))
    betti = nd.betti_numbers_at(nd.barcode(np.where(mask, 0.0, 1.0), connectivity), 0.0)
    b0, b_top = labelled_betti(mask, connectivity)
    assert betti[0] == b0
    assert betti[-1] == b_top
    assert sum((-1) ** d * b for d, b in enumerate(betti)) == euler_characteristic(mask, connectivity)


def test_hand_made_masks():
    """A solid torus (β = 1, 1, 0) and a hollow cube (β = 1, 0, 1), both constructions."""
    torus = np.zeros((3, 5, 5), bool)
    torus[1, 1:4, 1:4] = True
    torus[1, 2, 2] = False
    hollow = np.ones((3, 3, 3), bool)
    hollow[1, 1, 1] = False
    for mask, expected in ((torus, (1, 1, 0)), (hollow, (1, 0, 1))):
        for connectivity in (6, 26):
            assert nd.betti_numbers_at(nd.barcode(np.where(mask, 0.0, 1.0), connectivity), 0.0) == expected
    # a diagonal pair of voxels: two components with 6, one with 26
    diagonal = np.zeros((2, 2, 2), bool)
    diagonal[0, 0, 0] = diagonal[1, 1, 1] = True
    assert nd.betti_numbers_at(nd.barcode(np.where(diagonal, 0.0, 1.0), 6), 0.0)[0] == 2
    assert nd.betti_numbers_at(nd.barcode(np.where(diagonal, 0.0, 1.0), 26), 0.0)[0] == 1


# --------------------------------------------------------------------------------------------
# 2D: the nd oracle is the 2D oracle; a slab is its slice
# --------------------------------------------------------------------------------------------


def assert_equals_2d_oracle(f, g, connectivity):
    ours = nd.barcode(f, connectivity)
    theirs = oracle2d.oracle_barcode(f, connectivity)
    for d in range(2):
        assert located(ours.bars[d]) == located(theirs[d]), f"barcode dim {d}"
    # the 2D oracle has no essential bar; bettimatch's 2D engine reports it
    essential = bm.barcode(f, filtration="sublevel", connectivity=connectivity).essential[0]
    assert [tuple(int(v) for v in row) for row in essential] == [ours.essential]
    for rule, mode in (("reference", "pivot"), ("strict", "index")):
        m = nd.matching(f, g, connectivity, rule)
        o = oracle2d.oracle_matching(f, g, connectivity, mode=mode)
        assert m.counts() == o.counts(), (rule, m.counts(), o.counts())
        for d in range(2):
            assert sorted(a.location + b.location for a, b in m.matched[d]) == oracle2d.oracle_pairs(o, d), (rule, d)
            for k, side in enumerate(("pred", "target")):
                taken = {pair[k].birth_cell for pair in o.matched[d]}
                expected = sorted(b.location for b in (o.pred, o.target)[k][d] if b.birth_cell not in taken)
                assert sorted(b.location for b in m.unmatched(side, d)) == expected, (rule, d, side)


@pytest.mark.parametrize("connectivity", [4, 8])
@given(data=st.data())
def test_2d_equals_2d_oracle(data, connectivity):
    shape = data.draw(shapes(6))
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "float", "tiefree"]))))
    assert_equals_2d_oracle(f, g, connectivity)


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("kind", ["levels3", "ties", "mask", "mixed", "tiefree"])
def test_2d_equals_2d_oracle_bulk(connectivity, kind):
    """Seeded pairs up to 7x7. Tie-break slips are rare (the order of the 8-neighbour kinds at one
    pixel changes about 1 in 80 three-level pairs), so this needs many pairs, not hypothesis."""
    rng = np.random.default_rng([connectivity, len(kind)])
    for i in range(5 * BULK if kind == "levels3" else BULK):
        shape = tuple(int(s) for s in rng.integers(2, 8, 2))
        assert_equals_2d_oracle(*seeded_pair(rng, shape, kind), connectivity)


SLABS = {0: lambda x: x[None], 1: lambda x: x[:, None], 2: lambda x: x[:, :, None]}


def lift(location, axis):
    return tuple(p[:axis] + (0,) + p[axis:] for p in location)


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("connectivity", [(4, 6), (8, 26)])
@given(data=st.data())
def test_slab_equals_its_slice(data, connectivity, axis):
    """A volume one voxel thick gives its 2D slice's answer: same pairs, same voxels (the thin
    axis at 0), nothing in dimension 2."""
    c2, c3 = connectivity
    shape = data.draw(shapes(6))
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "tiefree"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "tiefree"]))))
    slab = SLABS[axis]
    flat, thick = nd.barcode(f, c2), nd.barcode(slab(f), c3)
    assert thick.bars[2] == []
    for d in range(2):
        assert located(thick.bars[d]) == sorted((b.birth, b.death, lift(b.location, axis)) for b in flat.bars[d])
    m2, m3 = nd.matching(f, g, c2), nd.matching(slab(f), slab(g), c3)
    assert m3.counts() == tuple(t + (0,) for t in m2.counts())
    for d in range(2):
        assert sorted(a.location + b.location for a, b in m3.matched[d]) == sorted(
            lift(a.location + b.location, axis) for a, b in m2.matched[d])


# --------------------------------------------------------------------------------------------
# 3D V construction against Betti-Matching-3D
# --------------------------------------------------------------------------------------------

REF, _WHY = _reference()
needs_reference = pytest.mark.skipif(REF is None, reason=f"reference Betti-Matching-3D extension not available: {_WHY}")


def ref_rows(a, ndim):
    return [tuple(int(v) for v in r) for r in np.asarray(a).reshape(-1, ndim)]


def assert_matching_equals_reference(f, g):
    """Counts, voxels and row order of every field, with the reference rule."""
    ndim = f.ndim
    r = REF.compute_matching(np.ascontiguousarray(f), np.ascontiguousarray(g))
    m = nd.matching(f, g, rule="reference")
    assert m.counts() == tuple(tuple(int(v) for v in a) for a in (r.num_matched, r.num_unmatched_input1, r.num_unmatched_input2))
    for d, (matched, pred, target) in enumerate(nd.rows_like_reference(m, f.shape)):
        theirs = list(zip(*(ref_rows(getattr(r, f"input{k}_matched_{e}_coordinates")[d], ndim) for k in (1, 2) for e in ("birth", "death"))))
        assert [sum(row, ()) for row in matched] == [tuple(itertools.chain(*row)) for row in theirs], f"matched dim {d}"
        for k, ours in ((1, pred), (2, target)):
            theirs = list(zip(*(ref_rows(getattr(r, f"input{k}_unmatched_{e}_coordinates")[d], ndim) for e in ("birth", "death"))))
            assert ours == theirs, f"unmatched input{k} dim {d}"


def assert_barcode_equals_reference(x):
    r = REF.compute_barcode(np.ascontiguousarray(x))
    bc = nd.barcode(x)
    for d in range(x.ndim):
        cx = nd.layer_complex(x.shape, "V", d)
        ours = [b.location for b in nd.reference_row_order(bc.bars[d], cx, top=d == x.ndim - 1)]
        assert ours == list(zip(ref_rows(r.birth_coordinates[d], x.ndim), ref_rows(r.death_coordinates[d], x.ndim))), d


@needs_reference
@settings(max_examples=40)
@given(pair=tie_free_pairs3())
def test_matching_equals_reference_tie_free(pair):
    assert_matching_equals_reference(*pair)


@needs_reference
@pytest.mark.parametrize("kind", ["tiefree", "ties", "mask", "mixed", "shell"])
def test_matching_equals_reference_bulk(kind):
    """Seeded 3D pairs up to 5x5x5 (6x6x6 when exhaustive); ties and masks included: the
    reference sorts by (value, packed index) too, so the tie-break is shared. ``shell`` volumes
    have several cavities each, so dimension 2 (tied death cubes, row order) gets exercised."""
    rng = np.random.default_rng([3, len(kind)])
    for _ in range(BULK):
        shape = tuple(int(s) for s in rng.integers(3 if kind == "shell" else 1, 7 if EXHAUSTIVE else 6, 3))
        f, g = seeded_pair(rng, shape, kind)
        assert_matching_equals_reference(f, g)
        assert_barcode_equals_reference(f)


@needs_reference
@pytest.mark.parametrize("kind", ["tiefree", "ties", "mixed"])
def test_2d_matching_equals_reference_row_order(kind):
    """The reference's 2D module lists rows by the same rule (and the nd oracle's 2D keys are its)."""
    rng = np.random.default_rng([4, len(kind)])
    for _ in range(BULK):
        shape = tuple(int(s) for s in rng.integers(1, 8, 2))
        assert_matching_equals_reference(*seeded_pair(rng, shape, kind))


# --------------------------------------------------------------------------------------------
# the two rules
# --------------------------------------------------------------------------------------------

# f = [0, 2, 1], g = f + 3 along one axis (see test_matching_oracle.DEVIATION_F): g's bar [4, 5)
# reaches c = f's bar [1, 2) by the reduction pivot although c's bar has died before g's is born.
DEVIATION_F = np.array([0.0, 2.0, 1.0]).reshape(1, 1, 3)
DEVIATION_G = DEVIATION_F + 3


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_rules_on_the_deviation_case(axis):
    f, g = np.moveaxis(DEVIATION_F, 2, axis), np.moveaxis(DEVIATION_G, 2, axis)
    assert nd.matching(f, g, rule="reference").counts() == ((1, 0, 0), (0, 0, 0), (0, 0, 0))
    assert nd.matching(f, g, rule="strict").counts() == ((0, 0, 0), (1, 0, 0), (1, 0, 0))


@given(data=st.data())
def test_strict_matching_is_part_of_the_reference_matching(data):
    shape = data.draw(shapes3(4))
    f = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "float", "tiefree"]))))
    g = data.draw(volumes(shape, data.draw(st.sampled_from(["ties", "mask", "tiefree"]))))
    connectivity = data.draw(st.sampled_from([6, 26]))
    loose = nd.matching(f, g, connectivity, "reference")
    strict = nd.matching(f, g, connectivity, "strict")
    for d in range(3):
        assert set(strict.matched[d]) <= set(loose.matched[d])
        # a strict pair has a genuine image bar on both sides: born no later than c's bar dies
        for (a, b), via in zip(strict.matched[d], strict.via[d]):
            assert a.birth <= via.death and b.birth <= via.death


def test_identical_inputs_match_completely():
    rng = np.random.default_rng(9)
    for connectivity in (6, 26):
        for rule in ("reference", "strict"):
            x = rng.integers(0, 4, (4, 4, 3)).astype(np.float64)
            m = nd.matching(x, x, connectivity, rule)
            assert all(n == 0 for n in m.counts()[1] + m.counts()[2])
            assert all(a == b for pairs in m.matched for a, b in pairs)


# --------------------------------------------------------------------------------------------
# conventions the engine will implement (small tables, see the module docstring of oracle_nd)
# --------------------------------------------------------------------------------------------


def test_kind_tables():
    assert [nd.v_kind(3, a) for a in ((0,), (1,), (2,))] == [0, 1, 2]
    assert [nd.v_kind(3, a) for a in ((1, 2), (0, 2), (0, 1))] == [0, 1, 2]
    assert nd.graph_offsets(2) == [(1, 0), (0, 1), (1, 1), (1, -1)]
    assert nd.graph_offsets(3)[:3] == [(1, 0, 0), (0, 1, 0), (0, 0, 1)] and len(nd.graph_offsets(3)) == 13


def test_reported_voxels_of_a_flat_3d_cell():
    """All values equal: edges and faces report their last corner in raster order, cubes their
    first (Betti-Matching-3D's getParentVoxel); T cells their first voxel."""
    flat = np.zeros(8)
    v = nd.cubical_complex((2, 2, 2), "V")

    def cell(cx, dim, key):
        return next(i for i in range(len(cx.keys)) if cx.dim[i] == dim and cx.keys[i] == key)

    assert v.reporting_voxel(cell(v, 1, (0, 0, 0, 2)), flat, 0.0) == (0, 0, 1)
    assert v.reporting_voxel(cell(v, 1, (0, 0, 0, 0)), flat, 0.0) == (1, 0, 0)
    assert v.reporting_voxel(cell(v, 2, (0, 0, 0, 0)), flat, 0.0) == (0, 1, 1)  # spans y, z
    assert v.reporting_voxel(cell(v, 2, (0, 0, 0, 1)), flat, 0.0) == (1, 0, 1)  # spans x, z
    assert v.reporting_voxel(cell(v, 3, (0, 0, 0, 0)), flat, 0.0) == (0, 0, 0)
    t = nd.cubical_complex((2, 2, 2), "T")
    assert t.reporting_voxel(cell(t, 0, (1, 1, 1, 0)), flat, 0.0) == (0, 0, 0)  # the centre vertex
    # one voxel lower: the max picks it for V, and a T cell containing it reports it
    flat2 = np.ones(8)
    flat2[6] = 0.0  # voxel (1, 1, 0)
    assert v.reporting_voxel(cell(v, 3, (0, 0, 0, 0)), flat2, 1.0) == (0, 0, 0)
    assert t.reporting_voxel(cell(t, 0, (1, 1, 1, 0)), flat2, 0.0) == (1, 1, 0)


def test_death_cubes_are_reported_at_their_anchor():
    """A dim-2 bar dies at the last cube of its cavity, the one anchored at the cavity's last
    voxel of maximal value, and no other corner attains that value: the cube rule of the table
    (first corner attaining the max) never meets a tie, and the death voxel is the cube's anchor."""
    rng = np.random.default_rng(7)
    seen = 0
    for i in range(60):
        shape = tuple(int(s) for s in rng.integers(4, 7, 3))
        x = shelled(rng, shape) if i % 2 else rng.integers(0, 3, shape).astype(np.float64)
        cx = nd.cubical_complex(shape, "V")
        flat = x.ravel()
        for bar in nd.barcode(x).bars[2]:
            seen += 1
            assert sum(flat[v] == bar.death for v in cx.voxels[bar.death_cell]) == 1
            assert bar.death_voxel == cx.keys[bar.death_cell][:3]
    assert seen > 20


def test_bad_arguments():
    with pytest.raises(ValueError, match="connectivity"):
        nd.barcode(np.zeros((3, 3, 3)), 8)
    with pytest.raises(ValueError, match="connectivity"):
        nd.barcode(np.zeros((3, 3)), 6)
    with pytest.raises(ValueError, match="shapes"):
        nd.matching(np.zeros((2, 2, 2)), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="rule"):
        nd.matching(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), rule="value")
    with pytest.raises(ValueError, match="finite"):
        nd.barcode(np.full((2, 2, 2), np.nan))
