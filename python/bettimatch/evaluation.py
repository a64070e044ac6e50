"""Evaluating folders of segmentations case by case: the engine behind `bettimatch evaluate`.

A *case* is one prediction file and one ground-truth file of the same name. Evaluating it loads
both files, turns them into one boolean mask per class and computes every metric of all its
classes in one native call, giving one row per class (the CSV's columns, see
``bettimatch._summary.COLUMNS``). A case that cannot be evaluated gives a :class:`CaseResult`
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._io import DEFAULT_MAX_VOXELS, InputFileError, Listing, list_cases, load_masks
from ._summary import _INTEGER, COLUMNS, csv_text, rows_for_case, write_file_atomically

Pair = Tuple[str, Path, Path]  # (case, prediction file, ground-truth file)
PlotHook = Callable[[str, np.ndarray, np.ndarray], None]


@dataclass(frozen=True)
class Options:
    """How every case of a run is read and measured (small and picklable: it travels to workers)."""

    num_classes: int
    classes: Tuple[int, ...]
    threshold: float = 0.5
    connectivity: int = 4
    thinning: str = "guo-hall"
    max_voxels: int = DEFAULT_MAX_VOXELS
    num_threads: Optional[int] = None

    def __post_init__(self) -> None:
        _check_int("num_classes", self.num_classes, 1)
        if not self.classes or any(not isinstance(c, int) or not 0 <= c < self.num_classes for c in self.classes):
            raise ValueError(f"classes must be class indices below num_classes ({self.num_classes}), got {self.classes!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}")
        if self.connectivity not in (4, 8):
            raise ValueError(f"connectivity must be 4 or 8, got {self.connectivity!r}")
        if self.thinning not in ("guo-hall", "zhang-suen"):
            raise ValueError(f"thinning must be 'guo-hall' or 'zhang-suen', got {self.thinning!r}")
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
class _Loaded:
    case: str
    pred: Path
    gt: Path
    p: np.ndarray  # (C, H, W) boolean masks
    g: np.ndarray


def _load(case: str, pred: Path, gt: Path, options: Options) -> Union[_Loaded, CaseResult]:
    try:
        p = load_masks(pred, options.num_classes, options.threshold, options.max_voxels)
        g = load_masks(gt, options.num_classes, options.threshold, options.max_voxels)
        if p.shape != g.shape:
            raise InputFileError(
                f"shape mismatch: prediction {pred} is {p.shape[1:]} but ground truth {gt} is {g.shape[1:]}"
            )
    except Exception as exc:  # every failure of one case is that case's error, never a traceback
        return CaseResult(case, error=describe(exc))
    return _Loaded(case, pred, gt, p, g)


def _metrics(chunk: List[_Loaded], options: Options) -> dict:
    from .metrics import mask_metrics

    classes = options.classes
    return mask_metrics(
        [x.p[c] for x in chunk for c in classes],
        [x.g[c] for x in chunk for c in classes],
        connectivity=options.connectivity, num_threads=options.num_threads, thinning=options.thinning,
    )


def _compute_failed(x: _Loaded, exc: BaseException) -> str:
    return f"computing the metrics of {x.pred} and {x.gt} failed ({describe(exc)})"


def _compute(chunk: List[_Loaded], options: Options, plot: Optional[PlotHook]) -> Iterator[CaseResult]:
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
                plot(x.case, x.p, x.g)
            except Exception as exc:
                yield CaseResult(x.case, error=f"drawing the plot failed ({describe(exc)})")
                continue
        yield CaseResult(x.case, rows_as_written(rows))


def evaluate_in_process(pairs: Iterable[Pair], options: Options, plot: Optional[PlotHook] = None) -> Iterator[CaseResult]:
    """The results of `pairs`, computed here with the native threads: cases are loaded in chunks
    and each chunk's pairs of masks go to one native call. Results come in the order of `pairs`,
    except that a case that cannot be loaded is reported as soon as it is read."""
    threads = options.num_threads or os.cpu_count() or 1
    chunk_cases = max(8, 4 * threads)
    chunk: List[_Loaded] = []
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
    return CaseResult(case, rows_as_written(rows_for_case(case, options.classes, metrics, 0)))


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


def _parse_row(record: List[str]) -> dict:
    if len(record) != len(COLUMNS):
        raise ValueError(f"{len(record)} fields, expected {len(COLUMNS)}")
    row: Dict[str, Any] = {"case": record[0], "class": int(record[1])}
    for name, text in zip(COLUMNS[2:], record[2:]):
        row[name] = int(text) if name in _INTEGER else float(text)
    return row


def _csv_lines(rows: List[dict]) -> str:
    return csv_text(rows)[len(csv_text([])):]


def rows_as_written(rows: List[dict]) -> List[dict]:
    """`rows` with their values as the CSV keeps them (8 significant digits), so that summaries of
    a resumed run and of one run without a break are equal to the last digit."""
    text = _csv_lines(rows)
    return [_parse_row(record) for record in csv.reader(io.StringIO(text))]


def partial_path(out: Path) -> Path:
    """Where the rows of a run on `out` are streamed until the run ends: ``OUT.partial``."""
    return out.with_name(out.name + ".partial")


def read_results(path: Path, classes: Sequence[int]) -> Tuple[Dict[str, List[dict]], List[str]]:
    """The cases of a results CSV whose every class has its row (in the file's order), and the
    cases found with some of their rows only (cut off by an interrupted run). A last line without
    its newline is such a cut-off. Raises ResumeError when the file is not a results CSV of
    `classes`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResumeError(f"cannot read {path} ({exc})") from None
    records = list(csv.reader(io.StringIO(text)))
    if not records or tuple(records[0]) != COLUMNS:
        raise ResumeError(f"{path} is not a results CSV of bettimatch evaluate (its first line is not the header {','.join(COLUMNS)})")
    body = records[1:]
    if body and not text.endswith("\n"):
        body.pop()
    by_case: Dict[str, Dict[int, dict]] = {}
    torn: List[str] = []
    wanted = set(classes)
    for number, record in enumerate(body, start=2):
        try:
            row = _parse_row(record)
        except ValueError as exc:
            raise ResumeError(f"{path}, row {number}: not a row of bettimatch evaluate ({exc})") from None
        if row["class"] not in wanted:
            raise ResumeError(
                f"{path} has rows of class {row['class']}, which this run does not evaluate (classes "
                f"{', '.join(map(str, classes))}): was it written with other --num-classes or --include-background?"
            )
        seen = by_case.setdefault(row["case"], {})
        if row["class"] in seen and not _same_row(seen[row["class"]], row):
            raise ResumeError(f"{path} has two different rows of case {row['case']}, class {row['class']}")
        seen[row["class"]] = row
    complete: Dict[str, List[dict]] = {}
    for case, found in by_case.items():
        if set(found) == wanted:
            complete[case] = [found[c] for c in classes]
        else:
            torn.append(case)
    return complete, torn


def _same_row(a: dict, b: dict) -> bool:
    return all(a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])) for k in COLUMNS)


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

    def __init__(self, out: Path, classes: Sequence[int], resume: bool = False):
        self.out = Path(out)
        self.partial = partial_path(self.out)
        self.classes = tuple(classes)
        self.done: Dict[str, List[dict]] = {}
        self.resumed_from: Optional[Path] = None
        self.cut_off: List[str] = []
        if resume:
            for source in (self.partial, self.out):
                if source.is_file():
                    self.done, self.cut_off = read_results(source, self.classes)
                    self.resumed_from = source
                    break
        rows = [row for case_rows in self.done.values() for row in case_rows]
        # The partial file starts as the header and the rows kept, whole lines only.
        write_file_atomically(self.partial, csv_text(rows).encode("utf-8"))
        self._file: Optional[io.TextIOWrapper] = open(self.partial, "a", encoding="utf-8", newline="")

    def add(self, case: str, rows: List[dict]) -> List[dict]:
        """Append the rows of a finished case; returns them as written."""
        if case in self.done:
            raise ValueError(f"case {case!r} is in {self.partial} already")
        assert self._file is not None, "the results file is closed"
        kept = rows_as_written(rows)
        with _interrupts_held():
            self._file.write(_csv_lines(kept))
            self._file.flush()
            self.done[case] = kept
        return kept

    def finish(self, order: Sequence[str]) -> List[dict]:
        """Write OUT: the rows of the cases in `order` that are done; returns those rows."""
        self.close()
        rows = [row for case in order if case in self.done for row in self.done[case]]
        write_file_atomically(self.out, csv_text(rows).encode("utf-8"))
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
    connectivity: int = 4,
    thinning: str = "guo-hall",
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

    Files are read as the command line reads them (PNG/TIFF, .npy/.npz, NIfTI); ``nnunet=True``
    reads nnU-Net layouts (``num_classes`` then comes from ``dataset.json``). With ``client`` (a
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
        num_classes=num_classes, classes=classes, threshold=threshold,
        connectivity=connectivity, thinning=thinning, max_voxels=max_voxels, num_threads=num_threads,
    )
    skipped = [{"case": case, "error": message} for case, message in plan.problems]
    if skipped and not skip_errors:
        raise EvaluationError(skipped[0]["case"], skipped[0]["error"])
    results = ResultsFile(Path(out), options.classes, resume) if out is not None else None
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
    return _table(rows, sorted(skipped, key=lambda s: s["case"]), as_frame)


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


def _table(rows: List[dict], skipped: List[dict], as_frame: Optional[bool]):
    if as_frame is not False:
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise ImportError("as_frame=True needs pandas: pip install pandas") from None
        else:
            frame = pd.DataFrame(rows, columns=list(COLUMNS))
            frame.attrs["skipped"] = skipped
            return frame
    return Rows(rows, {"skipped": skipped})
