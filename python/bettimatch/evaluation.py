"""Evaluating folders of segmentations case by case: the engine behind `bettimatch evaluate`.

A *case* is one prediction file and one ground-truth file of the same name. Evaluating it loads
both files, turns them into one boolean mask per class and computes every metric of all its
classes in one native call, giving one row per class (the CSV's columns, see
``bettimatch._summary.columns``). A case that cannot be evaluated gives a :class:`CaseResult`
with its error instead of rows, never an exception, so that callers decide whether to stop or go
on.

Cases run here (:func:`evaluate_in_process`, the native threads) or as one Dask task each on a
cluster (:func:`evaluate_cases` with a ``distributed.Client``). :class:`ResultsFile` streams the
rows of finished cases into ``OUT.partial`` and, at the end, writes ``OUT`` sorted by case and
class; ``resume=True`` continues an interrupted run from what its partial file holds.
:func:`evaluate_folders` puts these together for notebooks and pipelines.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import signal
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._inputs import check_ties
from ._io import DEFAULT_MAX_VOXELS, Header, InputFileError, Listing, list_cases, load_masks, read_header
from ._summary import _INTEGER, columns, csv_text, rows_for_case, write_file_atomically

Pair = Tuple[str, Path, Path]  # (case, prediction file, ground-truth file)
CONNECTIVITIES = {2: (4, 8), 3: (6, 26)}
THINNINGS = {2: ("guo-hall", "zhang-suen"), 3: ("lee", "lee-topological")}  # the first is the default


@dataclass(frozen=True)
class Options:
    """How every case of a run is read and measured (small and picklable: it travels to workers).

    ``spatial_dims``: what the run's cases are, 2D images or 3D volumes; ``read_dims``: how files
    are read (``--spatial-dims``; None decides from each file's shape, see bettimatch._io);
    ``ties``: the matching's order of equal values (``--ties``)."""

    num_classes: int
    classes: Tuple[int, ...]
    threshold: float = 0.5
    connectivity: int = 4
    thinning: str = "guo-hall"
    max_voxels: int = DEFAULT_MAX_VOXELS
    num_threads: Optional[int] = None
    spatial_dims: int = 2
    read_dims: Optional[int] = None
    ties: str = "index"

    def __post_init__(self) -> None:
        _check_int("num_classes", self.num_classes, 1)
        if not self.classes or any(not isinstance(c, int) or not 0 <= c < self.num_classes for c in self.classes):
            raise ValueError(f"classes must be class indices below num_classes ({self.num_classes}), got {self.classes!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}")
        if self.spatial_dims not in CONNECTIVITIES or self.read_dims not in (None, 2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {self.spatial_dims!r} (read as {self.read_dims!r})")
        allowed = CONNECTIVITIES[self.spatial_dims]
        if self.connectivity not in allowed:
            kind = "2D images" if self.spatial_dims == 2 else "volumes"
            raise ValueError(f"connectivity must be {' or '.join(map(str, allowed))} for {kind}, got {self.connectivity!r}")
        if self.thinning not in THINNINGS[2] + THINNINGS[3]:
            raise ValueError(f"thinning must be one of {', '.join(THINNINGS[2] + THINNINGS[3])}, got {self.thinning!r}")
        check_ties(self.ties)
        _check_int("max_voxels", self.max_voxels, 1)
        if self.num_threads is not None:
            _check_int("num_threads", self.num_threads, 1)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass
class CaseResult:
    """The rows of one case (one per class), or why the case could not be evaluated."""

    case: str
    rows: List[dict] = field(default_factory=list)
    error: Optional[str] = None


def describe(exc: BaseException) -> str:
    """A one-line account of why a case failed."""
    if isinstance(exc, InputFileError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (lower --max-voxels to refuse such files before reading them)"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ----------------------------------------------------------------------------- pairing


def pair_cases(
    preds: Listing, gts: Listing, pred_dir: Path, gt_dir: Path, predictions_only: bool = False
) -> Tuple[List[Pair], List[Tuple[str, str]]]:
    """(case, prediction, ground truth) of the cases found in both folders, sorted by case, and the
    problems of the others (a bad file, or a file without a partner; with `predictions_only`, a
    ground truth without a prediction is no problem: nnU-Net's folds predict a part of labelsTr)."""
    problems = []
    for case in sorted(set(preds.cases) | set(gts.cases) | set(preds.bad) | set(gts.bad)):
        reasons = [listing.bad[case] for listing in (preds, gts) if case in listing.bad]
        if reasons:
            if predictions_only and case not in preds.cases and case not in preds.bad:
                continue
            problems.append((case, "; ".join(reasons)))
        elif case not in gts.cases:
            problems.append((case, f"no ground truth for prediction {preds.cases[case]} in {gt_dir}"))
        elif case not in preds.cases and not predictions_only:
            problems.append((case, f"no prediction for ground truth {gts.cases[case]} in {pred_dir}"))
    pairs = [(case, preds.cases[case], gts.cases[case]) for case in sorted(set(preds.cases) & set(gts.cases))]
    return pairs, problems


@dataclass
class Plan:
    """The cases of two folders: the pairs to evaluate, the cases that cannot be (with why), what
    each folder holds, and for nnU-Net layouts the dataset and the ground truths not predicted."""

    pairs: List[Pair]
    problems: List[Tuple[str, str]]
    preds: Listing
    gts: Listing
    dataset: Any = None  # bettimatch._nnunet.Dataset with nnunet=True
    not_predicted: List[str] = field(default_factory=list)


def find_cases(pred_dir: Path, gt_dir: Path, *, nnunet: bool = False, dataset_json: Optional[Path] = None) -> Plan:
    """Pair the files of two folders by case name. Plain folders: every supported file is a case
    (its name without the extension). ``nnunet=True``: the ``dataset.json`` found next to the
    folders (or `dataset_json`) gives the file ending and the class names; ground truths without a
    prediction (other folds) are left out. Raises InputFileError for a folder that cannot be read."""
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    dataset = None
    if nnunet:
        from ._nnunet import list_nnunet_cases, resolve_dataset

        dataset = resolve_dataset(pred_dir, gt_dir, None if dataset_json is None else Path(dataset_json))
        preds = list_nnunet_cases(pred_dir, dataset.file_ending)
        gts = list_nnunet_cases(gt_dir, dataset.file_ending)
    elif dataset_json is not None:
        raise ValueError("dataset_json is read with nnunet=True only")
    else:
        preds = list_cases(pred_dir)
        gts = list_cases(gt_dir)
    pairs, problems = pair_cases(preds, gts, pred_dir, gt_dir, predictions_only=nnunet)
    not_predicted = sorted(set(gts.cases) - set(preds.cases) - set(preds.bad)) if nnunet else []
    return Plan(pairs, problems, preds, gts, dataset, not_predicted)


# ----------------------------------------------------------------------------- in this process


@dataclass
class Loaded:
    """One case in memory: its files and their (C, H, W) or (C, D, H, W) boolean class masks."""

    case: str
    pred: Path
    gt: Path
    p: np.ndarray
    g: np.ndarray


PlotHook = Callable[[Loaded], None]


def read_headers(pairs: Sequence[Pair], options: Options) -> Dict[Path, Optional[Header]]:
    """Each input's header (shape, reading, spacing), or None where it cannot be read: that file
    is reported as a bad case when it is loaded."""
    headers: Dict[Path, Optional[Header]] = {}
    for _, pred, gt in pairs:
        for path in (pred, gt):
            headers[path] = _header(path, options)
    return headers


def _header(path: Path, options: Options) -> Optional[Header]:
    try:
        return read_header(path, options.num_classes, options.max_voxels, options.read_dims)
    except Exception:  # noqa: BLE001 - the load reports it, naming the file
        return None


def case_kinds(pairs: Sequence[Pair], headers: Dict[Path, Optional[Header]]) -> Dict[int, List[str]]:
    """The cases whose two headers say 2D images, and those that say 3D volumes."""
    kinds: Dict[int, List[str]] = {2: [], 3: []}
    for case, pred, gt in pairs:
        hp, hg = headers.get(pred), headers.get(gt)
        if hp is not None and hg is not None and hp.layout.spatial_dims == hg.layout.spatial_dims:
            kinds[hp.layout.spatial_dims].append(case)
    return kinds


def channel_note(path: Path, header: Optional[Header]) -> str:
    """Why a 3-axis array of `path` was read as a 2D image, when it was (else '')."""
    if header is None or header.layout.kind != "channels" or header.layout.spatial_dims != 2:
        return ""
    return (
        f"{path} of shape {header.shape} is read as the per-class channels of a 2D image because its first axis "
        "equals --num-classes; pass --spatial-dims 3 to read it as a (D, H, W) label volume"
    )


def _check_partners(pred: Path, gt: Path, p: np.ndarray, g: np.ndarray, options: Options) -> None:
    """A prediction and its ground truth must be of one kind (image or volume, that of the run)
    and one shape."""
    if p.ndim != g.ndim:
        kind = {3: "a 2D image", 4: "a 3D volume"}
        notes = [n for n in (channel_note(pred, _header(pred, options)), channel_note(gt, _header(gt, options))) if n]
        raise InputFileError(
            f"shape mismatch: prediction {pred} is {kind[p.ndim]} {p.shape[1:]} but ground truth {gt} is "
            f"{kind[g.ndim]} {g.shape[1:]}" + "".join(f" ({n})" for n in notes)
        )
    if p.shape != g.shape:
        raise InputFileError(
            f"shape mismatch: prediction {pred} is {p.shape[1:]} but ground truth {gt} is {g.shape[1:]}"
        )
    if p.ndim - 1 != options.spatial_dims:  # the files changed since their headers were read
        run_kind = "2D images" if options.spatial_dims == 2 else "3D volumes"
        raise InputFileError(f"{pred} and {gt} hold {p.ndim - 1}D data, but the cases of this run are {run_kind}")


def _load(case: str, pred: Path, gt: Path, options: Options) -> Union[Loaded, CaseResult]:
    try:
        p = load_masks(pred, options.num_classes, options.threshold, options.max_voxels, spatial_dims=options.read_dims)
        g = load_masks(gt, options.num_classes, options.threshold, options.max_voxels, spatial_dims=options.read_dims)
        _check_partners(pred, gt, p, g, options)
    except Exception as exc:  # every failure of one case is that case's error, never a traceback
        return CaseResult(case, error=describe(exc))
    return Loaded(case, pred, gt, p, g)


def _metrics(chunk: List[Loaded], options: Options) -> dict:
    from . import metrics

    classes = options.classes
    preds = [x.p[c] for x in chunk for c in classes]
    targets = [x.g[c] for x in chunk for c in classes]
    return metrics.mask_metrics(preds, targets, connectivity=options.connectivity, num_threads=options.num_threads,
                                thinning=options.thinning, ties=options.ties)


def _compute_failed(x: Loaded, exc: BaseException) -> str:
    return f"computing the metrics of {x.pred} and {x.gt} failed ({describe(exc)})"


def _compute(chunk: List[Loaded], options: Options, plot: Optional[PlotHook]) -> Iterator[CaseResult]:
    try:
        metrics = _metrics(chunk, options)
    except Exception as exc:
        if len(chunk) > 1:  # find the case that fails by computing them one at a time
            for one in chunk:
                yield from _compute([one], options, plot)
            return
        yield CaseResult(chunk[0].case, error=_compute_failed(chunk[0], exc))
        return
    for k, x in enumerate(chunk):
        rows = rows_for_case(x.case, options.classes, metrics, k * len(options.classes))
        if plot is not None:
            try:
                plot(x)
            except Exception as exc:
                yield CaseResult(x.case, error=f"drawing the plot failed ({describe(exc)})")
                continue
        yield CaseResult(x.case, rows_as_written(rows, options.spatial_dims))


def evaluate_in_process(pairs: Iterable[Pair], options: Options, plot: Optional[PlotHook] = None) -> Iterator[CaseResult]:
    """The results of `pairs`, computed here with the native threads: cases are loaded in chunks
    and each chunk's pairs of masks go to one native call. Results come in the order of `pairs`,
    except that a case that cannot be loaded is reported as soon as it is read."""
    threads = options.num_threads or os.cpu_count() or 1
    chunk_cases = max(8, 4 * threads)
    chunk: List[Loaded] = []
    voxels = 0
    for case, pred, gt in pairs:
        loaded = _load(case, pred, gt, options)
        if isinstance(loaded, CaseResult):
            yield loaded
            continue
        chunk.append(loaded)
        voxels += loaded.p.size + loaded.g.size
        # A chunk ends at a number of cases (to feed the threads) or at the voxel budget (so that
        # many large cases are never held at once).
        if len(chunk) >= chunk_cases or voxels >= options.max_voxels:
            yield from _compute(chunk, options, plot)
            chunk, voxels = [], 0
    if chunk:
        yield from _compute(chunk, options, plot)


# ----------------------------------------------------------------------------- one case, anywhere


class CaseFailed(RuntimeError):
    """Computing a case failed in a way that another try may not repeat (the files were read):
    raised on a cluster so that Dask retries the task."""


def run_case(case: str, pred: str, gt: str, options: Options) -> CaseResult:
    """Evaluate one case from its two files: the task that a Dask worker runs.

    A file that cannot be read is the case's error (trying again would read the same bytes); a
    failure while computing raises :class:`CaseFailed`, for the engine to try again elsewhere."""
    loaded = _load(case, Path(pred), Path(gt), options)
    if isinstance(loaded, CaseResult):
        return loaded
    try:
        metrics = _metrics([loaded], options)
    except Exception as exc:
        raise CaseFailed(_compute_failed(loaded, exc)) from None
    return CaseResult(case, rows_as_written(rows_for_case(case, options.classes, metrics, 0), options.spatial_dims))


def evaluate_cases(
    pairs: Sequence[Pair],
    options: Options,
    *,
    client: Any = None,
    retries: int = 2,
    plot: Optional[PlotHook] = None,
) -> Iterator[CaseResult]:
    """One result per pair, its rows as the CSV keeps them. Without `client`, computed here (in the order of `pairs`); with a
    ``distributed.Client``, one task per case on its cluster, yielded as they finish, each tried up
    to ``1 + retries`` times. Closing the generator early cancels the cases still running."""
    if client is None:
        return evaluate_in_process(pairs, options, plot)
    if plot is not None:
        raise ValueError("plots are drawn in-process only (client=None)")
    from ._dask import evaluate_on_cluster

    return evaluate_on_cluster(client, pairs, options, retries)


# ----------------------------------------------------------------------------- rows in the CSV


class ResumeError(ValueError):
    """The CSV to resume from is not an earlier run of this evaluation."""


def _parse_row(record: List[str], names: Sequence[str]) -> dict:
    if len(record) != len(names):
        raise ValueError(f"{len(record)} fields, expected {len(names)}")
    row: Dict[str, Any] = {"case": record[0], "class": int(record[1])}
    for name, text in zip(names[2:], record[2:]):
        row[name] = int(text) if name in _INTEGER else float(text)
    return row


def _csv_lines(rows: List[dict], spatial_dims: int) -> str:
    return csv_text(rows, spatial_dims)[len(csv_text([], spatial_dims)):]


def rows_as_written(rows: List[dict], spatial_dims: int = 2) -> List[dict]:
    """`rows` with their values as the CSV keeps them (8 significant digits), so that summaries of
    a resumed run and of one run without a break are equal to the last digit."""
    text = _csv_lines(rows, spatial_dims)
    names = columns(spatial_dims)
    return [_parse_row(record, names) for record in csv.reader(io.StringIO(text))]


def partial_path(out: Path) -> Path:
    """Where the rows of a run on `out` are streamed until the run ends: ``OUT.partial``."""
    return out.with_name(out.name + ".partial")


def read_results(path: Path, classes: Sequence[int], spatial_dims: int = 2) -> Tuple[Dict[str, List[dict]], List[str]]:
    """The cases of a results CSV whose every class has its row (in the file's order), and the
    cases found with some of their rows only (cut off by an interrupted run). A last line without
    its newline is such a cut-off. Raises ResumeError when the file is not a results CSV of
    `classes`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResumeError(f"cannot read {path} ({exc})") from None
    records = list(csv.reader(io.StringIO(text)))
    names = columns(spatial_dims)
    if not records or tuple(records[0]) != names:
        kind = "2D images" if spatial_dims == 2 else "3D volumes"
        raise ResumeError(
            f"{path} is not a results CSV of bettimatch evaluate on {kind} (its first line is not the header {','.join(names)})"
        )
    body = records[1:]
    if body and not text.endswith("\n"):
        body.pop()
    by_case: Dict[str, Dict[int, dict]] = {}
    torn: List[str] = []
    wanted = set(classes)
    for number, record in enumerate(body, start=2):
        try:
            row = _parse_row(record, names)
        except ValueError as exc:
            raise ResumeError(f"{path}, row {number}: not a row of bettimatch evaluate ({exc})") from None
        if row["class"] not in wanted:
            raise ResumeError(
                f"{path} has rows of class {row['class']}, which this run does not evaluate (classes "
                f"{', '.join(map(str, classes))}): was it written with other --num-classes or --include-background?"
            )
        seen = by_case.setdefault(row["case"], {})
        if row["class"] in seen and not _same_row(seen[row["class"]], row, names):
            raise ResumeError(f"{path} has two different rows of case {row['case']}, class {row['class']}")
        seen[row["class"]] = row
    complete: Dict[str, List[dict]] = {}
    for case, found in by_case.items():
        if set(found) == wanted:
            complete[case] = [found[c] for c in classes]
        else:
            torn.append(case)
    return complete, torn


def _same_row(a: dict, b: dict, names: Sequence[str]) -> bool:
    return all(a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in names)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until its end, so that a line is never half
    written; the interrupt is raised as soon as the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: List[Any] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            if callable(previous):
                previous(signal.SIGINT, held[0])
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)


class ResultsFile:
    """The CSV of one run, written while it runs.

    The rows of each finished case are appended to ``OUT.partial`` (and flushed), in the order the
    cases finish; :meth:`finish` writes ``OUT`` with every row sorted by case and class (a
    temporary file renamed over it, so ``OUT`` holds its old content until then) and removes the
    partial file. A run that stops early keeps ``OUT.partial``: a valid CSV of the cases done.

    With ``resume=True`` the cases complete in ``OUT.partial`` (or, without one, in ``OUT``) are
    taken as done; rows of cases cut off half way are dropped and those cases run again.
    """

    def __init__(self, out: Path, classes: Sequence[int], resume: bool = False, spatial_dims: int = 2):
        self.out = Path(out)
        self.partial = partial_path(self.out)
        self.classes = tuple(classes)
        self.spatial_dims = spatial_dims
        self.done: Dict[str, List[dict]] = {}
        self.resumed_from: Optional[Path] = None
        self.cut_off: List[str] = []
        if resume:
            for source in (self.partial, self.out):
                if source.is_file():
                    self.done, self.cut_off = read_results(source, self.classes, spatial_dims)
                    self.resumed_from = source
                    break
        rows = [row for case_rows in self.done.values() for row in case_rows]
        # The partial file starts as the header and the rows kept, whole lines only.
        write_file_atomically(self.partial, csv_text(rows, spatial_dims).encode("utf-8"))
        self._file: Optional[io.TextIOWrapper] = open(self.partial, "a", encoding="utf-8", newline="")

    def add(self, case: str, rows: List[dict]) -> List[dict]:
        """Append the rows of a finished case; returns them as written."""
        if case in self.done:
            raise ValueError(f"case {case!r} is in {self.partial} already")
        assert self._file is not None, "the results file is closed"
        kept = rows_as_written(rows, self.spatial_dims)
        with _interrupts_held():
            self._file.write(_csv_lines(kept, self.spatial_dims))
            self._file.flush()
            self.done[case] = kept
        return kept

    def finish(self, order: Sequence[str]) -> List[dict]:
        """Write OUT: the rows of the cases in `order` that are done; returns those rows."""
        self.close()
        rows = [row for case in order if case in self.done for row in self.done[case]]
        write_file_atomically(self.out, csv_text(rows, self.spatial_dims).encode("utf-8"))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.partial)
        return rows

    def close(self) -> None:
        """Close the partial file; it is removed when it holds no row (nothing to resume)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self.done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.partial)


# ----------------------------------------------------------------------------- the whole thing


class EvaluationError(ValueError):
    """A case that cannot be evaluated (without ``skip_errors``); ``case`` names it."""

    def __init__(self, case: str, message: str):
        super().__init__(f"case {case}: {message}")
        self.case = case


def classes_of(num_classes: int, include_background: bool) -> Tuple[int, ...]:
    return tuple(range(0 if include_background else 1, num_classes))


def evaluate_folders(
    pred_dir: Union[str, Path],
    gt_dir: Union[str, Path],
    num_classes: Optional[int] = None,
    *,
    include_background: bool = False,
    threshold: float = 0.5,
    connectivity: Optional[int] = None,
    spatial_dims: Optional[int] = None,
    thinning: Optional[str] = None,
    ties: str = "index",
    max_voxels: int = DEFAULT_MAX_VOXELS,
    num_threads: Optional[int] = None,
    nnunet: bool = False,
    dataset_json: Union[str, Path, None] = None,
    client: Any = None,
    retries: int = 2,
    skip_errors: bool = False,
    out: Union[str, Path, None] = None,
    resume: bool = False,
    progress: bool = False,
    as_frame: Optional[bool] = None,
):
    """Evaluate every case of two folders: the rows of ``bettimatch evaluate``, one per case and
    class, sorted by case and class, with the CSV's columns and values (8 significant digits).

    Files are read as the command line reads them (PNG/TIFF, .npy/.npz, NIfTI): 2D images or 3D
    volumes by their shapes (``spatial_dims`` 2 or 3 reads every file as one kind), never a mix;
    ``connectivity`` defaults to 4 for images and 6 for volumes, ``thinning`` (clDice's skeleton) to
    guo-hall for images and lee for volumes; ``ties`` is the Betti matching's order of equal
    values (see :func:`bettimatch.metrics.betti_matching_error`). ``nnunet=True`` reads nnU-Net
    layouts (``num_classes`` then comes from ``dataset.json``). With ``client`` (a
    ``distributed.Client``) each case is one Dask task on that cluster, reading its files there,
    tried up to ``1 + retries`` times; otherwise the cases are computed here with ``num_threads``
    native threads. ``out``: a CSV path, streamed to ``OUT.partial`` while the run goes and written
    sorted at the end; ``resume=True`` skips the cases an interrupted run already wrote.

    A case that cannot be evaluated raises :class:`EvaluationError`, or with ``skip_errors=True``
    is left out and listed (``{"case", "error"}`` dicts) in ``.attrs["skipped"]`` of the result.
    Returns a pandas DataFrame when pandas is installed (``as_frame=None``) or asked for
    (``as_frame=True``), else a list of dicts.
    """
    if resume and out is None:
        raise ValueError("resume=True needs out (the CSV to continue)")
    plan = find_cases(Path(pred_dir), Path(gt_dir), nnunet=nnunet, dataset_json=dataset_json)
    if num_classes is None:
        if plan.dataset is None:
            raise ValueError("num_classes is required (unless nnunet=True, which reads it from dataset.json)")
        num_classes = plan.dataset.num_classes
    elif plan.dataset is not None and num_classes != plan.dataset.num_classes:
        raise ValueError(f"num_classes={num_classes}, but {plan.dataset.path} has {plan.dataset.num_classes} labels")
    classes = classes_of(num_classes, include_background)
    if not classes:
        raise ValueError(f"num_classes={num_classes} leaves no foreground class to evaluate (pass include_background=True)")
    options = Options(
        num_classes=num_classes, classes=classes, threshold=threshold, thinning=thinning or THINNINGS[2][0],
        max_voxels=max_voxels, num_threads=num_threads, read_dims=spatial_dims, ties=ties,
    )
    kinds = case_kinds(plan.pairs, read_headers(plan.pairs, options))
    options = _space_of_run(options, kinds, connectivity, thinning)
    skipped = [{"case": case, "error": message} for case, message in plan.problems]
    if skipped and not skip_errors:
        raise EvaluationError(skipped[0]["case"], skipped[0]["error"])
    results = ResultsFile(Path(out), options.classes, resume, options.spatial_dims) if out is not None else None
    done: Dict[str, List[dict]] = dict(results.done) if results is not None else {}
    todo = [pair for pair in plan.pairs if pair[0] not in done]
    bar = _progress_bar(len(todo)) if progress else None
    try:
        with contextlib.closing(iter(evaluate_cases(todo, options, client=client, retries=retries))) as cases:
            for result in cases:
                if result.error is not None:
                    if not skip_errors:
                        raise EvaluationError(result.case, result.error)
                    skipped.append({"case": result.case, "error": result.error})
                else:
                    done[result.case] = results.add(result.case, result.rows) if results is not None else result.rows
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if results is not None:
            results.close()  # keeps OUT.partial when the run stops early
    order = [case for case, _, _ in plan.pairs]
    rows = results.finish(order) if results is not None else [r for case in order if case in done for r in done[case]]
    return _table(rows, sorted(skipped, key=lambda s: s["case"]), as_frame, options.spatial_dims)


def _space_of_run(
    options: Options, kinds: Dict[int, List[str]], connectivity: Optional[int], thinning: Optional[str]
) -> Options:
    """`options` for the kind of the run's cases (2D images or 3D volumes; a mix is refused)."""
    if options.read_dims is not None:
        dims = options.read_dims
    elif kinds[2] and kinds[3]:
        raise ValueError(
            f"the cases mix 2D images ({len(kinds[2])}: {', '.join(kinds[2][:5])}) and 3D volumes "
            f"({len(kinds[3])}: {', '.join(kinds[3][:5])}); evaluate them in separate runs, or pass "
            "spatial_dims=3 to read every file as a volume"
        )
    else:
        dims = 3 if kinds[3] else 2
    thinning = thinning or THINNINGS[dims][0]
    if thinning not in THINNINGS[dims]:
        kind = "2D images" if dims == 2 else "volumes"
        raise ValueError(f"thinning={thinning!r} is not for {kind}: take {' or '.join(THINNINGS[dims])}")
    connectivity = connectivity or CONNECTIVITIES[dims][0]
    return replace(options, spatial_dims=dims, connectivity=connectivity, thinning=thinning)


def _progress_bar(total: int):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="case", desc="evaluating")


class Rows(list):
    """The rows of :func:`evaluate_folders` as a list of dicts; ``attrs["skipped"]`` as on a DataFrame."""

    def __init__(self, rows: Iterable[dict], attrs: Dict[str, Any]):
        super().__init__(rows)
        self.attrs = attrs


def _table(rows: List[dict], skipped: List[dict], as_frame: Optional[bool], spatial_dims: int):
    if as_frame is not False:
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise ImportError("as_frame=True needs pandas: pip install pandas") from None
        else:
            frame = pd.DataFrame(rows, columns=list(columns(spatial_dims)))
            frame.attrs["skipped"] = skipped
            return frame
    return Rows(rows, {"skipped": skipped})
