"""Hand-worked cases: the expected counts and pixels are derived in the comments, not computed.

Masks are used with the default superlevel filtration: foreground (1) enters at level 0 of
``1 - x``, background (0) at level 1. A finite dim-0 bar is a foreground component other than
the one that never dies; a dim-1 bar is a hole (a background component, with the complementary
connectivity, not touching the image border). Among equal values the earlier pixel in row-major
order is the elder, so the component that never dies is the one holding the first foreground
pixel, and a younger component is born at its own first pixel.
"""

from __future__ import annotations

import numpy as np
import pytest

import bettimatch as bm

from conftest import CONNECTIVITIES, FILTRATIONS, matching_counts, rows


def mask(shape, *blocks):
    """A boolean mask with the given (r0, r1, c0, c1) half-open blocks set."""
    m = np.zeros(shape, dtype=bool)
    for r0, r1, c0, c1 in blocks:
        m[r0:r1, c0:c1] = True
    return m


def ring(shape=(5, 5), top=1, left=1):
    """A 3x3 square ring (8 pixels) with its centre at (top + 1, left + 1) empty."""
    m = mask(shape, (top, top + 3, left, left + 3))
    m[top + 1, left + 1] = False
    return m


def counts(pred, target, **kw):
    return matching_counts(bm.betti_matching(pred, target, **kw))


NOTHING = ((0, 0), (0, 0), (0, 0))


# --- rings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_ring_vs_broken_ring(connectivity):
    full = ring()
    broken = full.copy()
    broken[1, 2] = False  # a gap in the top side: the centre now reaches the border via (1,2), (0,2)
    # one component each; the ring has one hole, the broken ring none
    m = bm.betti_matching(full, broken, connectivity=connectivity)
    assert matching_counts(m) == ((0, 0), (0, 1), (0, 0))
    assert rows(m.pred_unmatched_death[1]) == [(2, 2)]  # the hole dies when its centre enters
    (b,) = rows(m.pred_unmatched_birth[1])
    assert full[b]  # ... and is born on the ring
    assert rows(m.pred_essential[0]) == [(1, 1)] and rows(m.target_essential[0]) == [(1, 1)]
    # and the other way round
    assert counts(broken, full, connectivity=connectivity) == ((0, 0), (0, 0), (0, 1))


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_ring_vs_filled_disc(connectivity):
    full = ring()
    disc = mask((5, 5), (1, 4, 1, 4))
    # the comparison image (the union) is the disc: the ring's hole is filled there -> unmatched
    assert counts(full, disc, connectivity=connectivity) == ((0, 0), (0, 1), (0, 0))
    assert counts(disc, full, connectivity=connectivity) == ((0, 0), (0, 0), (0, 1))


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_rings_in_different_places(connectivity):
    """Same Betti numbers (1, 1), but the holes are different holes: nothing matches. The union
    has two components, but neither input has a finite dim-0 bar."""
    a = ring((5, 10), 1, 1)
    b = ring((5, 10), 1, 6)
    assert counts(a, b, connectivity=connectivity) == ((0, 0), (0, 1), (0, 1))
    # overlapping rings match
    assert counts(a, a.copy(), connectivity=connectivity) == ((0, 1), (0, 0), (0, 0))


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_two_rings_vs_one(connectivity):
    two = ring((5, 10), 1, 1) | ring((5, 10), 1, 6)
    one = ring((5, 10), 1, 6)
    # two has a finite dim-0 bar (the right ring, born at its first pixel (1, 6)) and two holes;
    # one has one hole, the same as two's right hole; its component is essential
    m = bm.betti_matching(two, one, connectivity=connectivity)
    assert matching_counts(m) == ((0, 1), (1, 1), (0, 0))
    assert rows(m.pred_unmatched_birth[0]) == [(1, 6)]
    assert rows(m.pred_matched_death[1]) == [(2, 7)] and rows(m.target_matched_death[1]) == [(2, 7)]
    assert rows(m.pred_unmatched_death[1]) == [(2, 2)]


