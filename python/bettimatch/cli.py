"""The `bettimatch` command line: `bettimatch evaluate PRED_DIR GT_DIR --num-classes N`.

Predictions and ground truths are paired by case name (the file name without its extension);
every metric is computed per case and class with two native calls per chunk of cases. Exit status:
0 on success, 1 when an input is bad (the message says which file and why), 2 for a bad command
line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import IO, Iterator, List, Optional, Tuple

import numpy as np

from . import __version__
from ._io import InputFileError, class_masks, list_cases, read_array
from ._summary import format_table, rows_for_case, summarize, write_csv, write_json

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2


class _CaseError(Exception):
    def __init__(self, case: str, message: str):
        super().__init__(message)
        self.case = case


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bettimatch", description="Topology-aware evaluation of segmentations.")
    parser.add_argument("--version", action="version", version=f"bettimatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ev = sub.add_parser(
        "evaluate",
        help="compare predicted segmentations with ground truths, per case and class",
        description=(
            "Compare predictions with ground truths paired by file name (without extension). Files: "
            "PNG/TIFF label maps (pillow/tifffile), .npy/.npz arrays, NIfTI .nii/.nii.gz (nibabel); 2D "
            "images. A file holds a label map of class indices; with --num-classes 2 a float image may "
            "be a foreground likelihood map, and a .npy/.npz array of shape (num_classes, H, W) holds "
            "per-class likelihoods (both binarized as value > --threshold). Writes one CSV row per case "
            "and class and prints mean ± std per class."
        ),
    )
    ev.add_argument("pred_dir", type=Path, metavar="PRED_DIR", help="folder of predictions")
    ev.add_argument("gt_dir", type=Path, metavar="GT_DIR", help="folder of ground truths")
    ev.add_argument("--num-classes", type=_positive_int, required=True, help="number of classes, background (0) included")
    ev.add_argument("--include-background", action="store_true", help="also evaluate class 0")
    ev.add_argument("--threshold", type=_finite_float, default=0.5, help="likelihoods above this are foreground (default 0.5)")
    ev.add_argument("--connectivity", type=int, choices=(4, 8), default=4, help="foreground connectivity (default 4)")
    ev.add_argument("--thinning", choices=("guo-hall", "zhang-suen"), default="guo-hall", help="skeletonization for clDice (default guo-hall)")
    ev.add_argument("--jobs", "-j", type=_positive_int, default=None, help="threads (default: all cores)")
    ev.add_argument("--out", type=Path, default=None, help="CSV file with one row per case and class ('-' for stdout)")
    ev.add_argument("--json", type=Path, default=None, dest="json_path", metavar="JSON", help="JSON file with the summary")
    ev.add_argument("--plots", type=Path, default=None, metavar="DIR", help="save one PNG of the matching per case here")
    ev.add_argument("--skip-errors", action="store_true", help="report bad cases and go on with the others")
    ev.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary table")
    ev.set_defaults(func=evaluate)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return args.func(args)


# ----------------------------------------------------------------------------- evaluate


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator:
    bar = None
    if not quiet and total > 1:
        try:
            from tqdm.auto import tqdm

            options = dict(total=total, unit="case", desc="evaluating", file=sys.stderr, leave=False)
            try:
                bar = tqdm(delay=0.5, **options)  # shown only on runs longer than half a second
            except TypeError:  # tqdm < 4.60 has no delay
                bar = tqdm(**options)
        except ImportError:  # no progress bar without tqdm
            bar = None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


def _load_case(case: str, pred: Path, gt: Path, args) -> Tuple[np.ndarray, np.ndarray]:
    """(C, H, W) boolean masks of the prediction and the ground truth of one case."""
    try:
        p = class_masks(read_array(pred), pred, args.num_classes, args.threshold)
        g = class_masks(read_array(gt), gt, args.num_classes, args.threshold)
    except InputFileError as exc:
        raise _CaseError(case, str(exc)) from None
    if p.shape != g.shape:
        raise _CaseError(case, f"shape mismatch: prediction {pred} is {p.shape[1:]} but ground truth {gt} is {g.shape[1:]}")
    return p, g


def _open_out(path: Path) -> IO[str]:
    if str(path) == "-":
        return contextlib.nullcontext(sys.stdout)  # type: ignore[return-value]
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", newline="")


def evaluate(args) -> int:
    from .metrics import mask_metrics

    classes = list(range(0 if args.include_background else 1, args.num_classes))
    if not classes:
        _say("error: --num-classes 1 leaves no foreground class to evaluate (add --include-background)")
        return EXIT_USAGE
    plt = None
    if args.plots is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            _say("error: --plots needs matplotlib: pip install 'bettimatch[plot]'")
            return EXIT_USAGE
        args.plots.mkdir(parents=True, exist_ok=True)

    try:
        preds, pred_ignored = list_cases(args.pred_dir)
        gts, gt_ignored = list_cases(args.gt_dir)
    except InputFileError as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    for folder, ignored in ((args.pred_dir, pred_ignored), (args.gt_dir, gt_ignored)):
        if ignored:
            names = ", ".join(p.name for p in ignored[:5]) + (", ..." if len(ignored) > 5 else "")
            _say(f"warning: ignoring {len(ignored)} file(s) of unsupported type in {folder}: {names}")

    skipped: List[dict] = []
    problems = [
        (case, f"no ground truth for prediction {preds[case]} in {args.gt_dir}") for case in sorted(set(preds) - set(gts))
    ] + [(case, f"no prediction for ground truth {gts[case]} in {args.pred_dir}") for case in sorted(set(gts) - set(preds))]
    for case, message in sorted(problems):
        _say(("skipping case " + case + ": " if args.skip_errors else "error: ") + message)
        skipped.append({"case": case, "error": message})
    if problems and not args.skip_errors:
        _say(f"error: {len(problems)} file(s) without a partner (use --skip-errors to evaluate the others)")
        return EXIT_BAD_INPUT
    pairs = [(case, preds[case], gts[case]) for case in sorted(set(preds) & set(gts))]
    if not pairs:
        _say(f"error: no cases to evaluate (no files with the same name in {args.pred_dir} and {args.gt_dir})")
        return EXIT_BAD_INPUT

    import os

    threads = args.jobs or os.cpu_count() or 1
    chunk = max(8, 4 * threads)
    rows: List[dict] = []
    with _progress(len(pairs), args.quiet) as bar:
        for start in range(0, len(pairs), chunk):
            loaded = []
            for case, pred, gt in pairs[start : start + chunk]:
                try:
                    loaded.append((case,) + _load_case(case, pred, gt, args))
                except _CaseError as exc:
                    if not args.skip_errors:
                        if bar is not None:
                            bar.close()
                        _say(f"error: case {exc.case}: {exc}")
                        _say("(use --skip-errors to report bad cases and evaluate the others)")
                        return EXIT_BAD_INPUT
                    _say(f"skipping case {exc.case}: {exc}")
                    skipped.append({"case": exc.case, "error": str(exc)})
                    if bar is not None:
                        bar.update(1)
            if loaded:
                p_masks = [p[c] for _, p, _ in loaded for c in classes]
                g_masks = [g[c] for _, _, g in loaded for c in classes]
                metrics = mask_metrics(
                    p_masks, g_masks, connectivity=args.connectivity, num_threads=args.jobs, thinning=args.thinning
                )
                for k, (case, p, g) in enumerate(loaded):
                    rows.extend(rows_for_case(case, classes, metrics, k * len(classes)))
                    if plt is not None:
                        _plot_case(plt, case, p, g, classes, args)
                    if bar is not None:
                        bar.update(1)

    if not rows:
        _say("error: every case was skipped")
        return EXIT_BAD_INPUT
    summary = summarize(rows, classes)
    if args.out is not None:
        with _open_out(args.out) as f:
            write_csv(rows, f)
    if args.json_path is not None:
        report = {
            "num_cases": len({r["case"] for r in rows}),
            "num_skipped": len(skipped),
            "skipped": skipped,
            "num_classes": args.num_classes,
            "classes": classes,
            "connectivity": args.connectivity,
            "threshold": args.threshold,
            "thinning": args.thinning,
            **summary,
        }
        with _open_out(args.json_path) as f:
            write_json(report, f)
    if not args.quiet:
        n_cases = len({r["case"] for r in rows})
        print(f"{n_cases} case(s), classes {', '.join(map(str, classes))}, connectivity {args.connectivity}")
        print(format_table(summary))
    if skipped:
        _say(f"skipped {len(skipped)} case(s): {', '.join(s['case'] for s in skipped)}")
    return 0


def _plot_case(plt, case: str, p: np.ndarray, g: np.ndarray, classes: List[int], args) -> None:
    from ._persistence import betti_matching_batch
    from .plot import plot_matching

    matchings = betti_matching_batch(
        [p[c] for c in classes], [g[c] for c in classes], connectivity=args.connectivity, num_threads=args.jobs
    )
    h, w = p.shape[1:]
    side = 5.0 / max(h, w)  # inches per pixel: the longer side of a panel is 5 inches
    fig, axes = plt.subplots(
        len(classes), 2, figsize=(2 * w * side + 3.5, len(classes) * h * side + 0.8), squeeze=False,
        constrained_layout=True,
    )
    for row, (c, m) in enumerate(zip(classes, matchings)):
        plot_matching(p[c], g[c], m, ax=axes[row], connectivity=args.connectivity,
                      titles=(f"class {c}: prediction", f"class {c}: ground truth"))
    fig.suptitle(case)
    fig.savefig(args.plots / f"{case}.png", dpi=100)
    plt.close(fig)
