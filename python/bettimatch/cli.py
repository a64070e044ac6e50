"""The `bettimatch` command line: `bettimatch evaluate PRED_DIR GT_DIR --num-classes N`.

Predictions and ground truths are paired by case name (the file name without its extension);
every metric is computed per case and class with two native calls per chunk of cases. Cases are 2D
images or 3D volumes (one kind per run). Exit status: 0 on success, 1 when an input is bad (the
message says which file and why), 2 for a bad command line (including outputs that cannot be
written or would overwrite an input; checked before any case is read).

With --out FILE the rows are streamed to FILE.partial as cases finish and FILE is written sorted
at the end (--resume continues an interrupted run); --scheduler runs one Dask task per case
(bettimatch._dask); --nnunet reads nnU-Net layouts (bettimatch._nnunet). The engine is
bettimatch.evaluation.

Streams: data (the CSV or JSON asked for with '-') go to stdout; progress, warnings, errors go to
stderr; the summary table goes to stdout unless stdout carries data, then to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import __version__
from ._dask import SchedulerError, connect, local_workers, require_distributed
from ._io import DEFAULT_MAX_VOXELS, Header, InputFileError, Listing, printable
from ._nnunet import OTHER_ENDING
from ._summary import csv_text, format_table, json_text, summarize, write_file_atomically
from .evaluation import (
    Loaded,
    Options,
    Pair,
    PlotHook,
    ResultsFile,
    ResumeError,
    case_kinds,
    channel_note,
    evaluate_cases,
    find_cases,
    partial_path,
    read_headers,
)

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
            "images or 3D volumes. An (H, W) array is a label map of class indices and a (D, H, W) "
            "array a label volume (a NIfTI image, a multi-page TIFF stack, an array); size-1 axes "
            "before or after the image axes are dropped: (1, H, W), (H, W, 1), (D, H, W, 1). With "
            "--num-classes 2 a float image with non-integer values is a foreground likelihood map. A "
            ".npy/.npz array whose first axis equals --num-classes holds one channel per class, one-hot "
            "(0/1 integers) or likelihoods (floats, foreground = value > --threshold): (num_classes, H, W) "
            "for a 2D image, (num_classes, D, H, W) for a volume; a label volume whose depth equals "
            "--num-classes therefore needs --spatial-dims 3. A size-1 axis between the image axes, "
            "(24, 1, 32), is ambiguous and refused unless --spatial-dims 3; other shapes are refused. "
            "A run evaluates 2D images or 3D volumes, not both: a folder mixing them is refused up "
            "front. Volumes are 6-connected; voxel spacing (NIfTI pixdim) is read but ignored, since "
            "topology, Dice and clDice count voxels. Hidden files, folders and other file types are "
            "ignored with a warning. Writes one CSV row per case and class (volumes add the columns "
            "betti_matching_error_2 and betti_number_error_2) and prints mean ± std per class (on "
            "stderr when stdout carries --out - or --json -)."
        ),
    )
    ev.add_argument("pred_dir", type=Path, metavar="PRED_DIR", help="folder of predictions")
    ev.add_argument("gt_dir", type=Path, metavar="GT_DIR", help="folder of ground truths")
    ev.add_argument(
        "--num-classes", type=_bounded_int(1, MAX_CLASSES), default=None,
        help=f"number of classes, background (0) included (at most {MAX_CLASSES}); required unless --nnunet",
    )
    ev.add_argument("--include-background", action="store_true", help="also evaluate class 0")
    ev.add_argument("--threshold", type=_finite_float, default=0.5, help="likelihoods above this are foreground (default 0.5)")
    ev.add_argument(
        "--connectivity", type=int, choices=(4, 8, 6, 26), default=None,
        help="foreground connectivity: 4 or 8 for 2D images (default 4), 6 or 26 for volumes (default 6)",
    )
    ev.add_argument(
        "--spatial-dims", type=int, choices=(2, 3), default=None,
        help=(
            "read every file as a 2D image (2) or as a 3D volume (3: a 2D image becomes a volume of one "
            "slice); default: 2D or 3D by the rules above"
        ),
    )
    ev.add_argument(
        "--thinning", choices=("guo-hall", "zhang-suen", "lee", "lee-topological"), default=None,
        help="skeletonization for clDice: guo-hall (default for 2D images), zhang-suen, lee (default for volumes; "
        "skimage's 3D skeletonize) or lee-topological (volumes: keeps every component, tunnel and cavity)",
    )
    ev.add_argument(
        "--ties", choices=("index", "distance"), default="index",
        help="order of equal values in the Betti matching: index (default; the reference's raster order, so the "
        "numbers equal Betti-Matching-3D's) or distance (by the distance transform of the union of the masks: "
        "objects pair up where they overlap most deeply, specks are the unmatched ones, and the counts do not "
        "change when both masks are flipped or transposed; slower)",
    )
    ev.add_argument(
        "--jobs", "-j", type=_bounded_int(1, MAX_JOBS), default=None,
        help="native threads (default: all cores; with --scheduler, per task, default 1)",
    )
    ev.add_argument(
        "--max-voxels", type=_positive_int, default=DEFAULT_MAX_VOXELS, metavar="N",
        help=(
            "refuse (as a bad case) a file that stores more than N values or whose image needs more "
            f"than N mask values (voxels x num-classes), checked before decoding; cases are also "
            f"computed in chunks of at most about N mask values (default {DEFAULT_MAX_VOXELS} = 2**28: "
            "peak memory about 2.5 GiB for 2D images; the matching of a volume needs about 200 more bytes "
            "per voxel for each class computed at once, one per thread: lower N or --jobs for large volumes)"
        ),
    )
    ev.add_argument("--out", type=Path, default=None, help="CSV file with one row per case and class ('-' for stdout)")
    ev.add_argument("--json", type=Path, default=None, dest="json_path", metavar="JSON", help="JSON file with the summary ('-' for stdout)")
    ev.add_argument(
        "--plots", type=Path, default=None, metavar="DIR",
        help=(
            "save one PNG of the matching per case here (volumes: a maximum projection with every "
            "feature marked, and the slice through each unmatched feature)"
        ),
    )
    ev.add_argument("--skip-errors", action="store_true", help="report bad cases and go on with the others")
    ev.add_argument(
        "--resume", action="store_true",
        help=(
            "continue an interrupted run: the cases complete in OUT.partial (or OUT) are kept and only "
            "the others are computed (needs --out FILE; the rows are streamed to OUT.partial while a "
            "run goes, and OUT is written sorted by case and class at its end)"
        ),
    )
    ev.add_argument(
        "--nnunet", action="store_true",
        help=(
            "nnU-Net folders: predictions CASE.nii.gz (or dataset.json's file_ending), ground truths "
            "labelsTr/labelsTs; dataset.json (found next to the folders, or --dataset-json) gives the "
            "classes and their names; ground truths without a prediction (other folds) are left out"
        ),
    )
    ev.add_argument("--dataset-json", type=Path, default=None, metavar="FILE", help="nnU-Net's dataset.json (with --nnunet)")
    cluster = ev.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help=(
            "run each case as a task on a Dask cluster (pip install 'bettimatch[dask]'): the address "
            "of its scheduler (tcp://host:8786), or local[:N] for N worker processes on this machine; "
            "workers read the files themselves (paths on a shared file system)"
        ),
    )
    cluster.add_argument("--scheduler-file", type=Path, default=None, metavar="FILE", help="the Dask scheduler's file (as `dask scheduler --scheduler-file` or dask-mpi write it)")
    ev.add_argument(
        "--retries", type=_bounded_int(0, 100), default=2,
        help="with --scheduler: tries again a case that failed, up to this many times (default 2)",
    )
    ev.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary table")
    ev.set_defaults(func=evaluate, subparser=ev)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "evaluate" and args.num_classes is None and not args.nnunet:
        args.subparser.error("the following arguments are required: --num-classes (unless --nnunet)")
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
    OTHER_ENDING: "file(s) of another file ending",
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


@dataclass(frozen=True)
class _Space:
    """What a run evaluates: 2D images or 3D volumes, with which connectivity and thinning."""

    spatial_dims: int
    connectivity: int
    thinning: str


class _Run:
    """The cases of one `evaluate` run: gathers the rows (streaming them to the results file),
    shows progress, and records bad cases (or stops at the first one without --skip-errors)."""

    def __init__(self, args, options: Options, plot: Optional[PlotHook], results: Optional[ResultsFile]):
        self.args = args
        self.options = options
        self.plot = plot
        self.results = results
        self.rows_of: Dict[str, List[dict]] = dict(results.done) if results is not None else {}
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

    def run(self, pairs: List[Pair], client) -> None:
        cases = evaluate_cases(pairs, self.options, client=client, retries=self.args.retries, plot=self.plot)
        with _progress(len(pairs), self.args.quiet) as bar, contextlib.closing(iter(cases)) as results:
            self.bar = bar
            for result in results:
                if result.error is not None:
                    self.bad(result.case, result.error)
                    continue
                rows = result.rows
                if self.results is not None:
                    rows = self.results.add(result.case, rows)
                self.rows_of[result.case] = rows
                self._advance()

    def rows(self, order: List[str]) -> List[dict]:
        return [row for case in order if case in self.rows_of for row in self.rows_of[case]]


# ----------------------------------------------------------------------------- images or volumes


def _spatial_dims_of_run(pairs: List[Tuple[str, Path, Path]], headers: Dict[Path, Optional[Header]], args) -> int:
    """2 or 3: --spatial-dims, else what the readable cases are. A mix of 2D and 3D cases is refused
    here, before any case is loaded (even with --skip-errors: which kind to drop is the user's
    choice, not ours)."""
    if args.spatial_dims is not None:
        return args.spatial_dims
    kinds = case_kinds(pairs, headers)
    notes = [n for _, pred, gt in pairs for n in (channel_note(pred, headers.get(pred)), channel_note(gt, headers.get(gt))) if n]
    if kinds[2] and kinds[3]:
        _say(
            f"error: the cases mix 2D images ({len(kinds[2])}: {_case_names(kinds[2])}) and 3D volumes "
            f"({len(kinds[3])}: {_case_names(kinds[3])}); evaluate them in separate runs, or pass "
            "--spatial-dims 3 to read every file as a volume (a 2D image as a volume of one slice)"
        )
        for note in notes[:5]:
            _say(f"note: {note}")
        raise _Stop(EXIT_BAD_INPUT)
    return 3 if kinds[3] else 2


def _case_names(cases: List[str], limit: int = 5) -> str:
    shown = ", ".join(printable(c) for c in cases[:limit])
    return shown + (", ..." if len(cases) > limit else "")


def _space_of_run(args, spatial_dims: int) -> _Space:
    if spatial_dims == 2:
        if args.connectivity in (6, 26):
            raise UsageError(f"--connectivity {args.connectivity} is for volumes; 2D images take 4 or 8")
        return _Space(2, args.connectivity or 4, args.thinning or "guo-hall")
    if args.connectivity in (4, 8):
        raise UsageError(f"--connectivity {args.connectivity} is for 2D images; volumes take 6 or 26")
    if args.thinning in ("guo-hall", "zhang-suen"):
        raise UsageError(f"--thinning {args.thinning} is for 2D images; volumes take lee (the default) or lee-topological")
    return _Space(3, args.connectivity or 6, args.thinning or "lee")


def _warn_spacing(case: str, hp: Optional[Header], hg: Optional[Header]) -> None:
    """Spacing never enters a metric, but two different spacings usually mean misaligned files."""
    if hp is None or hg is None or hp.spacing is None or hg.spacing is None:
        return
    n = min(len(hp.spacing), len(hg.spacing), 3)
    if not np.allclose(hp.spacing[:n], hg.spacing[:n], rtol=1e-4, atol=0.0):
        _say(
            f"warning: case {printable(case)}: the prediction's voxel spacing {hp.spacing[:n]} differs from the "
            f"ground truth's {hg.spacing[:n]}; spacing is ignored (voxels are compared one to one)"
        )


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
    if csv_target is not None and csv_target.path is not None and csv_target.replace:
        # The rows are streamed to OUT.partial while the run goes: it obeys the same rules.
        targets.append(_check_output_file("--out (its .partial file)", partial_path(args.out), inputs))
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


def _class_options(args, dataset) -> List[int]:
    """The classes to evaluate; with --nnunet, --num-classes defaults to dataset.json's labels."""
    if dataset is not None:
        if args.num_classes is None:
            args.num_classes = dataset.num_classes
        elif args.num_classes != dataset.num_classes:
            raise UsageError(f"--num-classes {args.num_classes}, but {dataset.path} has {dataset.num_classes} labels")
    elif args.num_classes is None:
        raise UsageError("--num-classes is required (unless --nnunet, which reads the classes from dataset.json)")
    classes = list(range(0 if args.include_background else 1, args.num_classes))
    if not classes:
        raise UsageError("--num-classes 1 leaves no foreground class to evaluate (add --include-background)")
    return classes


