"""3D volumes: the barcode of a (D, H, W) volume with connectivity 6 (V-construction) and 26
(T-construction).

Checked against GUDHI's ``CubicalComplex(vertices=...)`` (the same V-construction) and
``CubicalComplex(top_dimensional_cells=...)`` and CubicalRipser's ``filtration="T"`` (the
T-construction) as multisets of (dimension, birth, death), against the 2D barcode of a
one-voxel-thick volume's slice (8-connectivity for 26), against scipy labelling for masks, and for
the calls that do not take volumes yet, against the clear error.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import bettimatch as bm

gudhi = pytest.importorskip("gudhi")


def gudhi_diagram(x: np.ndarray, filtration: str, connectivity: int = 6) -> Counter:
    values = x.astype(np.float64) if filtration == "sublevel" else 1.0 - x.astype(np.float64)
    cc = gudhi.CubicalComplex(**{"vertices" if connectivity == 6 else "top_dimensional_cells": values})
    # Over Z/2, as everywhere here: in 3D a persistence diagram can depend on the field (GUDHI's
    # default Z/11 differs on the 14x15x16 noise below, while CubicalRipser agrees with Z/2).
    cc.compute_persistence(homology_coeff_field=2)
    out = Counter()
    for d in range(3):
        for b, e in cc.persistence_intervals_in_dimension(d):
            if np.isfinite(e) and b != e:
                out[(d, float(b), float(e))] += 1
    return out


def our_diagram(bc: bm.Barcode, filtration: str) -> Counter:
    out = Counter()
    for d in range(len(bc.birth)):
        for b, e in zip(bc.birth_value[d], bc.death_value[d]):
            if filtration == "superlevel":
                b, e = 1.0 - b, 1.0 - e
            out[(d, float(b), float(e))] += 1
    return out


volume_shapes = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))


@given(data=st.data(), shape=volume_shapes, levels=st.sampled_from([2, 3, 5, 1000]), filtration=st.sampled_from(["sublevel", "superlevel"]))
def test_volume_barcodes_equal_gudhi(data, shape, levels, filtration):
    x = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, levels - 1))).astype(np.float64) / levels
    bc = bm.barcode(x, filtration)
    assert len(bc.birth) == 3
    assert all(b.shape[1] == 3 for b in bc.birth + bc.death)
    assert our_diagram(bc, filtration) == gudhi_diagram(x, filtration)
    assert bc.essential[0].shape == (1, 3) and bc.essential[1].size == 0 and bc.essential[2].size == 0
    # Values are the input's own at the reported voxels.
    for d in range(3):
        assert np.array_equal(bc.birth_value[d], x[tuple(bc.birth[d].T)])
        assert np.array_equal(bc.death_value[d], x[tuple(bc.death[d].T)])


@given(data=st.data(), shape=volume_shapes, levels=st.sampled_from([2, 3, 5, 1000]), filtration=st.sampled_from(["sublevel", "superlevel"]))
def test_26_connected_barcodes_equal_gudhi_top_cells(data, shape, levels, filtration):
    x = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, levels - 1))).astype(np.float64) / levels
    bc = bm.barcode(x, filtration, connectivity=26)
    assert our_diagram(bc, filtration) == gudhi_diagram(x, filtration, 26)
    assert bc.essential[0].shape == (1, 3) and bc.essential[1].size == 0 and bc.essential[2].size == 0
    for d in range(3):
        assert np.array_equal(bc.birth_value[d], x[tuple(bc.birth[d].T)])
        assert np.array_equal(bc.death_value[d], x[tuple(bc.death[d].T)])


def test_26_connected_barcodes_equal_cubical_ripser():
    cripser = pytest.importorskip("cripser")
    rng = np.random.default_rng(8)
    from scipy.ndimage import gaussian_filter

    for x in (rng.random((9, 10, 11)), rng.integers(0, 3, (8, 7, 9)).astype(np.float64), gaussian_filter(rng.random((16, 14, 12)), 1.5)):
        table = cripser.compute_ph(x, filtration="T", maxdim=2)
        want = Counter((int(d), float(b), float(e)) for d, b, e in table[:, :3] if np.isfinite(e) and b < e)
        assert our_diagram(bm.barcode(x, "sublevel", connectivity=26), "sublevel") == want


def test_larger_smooth_and_noisy_volumes_equal_gudhi():
    rng = np.random.default_rng(7)
    from scipy.ndimage import gaussian_filter

    noise = rng.random((14, 15, 16))
    smooth = gaussian_filter(rng.random((20, 18, 16)), 2)
    for x in (noise, smooth, noise.astype(np.float32)):
        for connectivity in (6, 26):
            got = our_diagram(bm.barcode(x, "sublevel", connectivity=connectivity), "sublevel")
            assert got == gudhi_diagram(x.astype(np.float64), "sublevel", connectivity)


@given(data=st.data(), rows=st.integers(1, 8), cols=st.integers(1, 8), axis=st.integers(0, 2), connectivity=st.sampled_from([(4, 6), (8, 26)]))
def test_a_one_voxel_thick_volume_gives_the_barcode_of_its_slice(data, rows, cols, axis, connectivity):
    image = data.draw(hnp.arrays(np.float64, (rows, cols), elements=st.floats(0, 1), unique=True))
    flat = bm.barcode(image, "sublevel", connectivity=connectivity[0])
    volume = np.expand_dims(image, axis)
    thick = bm.barcode(volume, "sublevel", connectivity=connectivity[1])
    keep = [a for a in range(3) if a != axis]
    for d in range(2):
        want = sorted(map(tuple, np.concatenate([flat.birth[d], flat.death[d]], axis=1)))
        got = sorted(map(tuple, np.concatenate([thick.birth[d][:, keep], thick.death[d][:, keep]], axis=1)))
        assert got == want
        assert np.all(thick.birth[d][:, axis] == 0)
    assert thick.birth[2].shape == (0, 3)


def test_masks_betti_numbers_match_scipy_labelling():
    from scipy import ndimage

    rng = np.random.default_rng(11)
    for _ in range(40):
        mask = rng.random((7, 8, 6)) > rng.uniform(0.3, 0.7)
        if not mask.any():
            continue
        bc = bm.barcode(mask)  # superlevel: the foreground enters first, at value 1
        # Bars born at 1 (the foreground) that survive past it: the mask's own homology.
        alive = [int(np.sum((bc.birth_value[d] == 1) & (bc.death_value[d] == 0))) for d in range(3)]
        b0 = alive[0] + 1  # plus the essential component
        b2 = alive[2]
        labels, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(3, 1))
        assert b0 == n
        background, m = ndimage.label(~mask, structure=ndimage.generate_binary_structure(3, 3))
        border = set(np.unique(np.concatenate([background[[0, -1]].ravel(), background[:, [0, -1]].ravel(), background[..., [0, -1]].ravel()])))
        assert b2 == len(set(range(1, m + 1)) - border)
        # 26-connected foreground, 6-connected background.
        bc = bm.barcode(mask, connectivity=26)
        alive = [int(np.sum((bc.birth_value[d] == 1) & (bc.death_value[d] == 0))) for d in range(3)]
        assert alive[0] + 1 == ndimage.label(mask, structure=np.ones((3, 3, 3)))[1]
        background, m = ndimage.label(~mask, structure=ndimage.generate_binary_structure(3, 1))
        border = set(np.unique(np.concatenate([background[[0, -1]].ravel(), background[:, [0, -1]].ravel(), background[..., [0, -1]].ravel()])))
        assert alive[2] == len(set(range(1, m + 1)) - border)


def test_hollow_shapes():
    shell = np.zeros((7, 7, 7), bool)
    shell[1:6, 1:6, 1:6] = True
    shell[2:5, 2:5, 2:5] = False
    bc = bm.barcode(shell)
    assert [len(b) for b in bc.birth] == [0, 0, 1]
    torus = np.zeros((5, 9, 9), bool)
    torus[1:4, 1:8, 1:8] = True
    torus[:, 3:6, 3:6] = False  # a square ring tube: one tunnel
    bc = bm.barcode(torus)
    assert [len(b) for b in bc.birth] == [0, 1, 0]


def test_batches_of_volumes_equal_singles():
    rng = np.random.default_rng(3)
    vols = rng.random((4, 5, 6, 7))
    singles = [bm.barcode(v) for v in vols]
    for threads in (1, 2, None):
        for batch in (bm.barcode_batch(vols, num_threads=threads), bm.barcode_batch(list(vols), num_threads=threads)):
            for a, b in zip(batch, singles):
                for d in range(3):
                    assert np.array_equal(a.birth[d], b.birth[d]) and np.array_equal(a.death[d], b.death[d])


def test_connectivity_must_fit_the_dimension():
    vol, img = np.zeros((3, 3, 3)), np.zeros((3, 3))
    for bad in (4, 8, 0, 18):
        with pytest.raises(ValueError, match="6 or 26 for 3D"):
            bm.barcode(vol, connectivity=bad)
    with pytest.raises(ValueError, match="4 or 8 for 2D"):
        bm.barcode(img, connectivity=6)
    assert len(bm.barcode(vol, connectivity=6).birth) == 3
    assert len(bm.barcode(vol, connectivity=26).birth) == 3
    with pytest.raises(ValueError, match="4 or 8 for 2D"):
        bm.barcode(img, connectivity=26)
    from bettimatch import _core

    with pytest.raises(ValueError, match="connectivity 6 is for 3D"):
        _core.barcode_batch([img], "sublevel", 6, None, False)
    with pytest.raises(ValueError, match="connectivity 4 is for 2D"):
        _core.barcode_batch([vol], "sublevel", 4, None, False)
    with pytest.raises(ValueError, match="either 2D images or 3D volumes"):
        bm.barcode_batch([img, vol])


def test_what_does_not_take_volumes_yet_says_so():
    vol = np.random.default_rng(0).random((4, 4, 4))
    from bettimatch import _core

    with pytest.raises(ValueError, match="not supported yet"):
        _core.skeletonize_batch([vol > 0.5], "guo-hall", None)
    with pytest.raises(ValueError, match="3D volumes take 'lee'"):
        bm.cldice(vol, vol, thinning="guo-hall")


def test_bad_volumes_are_refused_clearly():
    with pytest.raises(ValueError, match="empty"):
        bm.barcode(np.zeros((0, 3, 3)))
    vol = np.zeros((3, 3, 3))
    vol[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"\(1, 2, 0\).*NaN"):
        bm.barcode(vol)
    with pytest.raises(ValueError, match="2D image or a 3D volume"):
        bm.barcode(np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="at most"):
        bm.barcode(np.broadcast_to(np.float32(0), (2000, 2000, 2000)))


# -------------------------------------------------------------------------------------------
# against the reference (Betti-Matching-3D) and the n-dimensional boundary-matrix oracle
# -------------------------------------------------------------------------------------------

from conftest import reference_module  # noqa: E402

import oracle_nd as nd  # noqa: E402


def _rows(a) -> list:
    return [tuple(int(v) for v in r) for r in np.asarray(a).reshape(-1, 3)]


@given(data=st.data(), shape=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)), levels=st.sampled_from([2, 3, 4, 0]))
def test_volume_barcodes_equal_the_reference_bar_for_bar(data, shape, levels):
    """Same bars, same voxels, same row order as Betti-Matching-3D, ties included."""
    ref = reference_module()
    if ref is None or not hasattr(ref, "compute_barcode"):
        pytest.skip("reference Betti-Matching-3D module not available")
    if levels:
        x = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, levels - 1))).astype(np.float64)
    else:
        x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1), unique=True))
    r = ref.compute_barcode(np.ascontiguousarray(x))
    bc = bm.barcode(x, "sublevel")
    for d in range(3):
        theirs = list(zip(_rows(r.birth_coordinates[d]), _rows(r.death_coordinates[d])))
        ours = list(zip(map(tuple, bc.birth[d].tolist()), map(tuple, bc.death[d].tolist())))
        assert ours == theirs, f"dim {d}"


@given(data=st.data(), shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5)), levels=st.sampled_from([2, 3, 0]))
def test_volume_barcodes_equal_the_oracle(data, shape, levels):
    if levels:
        x = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, levels - 1))).astype(np.float64)
    else:
        x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1), unique=True))
    oracle = nd.barcode(x, 6)
    bc = bm.barcode(x, "sublevel")
    for d in range(3):
        want = sorted(b.location for b in oracle.bars[d])
        got = sorted(zip(map(tuple, bc.birth[d].tolist()), map(tuple, bc.death[d].tolist())))
        assert got == want, f"dim {d}"
    assert tuple(bc.essential[0][0]) == tuple(oracle.essential)
