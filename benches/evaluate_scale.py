"""`bettimatch evaluate` at scale: in-process against a local Dask cluster, in cases per second.

    python benches/evaluate_scale.py [--cases-2d 400] [--side-2d 256] [--cases-3d 24] [--side-3d 48]
                                     [--workers 1,2] [--repeat 3] [--kinds 2d,3d]

Run from the repository root with a venv that has bettimatch and `bettimatch[dask]`. It writes N
seeded cases (label maps of smooth blobs, 3 classes in 2D, 2 in 3D; .npy files) to a temporary
folder and evaluates them with `bettimatch.evaluate_folders`:

- in-process with 1 native thread and with all cores (today's default path);
- on a `LocalCluster` of W worker processes, one thread each, for each W of --workers (one task
  per case, each with one native thread); the cluster's start-up time is reported on its own;
- the per-case cost of Dask: a run of N empty tasks through the same submit/as_completed loop,
  and the time per case of the 1-worker cluster minus that of the in-process 1-thread run.

Every timing is the median of --repeat runs (files stay in the page cache after the first). 3D
cases need an `evaluate` that reads volumes; without it the 3D rows say so and are skipped.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def write_cases(folder: Path, count: int, shape, num_classes: int) -> None:
    from scipy.ndimage import gaussian_filter

    (folder / "pred").mkdir(parents=True)
    (folder / "gt").mkdir()
    sigma = (0,) + (2.0,) * len(shape)
    for i in range(count):
        rng = np.random.default_rng(i)
        gt = gaussian_filter(rng.standard_normal((num_classes,) + shape), sigma)
        pred = gt + 0.6 * gaussian_filter(rng.standard_normal((num_classes,) + shape), sigma)
        np.save(folder / "gt" / f"case{i:04d}.npy", gt.argmax(0).astype(np.uint8))
        np.save(folder / "pred" / f"case{i:04d}.npy", pred.argmax(0).astype(np.uint8))


def median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def empty_task(i: int) -> int:
    return i


def empty_tasks_seconds(client, count: int, repeat: int) -> float:
    from distributed import as_completed

    def run():  # the loop of bettimatch._dask.evaluate_on_cluster, around tasks that do nothing
        futures = client.map(empty_task, range(count), pure=False)
        for future, _ in as_completed(futures, loop=client.loop, with_results=True, raise_errors=False):
            future.release()

    return median_seconds(run, repeat)


def supports(folder: Path, num_classes: int) -> str:
    """'' when evaluate reads these cases, else why not."""
    from bettimatch.evaluation import EvaluationError, evaluate_folders

    one = folder / "probe"
    (one / "pred").mkdir(parents=True)
    (one / "gt").mkdir()
    for side in ("pred", "gt"):
        first = sorted((folder / side).iterdir())[0]
        (one / side / first.name).write_bytes(first.read_bytes())
    try:
        evaluate_folders(one / "pred", one / "gt", num_classes, as_frame=False)
    except EvaluationError as exc:
        return str(exc)
    return ""


def bench(name: str, folder: Path, count: int, num_classes: int, workers, repeat: int) -> list:
    from bettimatch.evaluation import evaluate_folders

    why = supports(folder, num_classes)
    if why:
        print(f"{name}: skipped ({why})", flush=True)
        return []
    pred, gt = folder / "pred", folder / "gt"
    rows = []

    def in_process(threads):
        return median_seconds(lambda: evaluate_folders(pred, gt, num_classes, num_threads=threads, as_frame=False), repeat)

    one_thread = in_process(1)
    rows.append((name, "in-process, 1 thread", one_thread, None))
    cores = os.cpu_count() or 1
    rows.append((name, f"in-process, {cores} threads (default)", in_process(None), None))
    print(f"{name}: in-process done", flush=True)
    import distributed

    for w in workers:
        start = time.perf_counter()
        with distributed.LocalCluster(
            n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
            started = time.perf_counter() - start
            evaluate_folders(pred, gt, num_classes, client=client, as_frame=False)  # workers import bettimatch
            seconds = median_seconds(lambda: evaluate_folders(pred, gt, num_classes, client=client, as_frame=False), repeat)
            empty = empty_tasks_seconds(client, count, repeat)
        rows.append((name, f"Dask LocalCluster, {w} worker process(es)", seconds, (started, empty)))
        print(f"{name}: {w} worker(s) done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases-2d", type=int, default=400)
    parser.add_argument("--side-2d", type=int, default=256)
    parser.add_argument("--cases-3d", type=int, default=24)
    parser.add_argument("--side-3d", type=int, default=48)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default="2d,3d")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    kinds = args.kinds.split(",")
    table = []
    with tempfile.TemporaryDirectory(prefix="bettimatch-bench-") as tmp:
        if "2d" in kinds:
            folder = Path(tmp) / "2d"
            write_cases(folder, args.cases_2d, (args.side_2d,) * 2, 3)
            name = f"2D {args.side_2d}², 3 classes, {args.cases_2d} cases"
            table += [(row, args.cases_2d) for row in bench(name, folder, args.cases_2d, 3, workers, args.repeat)]
        if "3d" in kinds:
            folder = Path(tmp) / "3d"
            write_cases(folder, args.cases_3d, (args.side_3d,) * 3, 2)
            name = f"3D {args.side_3d}³, 2 classes, {args.cases_3d} cases"
            table += [(row, args.cases_3d) for row in bench(name, folder, args.cases_3d, 2, workers, args.repeat)]
    print(f"\n{os.cpu_count()} cores, median of {args.repeat} runs\n")
    print("| cases | run | time | cases/s | vs 1 thread | Dask start-up | empty task |")
    print("|---|---|---:|---:|---:|---:|---:|")
    base = {}
    for (name, how, seconds, dask), count in table:
        base.setdefault(name, seconds)
        extra = ("", "") if dask is None else (f"{dask[0]:.1f} s", f"{1e3 * dask[1] / count:.2f} ms")
        print(f"| {name} | {how} | {seconds:.2f} s | {count / seconds:.1f} | {base[name] / seconds:.2f}× | {extra[0]} | {extra[1]} |")
    for (name, how, seconds, dask), count in table:
        if dask is not None and how.endswith(" 1 worker process(es)"):
            overhead = (seconds - base[name]) / count
            print(f"\n{name}: a 1-worker cluster spends {1e3 * overhead:+.2f} ms per case more than in-process 1 thread")


if __name__ == "__main__":
    main()