def _check_cluster_options(args) -> None:
    on_cluster = args.scheduler is not None or args.scheduler_file is not None
    if on_cluster and args.plots is not None:
        raise UsageError("--plots draws in this process: leave out --scheduler (or draw the plots in a second run)")
    if args.dataset_json is not None and not args.nnunet:
        raise UsageError("--dataset-json is read with --nnunet only")
    if args.scheduler is not None:
        try:
            local_workers(args.scheduler)
        except SchedulerError as exc:
            raise UsageError(f"--scheduler {exc}") from None
    if on_cluster:
        try:
            require_distributed()
        except ImportError as exc:
            raise UsageError(f"--scheduler: {exc}") from None


def _results_file(args, csv_target: Optional[_Target], classes: List[int], spatial_dims: int) -> Optional[ResultsFile]:
    """The streamed CSV of a run with --out FILE (a regular file); None for stdout or a device."""
    streamed = csv_target is not None and csv_target.path is not None and csv_target.replace
    if args.resume and not streamed:
        raise UsageError("--resume needs --out FILE: the CSV of the run to continue")
    if not streamed:
        return None
    if not args.resume and partial_path(csv_target.path).exists():
        _say(f"note: {partial_path(csv_target.path)} of an earlier run is replaced (--resume would continue it)")
    try:
        return ResultsFile(csv_target.path, classes, resume=args.resume, spatial_dims=spatial_dims)
    except ResumeError as exc:
        raise UsageError(f"--resume: {exc}") from None
    except OSError as exc:
        raise UsageError(f"--out {args.out}: cannot write {partial_path(csv_target.path)} ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _client(args) -> Iterator:
    if args.scheduler is None and args.scheduler_file is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            client = stack.enter_context(connect(args.scheduler, args.scheduler_file))
        except SchedulerError as exc:
            option = "--scheduler" if args.scheduler is not None else "--scheduler-file"
            raise UsageError(f"{option}: {exc}") from None
        yield client


def _evaluate(args) -> int:
    _check_cluster_options(args)
    try:
        plan = find_cases(args.pred_dir, args.gt_dir, nnunet=args.nnunet, dataset_json=args.dataset_json)
    except InputFileError as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    classes = _class_options(args, plan.dataset)
    plt = None
    if args.plots is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise UsageError("--plots needs matplotlib: pip install 'bettimatch[plot]'") from None

    preds, gts, pairs, problems = plan.preds, plan.gts, plan.pairs, plan.problems
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
        files = f"*{plan.dataset.file_ending} files" if plan.dataset is not None else "files"
        _say(f"error: no cases to evaluate (no {files} with the same name in {args.pred_dir} and {args.gt_dir})")
        return EXIT_BAD_INPUT
    if plan.dataset is not None:
        _say_nnunet(args, plan)
    reading = Options(
        num_classes=args.num_classes, classes=tuple(classes), threshold=args.threshold, thinning=args.thinning or "guo-hall",
        max_voxels=args.max_voxels, num_threads=args.jobs, read_dims=args.spatial_dims, ties=args.ties,
    )
    headers = read_headers(pairs, reading)
    space = _space_of_run(args, _spatial_dims_of_run(pairs, headers, args))
    for case, pred, gt in pairs:  # here, before the run, since workers elsewhere could not say it
        _warn_spacing(case, headers.get(pred), headers.get(gt))
    if plots is not None:
        try:
            plots.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--plots {args.plots}: cannot create the folder ({exc.strerror})") from None

    options = replace(reading, spatial_dims=space.spatial_dims, connectivity=space.connectivity, thinning=space.thinning)
    plot: Optional[PlotHook] = None
    if plt is not None:
        plot = lambda x: _plot_case(plt, x, classes, options, plots)  # noqa: E731
    order = [case for case, _, _ in pairs]
    results = _results_file(args, csv_target, classes, space.spatial_dims)
    run = _Run(args, options, plot, results)
    run.skipped.extend({"case": printable(case), "error": printable(message)} for case, message in problems)
    try:
        if results is not None and args.resume:
            _say_resumed(results, order)
        todo = [pair for pair in pairs if pair[0] not in run.rows_of]
        with _client(args) as client:
            run.run(todo, client)
    except (KeyboardInterrupt, _Stop):
        if results is not None:
            results.close()
            if results.done:
                _say(f"{len(results.done)} case(s) saved in {results.partial}; run again with --resume to finish")
        raise
    except BaseException:
        if results is not None:
            results.close()
        raise
    rows = results.finish(order) if results is not None else run.rows(order)
    if not rows:
        _say("error: every case was skipped")
        return EXIT_BAD_INPUT

    summary = summarize(rows, classes, space.spatial_dims)
    ignored = [
        {"path": printable(str(path)), "reason": reason} for listing in (preds, gts) for path, reason in listing.ignored
    ]
    outputs = [(csv_target, csv_text(rows, space.spatial_dims))] if csv_target is not None and results is None else []
    if json_target is not None:
        report = {
            "num_cases": len({r["case"] for r in rows}),
            "num_skipped": len(run.skipped),
            "skipped": run.skipped,
            "num_ignored": len(ignored),
            "ignored": ignored,
            "num_classes": args.num_classes,
            "classes": classes,
            "spatial_dims": space.spatial_dims,
            "connectivity": space.connectivity,
            "threshold": args.threshold,
            "thinning": space.thinning,
            "ties": args.ties,
            **summary,
        }
        if plan.dataset is not None:
            report["class_names"] = {str(c): plan.dataset.names[c] for c in classes}
            report["dataset_json"] = printable(str(plan.dataset.path))
            report["ground_truths_without_prediction"] = len(plan.not_predicted)
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
        n_cases = len({r["case"] for r in rows})
        kind = "" if space.spatial_dims == 2 else " (3D volumes)"
        _show(f"{n_cases} case(s){kind}, classes {', '.join(map(str, classes))}, connectivity {space.connectivity}", stream)
        _show(format_table(_named(summary, plan.dataset)), stream)
    if run.skipped:
        _say(f"skipped {len(run.skipped)} case(s): {', '.join(s['case'] for s in run.skipped)}")
    return 0


def _say_nnunet(args, plan) -> None:
    if args.quiet:
        return
    _say(f"nnU-Net dataset {plan.dataset.path}: {plan.dataset.num_classes} labels, files *{plan.dataset.file_ending}")
    if plan.not_predicted:
        _say(f"note: {len(plan.not_predicted)} ground truth(s) without a prediction (other folds?) are not evaluated")


def _say_resumed(results: ResultsFile, order: List[str]) -> None:
    current = set(order)
    kept = [case for case in results.done if case in current]
    gone = [case for case in results.done if case not in current]
    if results.resumed_from is None:
        _say("resume: no earlier results found; starting from the first case")
        return
    _say(f"resume: {len(kept)} case(s) done in {results.resumed_from}, {len(order) - len(kept)} to compute")
    if results.cut_off:
        _say(f"resume: {len(results.cut_off)} case(s) cut off half way are computed again: {', '.join(results.cut_off[:5])}")
    if gone:
        _say(f"warning: resume: {len(gone)} case(s) of {results.resumed_from} are not in the folders any more and are left out: {', '.join(gone[:5])}")


def _named(summary: dict, dataset) -> dict:
    """The summary with classes named by their labels in the table (nnU-Net's dataset.json)."""
    if dataset is None:
        return summary
    per_class = {f"{c} {dataset.names[int(c)]}": stats for c, stats in summary["per_class"].items()}
    return {**summary, "per_class": per_class}


def _plot_case(plt, x: Loaded, classes: List[int], options: Options, folder: Path) -> None:
    import io

    from ._persistence import betti_matching_batch

    matchings = betti_matching_batch(
        [x.p[c] for c in classes], [x.g[c] for c in classes], connectivity=options.connectivity,
        num_threads=options.num_threads, ties=options.ties,
    )
    draw = _draw_images if options.spatial_dims == 2 else _draw_volumes
    fig = draw(plt, x, classes, matchings, options)
    try:
        fig.suptitle(x.case)
        image = io.BytesIO()
        fig.savefig(image, format="png", dpi=100)
    finally:
        plt.close(fig)
    write_file_atomically(folder / f"{x.case}.png", image.getvalue())


def _draw_images(plt, x: Loaded, classes: List[int], matchings, options: Options):
    from .plot import plot_matching

    h, w = x.p.shape[1:]
    side = 5.0 / max(h, w)  # inches per pixel: the longer side of a panel is 5 inches
    fig, axes = plt.subplots(
        len(classes), 2, figsize=(2 * w * side + 3.5, len(classes) * h * side + 0.8), squeeze=False,
        constrained_layout=True,
    )
    try:
        for row, (c, m) in enumerate(zip(classes, matchings)):
            plot_matching(x.p[c], x.g[c], m, ax=axes[row], connectivity=options.connectivity,
                          titles=(f"class {c}: prediction", f"class {c}: ground truth"))
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _draw_volumes(plt, x: Loaded, classes: List[int], matchings, options: Options):
    from .plot import plot_matching_volume, volume_figure_size

    # NIfTI arrays are (x, y, z): slice along z, the axial plane in the usual orientation. Other
    # arrays are (D, H, W): slice along D.
    axis = 2 if str(x.gt.name).lower().endswith((".nii", ".nii.gz")) else 0
    sizes = [volume_figure_size(x.p[c], x.g[c], m, axis=axis) for c, m in zip(classes, matchings)]
    fig = plt.figure(figsize=(max(w for w, _ in sizes), sum(h for _, h in sizes) + 0.5), constrained_layout=True)
    try:
        blocks = fig.subfigures(len(classes), 1, height_ratios=[h for _, h in sizes], squeeze=False)[:, 0]
        for block, c, m in zip(blocks, classes, matchings):
            plot_matching_volume(x.p[c], x.g[c], m, fig=block, axis=axis, connectivity=options.connectivity,
                                 titles=(f"class {c}: prediction", f"class {c}: ground truth"))
    except BaseException:
        plt.close(fig)
        raise
    return fig
