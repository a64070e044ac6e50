"""Rows, summary statistics and output files of `bettimatch evaluate`."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

def metric_names(spatial_dims: int = 2) -> Tuple[str, ...]:
    """The metric columns for 2D images (dimensions 0 and 1) or 3D volumes (0, 1 and 2)."""
    dims = range(spatial_dims)
    return (
        ("dice", "cldice", "betti_matching_error")
        + tuple(f"betti_matching_error_{d}" for d in dims)
        + tuple(f"betti_number_error_{d}" for d in dims)
        + ("score",)
    )


def columns(spatial_dims: int = 2) -> Tuple[str, ...]:
    return ("case", "class") + metric_names(spatial_dims)


METRICS = metric_names(2)
COLUMNS = columns(2)
_INTEGER = {"betti_matching_error"} | {f"betti_{kind}_error_{d}" for kind in ("matching", "number") for d in range(3)}


def balanced_score(dice: np.ndarray, bm_error: np.ndarray, target_betti_sum: np.ndarray) -> np.ndarray:
    """S = Dice + (1 - min(1, BM / (beta0 + beta1 (+ beta2 in 3D) of the target))), in [0, 2].

    A target without features (empty) gives ratio 0 when BM is 0 and 1 otherwise; S is NaN where
    Dice is (both masks empty).
    """
    bm_error = np.asarray(bm_error, dtype=np.float64)
    denom = np.asarray(target_betti_sum, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denom > 0, bm_error / np.where(denom > 0, denom, 1.0), np.where(bm_error > 0, 1.0, 0.0))
    return np.asarray(dice, dtype=np.float64) + (1.0 - np.minimum(1.0, ratio))


def rows_for_case(case: str, classes: Sequence[int], metrics: Dict[str, np.ndarray], start: int) -> List[dict]:
    """CSV rows of one case from `metrics` (as returned by bettimatch.metrics.mask_metrics), whose
    rows start..start+len(classes) belong to this case. The per-dimension columns follow the
    metrics' dimensions: 0 and 1 for images, 0, 1 and 2 for volumes."""
    out = []
    for k, cls in enumerate(classes):
        i = start + k
        bm = metrics["betti_matching_error"][i]
        bne = metrics["betti_number_error"][i]
        dice = float(metrics["dice"][i])
        # Every dimension of the target counts: beta0 + beta1 for images, + beta2 for volumes.
        score = float(balanced_score(dice, bm.sum(), metrics["betti_target"][i].sum()))
        row = {
            "case": case,
            "class": int(cls),
            "dice": dice,
            "cldice": float(metrics["cldice"][i]),
            "betti_matching_error": int(bm.sum()),
        }
        row.update({f"betti_matching_error_{d}": int(v) for d, v in enumerate(bm)})
        row.update({f"betti_number_error_{d}": int(v) for d, v in enumerate(bne)})
        row["score"] = score
        out.append(row)
    return out


def _stats(values: Iterable[float]) -> dict:
    v = np.asarray(list(values), dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}


def summarize(rows: List[dict], classes: Sequence[int], spatial_dims: int = 2) -> dict:
    """Mean, (population) standard deviation and count of each metric per class and over all rows
    of foreground classes (class >= 1), NaNs left out."""
    names = metric_names(spatial_dims)
    by_class: Dict[int, List[dict]] = {cls: [] for cls in classes}
    for r in rows:
        by_class[r["class"]].append(r)
    per_class = {str(cls): {m: _stats(r[m] for r in sel) for m in names} for cls, sel in by_class.items()}
    fg = [r for r in rows if r["class"] >= 1]
    return {"per_class": per_class, "foreground": {m: _stats(r[m] for r in fg) for m in names}}


def _fmt(x) -> str:
    if isinstance(x, float):
        return "nan" if math.isnan(x) else format(x, ".8g")
    return str(x)


def csv_text(rows: List[dict], spatial_dims: int = 2) -> str:
    """The CSV file of `rows`: a header line and one line per row (the columns of
    :func:`columns`)."""
    names = columns(spatial_dims)
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        writer.writerow([_fmt(r[c]) for c in names])
    return stream.getvalue()


def json_text(report: dict) -> str:
    """The JSON file of `report` (strict JSON: no NaN)."""
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


_SHORT = {
    "dice": "Dice",
    "cldice": "clDice",
    "betti_matching_error": "BM err",
    "betti_matching_error_0": "BM0",
    "betti_matching_error_1": "BM1",
    "betti_number_error_0": "BNE0",
    "betti_number_error_1": "BNE1",
    "betti_matching_error_2": "BM2",
    "betti_number_error_2": "BNE2",
    "score": "score",
}


def format_table(summary: dict) -> str:
    """Plain-text table: one line per class and one over foreground classes, mean ± std."""

    def cell(s: dict, metric: str) -> str:
        if s["mean"] is None:
            return "-"
        digits = 2 if metric in _INTEGER else 3
        return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"

    lines = []
    names = list(summary["per_class"].items()) + [("foreground", summary["foreground"])]
    metrics = list(summary["foreground"])  # the metrics summarized, in column order
    table = [["class", "n"] + [_SHORT[m] for m in metrics]]
    for name, stats in names:
        table.append([name, str(stats["betti_matching_error"]["n"])] + [cell(stats[m], m) for m in metrics])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for j, row in enumerate(table):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0 or j == len(table) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _mode_for(path: Path) -> int:
    """Permissions for a written file: those of the file it replaces, else the umask's default."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_file_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename, so that
    `path` holds either its old content or all of the new one, never a part."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".bettimatch-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