# --- components ------------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_two_discs_vs_one_disc(connectivity):
    a = (1, 4, 1, 4)  # disc A: rows 1-3, cols 1-3
    b = (2, 5, 7, 10)  # disc B: rows 2-4, cols 7-9
    two = mask((7, 12), a, b)
    one_a = mask((7, 12), a)
    one_b = mask((7, 12), b)
    m = bm.betti_matching(two, one_a, connectivity=connectivity)
    # two: A holds the first foreground pixel (1, 1) and never dies; B is born at (2, 7) and dies
    # at level 1; one_a has no finite bar
    assert matching_counts(m) == ((0, 0), (1, 0), (0, 0))
    assert rows(m.pred_unmatched_birth[0]) == [(2, 7)]
    (d,) = rows(m.pred_unmatched_death[0])
    assert not two[d]  # it dies where background joins it to A
    assert rows(m.pred_essential[0]) == [(1, 1)] and rows(m.target_essential[0]) == [(1, 1)]
    # target = B alone: still no finite bar on the target side (B is its essential component)
    m = bm.betti_matching(two, one_b, connectivity=connectivity)
    assert matching_counts(m) == ((0, 0), (1, 0), (0, 0))
    assert rows(m.target_essential[0]) == [(2, 7)]
    # two discs vs the same two discs: B's bar is matched
    m = bm.betti_matching(two, two.copy(), connectivity=connectivity)
    assert matching_counts(m) == ((1, 0), (0, 0), (0, 0))
    assert rows(m.pred_matched_birth[0]) == rows(m.target_matched_birth[0]) == [(2, 7)]
    # and swapped
    assert counts(one_a, two, connectivity=connectivity) == ((0, 0), (0, 0), (1, 0))


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_disc_vs_empty_mask(connectivity):
    disc = mask((6, 6), (2, 5, 1, 4))
    empty = np.zeros((6, 6), dtype=bool)
    m = bm.betti_matching(disc, empty, connectivity=connectivity)
    # no finite bars on either side; the essential components are reported: the disc's at its
    # first pixel, the empty mask's at (0, 0) (all pixels tie at level 1, the first one is eldest)
    assert matching_counts(m) == NOTHING
    assert rows(m.pred_essential[0]) == [(2, 1)]
    assert rows(m.target_essential[0]) == [(0, 0)]
    assert m.pred_essential[1].shape == m.target_essential[1].shape == (0, 2)
    two = mask((6, 6), (0, 2, 0, 2), (4, 6, 4, 6))
    assert counts(two, empty, connectivity=connectivity) == ((0, 0), (1, 0), (0, 0))
    assert counts(empty, two, connectivity=connectivity) == ((0, 0), (0, 0), (1, 0))


def test_identical_inputs():
    x = np.array(
        [
            [0.1, 0.9, 0.2, 0.8, 0.3],
            [0.9, 0.1, 0.9, 0.1, 0.9],
            [0.2, 0.9, 0.05, 0.9, 0.4],
            [0.7, 0.1, 0.9, 0.1, 0.6],
        ]
    )
    for filtration in FILTRATIONS:
        for connectivity in CONNECTIVITIES:
            bc = bm.barcode(x, filtration=filtration, connectivity=connectivity)
            m = bm.betti_matching(x, x.copy(), filtration=filtration, connectivity=connectivity)
            n = bc.num_pairs()
            assert n.sum() > 0
            assert matching_counts(m) == (tuple(n), (0, 0), (0, 0))
            for d in range(2):
                assert sorted(zip(rows(m.pred_matched_birth[d]), rows(m.pred_matched_death[d]))) == sorted(
                    zip(rows(bc.birth[d]), rows(bc.death[d]))
                )
    # By hand (superlevel): the seven 0.9 pixels touch only diagonally. Connectivity 4: seven
    # components at level 0.9, the first, (0, 1), never dies, six finite bars are born at 0.9.
    # Connectivity 8: the 0.9s form one component (the essential one), no finite bar born at 0.9.
    bc4 = bm.barcode(x, connectivity=4)
    bc8 = bm.barcode(x, connectivity=8)
    assert int(np.sum(bc4.birth_value[0] == 0.9)) == 6
    assert int(np.sum(bc8.birth_value[0] == 0.9)) == 0
    assert rows(bc4.essential[0]) == rows(bc8.essential[0]) == [(0, 1)]


