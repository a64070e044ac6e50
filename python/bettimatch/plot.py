"""Pictures of a Betti matching: which components and holes of a prediction and a target match.

:func:`plot_matching` draws two 2D images side by side; :func:`plot_matching_volume` draws two 3D
volumes as a maximum projection and the slices through their unmatched features.

Needs matplotlib (``pip install 'bettimatch[plot]'``); importing :mod:`bettimatch` does not import
it, only calling :func:`plot_matching` or :func:`plot_matching_volume` does.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ._inputs import as_array, check_connectivity, check_image, check_ties

__all__ = ["plot_matching", "plot_matching_volume"]

# Matched pairs cycle through these (tab20 without its reds and greys, which mark other things).
_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
]
_UNMATCHED = "#d62728"
_UNMATCHED_DARK = "#7f1414"
_FOREGROUND = "#c8c8c8"
_BACKGROUND = "#ffffff"
_MAX_NUMBERS = 40  # pair numbers are written next to features up to this many pairs


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "bettimatch.plot_matching needs matplotlib: pip install 'bettimatch[plot]' (or pip install matplotlib)"
        ) from exc
    return plt


def _rgb(color: str) -> np.ndarray:
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(color))


# ----------------------------------------------------------------------------- labelling


# Earlier neighbour lines (offsets over all axes but the last) and the slack that lets runs touch
# diagonally, per connectivity: a line of a 2D mask is a row, of a 3D mask a (z, y) row.
_LINE_NEIGHBOURS = {
    4: ([(-1,)], 0),
    8: ([(-1,)], 1),
    6: ([(0, -1), (-1, 0)], 0),
    26: ([(0, -1), (-1, -1), (-1, 0), (-1, 1)], 1),
}


def label_components(mask: np.ndarray, connectivity: int) -> Tuple[np.ndarray, int]:
    """Connected components of a boolean 2D mask (4- or 8-connected) or 3D mask (6- or
    26-connected): (labels, count), 0 = off.

    Run-based two-pass labelling (runs of each line along the last axis joined with the
    overlapping runs of the earlier neighbouring lines), so it needs neither scipy nor a Python
    loop over pixels.
    """
    mask = np.asarray(mask, dtype=bool)
    offsets, slack = _LINE_NEIGHBOURS[connectivity]
    if mask.ndim != len(offsets[0]) + 1:
        raise ValueError(f"connectivity {connectivity} is for {len(offsets[0]) + 1}D masks, got shape {mask.shape}")
    lead, cols = mask.shape[:-1], mask.shape[-1]
    n_lines = int(np.prod(lead))
    padded = np.zeros((n_lines, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = mask.reshape(n_lines, cols)
    d = np.diff(padded, axis=1)
    r_start, c_start = np.nonzero(d == 1)
    _, c_end = np.nonzero(d == -1)  # exclusive ends; same line-major order as the starts
    n = len(r_start)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    line_first = np.searchsorted(r_start, np.arange(n_lines + 1))
    index = np.arange(n_lines).reshape(lead)
    for offset in offsets:
        # Pairs (earlier line, line) at this offset: the lines whose neighbour lies inside the mask.
        here = tuple(slice(max(0, -o), size - max(0, o)) for o, size in zip(offset, lead))
        there = tuple(slice(max(0, -o) + o, size - max(0, o) + o) for o, size in zip(offset, lead))
        for prev, line in zip(index[there].reshape(-1).tolist(), index[here].reshape(-1).tolist()):
            i, i_end = int(line_first[prev]), int(line_first[prev + 1])
            j, j_end = int(line_first[line]), int(line_first[line + 1])
            while i < i_end and j < j_end:
                # Runs a (earlier line) and b (this line) touch when they overlap, or meet
                # diagonally with slack.
                if c_start[i] < c_end[j] + slack and c_start[j] < c_end[i] + slack:
                    ra, rb = find(i), find(j)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
                if c_end[i] < c_end[j]:
                    i += 1
                else:
                    j += 1
    roots = np.array([find(a) for a in range(n)], dtype=np.int64)
    uniq, run_label = np.unique(roots, return_inverse=True)
    labels = np.zeros(n_lines * cols, dtype=np.int64)
    lengths = c_end - c_start
    if n:
        offsets_flat = np.repeat(r_start * cols + c_start - np.cumsum(np.concatenate(([0], lengths[:-1]))), lengths)
        labels[offsets_flat + np.arange(lengths.sum())] = np.repeat(run_label.reshape(-1) + 1, lengths)
    return labels.reshape(mask.shape), len(uniq)


def _holes(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """Labels of the holes: background components (complementary connectivity) off the border."""
    labels, _ = label_components(~mask, 4 if connectivity == 8 else 8)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    labels[np.isin(labels, border)] = 0
    return labels


def _hole_at(holes: np.ndarray, rc: Sequence[int]) -> int:
    """The hole containing pixel rc, or (if rc is not a hole pixel) one next to it."""
    r, c = int(rc[0]), int(rc[1])
    if holes[r, c]:
        return int(holes[r, c])
    block = holes[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2]
    found = block[block > 0]
    return int(found[0]) if found.size else 0


# ----------------------------------------------------------------------------- drawing


class _Side:
    """What one panel shows: the mask, and per feature a region and a colour."""

    def __init__(self, mask: np.ndarray, connectivity: int):
        self.mask = mask
        self.components, _ = label_components(mask, connectivity)
        self.holes = _holes(mask, connectivity)
        self.fills: List[Tuple[int, str, bool]] = []  # (component label, colour, unmatched)
        self.outlines: List[Tuple[int, str, bool]] = []  # (hole label, colour, unmatched)
        self.numbers: List[Tuple[Tuple[int, int], str]] = []

    def component(self, rc, color: str, unmatched: bool, number: Optional[str] = None) -> None:
        lab = int(self.components[int(rc[0]), int(rc[1])])
        if lab:
            self.fills.append((lab, color, unmatched))
            if number is not None:
                self.numbers.append(((int(rc[0]), int(rc[1])), number))

    def hole(self, rc, color: str, unmatched: bool, number: Optional[str] = None) -> None:
        lab = _hole_at(self.holes, rc)
        if lab:
            self.outlines.append((lab, color, unmatched))
            if number is not None:
                rr, cc = np.nonzero(self.holes == lab)
                k = len(rr) // 2
                self.numbers.append(((int(rr[k]), int(cc[k])), number))

    def draw(self, ax, title: str) -> None:
        rows, cols = self.mask.shape
        img = np.empty((rows, cols, 3))
        img[:] = _rgb(_BACKGROUND)
        img[self.mask] = _rgb(_FOREGROUND)
        stripes = ((np.add.outer(np.arange(rows), np.arange(cols)) // 2) % 2).astype(bool)
        for lab, color, unmatched in self.fills:
            region = self.components == lab
            img[region] = _rgb(color)
            if unmatched:
                img[region & stripes] = _rgb(_UNMATCHED_DARK)
        for lab, color, unmatched in self.outlines:
            region = self.holes == lab
            img[region] = 0.7 * _rgb(_BACKGROUND) + 0.3 * _rgb(color)
        ax.imshow(img, interpolation="nearest")
        for lab, color, unmatched in self.outlines:
            region = np.pad(self.holes == lab, 1).astype(float)
            ax.contour(
                np.arange(-1, cols + 1), np.arange(-1, rows + 1), region, levels=[0.5],
                colors=[color], linewidths=2.5, linestyles="--" if unmatched else "-",
            )
        scale = max(rows, cols)
        for (r, c), text in self.numbers:
            ax.text(c, r, text, ha="center", va="center", fontsize=7 if scale > 64 else 9, fontweight="bold",
                    color="black", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])


def _masks(pred: Any, target: Any, threshold: float) -> Tuple[np.ndarray, np.ndarray]:
    p, t = as_array(pred, "pred"), as_array(target, "target")
    for x, name in ((p, "pred"), (t, "target")):
        if x.ndim == 3:
            raise ValueError(f"{name}: a 3D volume of shape {tuple(x.shape)}; draw volumes with bettimatch.plot.plot_matching_volume")
    p, t = check_image(p, "pred"), check_image(t, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}")
    p = p if p.dtype == np.bool_ else p > threshold
    t = t if t.dtype == np.bool_ else t > threshold
    return p, t


def plot_matching(
    pred: Any,
    target: Any,
    matching: Any = None,
    ax: Any = None,
    *,
    threshold: float = 0.5,
    connectivity: Optional[int] = None,
    titles: Sequence[str] = ("prediction", "target"),
    legend: bool = True,
    ties: str = "index",
):
    """Draw a prediction and a target side by side with their Betti matching.

    ``pred`` and ``target`` are 2D masks (bool) or likelihood maps, binarized as
    ``x > threshold``. ``matching`` is their :class:`~bettimatch.BettiMatching` (computed with
    ``connectivity`` when None). ``ax`` is a pair of matplotlib Axes, or None for a new figure.

    Matched features share a colour across the two panels (and a number, up to 40 pairs; the
    essential pair, the oldest component of each mask, is marked with the infinity sign):
    components are filled, holes (cycles) tinted and outlined. Unmatched features are red:
    components filled with dark stripes, holes outlined with a dashed line. The component that
    never dies (the essential class) is matched when both masks are non-empty and unmatched
    otherwise, as the metrics count it. Foreground not belonging to a marked component is grey.
    All features of a mask are born and die at the same two levels, so where several pairings
    would be equally good the tie order decides: with ``ties="index"`` (default, the reference's)
    the pixel order (a pair may look crossed, and an object in the top-left corner may be drawn as
    the essential component while a speck elsewhere is its partner); with ``ties="distance"`` the
    distance transform of the union of the masks (the thickest overlapping objects pair up, and
    specks are the ones left unmatched). ``ties`` is used when ``matching`` is None; pass a
    matching computed with the same ``ties`` otherwise.

    Returns the two Axes.
    """
    plt = _pyplot()
    conn = check_connectivity(connectivity)
    ties = check_ties(ties)
    p, t = _masks(pred, target, threshold)
    if matching is None:
        from ._persistence import betti_matching

        matching = betti_matching(p, t, connectivity=conn, ties=ties)
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    try:
        ax_p, ax_t = ax
    except (TypeError, ValueError):
        raise ValueError("ax must be a pair of matplotlib Axes (or None for a new figure)") from None

    sp, st = _Side(p, conn), _Side(t, conn)
    n_pairs = int(sum(matching.num_matched)) + int(p.any() and t.any())
    numbered = n_pairs <= _MAX_NUMBERS
    k = 0

    def number() -> Optional[str]:
        return str(k + 1) if numbered else None

    # The essential component: the oldest of each mask (first row of the essential births).
    pe = matching.pred_essential[0][:1]
    te = matching.target_essential[0][:1]
    if p.any() and t.any():
        color = _PALETTE[k % len(_PALETTE)]
        sp.component(pe[0], color, False, "\u221e")
        st.component(te[0], color, False, "\u221e")
        k += 1
    elif p.any():
        sp.component(pe[0], _UNMATCHED, True)
    elif t.any():
        st.component(te[0], _UNMATCHED, True)
    for b_p, b_t in zip(matching.pred_matched_birth[0], matching.target_matched_birth[0]):
        color = _PALETTE[k % len(_PALETTE)]
        sp.component(b_p, color, False, number())
        st.component(b_t, color, False, number())
        k += 1
    for d_p, d_t in zip(matching.pred_matched_death[1], matching.target_matched_death[1]):
        color = _PALETTE[k % len(_PALETTE)]
        sp.hole(d_p, color, False, number())
        st.hole(d_t, color, False, number())
        k += 1
    for b in matching.pred_unmatched_birth[0]:
        sp.component(b, _UNMATCHED, True)
    for b in matching.target_unmatched_birth[0]:
        st.component(b, _UNMATCHED, True)
    for d in matching.pred_unmatched_death[1]:
        sp.hole(d, _UNMATCHED, True)
    for d in matching.target_unmatched_death[1]:
        st.hole(d, _UNMATCHED, True)

    un_p = [len(x) for x in matching.pred_unmatched_birth]
    un_t = [len(x) for x in matching.target_unmatched_birth]
    ess = int(p.any() != t.any())
    un_p[0] += int(p.any() and not t.any())
    un_t[0] += int(t.any() and not p.any())
    sp.draw(ax_p, f"{titles[0]}: unmatched {un_p[0]} components, {un_p[1]} holes")
    st.draw(ax_t, f"{titles[1]}: unmatched {un_t[0]} components, {un_t[1]} holes")
    if legend:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [
            Patch(facecolor=_PALETTE[0], label="matched component (same colour = pair)"),
            Line2D([0], [0], color=_PALETTE[1], lw=2.5, label="matched hole"),
            Patch(facecolor=_UNMATCHED, edgecolor=_UNMATCHED_DARK, hatch="///", label="unmatched component"),
            Line2D([0], [0], color=_UNMATCHED, lw=2.5, ls="--", label="unmatched hole"),
        ]
        total = sum(un_p) + sum(un_t)
        ax_t.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
            title=f"Betti matching error {total}\n(dim 0: {un_p[0] + un_t[0]}, dim 1: {un_p[1] + un_t[1]})"
            + ("\nincl. the essential component" if ess else ""),
            title_fontsize=9,
        )
    return ax_p, ax_t


# ----------------------------------------------------------------------------- volumes

_KINDS = ("component", "tunnel", "cavity")
_KINDS_PLURAL = ("components", "tunnels", "cavities")
_TUNNEL_MARKER = "D"
_FOCUS = "#000000"


class _Feature:
    """One bar of a volume's matching as drawn: its dimension, the side it belongs to, the voxel
    where it is marked (the birth voxel of a component or tunnel, which lies on it; the death
    voxel of a cavity, which lies inside it), its colour and pair number."""

    def __init__(self, dim: int, side: int, voxel, color: str, matched: bool, number: Optional[str] = None):
        self.dim = dim
        self.side = side  # 0 prediction, 1 target
        self.voxel = tuple(int(v) for v in voxel)
        self.color = color
        self.matched = matched
        self.number = number


def _volume_features(matching: Any, nonempty: Tuple[bool, bool]) -> List[_Feature]:
    """Every bar of both volumes: matched pairs (one colour per pair, numbered) and unmatched
    bars (red), the essential component counted as the metrics count it."""
    features: List[_Feature] = []
    k = 0
    essentials = (matching.pred_essential[0][:1], matching.target_essential[0][:1])
    if all(nonempty):
        for side in (0, 1):
            features.append(_Feature(0, side, essentials[side][0], _PALETTE[0], True, "\u221e"))
        k = 1
    else:
        for side in (0, 1):
            if nonempty[side]:
                features.append(_Feature(0, side, essentials[side][0], _UNMATCHED, False))
    # Components and tunnels are marked at their birth voxel, cavities at their death voxel.
    matched = [
        (d, matching.pred_matched_birth[d] if d < 2 else matching.pred_matched_death[d],
         matching.target_matched_birth[d] if d < 2 else matching.target_matched_death[d])
        for d in range(3)
    ]
    for d, pred_voxels, target_voxels in matched:
        for vp, vt in zip(pred_voxels, target_voxels):
            color = _PALETTE[k % len(_PALETTE)]
            features.append(_Feature(d, 0, vp, color, True, str(k + 1)))
            features.append(_Feature(d, 1, vt, color, True, str(k + 1)))
            k += 1
    for d in range(3):
        unmatched = (
            matching.pred_unmatched_birth[d] if d < 2 else matching.pred_unmatched_death[d],
            matching.target_unmatched_birth[d] if d < 2 else matching.target_unmatched_death[d],
        )
        for side in (0, 1):
            features.extend(_Feature(d, side, v, _UNMATCHED, False) for v in unmatched[side])
    return features


def _cavities(mask: np.ndarray) -> np.ndarray:
    """Labels of the cavities: background components (26-connected, the complement of the
    foreground's 6) that do not touch the border of the volume."""
    labels, _ = label_components(~mask, 26)
    faces = [labels[0], labels[-1], labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]]
    labels[np.isin(labels, np.unique(np.concatenate([f.reshape(-1) for f in faces])))] = 0
    return labels


class _VolumeSide:
    """One volume's mask, its components and cavities, and its features."""

    def __init__(self, mask: np.ndarray, features: List[_Feature]):
        self.mask = mask
        self.components, _ = label_components(mask, 6)
        self.cavities = _cavities(mask)
        self.features = features
        self._sizes = {id(x): np.bincount(x.reshape(-1)) for x in (self.components, self.cavities)}

    def size(self, f: _Feature) -> int:
        """Voxels of a component or cavity feature (0 for a tunnel)."""
        labels, lab = self.labels_of(f)
        return int(self._sizes[id(labels)][lab]) if lab else 0

    def labels_of(self, f: _Feature) -> Tuple[Optional[np.ndarray], int]:
        """The label array of a component or cavity feature and its label there (0 for a tunnel,
        or when its voxel is not where the labels say)."""
        labels = self.components if f.dim == 0 else self.cavities if f.dim == 2 else None
        return labels, (int(labels[f.voxel]) if labels is not None else 0)


class _Slice:
    """The plane of one slice along `axis`."""

    def __init__(self, axis: int, index: int):
        self.axis, self.index = axis, index

    def image(self, volume: np.ndarray) -> np.ndarray:
        return np.take(volume, self.index, axis=self.axis)

    def shows(self, voxel: Tuple[int, ...]) -> bool:
        return voxel[self.axis] == self.index

    def regions(self, labels: np.ndarray, wanted: List[int]) -> dict:
        plane = self.image(labels)
        return {lab: plane == lab for lab in wanted}


class _Projection:
    """The maximum projection along `axis`: a pixel shows every voxel of its ray."""

    def __init__(self, axis: int):
        self.axis = axis

    def image(self, volume: np.ndarray) -> np.ndarray:
        return volume.any(axis=self.axis)

    def shows(self, voxel: Tuple[int, ...]) -> bool:
        return True

    def regions(self, labels: np.ndarray, wanted: List[int]) -> dict:
        """The projection of each wanted label, from one pass over the volume (a pass per label
        would cost a full volume each)."""
        wanted_arr = np.unique(np.asarray(wanted, dtype=np.int64))
        moved = np.moveaxis(labels, self.axis, 0)
        rows, cols = moved.shape[1:]
        out = {lab: np.zeros((rows, cols), dtype=bool) for lab in wanted_arr.tolist()}
        if not len(wanted_arr):
            return out
        hit = np.isin(moved, wanted_arr)
        _, r, c = np.nonzero(hit)
        keys = np.unique(moved[hit].astype(np.int64) * (rows * cols) + r * cols + c)
        lab_of, pixel = np.divmod(keys, rows * cols)
        bounds = np.searchsorted(lab_of, np.append(wanted_arr, wanted_arr[-1] + 1))
        for k, lab in enumerate(wanted_arr.tolist()):
            out[lab].reshape(-1)[pixel[bounds[k] : bounds[k + 1]]] = True
        return out


def _in_plane(voxel: Tuple[int, ...], axis: int) -> Tuple[int, int]:
    r, c = (v for i, v in enumerate(voxel) if i != axis)
    return int(r), int(c)


def _draw_plane(ax, side: _VolumeSide, plane, title: str, numbered: bool,
                focus: Optional[Tuple[int, ...]] = None) -> None:
    """One panel: `plane` (a slice or the maximum projection) of the volume, its features painted
    as in the 2D plot, tunnels drawn as diamonds."""
    axis = plane.axis
    shown = plane.image(side.mask)
    rows, cols = shown.shape
    img = np.empty((rows, cols, 3))
    img[:] = _rgb(_BACKGROUND)
    img[shown] = _rgb(_FOREGROUND)
    stripes = ((np.add.outer(np.arange(rows), np.arange(cols)) // 2) % 2).astype(bool)
    # Matched features first, so that the red unmatched ones stay visible where they overlap.
    ordered = sorted(side.features, key=lambda f: not f.matched)
    labelled = [(f,) + side.labels_of(f) for f in ordered]
    areas = {}
    for labels in (side.components, side.cavities):
        wanted = [lab for f, arr, lab in labelled if arr is labels and lab]
        areas[id(labels)] = plane.regions(labels, wanted)
    outlines = []
    for f, labels, lab in labelled:
        if not lab:
            continue
        area = areas[id(labels)][lab]
        if f.dim == 0:
            img[area] = _rgb(f.color)
            if not f.matched:
                img[area & stripes] = _rgb(_UNMATCHED_DARK)
        else:
            img[area] = 0.55 * img[area] + 0.45 * _rgb(f.color)
            outlines.append((area, f))
    ax.imshow(img, interpolation="nearest")
    grid = (np.arange(-1, cols + 1), np.arange(-1, rows + 1))
    for area, f in outlines:
        if area.any():
            # A white line under the outline keeps it visible on a component of its own colour.
            padded = np.pad(area, 1).astype(float)
            ax.contour(*grid, padded, levels=[0.5], colors=["white"], linewidths=3.5)
            ax.contour(*grid, padded, levels=[0.5], colors=[f.color], linewidths=2.0,
                       linestyles="-" if f.matched else "--")
    tunnels = [f for f in ordered if f.dim == 1 and plane.shows(f.voxel)]
    if tunnels:
        where = np.array([_in_plane(f.voxel, axis) for f in tunnels])
        ax.scatter(where[:, 1], where[:, 0], s=40, marker=_TUNNEL_MARKER, c=[f.color for f in tunnels],
                   edgecolors="black", linewidths=[1.0 if f.matched else 1.8 for f in tunnels], zorder=3)
    fontsize = 7 if max(rows, cols) > 64 else 9
    for f in ordered:
        if f.number is not None and (numbered or f.number == "\u221e") and isinstance(plane, _Projection):
            r, c = _in_plane(f.voxel, axis)
            ax.text(c, r, f.number, ha="center", va="bottom" if f.dim == 1 else "center", fontsize=fontsize,
                    fontweight="bold", color="black",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
    if focus is not None:
        r, c = _in_plane(focus, axis)
        ax.plot(c, r, "o", markersize=18, markerfacecolor="none", markeredgecolor=_FOCUS, markeredgewidth=2.0)
        ax.plot(c, r, "+", markersize=10, color=_FOCUS, markeredgewidth=1.5)
    ax.set_title(title, fontsize=9)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])


def _volume_masks(pred: Any, target: Any, threshold: float) -> Tuple[np.ndarray, np.ndarray]:
    p = as_array(pred, "pred")
    t = as_array(target, "target")
    for x, name in ((p, "pred"), (t, "target")):
        if x.ndim != 3:
            raise ValueError(f"{name}: expected a 3D volume, got shape {tuple(x.shape)} (2D images: plot_matching)")
        check_image(x, name, volumes=True)
    if p.shape != t.shape:
        raise ValueError(f"pred has shape {tuple(p.shape)} but target has shape {tuple(t.shape)}")
    p = p if p.dtype == np.bool_ else p > threshold
    t = t if t.dtype == np.bool_ else t > threshold
    return p, t


def _slice_order(unmatched: List[_Feature], sides: List["_VolumeSide"]) -> List[_Feature]:
    """The unmatched features in the order their slices are shown: the kinds in turn (component,
    tunnel, cavity, component, ...), the largest of each kind first, so that a few rows show the
    biggest mistakes of every kind."""
    by_kind = [
        sorted((f for f in unmatched if f.dim == d), key=lambda f: -sides[f.side].size(f)) for d in range(3)
    ]
    order: List[_Feature] = []
    for k in range(max((len(x) for x in by_kind), default=0)):
        order.extend(x[k] for x in by_kind if k < len(x))
    return order


def _panel_inches(shape: Tuple[int, ...], axis: int) -> Tuple[float, float]:
    rows, cols = (n for i, n in enumerate(shape) if i != axis)
    side = 3.5 / max(rows, cols)  # inches per voxel: the longer side of a panel is 3.5 inches
    return cols * side, rows * side


def volume_figure_size(pred: Any, target: Any, matching: Any, *, axis: int = 0, max_slices: int = 6) -> Tuple[float, float]:
    """(width, height) in inches of the picture :func:`plot_matching_volume` draws."""
    shape = np.shape(pred)
    w, h = _panel_inches(shape, axis)
    n_unmatched = sum(len(x) for x in matching.pred_unmatched_birth) + sum(len(x) for x in matching.target_unmatched_birth)
    n_unmatched += int(bool(np.any(pred)) != bool(np.any(target)))  # an essential component without partner
    rows = 1 + min(n_unmatched, max_slices)
    return 2 * w + 3.2, rows * (h + 0.75) + 0.4


def plot_matching_volume(
    pred: Any,
    target: Any,
    matching: Any = None,
    fig: Any = None,
    *,
    axis: int = 0,
    threshold: float = 0.5,
    connectivity: Optional[int] = None,
    titles: Sequence[str] = ("prediction", "target"),
    max_slices: int = 6,
    legend: bool = True,
    ties: str = "index",
):
    """Draw the Betti matching of two 3D volumes: an overview and the slice through each
    unmatched feature.

    ``pred`` and ``target`` are (D, H, W) masks (bool) or likelihoods, binarized as
    ``x > threshold``; ``matching`` is their :class:`~bettimatch.BettiMatching` (computed when
    None; connectivity 6, the only one for volumes). ``fig`` is a matplotlib Figure or SubFigure
    to draw in (None: a new figure).

    The first row shows the maximum projection of each volume along ``axis`` with every feature:
    components are filled, cavities (enclosed background) tinted and outlined, tunnels (loops)
    drawn as diamonds at their birth voxel (a voxel of the loop). Matched features share a colour
    and a number across the two panels; unmatched ones are red (components with dark
    stripes, cavities with a dashed outline, diamonds with a thick edge). Each further row is one
    unmatched feature, up to ``max_slices`` of them: the slice along ``axis`` through the voxel
    where it is marked (components and tunnels: their birth voxel; cavities: their death voxel,
    which lies inside the cavity), of both volumes, with that voxel circled; when there are more,
    the rows take the kinds in turn, the largest component or cavity of each kind first.

    The essential component (the first of each volume in the tie order, the one that never dies) is
    matched when both volumes are non-empty, wherever the two lie, and marked with the infinity
    sign; when exactly one volume is empty it is unmatched, as the metrics count it. So the red
    features are exactly the Betti matching error, and where several pairings would be equally
    good the tie order decides: the voxel order with ``ties="index"`` (a pair may look crossed),
    the distance transform of the union of the masks with ``ties="distance"`` (the essential
    component is then the one holding the deepest voxel, and specks are left unmatched); as in
    :func:`plot_matching`, ``ties`` is used when ``matching`` is None.

    Returns the Figure (or SubFigure) drawn in.
    """
    plt = _pyplot()
    p, t = _volume_masks(pred, target, threshold)
    conn = check_connectivity(connectivity, 3)
    ties = check_ties(ties)
    if isinstance(axis, bool) or axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2, got {axis!r}")
    if isinstance(max_slices, bool) or not isinstance(max_slices, (int, np.integer)) or max_slices < 0:
        raise ValueError(f"max_slices must be a non-negative integer, got {max_slices!r}")
    if matching is None:
        from ._persistence import betti_matching

        matching = betti_matching(p, t, connectivity=conn, ties=ties)
    features = _volume_features(matching, (bool(p.any()), bool(t.any())))
    sides = [_VolumeSide(m, [f for f in features if f.side == k]) for k, m in enumerate((p, t))]
    unmatched = _slice_order([f for f in features if not f.matched], sides)
    focus = unmatched[:max_slices]
    if fig is None:
        fig = plt.figure(figsize=volume_figure_size(p, t, matching, axis=axis, max_slices=max_slices),
                         constrained_layout=True)
    rows = np.asarray(fig.subfigures(1 + len(focus), 1, squeeze=False))[:, 0]
    axes = [np.asarray(row.subplots(1, 2, squeeze=False))[0] for row in rows]

    counts = [[sum(1 for f in unmatched if f.side == k and f.dim == d) for d in range(3)] for k in (0, 1)]
    numbered = sum(1 for f in features if f.matched and f.side == 0) <= _MAX_NUMBERS
    for k in (0, 1):
        summary = ", ".join(f"{n} {_KINDS_PLURAL[d] if n != 1 else _KINDS[d]}" for d, n in enumerate(counts[k]))
        _draw_plane(axes[0][k], sides[k], _Projection(axis),
                    f"{titles[k]}: maximum projection along axis {axis}\nunmatched: {summary}", numbered)
    for row, f in enumerate(focus, start=1):
        s = f.voxel[axis]
        rows[row].suptitle(f"unmatched {_KINDS[f.dim]} of the {titles[f.side]}, at voxel {f.voxel} (circled)",
                           fontsize=10, fontweight="bold")
        for k in (0, 1):
            _draw_plane(axes[row][k], sides[k], _Slice(axis, s), f"{titles[k]}: slice {s} along axis {axis}",
                        numbered, focus=f.voxel)
    if legend:
        _volume_legend(axes[0][1], counts, len(unmatched), len(focus))
    return fig


def _volume_legend(ax, counts: List[List[int]], n_unmatched: int, n_shown: int) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=_PALETTE[0], label="matched component (same colour = pair)"),
        Line2D([0], [0], color=_PALETTE[1], lw=2.0, label="matched cavity"),
        Line2D([0], [0], ls="none", marker=_TUNNEL_MARKER, markerfacecolor=_PALETTE[2], markeredgecolor="black",
               label="matched tunnel (at a voxel of its loop)"),
        Patch(facecolor=_UNMATCHED, edgecolor=_UNMATCHED_DARK, hatch="///", label="unmatched component"),
        Line2D([0], [0], color=_UNMATCHED, lw=2.0, ls="--", label="unmatched cavity"),
        Line2D([0], [0], ls="none", marker=_TUNNEL_MARKER, markerfacecolor=_UNMATCHED, markeredgecolor="black",
               markeredgewidth=1.8, label="unmatched tunnel"),
        Line2D([0], [0], ls="none", marker="o", markersize=10, markerfacecolor="none", markeredgecolor=_FOCUS,
               label="the feature of a slice row"),
    ]
    per_dim = [counts[0][d] + counts[1][d] for d in range(3)]
    title = f"Betti matching error {sum(per_dim)}\n(dim 0: {per_dim[0]}, dim 1: {per_dim[1]}, dim 2: {per_dim[2]})"
    if n_shown < n_unmatched:
        title += f"\nslices of {n_shown} of the {n_unmatched} unmatched\n(the largest of each kind in turn)"
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False,
              title=title, title_fontsize=8)
