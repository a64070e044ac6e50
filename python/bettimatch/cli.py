"""The `bettimatch` command line: `bettimatch evaluate PRED_DIR GT_DIR --num-classes N`.

Predictions and ground truths are paired by case name (the file name without its extension);
every metric is computed per case and class with two native calls per chunk of cases. Exit status:
0 on success, 1 when an input is bad (the message says which file and why), 2 for a bad command
line (including outputs that cannot be written or would overwrite an input; checked before any
case is read).

Streams: data (the CSV or JSON asked for with '-') go to stdout; progress, warnings, errors go to
stderr; the summary table goes to stdout unless stdout carries data, then to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import __version__
from ._io import DEFAULT_MAX_VOXELS, InputFileError, Listing, list_cases, printable
from ._summary import csv_text, format_table, json_text, summarize, write_file_atomically
from .evaluation import Options, Pair, PlotHook, describe, evaluate_in_process, pair_cases

EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
MAX_CLASSES = 2**16  # the range of 16-bit label images; per-class rows beyond it are not a use case
MAX_JOBS = 1024


class UsageError(Exception):
    """A command line that cannot be carried out (exit status 2)."""


class _Stop(Exception):
    """End the run with this exit status (the message has been printed)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _bounded_int(low: int, high: Optional[int]):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"at most {high} is supported, got {text!r}")
        return value

    return parse


_positive_int = _bounded_int(1, None)


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
            "images. An (H, W) array is a label map of class indices (size-1 axes before or after "
            "the image axes are dropped: (1, H, W), (H, W, 1)); with --num-classes 2 a float image with "
            "non-integer values is a foreground likelihood map; a .npy/.npz array of shape "
            "(num_classes, H, W) holds one channel per class, one-hot (0/1 integers) or likelihoods "
            "(floats, foreground = value > --threshold). Other shapes are refused. Hidden files, "
            "folders and other file types are ignored with a warning. Writes one CSV row per case and "
            "class and prints mean ± std per class (on stderr when stdout carries --out - or --json -)."
        ),
    )
    ev.add_argument("pred_dir", type=Path, metavar="PRED_DIR", help="folder of predictions")
    ev.add_argument("gt_dir", type=Path, metavar="GT_DIR", help="folder of ground truths")
    ev.add_argument(
        "--num-classes", type=_bounded_int(1, MAX_CLASSES), required=True,
        help=f"number of classes, background (0) included (at most {MAX_CLASSES})",
    )
    ev.add_argument("--include-background", action="store_true", help="also evaluate class 0")
    ev.add_argument("--threshold", type=_finite_float, default=0.5, help="likelihoods above this are foreground (default 0.5)")
    ev.add_argument("--connectivity", type=int, choices=(4, 8), default=4, help="foreground connectivity (default 4)")
    ev.add_argument("--thinning", choices=("guo-hall", "zhang-suen"), default="guo-hall", help="skeletonization for clDice (default guo-hall)")
    ev.add_argument("--jobs", "-j", type=_bounded_int(1, MAX_JOBS), default=None, help="threads (default: all cores)")
    ev.add_argument(
        "--max-voxels", type=_positive_int, default=DEFAULT_MAX_VOXELS, metavar="N",
        help=(
            "refuse (as a bad case) a file that stores more than N values or whose image needs more "
            f"than N mask values (height x width x num-classes), checked before decoding; cases are also "
            f"computed in chunks of at most about N mask values (default {DEFAULT_MAX_VOXELS} = 2**28: "
            "peak memory about 2.5 GiB)"
        ),
    )
    ev.add_argument("--out", type=Path, default=None, help="CSV file with one row per case and class ('-' for stdout)")
    ev.add_argument("--json", type=Path, default=None, dest="json_path", metavar="JSON", help="JSON file with the summary ('-' for stdout)")
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
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader of stdout went away (`... --out - | head`): stop quietly, like other tools, and
        # keep the interpreter's final flush from failing on the closed pipe.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


