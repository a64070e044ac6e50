"""bettimatch.plot_matching: the picture shows what it claims, and matplotlib stays optional."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage as ndi

import bettimatch as bm
from bettimatch.plot import _PALETTE, _UNMATCHED, _UNMATCHED_DARK, label_components

from conftest import masks, shapes


@given(st.data(), st.sampled_from([4, 8]))
def test_label_components_equals_scipy(data, connectivity):
    mask = data.draw(masks(data.draw(shapes(12))))
    ours, n = label_components(mask, connectivity)
    ref, m = ndi.label(mask, ndi.generate_binary_structure(2, 1 if connectivity == 4 else 2))
    assert n == m
    # Same partition (labels may be numbered differently).
    pairs = set(zip(ours[mask].tolist(), ref[mask].tolist()))
    assert len(pairs) == n and (ours[~mask] == 0).all()


def scene():
    """Target: blob A, blob B, a ring. Prediction: blob A, blob B split in two, a broken ring."""
    t = np.zeros((30, 40), bool)
    p = np.zeros((30, 40), bool)
    t[2:8, 2:8] = p[2:8, 2:8] = True  # A
    t[2:8, 20:30] = True  # B
    p[2:8, 20:24] = p[2:8, 26:30] = True  # B split
    t[14:26, 10:24] = True
    t[17:23, 13:21] = False  # ring
    p[14:26, 10:24] = True
    p[17:23, 13:21] = False
    p[19:21, 10:13] = False  # broken: the hole opens to the outside
    return p, t


def panel_rgb(ax):
    return np.asarray(ax.images[0].get_array())[..., :3]


def color(hex_):
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(hex_))


def test_matched_components_share_colours_and_unmatched_are_red(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    p, t = scene()
    m = bm.betti_matching(p, t)
    ax_p, ax_t = bm.plot_matching(p, t, m)
    img_p, img_t = panel_rgb(ax_p), panel_rgb(ax_t)
    # Every foreground pixel is painted (each component is a matched or an unmatched feature) and
    # no background pixel is, apart from hole tints.
    grey = color("#c8c8c8")
    assert not np.all(np.isclose(img_p[p], grey), axis=-1).any()
    assert not np.all(np.isclose(img_t[t], grey), axis=-1).any()
    # Matched pairs: the component of the pred birth and of the target birth have one colour.
    lp, _ = label_components(p, 4)
    lt, _ = label_components(t, 4)
    pairs = list(zip(m.pred_matched_birth[0], m.target_matched_birth[0]))
    pairs.append((m.pred_essential[0][0], m.target_essential[0][0]))  # both masks non-empty
    used = []
    for bp, bt in pairs:
        cp = img_p[lp == lp[tuple(bp)]]
        ct = img_t[lt == lt[tuple(bt)]]
        assert np.allclose(cp, cp[0]) and np.allclose(ct, ct[0]) and np.allclose(cp[0], ct[0])
        assert any(np.allclose(cp[0], color(h)) for h in _PALETTE)
        used.append(tuple(np.round(cp[0], 3)))
    assert len(set(used)) == len(used)  # distinct colours for distinct pairs
    # The unmatched component (one half of the split blob) is red with dark stripes.
    (b,) = m.pred_unmatched_birth[0]
    region = img_p[lp == lp[tuple(b)]]
    is_red = np.all(np.isclose(region, color(_UNMATCHED)), axis=-1)
    is_dark = np.all(np.isclose(region, color(_UNMATCHED_DARK)), axis=-1)
    assert (is_red | is_dark).all() and is_red.any() and is_dark.any()
    # The target's ring hole is unmatched (the prediction's ring is broken): a dashed outline on the
    # target panel, none on the prediction's.
    assert list(m.num_unmatched_target) == [0, 1]
    assert len(ax_t.collections) == 1 and len(ax_p.collections) == 0
    assert "unmatched 1 components, 0 holes" in ax_p.get_title()
    assert "unmatched 0 components, 1 holes" in ax_t.get_title()
    ax_p.figure.savefig(tmp_path / "scene.png")
    assert (tmp_path / "scene.png").stat().st_size > 1000
    plt.close("all")


def test_matched_hole_is_outlined_in_both_panels_and_empty_prediction():
    plt = pytest.importorskip("matplotlib.pyplot")
    ring = np.zeros((12, 12), bool)
    ring[2:10, 2:10] = True
    ring[4:8, 4:8] = False
    fig, axes = plt.subplots(2, 2)
    ax_p, ax_t = bm.plot_matching(ring, ring, ax=axes[0])
    assert len(ax_p.collections) == len(ax_t.collections) == 1
    # A likelihood map is binarized at the threshold; an empty prediction leaves the target's
    # essential component unmatched.
    ax_p, ax_t = bm.plot_matching(np.full(ring.shape, 0.2), ring * 0.9, ax=axes[1], connectivity=8)
    img_t = panel_rgb(ax_t)
    red = np.all(np.isclose(img_t, color(_UNMATCHED)) | np.isclose(img_t, color(_UNMATCHED_DARK)), axis=-1)
    assert np.array_equal(red, ring)
    assert "unmatched 1 components, 1 holes" in ax_t.get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="pair of matplotlib Axes"):
        bm.plot_matching(ring, ring, ax=axes[0, 0])
    with pytest.raises(ValueError, match="shape"):
        bm.plot_matching(ring, ring[:5])


def test_importing_bettimatch_does_not_import_matplotlib():
    code = "import sys, bettimatch; assert 'matplotlib' not in sys.modules; bettimatch.plot_matching; assert 'matplotlib' not in sys.modules"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_clear_message_without_matplotlib(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'bettimatch\[plot\]'"):
        bm.plot_matching(np.ones((3, 3), bool), np.ones((3, 3), bool))
