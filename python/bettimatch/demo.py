"""A small built-in example: ``python -m bettimatch.demo``.

Two toy segmentations, each a prediction against a ground-truth mask: a ring predicted as a broken
ring (a likelihood map whose gap is faint), and two discs predicted as one. For each it prints the
Betti matching (which bars are matched, which are not, and where they are born and die) and the
Betti matching error of the prediction thresholded at 0.5.
"""

from __future__ import annotations

import numpy as np

import bettimatch as bm

SIZE = 11


def _disc(center: tuple, radius: float) -> np.ndarray:
    rows, cols = np.mgrid[:SIZE, :SIZE]
    return (rows - center[0]) ** 2 + (cols - center[1]) ** 2 <= radius**2


def ring_vs_broken_ring() -> tuple:
    ring = _disc((5, 5), 4.2) & ~_disc((5, 5), 2.2)
    pred = np.where(ring, 0.9, 0.05)
    pred[4:7, 8:] = np.where(ring[4:7, 8:], 0.3, 0.05)  # the gap: the ring is there, but faint
    return pred, ring


def two_discs_vs_one() -> tuple:
    target = _disc((3, 3), 2.2) | _disc((7, 7), 2.2)
    pred = np.where(_disc((3, 3), 2.2), 0.8, 0.1)
    return pred, target


def _picture(pred: np.ndarray, target: np.ndarray) -> str:
    """Prediction as digits 0-9 (likelihood x 10, clipped), target as # and ., side by side."""
    lines = ["  pred" + " " * (2 * SIZE - 3) + "target"]
    for p_row, t_row in zip(pred, target):
        left = " ".join(str(min(int(v * 10), 9)) for v in p_row)
        right = " ".join("#" if v else "." for v in t_row)
        lines.append(f"  {left}   {right}")
    return "\n".join(lines)


def _at(rc: np.ndarray) -> str:
    return f"({rc[0]}, {rc[1]})"


def _bar(image: np.ndarray, birth: np.ndarray, death: np.ndarray) -> str:
    b, d = float(image[tuple(birth)]), float(image[tuple(death)])
    return f"born {_at(birth)} at {b:.2f}, dies {_at(death)} at {d:.2f}"


def show(title: str, pred: np.ndarray, target: np.ndarray) -> None:
    m = bm.betti_matching(pred, target, filtration="superlevel", connectivity=4)
    print(f"== {title} ==")
    print(_picture(pred, target))
    print("  Betti matching of the likelihood map against the mask (coordinates are (row, col)):")
    for d, name in enumerate(("components", "holes")):
        print(
            f"  dim {d} ({name}): {m.num_matched[d]} matched, "
            f"{m.num_unmatched_pred[d]} unmatched in pred, {m.num_unmatched_target[d]} unmatched in target"
        )
        matched = zip(m.pred_matched_birth[d], m.pred_matched_death[d], m.target_matched_birth[d], m.target_matched_death[d])
        for pb, pd, tb, td in matched:
            print(f"    matched:   pred {_bar(pred, pb, pd)}  <->  target {_bar(target, tb, td)}")
        for b, dd in zip(m.pred_unmatched_birth[d], m.pred_unmatched_death[d]):
            print(f"    unmatched: pred {_bar(pred, b, dd)}")
        for b, dd in zip(m.target_unmatched_birth[d], m.target_unmatched_death[d]):
            print(f"    unmatched: target {_bar(target, b, dd)}")
    print(
        f"  essential (never dies): pred born at {_at(m.pred_essential[0][0])}, "
        f"target born at {_at(m.target_essential[0][0])}"
    )
    error = bm.betti_matching_error(pred, target, threshold=0.5)
    print(f"  Betti matching error (pred thresholded at 0.5): {error}\n")


def main() -> None:
    print(f"bettimatch {bm.__version__}: superlevel filtration, 4-connected foreground\n")
    show("a ring, predicted with a faint gap", *ring_vs_broken_ring())
    show("two discs, predicted as one", *two_discs_vs_one())


if __name__ == "__main__":
    main()
