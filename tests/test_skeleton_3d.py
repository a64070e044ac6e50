"""The 3D thinning behind clDice on volumes (rust/core/src/skeleton3d.rs).

- "lee" must equal skimage.morphology.skeletonize on 3D input (Lee, Kashyap & Chu 1994) voxel for
  voxel: random masks (hypothesis, seeded blobs of several densities and shapes up to 24^3) and
  structured ones (tubes, shells, tori, boxes, empty, full, lines); in 2D it must equal
  skeletonize(method="lee").
- "lee-topological" must keep the topology of every mask (26-connected components, tunnels,
  cavities; counted by scipy labelling and skimage's Euler number), which "lee" (like skimage)
  does not for parts of even thickness.
- clDice on volumes must equal clDice computed with numpy from skimage's skeletons, for single
  pairs and for multi-class (B, C, D, H, W) batches in one native call.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

import bettimatch as bm
from bettimatch import _core
from bettimatch import metrics as M

skimage_morphology = pytest.importorskip("skimage.morphology")
skimage_measure = pytest.importorskip("skimage.measure")


def reference(mask: np.ndarray) -> np.ndarray:
    return skimage_morphology.skeletonize(mask)


def ours(mask: np.ndarray, thinning: str = "lee") -> np.ndarray:
    return M.skeletonize(mask, thinning=thinning)


def betti(mask: np.ndarray):
    """(components, tunnels, cavities): 26-connected foreground, 6-connected background."""
    b0 = ndi.label(mask, np.ones((3, 3, 3)))[1]
    b2 = ndi.label(np.pad(~mask, 1, constant_values=True))[1] - 1
    chi = skimage_measure.euler_number(np.pad(mask, 1), connectivity=3)
    return b0, b0 + b2 - chi, b2


def blob(rng: np.random.Generator, shape, sigma: float, density: float) -> np.ndarray:
    """Smoothed noise thresholded to about `density` of foreground: blobs, tubes and sheets."""
    field = ndi.gaussian_filter(rng.random(shape), sigma)
    return field > np.quantile(field, 1 - density)


def box(shape, lo, hi) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return m


def tube(shape, radius: float, centre=None, wiggle: float = 0.0) -> np.ndarray:
    """A tube along the depth axis, of the given radius, bending by `wiggle` voxels."""
    d, h, w = shape
    z, y, x = np.mgrid[:d, :h, :w]
    cy, cx = centre if centre is not None else ((h - 1) / 2, (w - 1) / 2)
    return (y - cy - wiggle * np.sin(z / 3.0)) ** 2 + (x - cx) ** 2 <= radius**2


def torus(shape, major: float, minor: float) -> np.ndarray:
    d, h, w = shape
    z, y, x = np.mgrid[:d, :h, :w].astype(float)
    z, y, x = z - (d - 1) / 2, y - (h - 1) / 2, x - (w - 1) / 2
    return (np.hypot(y, x) - major) ** 2 + z**2 <= minor**2


def shell(shape, thickness: int) -> np.ndarray:
    m = np.ones(shape, bool)
    m[tuple(slice(thickness, n - thickness) for n in shape)] = False
    return m


def structured():
    """Named structured volumes."""
    s = (12, 12, 12)
    yield "empty", np.zeros(s, bool)
    yield "full", np.ones(s, bool)
    yield "full odd", np.ones((7, 9, 5), bool)
    yield "one voxel", box(s, (5, 6, 7), (6, 7, 8))
    yield "line 1x1x9", np.ones((1, 1, 9), bool)
    yield "line 9x1x1", np.ones((9, 1, 1), bool)
    yield "line 1x9x1", np.ones((1, 9, 1), bool)
    yield "plate 1x8x8", np.ones((1, 8, 8), bool)
    yield "plate 8x1x8", np.ones((8, 1, 8), bool)
    yield "diagonal", np.eye(9, dtype=bool)[:, :, None] & np.eye(9, dtype=bool)[None, :, :]
    for lo, hi in [((1, 1, 1), (6, 6, 6)), ((1, 1, 1), (5, 5, 5)), ((2, 3, 1), (9, 6, 11)), ((0, 0, 0), (3, 3, 12))]:
        yield f"box {lo}-{hi}", box(s, lo, hi)
    for r in (0.5, 1.0, 1.5, 2.0, 3.2):
        yield f"tube r={r}", tube((16, 12, 12), r)
        yield f"bent tube r={r}", tube((16, 14, 14), r, wiggle=2.0)
    yield "tube at the border", tube((10, 8, 8), 2.0, centre=(0, 3.5))
    for t in (1, 2, 3):
        yield f"shell t={t}", shell((11, 11, 11), t)
        yield f"shell t={t} uneven", shell((9, 12, 10), t)
    yield "nested shells", shell((15, 15, 15), 2) | np.pad(shell((7, 7, 7), 1), 4)
    for major, minor in [(4.0, 1.0), (5.0, 1.6), (6.0, 2.5)]:
        yield f"torus {major}/{minor}", torus((9, 19, 19), major, minor)
    yield "two tori", torus((9, 19, 19), 5.0, 1.6) | np.roll(torus((9, 19, 19), 5.0, 1.6), 9, axis=2)


# ----------------------------------------------------------------------------- equal to skimage


@pytest.mark.parametrize("name,mask", list(structured()), ids=[n for n, _ in structured()])
def test_structured_volumes_equal_skimage(name, mask):
    assert np.array_equal(ours(mask), reference(mask)), name


@settings(max_examples=150, deadline=None)
@given(
    mask=hnp.arrays(
        np.bool_,
        st.one_of(
            st.tuples(st.integers(1, 8), st.integers(1, 8), st.integers(1, 8)),
            st.tuples(st.just(1), st.integers(1, 12), st.integers(1, 12)),
            st.tuples(st.integers(1, 12), st.just(1), st.integers(1, 12)),
            st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(1)),
        ),
    )
)
def test_random_masks_equal_skimage(mask):
    assert np.array_equal(ours(mask), reference(mask))


@pytest.mark.parametrize("density", [0.1, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("sigma", [0.0, 1.0, 2.0])
def test_seeded_blobs_equal_skimage(density, sigma):
    rng = np.random.default_rng(int(100 * density) + int(10 * sigma))
    shapes = [(24, 24, 24), (5, 24, 17), (20, 3, 22), (16, 16, 2), (1, 24, 24), (24, 1, 1)]
    shapes += [tuple(int(v) for v in rng.integers(1, 25, size=3)) for _ in range(6)]
    for shape in shapes:
        mask = blob(rng, shape, sigma, density) if sigma else rng.random(shape) < density
        assert np.array_equal(ours(mask), reference(mask)), (shape, density, sigma)


def test_planar_lee_equals_skimage_lee_in_2d():
    rng = np.random.default_rng(3)
    for shape in [(30, 40), (1, 20), (20, 1), (7, 7)]:
        for density in (0.3, 0.6, 0.9):
            image = ndi.gaussian_filter(rng.random(shape), 1.5) > 0.5 if min(shape) > 1 else rng.random(shape) < density
            want = skimage_morphology.skeletonize(image, method="lee")
            assert np.array_equal(ours(image, "lee"), want)
            # A 2D image is a volume of depth 1.
            assert np.array_equal(ours(image[None], "lee")[0], want)
    # 2D defaults stay what they were.
    image = rng.random((20, 20)) < 0.7
    assert np.array_equal(M.skeletonize(image), skimage_morphology.thin(image))


def test_batches_mix_shapes_and_threads():
    rng = np.random.default_rng(11)
    vols = [blob(rng, tuple(int(v) for v in rng.integers(1, 16, size=3)), 1.0, 0.5) for _ in range(9)]
    vols.append(rng.random((30, 30)) < 0.6)  # a 2D image among the volumes
    singles = [reference(v) if v.ndim == 3 else skimage_morphology.skeletonize(v, method="lee") for v in vols]
    for threads in (None, 1, 3):
        out = _core.skeletonize_batch(vols, "lee", threads)
        assert [o.shape for o in out] == [v.shape for v in vols]
        assert all(o.dtype == np.bool_ and np.array_equal(o, s) for o, s in zip(out, singles))
    # Other dtypes, likelihoods and non-contiguous views are read as masks too.
    v = vols[0]
    assert np.array_equal(_core.skeletonize_batch([v.astype(np.uint8) * 3], "lee", 1)[0], singles[0])
    assert np.array_equal(M.skeletonize(v * 0.8 + 0.1), singles[0])
    t = np.ascontiguousarray(v.transpose(2, 0, 1))
    assert np.array_equal(_core.skeletonize_batch([v.transpose(2, 0, 1)], "lee", 1)[0], reference(t))


# ----------------------------------------------------------------------------- topology


def test_skimage_loses_even_parts_and_lee_topological_keeps_them():
    # A 2x2x2 cube, a 4x4x4 one, a 2x2 tube, a 2x4 bar and a 4x4 one (scikit-image issue #3757).
    s = (10, 10, 16)
    cases = [box(s, (2, 2, 2), (4, 4, 4)), box(s, (1, 1, 1), (5, 5, 5)), tube((20, 10, 10), 1.0, centre=(4.5, 4.5))]
    cases += [box(s, (1, 1, 1), (3, 5, 15)), box(s, (1, 1, 1), (5, 5, 15))]
    for mask in cases:
        assert not reference(mask).any() and not ours(mask).any()
        kept = ours(mask, "lee-topological")
        assert kept.any() and not (kept & ~mask).any()
        assert betti(kept) == betti(mask)


@settings(max_examples=150, deadline=None)
@given(mask=hnp.arrays(np.bool_, st.tuples(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9))))
def test_lee_topological_keeps_topology_of_random_masks(mask):
    kept = ours(mask, "lee-topological")
    assert not (kept & ~mask).any()
    assert betti(kept) == betti(mask)
    assert np.array_equal(ours(kept, "lee-topological"), kept)


@pytest.mark.parametrize("name,mask", list(structured()), ids=[n for n, _ in structured()])
def test_lee_topological_keeps_topology_of_structured_volumes(name, mask):
    kept = ours(mask, "lee-topological")
    assert not (kept & ~mask).any()
    assert betti(kept) == betti(mask), name
    # Thin: never more voxels than skimage leaves plus what it erases.
    if betti(reference(mask)) == betti(mask):
        assert kept.sum() <= mask.sum()


def test_lee_keeps_topology_of_odd_structures():
    # Parts three or more voxels thick, or one voxel: skimage's rule keeps them.
    for mask in [torus((9, 19, 19), 5.0, 1.6), shell((11, 11, 11), 3), tube((16, 11, 11), 1.5), np.ones((5, 5, 5), bool)]:
        assert betti(ours(mask)) == betti(mask)


# ----------------------------------------------------------------------------- clDice


def cldice_reference(p: np.ndarray, t: np.ndarray) -> float:
    """clDice from skimage skeletons; a vanished skeleton stands in for its mask."""
    if not p.any() and not t.any():
        return float("nan")
    if not p.any() or not t.any():
        return 0.0
    sp, st_ = reference(p), reference(t)
    sp = sp if sp.any() else p
    st_ = st_ if st_.any() else t
    tprec, tsens = (sp & t).sum() / sp.sum(), (st_ & p).sum() / st_.sum()
    return 0.0 if tprec + tsens == 0 else float(2 * tprec * tsens / (tprec + tsens))


def pairs(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for i in range(count):
        shape = tuple(int(v) for v in rng.integers(4, 20, size=3))
        p = blob(rng, shape, rng.uniform(0.8, 2.0), rng.uniform(0.1, 0.6))
        t = p.copy() if i % 4 == 0 else blob(rng, shape, rng.uniform(0.8, 2.0), rng.uniform(0.1, 0.6))
        if i % 5 == 1:
            t = ndi.binary_dilation(p)
        yield p, t


def test_cldice_of_volumes_equals_skimage_skeletons():
    for p, t in pairs(0, 40):
        np.testing.assert_allclose(bm.cldice(p, t), cldice_reference(p, t), rtol=1e-12)
    # Empty masks, vanished skeletons, likelihoods.
    e, even = np.zeros((6, 6, 6), bool), box((6, 6, 6), (1, 1, 1), (5, 5, 5))
    assert np.isnan(bm.cldice(e, e))
    assert bm.cldice(e, even) == 0.0 and bm.cldice(even, e) == 0.0
    assert bm.cldice(even, even) == 1.0  # each skeleton vanished: the masks stand in
    assert bm.cldice(even, even, thinning="lee-topological") == 1.0
    p, t = next(pairs(5, 1))
    np.testing.assert_allclose(bm.cldice(p * 0.7 + 0.2, t * 0.9), cldice_reference(p, t), rtol=1e-12)


def test_cldice_of_a_bar_by_hand():
    # A 3x3x19 bar: each round peels its sides and its ends, and what stays is its axis without
    # the end voxels, (2, 2, x) for x = 2..18: 17 voxels. A prediction covering the bar's first 10
    # columns lies inside the target (Tprec = 1) and holds 9 of the 17 (Tsens = 9/17):
    # clDice = 2 * 9/17 / (1 + 9/17) = 9/13.
    t = box((5, 5, 21), (1, 1, 1), (4, 4, 20))
    p = box((5, 5, 21), (1, 1, 1), (4, 4, 11))
    axis = box((5, 5, 21), (2, 2, 2), (3, 3, 19))
    for thinning in ("lee", "lee-topological"):
        assert np.array_equal(M.skeletonize(t, thinning=thinning), axis)
        assert bm.cldice(p, t, thinning=thinning) == pytest.approx(9 / 13, rel=1e-12)
    assert np.array_equal(reference(t), axis)


def test_compute_cldice_on_volume_batches_in_one_native_call(monkeypatch):
    rng = np.random.default_rng(7)
    b, c, shape = 2, 3, (10, 12, 9)
    labels = np.stack([np.argmax(np.stack([ndi.gaussian_filter(rng.random(shape), 1.5) for _ in range(c)]), 0) for _ in range(b)])
    probs = np.stack([np.stack([ndi.gaussian_filter(rng.random(shape), 1.2) for _ in range(c)]) for _ in range(b)])
    probs /= probs.sum(axis=1, keepdims=True)
    onehot_pred = probs > 1 / 3
    calls = []
    real = _core.skeletonize_batch
    monkeypatch.setattr(_core, "skeletonize_batch", lambda masks, method, threads: calls.append(method) or real(masks, method, threads))
    got = M.compute_cldice(probs, labels[:, None], num_classes=c, threshold=1 / 3, include_background=True)
    assert calls == ["lee"]
    assert got.shape == (b, c)
    for i in range(b):
        for k in range(c):
            np.testing.assert_allclose(got[i, k], cldice_reference(onehot_pred[i, k], labels[i] == k), rtol=1e-12)
    # Labels as (B, D, H, W) need spatial_dims=3; one-hot (B, C, D, H, W) needs nothing.
    np.testing.assert_allclose(M.compute_cldice(probs, labels, num_classes=c, threshold=1 / 3, spatial_dims=3), got[:, 1:], rtol=1e-12)
    onehot = labels[:, None] == np.arange(c)[None, :, None, None, None]
    np.testing.assert_allclose(M.compute_cldice(onehot_pred, onehot, include_background=True), got, rtol=1e-12)
    topo = M.compute_cldice(onehot_pred, onehot, thinning="lee-topological")
    assert calls[-1] == "lee-topological" and topo.shape == (b, c - 1)
    for i in range(b):
        for k in range(1, c):
            assert topo[i, k - 1] == pytest.approx(bm.cldice(onehot_pred[i, k], onehot[i, k], thinning="lee-topological"))


# ----------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_clearly():
    vol = np.random.default_rng(0).random((5, 6, 7)) > 0.5
    for thinning in ("guo-hall", "zhang-suen"):
        with pytest.raises(ValueError, match="is for 2D images; 3D volumes take 'lee'"):
            bm.cldice(vol, vol, thinning=thinning)
        with pytest.raises(ValueError, match="3D volumes take 'lee'"):
            M.skeletonize(vol, thinning=thinning)
        with pytest.raises(ValueError, match="3D volumes take 'lee'"):
            M.compute_cldice(vol[None, None], vol[None, None], thinning=thinning)
        with pytest.raises(ValueError, match="not supported yet"):
            _core.skeletonize_batch([vol], thinning, 1)
    with pytest.raises(ValueError, match="thinning must be"):
        bm.cldice(vol, vol, thinning="medial-axis")
    with pytest.raises(ValueError, match="method must be"):
        _core.skeletonize_batch([vol], "Lee", 1)
    with pytest.raises(ValueError, match="shape"):
        bm.cldice(vol, vol[:, :, :-1])
    with pytest.raises(ValueError, match="empty"):
        M.skeletonize(np.zeros((3, 0, 3), bool))
    with pytest.raises(ValueError, match="empty"):
        _core.skeletonize_batch([np.zeros((3, 3, 0), bool)], "lee", 1)
    with pytest.raises(ValueError, match="2D image or a 3D volume"):
        M.skeletonize(np.zeros((2, 2, 2, 2), bool))
    nan = np.zeros((4, 5, 6))
    nan[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"^pred\[1\]: value at \(2, 3\) is NaN$"):
        bm.cldice(nan, np.zeros((4, 5, 6)))
    with pytest.raises(ValueError, match=r"^mask\[1\]: value at \(2, 3\) is NaN$"):
        M.skeletonize(nan)