# ----------------------------------------------------------------------------- messages


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _show(text: str, stream) -> None:
    """Print human-readable text on a stream whose encoding may lack '±' (an ASCII locale)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        text = text.replace("±", "+/-").encode(encoding, "replace").decode(encoding)
    print(text, file=stream)


def _names(paths: List[Path], limit: int = 5) -> str:
    shown = ", ".join(printable(p.name) for p in paths[:limit])
    return shown + (", ..." if len(paths) > limit else "")


_IGNORED_WHAT = {
    "hidden": "hidden file(s)",
    "folder": "folder(s)",
    "unsupported type": "file(s) of unsupported type",
    "broken symbolic link": "broken symbolic link(s)",
}


def _warn_ignored(folder: Path, ignored: List[Tuple[Path, str]]) -> None:
    for reason, what in _IGNORED_WHAT.items():
        paths = [p for p, r in ignored if r == reason]
        if paths:
            _say(f"warning: ignoring {len(paths)} {what} in {folder}: {_names(paths)}")


# ----------------------------------------------------------------------------- outputs


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


@dataclass(frozen=True)
class _Target:
    """Where one output goes: `path` None is stdout; `replace` writes a temporary file and renames
    it over `path` (False for devices and pipes such as /dev/null, written in place)."""

    option: str
    path: Optional[Path]
    replace: bool = True


def _identity(path: Path):
    """(device, inode) of an existing file, so that hard links and case-insensitive names of one
    file compare equal; None when nothing is there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class _Inputs:
    """The resolved input folders and files, which no output may touch."""

    def __init__(self, folders: List[Path], files: List[Path]):
        self.folders = [_real(f) for f in folders]
        self.files = {_real(f) for f in files}
        self.folder_ids = {i for i in map(_identity, self.folders) if i is not None}
        self.file_ids = {i for i in map(_identity, self.files) if i is not None}

    def refuse(self, option: str, given: Path, real: Path) -> None:
        if real in self.files or _identity(real) in self.file_ids - {None}:
            raise UsageError(f"{option} {given}: would overwrite the input file {real}")
        for folder in self.folders:
            if real == folder or folder in real.parents:
                raise UsageError(f"{option} {given}: lies inside the input folder {folder}; write outputs elsewhere")
        for place in [real, *real.parents]:
            if _identity(place) in self.folder_ids:
                raise UsageError(f"{option} {given}: lies inside the input folder {place}; write outputs elsewhere")


def _encodable(option: str, given: Path) -> None:
    try:
        os.fsencode(str(given))
    except UnicodeEncodeError:
        raise UsageError(f"{option} {printable(str(given))}: the name cannot be encoded as a file name") from None
    if "\0" in str(given):
        raise UsageError(f"{option}: the name contains a NUL character")


def _probe_new_file(option: str, given: Path, real: Path) -> None:
    """Create and remove `real`, so that a name the file system refuses fails now, not after the work."""
    try:
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError(f"{option} {printable(str(given))}: cannot create the file ({exc.strerror})") from None
    os.close(fd)
    os.unlink(real)


def _probe_folder(option: str, given: Path, folder: Path) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {printable(str(given))}: cannot write in the folder {folder} ({exc.strerror})") from None


def _check_output_file(option: str, given: Path, inputs: _Inputs) -> _Target:
    if str(given) == "-":
        return _Target(option, None, replace=False)
    _encodable(option, given)
    try:
        return _check_output_path(option, given, inputs)
    except OSError as exc:  # e.g. a name too long, a loop of symbolic links
        raise UsageError(f"{option} {printable(str(given))}: {exc.strerror or exc}") from None


def _check_output_path(option: str, given: Path, inputs: _Inputs) -> _Target:
    real = _real(given)
    if real.is_dir():
        raise UsageError(f"{option} {given}: is a folder; give a file name")
    inputs.refuse(option, given, real)
    if not real.parent.is_dir():
        raise UsageError(f"{option} {given}: the folder {real.parent} does not exist")
    if real.exists():
        if not os.access(real, os.W_OK):
            raise UsageError(f"{option} {given}: the file is not writable")
        if not real.is_file():  # a device or a pipe: written in place, never replaced
            return _Target(option, real, replace=False)
        _probe_folder(option, given, real.parent)
    else:
        _probe_new_file(option, given, real)
    return _Target(option, real)


