"""Barcodes against GUDHI, an independent implementation of cubical persistence.

connectivity=4 is GUDHI's ``CubicalComplex(vertices=y)`` (V-construction) and connectivity=8 is
``CubicalComplex(top_dimensional_cells=y)`` (T-construction), where ``y`` is the sublevel input:
``x`` for ``filtration="sublevel"``, ``1 - x`` (in the input's precision) for ``"superlevel"``.

- Values: the multisets of finite (dim, birth, death) agree for every input, ties included.
  GUDHI lists the essential bars (death = inf) with the finite ones; ours are in ``.essential``
  and are compared separately (one in dim 0 at a global minimum, none in dim 1).
- Locations, on tie-free inputs (there every cell value belongs to exactly one pixel, so the
  pixel where a bar is born or dies is determined and both libraries must name the same one):
  for the V-construction GUDHI's ``vertices_of_persistence_pairs()`` names, per bar, the vertex
  (pixel) whose value each of the two critical cells takes; for the T-construction
  ``cofaces_of_persistence_pairs()`` names the top-dimensional cell (pixel) each critical cell
  takes its value from. Both index the input in Fortran (column-major) order.
"""

from __future__ import annotations

from collections import Counter

import gudhi
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bettimatch as bm

from conftest import (
    CONNECTIVITIES,
    FILTRATIONS,
    float_images,
    images,
    masks,
    seeded_images,
    shapes,
    sublevel_values,
    tie_free_images,
)


def gudhi_complex(y: np.ndarray, connectivity: int) -> "gudhi.CubicalComplex":
    y = np.ascontiguousarray(y, dtype=np.float64)
    if connectivity == 4:
        return gudhi.CubicalComplex(vertices=y)
    return gudhi.CubicalComplex(top_dimensional_cells=y)


def gudhi_bars(y: np.ndarray, connectivity: int):
    """(finite multiset of (dim, birth, death), essential multiset of (dim, birth))."""
    cc = gudhi_complex(y, connectivity)
    finite, essential = Counter(), Counter()
    for dim, (b, d) in cc.persistence(homology_coeff_field=2, min_persistence=0.0):
        if np.isinf(d):
            essential[(dim, b)] += 1
        else:
            finite[(dim, b, d)] += 1
    return finite, essential


def our_bars(x: np.ndarray, filtration: str, connectivity: int):
    y = sublevel_values(x, filtration)
    bc = bm.barcode(x, filtration=filtration, connectivity=connectivity)
    finite, essential = Counter(), Counter()
    for d in range(2):
        assert bc.birth[d].dtype == bc.death[d].dtype == np.int64
        assert bc.birth[d].shape == bc.death[d].shape == (len(bc.birth_value[d]), 2)
        yb = y[tuple(bc.birth[d].T)]
        yd = y[tuple(bc.death[d].T)]
        # the reported values are the input's own values at the reported pixels
        xv = np.asarray(x, dtype=np.float64)
        np.testing.assert_array_equal(bc.birth_value[d], xv[tuple(bc.birth[d].T)])
        np.testing.assert_array_equal(bc.death_value[d], xv[tuple(bc.death[d].T)])
        assert np.all(yb < yd), "zero-length or inverted bar reported"
        finite.update((d, float(b), float(e)) for b, e in zip(yb, yd))
        for p in bc.essential[d]:
            essential[(d, float(y[tuple(p)]))] += 1
    return bc, finite, essential


def check_against_gudhi(x: np.ndarray, filtration: str, connectivity: int):
    y = sublevel_values(x, filtration)
    bc, finite, essential = our_bars(x, filtration, connectivity)
    g_finite, g_essential = gudhi_bars(y, connectivity)
    assert finite == g_finite, f"finite bars differ:\nours  {sorted(finite.elements())}\ngudhi {sorted(g_finite.elements())}"
    assert essential == g_essential
    # exactly one essential component, born at a global minimum of y; no essential cycle
    assert len(bc.essential[0]) == 1 and len(bc.essential[1]) == 0
    assert y[tuple(bc.essential[0][0])] == y.min()
    return bc


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("filtration", FILTRATIONS)
@given(x=images(max_side=9))
def test_values_match_gudhi(x, filtration, connectivity):
    check_against_gudhi(x, filtration, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@given(data=st.data())
def test_float32_and_masks_match_gudhi(data, connectivity):
    """float32 inputs (superlevel computed as float32 ``1 - x``) and boolean masks."""
    shape = data.draw(shapes(8))
    x32 = data.draw(float_images(shape, np.float32))
    m = data.draw(masks(shape))
    for filtration in FILTRATIONS:
        check_against_gudhi(x32, filtration, connectivity)
        check_against_gudhi(m, filtration, connectivity)


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("kind", ["float", "ties", "mask", "smooth"])
@pytest.mark.parametrize("seed", range(3))
def test_larger_images_match_gudhi(seed, kind, connectivity):
    shape = [(64, 64), (37, 91), (1, 200)][seed]
    x = seeded_images(seed, shape, kind)
    for filtration in FILTRATIONS:
        check_against_gudhi(x, filtration, connectivity)


def _locations_from_gudhi(y: np.ndarray, connectivity: int):
    """Per dim, the multiset of (birth pixel, death pixel), and the essential pixel, from GUDHI."""
    cc = gudhi_complex(y, connectivity)
    cc.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    if connectivity == 4:
        regular, essential = cc.vertices_of_persistence_pairs()
    else:
        regular, essential = cc.cofaces_of_persistence_pairs()

    def pix(i):
        return tuple(int(v) for v in np.unravel_index(int(i), y.shape, order="F"))

    out = []
    for d in range(2):
        pairs = regular[d] if d < len(regular) else np.zeros((0, 2), dtype=np.int64)
        out.append(sorted((pix(b), pix(e)) for b, e in np.asarray(pairs).reshape(-1, 2)))
    ess = [pix(i) for i in (essential[0] if len(essential) else [])]
    return out, ess


@pytest.mark.parametrize("connectivity", CONNECTIVITIES)
@pytest.mark.parametrize("filtration", FILTRATIONS)
@given(data=st.data())
def test_locations_match_gudhi_on_tie_free_inputs(data, filtration, connectivity):
    shape = data.draw(shapes(9))
    x = data.draw(tie_free_images(shape))
    y = sublevel_values(x, filtration)
    assert len(np.unique(y)) == y.size  # 1 - x keeps the values distinct here
    bc = bm.barcode(x, filtration=filtration, connectivity=connectivity)
    expected, expected_essential = _locations_from_gudhi(y, connectivity)
    for d in range(2):
        ours = sorted(
            (tuple(int(v) for v in b), tuple(int(v) for v in e)) for b, e in zip(bc.birth[d], bc.death[d])
        )
        assert ours == expected[d], f"dim {d}"
    assert [tuple(int(v) for v in p) for p in bc.essential[0]] == expected_essential


def test_gudhi_index_order_is_fortran():
    """Guard for the mapping above: GUDHI numbers cells column-major."""
    y = np.array([[5.0, 0.0, 4.0], [3.0, 9.0, 1.0]])
    cc = gudhi.CubicalComplex(vertices=y)
    cc.compute_persistence(homology_coeff_field=2, min_persistence=0.0)
    _, essential = cc.vertices_of_persistence_pairs()
    assert np.unravel_index(int(essential[0][0]), y.shape, order="F") == (0, 1)