# --- degenerate shapes -------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("filtration", FILTRATIONS)
@pytest.mark.parametrize("value", [0.0, 0.5, 1.0, -3.0])
def test_one_pixel_image(value, filtration, connectivity):
    x = np.array([[value]])
    bc = bm.barcode(x, filtration=filtration, connectivity=connectivity)
    for d in range(2):
        assert bc.birth[d].shape == bc.death[d].shape == (0, 2)
        assert bc.birth_value[d].shape == (0,)
    assert rows(bc.essential[0]) == [(0, 0)] and bc.essential[1].shape == (0, 2)
    m = bm.betti_matching(x, np.array([[0.25]]), filtration=filtration, connectivity=connectivity)
    assert matching_counts(m) == NOTHING
    assert rows(m.pred_essential[0]) == rows(m.target_essential[0]) == [(0, 0)]


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("filtration", FILTRATIONS)
def test_constant_images(filtration, connectivity):
    for shape in [(4, 5), (1, 7), (6, 1), (2, 2)]:
        a = np.full(shape, 0.3)
        b = np.full(shape, 0.7)
        bc = bm.barcode(a, filtration=filtration, connectivity=connectivity)
        assert bc.num_pairs().tolist() == [0, 0]
        assert rows(bc.essential[0]) == [(0, 0)]  # every pixel ties: the first one is eldest
        m = bm.betti_matching(a, b, filtration=filtration, connectivity=connectivity)
        assert matching_counts(m) == NOTHING
        assert rows(m.pred_essential[0]) == rows(m.target_essential[0]) == [(0, 0)]


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
def test_one_pixel_wide_images(connectivity):
    # sublevel [0, 2, 1, 3, 0.5]: minima at 0 (x=0), 1 (x=2), 0.5 (x=4).
    # At value 2 pixel 1 joins pixel 0 and then pixel 2: bar [1, 2) born at 2, dying at 1.
    # At value 3 pixel 3 joins and then reaches pixel 4: bar [0.5, 3) born at 4, dying at 3.
    row = np.array([[0.0, 2.0, 1.0, 3.0, 0.5]])
    expected = {((0, 2), (0, 1), 1.0, 2.0), ((0, 4), (0, 3), 0.5, 3.0)}
    for x, flip in ((row, False), (row.T, True)):
        bc = bm.barcode(x, filtration="sublevel", connectivity=connectivity)
        got = {
            (b, e, bv, dv)
            for b, e, bv, dv in zip(rows(bc.birth[0]), rows(bc.death[0]), bc.birth_value[0].tolist(), bc.death_value[0].tolist())
        }
        if flip:
            expected_here = {(b[::-1], e[::-1], bv, dv) for b, e, bv, dv in expected}
        else:
            expected_here = expected
        assert got == expected_here
        assert bc.birth[1].shape == (0, 2)
        assert rows(bc.essential[0]) == [(0, 0)]
    # matching: target [0, 2, 1, 3, 5] has only the bar [1, 2) at pixel 2; c = min = pred, so
    # that bar matches pred's [1, 2) and pred's [0.5, 3) stays unmatched
    target = np.array([[0.0, 2.0, 1.0, 3.0, 5.0]])
    for p, t in ((row, target), (row.T, target.T)):
        m = bm.betti_matching(p, t, filtration="sublevel", connectivity=connectivity)
        assert matching_counts(m) == ((1, 0), (1, 0), (0, 0))
    # superlevel mask [1, 0, 1]: two components; the younger is born at its first pixel (0, 2)
    bc = bm.barcode(np.array([[True, False, True]]), connectivity=connectivity)
    assert rows(bc.birth[0]) == [(0, 2)] and rows(bc.death[0]) == [(0, 1)]