def _check_plots(given: Path, cases: List[str], inputs: _Inputs) -> Tuple[Path, List[Path]]:
    """The resolved plot folder and the resolved plot files of `cases`."""
    if str(given) == "-":
        raise UsageError("--plots: give a folder, not '-'")
    _encodable("--plots", given)
    try:
        return _check_plot_paths(given, cases, inputs)
    except OSError as exc:
        raise UsageError(f"--plots {printable(str(given))}: {exc.strerror or exc}") from None


def _check_plot_paths(given: Path, cases: List[str], inputs: _Inputs) -> Tuple[Path, List[Path]]:
    real = _real(given)
    if real.exists() and not real.is_dir():
        raise UsageError(f"--plots {given}: not a folder")
    inputs.refuse("--plots", given, real)
    existing = real
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--plots {given}: {existing} is not a folder")
    _probe_folder("--plots", given, existing)
    files = []
    for case in cases:
        file = real / f"{case}.png"
        resolved = _real(file)
        inputs.refuse("--plots", file, resolved)
        files.append(resolved)
    return real, files


def _check_distinct(targets: List[_Target], plots: Optional[Path], plot_files: List[Path]) -> None:
    def key(path: Optional[Path]):
        return None if path is None else (_identity(path) or path)

    seen: Dict[object, str] = {}
    for target in targets:
        k = key(target.path)
        if k in seen:
            where = "stdout" if target.path is None else f"the same file {target.path}"
            raise UsageError(f"{seen[k]} and {target.option} both write to {where}")
        seen[k] = target.option
        if target.path is not None and plots is not None and (target.path == plots or target.path in plots.parents):
            raise UsageError(f"{target.option} {target.path}: the --plots folder {plots} is (inside) this file")
    files = {key(t.path): t.option for t in targets if t.path is not None}
    for plot in plot_files:
        if key(plot) in files:
            raise UsageError(f"{files[key(plot)]} {plot}: --plots would overwrite this file with a plot")


def _write(target: _Target, text: str) -> None:
    data = text.encode("utf-8")
    if target.path is None:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    elif target.replace:
        write_file_atomically(target.path, data)
    else:
        with open(target.path, "wb") as f:
            f.write(data)


# ----------------------------------------------------------------------------- evaluate


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


