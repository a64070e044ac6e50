"""Evaluating folders of segmentations case by case: the engine behind `bettimatch evaluate`.

A *case* is one prediction file and one ground-truth file of the same name. Evaluating it loads
both files, turns them into one boolean mask per class and computes every metric of all its
classes in one native call, giving one row per class (the CSV's columns, see
``bettimatch._summary.COLUMNS``). A case that cannot be evaluated gives a :class:`CaseResult`
with its error instead of rows, never an exception, so that callers decide whether to stop or go
on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from ._io import DEFAULT_MAX_VOXELS, InputFileError, Listing, load_masks
from ._summary import rows_for_case

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


def pair_cases(preds: Listing, gts: Listing, pred_dir: Path, gt_dir: Path) -> Tuple[List[Pair], List[Tuple[str, str]]]:
    """(case, prediction, ground truth) of the cases found in both folders, sorted by case, and the
    problems of the others (a bad file, or a file without a partner)."""
    problems = []
    for case in sorted(set(preds.cases) | set(gts.cases) | set(preds.bad) | set(gts.bad)):
        reasons = [listing.bad[case] for listing in (preds, gts) if case in listing.bad]
        if reasons:
            problems.append((case, "; ".join(reasons)))
        elif case not in gts.cases:
            problems.append((case, f"no ground truth for prediction {preds.cases[case]} in {gt_dir}"))
        elif case not in preds.cases:
            problems.append((case, f"no prediction for ground truth {gts.cases[case]} in {pred_dir}"))
    pairs = [(case, preds.cases[case], gts.cases[case]) for case in sorted(set(preds.cases) & set(gts.cases))]
    return pairs, problems


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
        yield CaseResult(x.case, rows)


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