# --- connectivity --------------------------------------------------------------------------------


def test_diagonal_pixels_connectivity_4_vs_8():
    diag = np.array([[True, False], [False, True]])
    # connectivity 4: two components; the younger (later index) (1, 1) dies at level 1 at the
    # first edge that reaches it in key order, the one from (0, 1) (down from (0, 1))
    bc4 = bm.barcode(diag, connectivity=4)
    assert rows(bc4.birth[0]) == [(1, 1)] and rows(bc4.death[0]) == [(0, 1)]
    assert bc4.birth_value[0].tolist() == [1.0] and bc4.death_value[0].tolist() == [0.0]
    # connectivity 8: one component
    bc8 = bm.barcode(diag, connectivity=8)
    assert bc8.num_pairs().tolist() == [0, 0]
    # matched against the bridged version (one 4-connected component)
    bridged = np.array([[True, True], [False, True]])
    assert counts(diag, bridged, connectivity=4) == ((0, 0), (1, 0), (0, 0))
    assert counts(diag, bridged, connectivity=8) == NOTHING
    # sublevel: the same picture with low values as foreground
    bcs = bm.barcode(np.array([[0.0, 1.0], [1.0, 0.0]]), filtration="sublevel", connectivity=4)
    assert rows(bcs.birth[0]) == [(1, 1)] and rows(bcs.death[0]) == [(0, 1)]


def test_ring_with_diagonal_gap():
    """A ring missing a corner pixel: closed for an 8-connected foreground (the background is
    then 4-connected and the centre cannot leak through the diagonal gap), open for a
    4-connected one (8-connected background leaks through it)."""
    gap = ring()
    gap[1, 1] = False
    full = ring()
    bc4 = bm.barcode(gap, connectivity=4)
    bc8 = bm.barcode(gap, connectivity=8)
    assert bc4.num_pairs().tolist() == [0, 0]
    assert bc8.num_pairs().tolist() == [0, 1]
    assert rows(bc8.death[1]) == [(2, 2)]
    assert counts(gap, full, connectivity=4) == ((0, 0), (0, 0), (0, 1))
    assert counts(gap, full, connectivity=8) == ((0, 1), (0, 0), (0, 0))


def test_checkerboard_components():
    """Checkerboards, foreground on the even squares. 3x3: connectivity 4 sees 5 components
    (4 finite bars), connectivity 8 one; no holes either way (every background pixel touches the
    border). 5x5: 13 foreground pixels; with connectivity 8 the 4 interior background pixels
    (1,2), (2,1), (2,3), (3,2) have only foreground 4-neighbours: 4 holes, each dying at its own
    pixel; with connectivity 4 the background is 8-connected to the border: no hole, 12 bars."""
    cb3 = np.indices((3, 3)).sum(axis=0) % 2 == 0
    assert bm.barcode(cb3, connectivity=4).num_pairs().tolist() == [4, 0]
    assert bm.barcode(cb3, connectivity=8).num_pairs().tolist() == [0, 0]
    cb5 = np.indices((5, 5)).sum(axis=0) % 2 == 0
    assert bm.barcode(cb5, connectivity=4).num_pairs().tolist() == [12, 0]
    bc8 = bm.barcode(cb5, connectivity=8)
    assert bc8.num_pairs().tolist() == [0, 4]
    assert sorted(rows(bc8.death[1])) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    # matched with itself everything matches; with the 4-connected reading nothing is a hole
    assert counts(cb5, cb5.copy(), connectivity=8) == ((0, 4), (0, 0), (0, 0))
    assert counts(cb5, cb5.copy(), connectivity=4) == ((12, 0), (0, 0), (0, 0))