class _Run:
    """The cases of one `evaluate` run: gathers the rows, shows progress, and records bad cases
    (or stops at the first one without --skip-errors)."""

    def __init__(self, args, options: Options, plot: Optional[PlotHook]):
        self.args = args
        self.options = options
        self.plot = plot
        self.rows: List[dict] = []
        self.skipped: List[dict] = []
        self.bar = None

    def bad(self, case: str, message: str) -> None:
        if not self.args.skip_errors:
            if self.bar is not None:
                self.bar.close()
            _say(f"error: case {case}: {message}")
            _say("(use --skip-errors to report bad cases and evaluate the others)")
            raise _Stop(EXIT_BAD_INPUT)
        _say(f"skipping case {case}: {message}")
        self.skipped.append({"case": printable(case), "error": printable(message)})
        self._advance()

    def _advance(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def run(self, pairs: List[Pair]) -> None:
        with _progress(len(pairs), self.args.quiet) as bar:
            self.bar = bar
            for result in evaluate_in_process(pairs, self.options, self.plot):
                if result.error is not None:
                    self.bad(result.case, result.error)
                    continue
                self.rows.extend(result.rows)
                self._advance()


def _check_outputs(
    args, preds: Listing, gts: Listing, cases: List[str]
) -> Tuple[Optional[_Target], Optional[_Target], Optional[Path]]:
    """The CSV and JSON targets and the plot folder, each checked before any case is read: names
    that can be created, writable folders, no input overwritten, no two outputs on one file."""
    inputs = _Inputs([args.pred_dir, args.gt_dir], list(preds.cases.values()) + list(gts.cases.values()))
    csv_target = _check_output_file("--out", args.out, inputs) if args.out is not None else None
    json_target = _check_output_file("--json", args.json_path, inputs) if args.json_path is not None else None
    plots, plot_files = (None, [])
    if args.plots is not None:
        plots, plot_files = _check_plots(args.plots, cases, inputs)
    targets = [t for t in (csv_target, json_target) if t is not None]
    _check_distinct(targets, plots, plot_files)
    return csv_target, json_target, plots


def evaluate(args) -> int:
    try:
        return _evaluate(args)
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT_USAGE
    except _Stop as stop:
        return stop.code


def _evaluate(args) -> int:
    classes = list(range(0 if args.include_background else 1, args.num_classes))
    if not classes:
        raise UsageError("--num-classes 1 leaves no foreground class to evaluate (add --include-background)")
    plt = None
    if args.plots is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise UsageError("--plots needs matplotlib: pip install 'bettimatch[plot]'") from None

    try:
        preds = list_cases(args.pred_dir)
        gts = list_cases(args.gt_dir)
    except InputFileError as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    pairs, problems = pair_cases(preds, gts, args.pred_dir, args.gt_dir)
    csv_target, json_target, plots = _check_outputs(args, preds, gts, [case for case, _, _ in pairs])
    stdout_carries_data = any(t is not None and t.path is None for t in (csv_target, json_target))

    for folder, listing in ((args.pred_dir, preds), (args.gt_dir, gts)):
        _warn_ignored(folder, listing.ignored)
    for case, message in problems:
        _say(("skipping case " + case + ": " if args.skip_errors else "error: ") + message)
    if problems and not args.skip_errors:
        _say(f"error: {len(problems)} case(s) cannot be evaluated (use --skip-errors to evaluate the others)")
        return EXIT_BAD_INPUT
    if not pairs:
        _say(f"error: no cases to evaluate (no files with the same name in {args.pred_dir} and {args.gt_dir})")
        return EXIT_BAD_INPUT
    if plots is not None:
        try:
            plots.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--plots {args.plots}: cannot create the folder ({exc.strerror})") from None

    options = Options(
        num_classes=args.num_classes, classes=tuple(classes), threshold=args.threshold,
        connectivity=args.connectivity, thinning=args.thinning, max_voxels=args.max_voxels, num_threads=args.jobs,
    )
    plot = None
    if plt is not None:
        def plot(case: str, p: np.ndarray, g: np.ndarray) -> None:
            _plot_case(plt, case, p, g, classes, args, plots)
    run = _Run(args, options, plot)
    run.skipped.extend({"case": printable(case), "error": printable(message)} for case, message in problems)
    run.run(pairs)
    if not run.rows:
        _say("error: every case was skipped")
        return EXIT_BAD_INPUT

    summary = summarize(run.rows, classes)
    ignored = [
        {"path": printable(str(path)), "reason": reason} for listing in (preds, gts) for path, reason in listing.ignored
    ]
    outputs = [(csv_target, csv_text(run.rows))] if csv_target is not None else []
    if json_target is not None:
        report = {
            "num_cases": len({r["case"] for r in run.rows}),
            "num_skipped": len(run.skipped),
            "skipped": run.skipped,
            "num_ignored": len(ignored),
            "ignored": ignored,
            "num_classes": args.num_classes,
            "classes": classes,
            "connectivity": args.connectivity,
            "threshold": args.threshold,
            "thinning": args.thinning,
            **summary,
        }
        outputs.append((json_target, json_text(report)))
    for target, text in outputs:
        try:
            _write(target, text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            _say(f"error: {target.option}: cannot write {target.path} ({exc.strerror or exc})")
            return EXIT_BAD_INPUT
    if not args.quiet:
        stream = sys.stderr if stdout_carries_data else sys.stdout
        n_cases = len({r["case"] for r in run.rows})
        _show(f"{n_cases} case(s), classes {', '.join(map(str, classes))}, connectivity {args.connectivity}", stream)
        _show(format_table(summary), stream)
    if run.skipped:
        _say(f"skipped {len(run.skipped)} case(s): {', '.join(s['case'] for s in run.skipped)}")
    return 0


def _plot_case(plt, case: str, p: np.ndarray, g: np.ndarray, classes: List[int], args, folder: Path) -> None:
    import io

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
    try:
        for row, (c, m) in enumerate(zip(classes, matchings)):
            plot_matching(p[c], g[c], m, ax=axes[row], connectivity=args.connectivity,
                          titles=(f"class {c}: prediction", f"class {c}: ground truth"))
        fig.suptitle(case)
        image = io.BytesIO()
        fig.savefig(image, format="png", dpi=100)
    finally:
        plt.close(fig)
    write_file_atomically(folder / f"{case}.png", image.getvalue())
