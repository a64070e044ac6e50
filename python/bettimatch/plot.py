"""Pictures of a Betti matching: which components and holes of a prediction and a target match.

Needs matplotlib (``pip install 'bettimatch[plot]'``); importing :mod:`bettimatch` does not import
it, only calling :func:`plot_matching` does.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ._inputs import as_array, check_connectivity, check_image

__all__ = ["plot_matching"]

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


def label_components(mask: np.ndarray, connectivity: int) -> Tuple[np.ndarray, int]:
    """Connected components of a boolean 2D mask (4- or 8-connected): (labels, count), 0 = off.

    Run-based two-pass labelling (runs of each row joined with overlapping runs of the row above),
    so it needs neither scipy nor a Python loop over pixels.
    """
    mask = np.asarray(mask, dtype=bool)
    rows, cols = mask.shape
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    r_start, c_start = np.nonzero(d == 1)
    _, c_end = np.nonzero(d == -1)  # exclusive ends; same row-major order as the starts
    n = len(r_start)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    slack = 1 if connectivity == 8 else 0
    row_first = np.searchsorted(r_start, np.arange(rows + 1))
    for r in range(1, rows):
        i, i_end = int(row_first[r - 1]), int(row_first[r])
        j, j_end = i_end, int(row_first[r + 1])
        while i < i_end and j < j_end:
            # Runs a (row above) and b (this row) touch when they overlap (4) or meet diagonally (8).
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
    labels = np.zeros(rows * cols, dtype=np.int64)
    lengths = c_end - c_start
    if n:
        offsets = np.repeat(r_start * cols + c_start - np.cumsum(np.concatenate(([0], lengths[:-1]))), lengths)
        labels[offsets + np.arange(lengths.sum())] = np.repeat(run_label + 1, lengths)
    return labels.reshape(rows, cols), len(uniq)


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
    p = check_image(as_array(pred, "pred"), "pred")
    t = check_image(as_array(target, "target"), "target")
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
    would be equally good the matching follows the pixel order (a pair may look crossed); the
    numbers of matched and unmatched features do not depend on it.

    Returns the two Axes.
    """
    plt = _pyplot()
    conn = check_connectivity(connectivity)
    p, t = _masks(pred, target, threshold)
    if matching is None:
        from ._persistence import betti_matching

        matching = betti_matching(p, t, connectivity=conn)
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
