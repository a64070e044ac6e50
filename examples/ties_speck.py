"""The speck example of the README: a square plus a one-pixel speck against the square alone,
matched with ``ties="index"`` and ``ties="distance"``; writes docs/ties_speck.png (or the path
given as the first argument)."""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bettimatch.plot import plot_matching  # noqa: E402

target = np.zeros((16, 16), bool)
target[5:13, 5:13] = True
pred = target.copy()
pred[0, 0] = True

fig, axes = plt.subplots(2, 2, figsize=(12, 8), constrained_layout=True)
for row, ties in zip(axes, ("index", "distance")):
    plot_matching(pred, target, ax=row, ties=ties, titles=(f'{ties}: prediction', f'{ties}: target'))
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "ties_speck.png"
fig.savefig(out, dpi=55)
print(f"wrote {out}")
