"""`bettimatch evaluate` on a real Dask cluster, and the streamed, resumable CSV.

The cluster is a `distributed.LocalCluster` of two worker processes on 127.0.0.1 (started once for
the module, stopped at its end). Its rows must equal the in-process run's exactly, which are
checked against the metric functions on their own. Worker-side faults (a slow case, a failing
case) are put on the workers with `client.run`, and a worker process is killed mid-run. Every
subprocess runs in a session of its own and is killed with its whole group at the end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bettimatch import metrics as M
from bettimatch._summary import COLUMNS, csv_text
from bettimatch.cli import main
from bettimatch.evaluation import (
    EvaluationError,
    Options,
    ResultsFile,
    _interrupts_held,
    evaluate_cases,
    evaluate_folders,
    find_cases,
    partial_path,
)

NUM_CLASSES = 3
CLASSES = (1, 2)
WAIT_S = 60  # the longest any one wait in this file may take before the test fails


def write_cases(folder: Path, count: int, side: int, seed: int = 0) -> None:
    """`count` cases of random (side, side) label maps: many components and holes per class."""
    (folder / "pred").mkdir(parents=True)
    (folder / "gt").mkdir()
    for i in range(count):
        rng = np.random.default_rng(seed + i)
        np.save(folder / "pred" / f"case{i:03d}.npy", rng.integers(0, NUM_CLASSES, (side, side), dtype=np.uint8))
        np.save(folder / "gt" / f"case{i:03d}.npy", rng.integers(0, NUM_CLASSES, (side, side), dtype=np.uint8))


def text(rows, spatial_dims: int = 2) -> str:
    return csv_text(list(rows), spatial_dims)


def parse_csv_exactly(content: str):
    """The rows of a CSV that holds nothing but the header and well-formed, complete rows."""
    assert content.endswith("\n"), "the last line is cut off"
    records = list(csv.reader(io.StringIO(content)))
    assert records and records[0] == list(COLUMNS), records[:1]
    for record in records[1:]:
        assert len(record) == len(COLUMNS), record
        int(record[1])
        [float(v) for v in record[2:]]
    return records[1:]


def oracle_row(pred: np.ndarray, gt: np.ndarray, c: int) -> dict:
    pm, gm = pred == c, gt == c
    bme = M.betti_matching_error(pm, gm, per_dimension=True)
    bne = M.betti_number_error(pm, gm, per_dimension=True)
    return {"dice": M.dice(pm, gm), "cldice": M.cldice(pm, gm), "betti_matching_error_0": int(bme[0]),
            "betti_matching_error_1": int(bme[1]), "betti_number_error_0": int(bne[0]), "betti_number_error_1": int(bne[1])}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """24 small cases and the rows of their in-process evaluation (the reference of this file)."""
    root = tmp_path_factory.mktemp("cases")
    write_cases(root, 24, 96)
    rows = evaluate_folders(root / "pred", root / "gt", NUM_CLASSES, as_frame=False)
    return root, list(rows)


def test_the_in_process_reference_rows_match_the_metric_functions(data):
    root, rows = data
    assert len(rows) == 24 * len(CLASSES) and [r["case"] for r in rows[::2]] == [f"case{i:03d}" for i in range(24)]
    for row in rows[:6]:
        pred, gt = (np.load(root / side / f"{row['case']}.npy") for side in ("pred", "gt"))
        for key, want in oracle_row(pred, gt, row["class"]).items():
            assert row[key] == pytest.approx(want, rel=1e-7), (row["case"], key)


# ----------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
        silence_logs=50,
    ) as local:
        yield local


@pytest.fixture
def client(cluster):
    import distributed

    with distributed.Client(cluster, set_as_default=False, timeout=WAIT_S) as c:
        c.wait_for_workers(2, timeout=WAIT_S)
        yield c
        # A test that killed a worker leaves the next one a full cluster.
        c.wait_for_workers(2, timeout=WAIT_S)


@contextlib.contextmanager
def on_workers(client, patch, *args):
    """Run `patch(*args)` in every worker (it replaces bettimatch.evaluation._metrics) and put the
    real function back afterwards."""

    def restore():
        import bettimatch.evaluation as ev

        real = getattr(ev, "_real_metrics", None)
        if real is not None:
            ev._metrics = real
            del ev._real_metrics

    client.run(patch, *args)
    try:
        yield
    finally:
        client.run(restore)


def slow_cases(seconds):
    import time

    import bettimatch.evaluation as ev

    real = ev.__dict__.setdefault("_real_metrics", ev._metrics)

    def slow(chunk, options):
        time.sleep(seconds)
        return real(chunk, options)

    ev._metrics = slow


def failing_case(case, tries_file, failures):
    """Computing `case` fails its first `failures` tries (every try when None); each try is a line
    of `tries_file`, which the workers share."""
    import bettimatch.evaluation as ev

    real = ev.__dict__.setdefault("_real_metrics", ev._metrics)

    def metrics(chunk, options):
        if chunk[0].case == case:
            with open(tries_file, "a") as f:
                f.write("try\n")
            with open(tries_file) as f:
                tries = len(f.readlines())
            if failures is None or tries <= failures:
                raise RuntimeError("injected failure")
        return real(chunk, options)

    ev._metrics = metrics


def options() -> Options:
    return Options(num_classes=NUM_CLASSES, classes=CLASSES)


def test_rows_on_the_cluster_equal_the_in_process_rows(data, client):
    root, reference = data
    rows = evaluate_folders(root / "pred", root / "gt", NUM_CLASSES, client=client, as_frame=False)
    assert text(rows) == text(reference)
    assert rows == reference  # no NaN here: every value compares equal, types included
    # The workers read the files: the client sends paths, and each case is one task.
    plan = find_cases(root / "pred", root / "gt")
    results = list(evaluate_cases(plan.pairs, options(), client=client))
    assert sorted(r.case for r in results) == [case for case, _, _ in plan.pairs]
    assert all(r.error is None for r in results)


def test_the_cli_on_a_running_scheduler_writes_the_same_files(data, client, tmp_path, capsys):
    root, _ = data
    pred, gt = root / "pred", root / "gt"
    assert main(["evaluate", str(pred), str(gt), "--num-classes", "3", "--out", str(tmp_path / "a.csv"),
                 "--json", str(tmp_path / "a.json"), "-q"]) == 0
    assert main(["evaluate", str(pred), str(gt), "--num-classes", "3", "--out", str(tmp_path / "b.csv"),
                 "--json", str(tmp_path / "b.json"), "-q", "--scheduler", client.scheduler.address]) == 0
    scheduler_file = tmp_path / "scheduler.json"  # what `dask scheduler --scheduler-file` writes, in short
    scheduler_file.write_text(json.dumps({"type": "Scheduler", "address": client.scheduler.address}))
    assert main(["evaluate", str(pred), str(gt), "--num-classes", "3", "--out", str(tmp_path / "c.csv"),
                 "--json", str(tmp_path / "c.json"), "-q", "--scheduler-file", str(scheduler_file)]) == 0
    for name in ("b", "c"):
        assert (tmp_path / f"{name}.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
        assert (tmp_path / f"{name}.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    assert not partial_path(tmp_path / "b.csv").exists()
    capsys.readouterr()


def test_the_cli_starts_and_stops_a_local_cluster(data, tmp_path, capsys):
    pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    root, reference = data
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    code = main(["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3",
                 "--out", str(tmp_path / "r.csv"), "-q", "--scheduler", "local:2"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "r.csv").read_text() == text(reference)
    deadline = time.monotonic() + WAIT_S
    while True:  # the worker processes it started are gone (the resource tracker may linger a moment)
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline())]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not left, [p.cmdline() for p in left]


def test_a_killed_worker_loses_no_case_and_repeats_none(data, client):
    root, reference = data
    plan = find_cases(root / "pred", root / "gt")
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    results, remaining_at_kill = [], None
    with on_workers(client, slow_cases, 0.1):
        for result in evaluate_cases(plan.pairs, options(), client=client):
            results.append(result)
            if remaining_at_kill is None:
                os.kill(victim, signal.SIGKILL)
                remaining_at_kill = len(plan.pairs) - len(results)
    assert remaining_at_kill >= 10  # the kill came while most cases were still to do
    assert sorted(r.case for r in results) == [case for case, _, _ in plan.pairs]  # each exactly once
    assert [r.error for r in results] == [None] * len(results)
    order = {case: i for i, (case, _, _) in enumerate(plan.pairs)}
    rows = [row for r in sorted(results, key=lambda r: order[r.case]) for row in r.rows]
    assert text(rows) == text(reference)
    client.wait_for_workers(2, timeout=WAIT_S)
    assert victim not in client.run(os.getpid).values()  # the nanny started a new worker process


def test_a_case_that_always_fails_is_reported_after_the_retries(data, client, tmp_path, capsys):
    root, reference = data
    tries = tmp_path / "tries"
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    with on_workers(client, failing_case, "case005", str(tries), None):
        code = main(["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3", "--out", str(out),
                     "--json", str(js), "-q", "--skip-errors", "--retries", "2", "--scheduler", client.scheduler.address])
        err = capsys.readouterr().err
        assert code == 0, err
        assert len(tries.read_text().splitlines()) == 3  # one try and two retries
        assert "skipping case case005: computing the metrics of" in err and "injected failure" in err
        report = json.loads(js.read_text())
        assert report["num_skipped"] == 1 and report["skipped"][0]["case"] == "case005"
        assert "RuntimeError: injected failure" in report["skipped"][0]["error"] and "(3 tries)" in report["skipped"][0]["error"]
        assert out.read_text() == text(r for r in reference if r["case"] != "case005")
        # Without --skip-errors the run stops at that case, naming it.
        code = main(["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3", "-q", "--retries", "0",
                     "--scheduler", client.scheduler.address])
        assert code == 1 and "error: case case005:" in capsys.readouterr().err
        with pytest.raises(EvaluationError, match="case005"):
            evaluate_folders(root / "pred", root / "gt", NUM_CLASSES, client=client, retries=0)


def test_a_case_that_fails_once_is_retried_and_kept(data, client, tmp_path):
    root, reference = data
    tries = tmp_path / "tries"
    with on_workers(client, failing_case, "case007", str(tries), 1):
        rows = evaluate_folders(root / "pred", root / "gt", NUM_CLASSES, client=client, retries=1, as_frame=False)
    assert len(tries.read_text().splitlines()) == 2
    assert text(rows) == text(reference) and rows.attrs["skipped"] == []


def test_an_unreadable_file_is_reported_the_same_on_the_cluster(data, client, tmp_path):
    root, reference = data
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for case in ("case000", "case001", "case002"):
        for side, folder in (("pred", pred), ("gt", gt)):
            (folder / f"{case}.npy").write_bytes((root / side / f"{case}.npy").read_bytes())
    (pred / "case001.npy").write_bytes(b"not an array")
    here = evaluate_folders(pred, gt, NUM_CLASSES, skip_errors=True, as_frame=False)
    there = evaluate_folders(pred, gt, NUM_CLASSES, skip_errors=True, client=client, as_frame=False)
    assert text(there) == text(here) == text(r for r in reference if r["case"] in ("case000", "case002"))
    assert [s["case"] for s in there.attrs["skipped"]] == ["case001"]
    assert "cannot read the file" in there.attrs["skipped"][0]["error"]


def test_volumes_on_the_cluster_and_resumed(client, tmp_path, capsys):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for i in range(6):
        rng = np.random.default_rng(200 + i)
        np.save(pred / f"vol{i}.npy", rng.integers(0, NUM_CLASSES, (10, 12, 14), dtype=np.uint8))
        np.save(gt / f"vol{i}.npy", rng.integers(0, NUM_CLASSES, (10, 12, 14), dtype=np.uint8))
    here = evaluate_folders(pred, gt, NUM_CLASSES, as_frame=False)
    row = here[0]
    p, g = np.load(pred / "vol0.npy") == 1, np.load(gt / "vol0.npy") == 1
    bme = M.betti_matching_error(p, g, per_dimension=True)
    assert [row[f"betti_matching_error_{d}"] for d in range(3)] == [int(v) for v in bme]
    assert row["dice"] == pytest.approx(M.dice(p, g), rel=1e-7)
    there = evaluate_folders(pred, gt, NUM_CLASSES, client=client, as_frame=False)
    assert text(there, 3) == text(here, 3)
    out = tmp_path / "r.csv"
    args = ["evaluate", str(pred), str(gt), "--num-classes", "3", "-q", "--out", str(out)]
    assert main(args + ["--scheduler", client.scheduler.address]) == 0
    assert out.read_text() == text(here, 3)
    lines = out.read_text().splitlines(keepends=True)
    partial_path(out).write_text("".join(lines[:5]) + lines[5][:7])  # two volumes done, a third cut off
    out.unlink()
    assert main(args + ["--resume", "--scheduler", client.scheduler.address]) == 0
    assert "resume: 2 case(s) done" in capsys.readouterr().err
    assert out.read_text() == text(here, 3)
    # A CSV of 2D rows is no run to resume for volumes.
    partial_path(out).write_text(text([]))
    assert main(args + ["--resume"]) == 2 and "3D volumes" in capsys.readouterr().err


# ----------------------------------------------------------------------------- Ctrl-C, then --resume


@contextlib.contextmanager
def cli_process(args, **kwargs):
    """`python -m bettimatch ARGS` in a session of its own; the whole group is killed on leaving."""
    proc = subprocess.Popen([sys.executable, "-m", "bettimatch", *map(str, args)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=WAIT_S)


def wait_for_rows(partial: Path, rows: int, proc) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and partial.read_text().count("\n") > rows:
            return
        time.sleep(0.02)
    pytest.fail(f"{partial} did not get {rows} rows (exit status {proc.poll()})")


def interrupt_like_a_terminal(proc) -> str:
    """Ctrl-C at a terminal: SIGINT to every process of the group. Returns stderr."""
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=WAIT_S)
    return err


def group_is_gone(pgid: int) -> bool:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def slow_data(tmp_path_factory):
    """40 cases of 512x512 noise (about 0.1 s each) and their rows, CSV and JSON from one run."""
    root = tmp_path_factory.mktemp("slow")
    write_cases(root, 40, 512, seed=100)
    assert main(["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3", "-q",
                 "--out", str(root / "ref.csv"), "--json", str(root / "ref.json")]) == 0
    return root


def check_interrupted(out: Path, reference: Path) -> int:
    """The files an interrupted run leaves: no OUT, and OUT.partial a valid CSV of whole cases, each
    row equal to the uninterrupted run's. Returns the number of cases in it."""
    assert not out.exists()
    records = parse_csv_exactly(partial_path(out).read_text())
    want = {tuple(r) for r in parse_csv_exactly(reference.read_text())}
    assert {tuple(r) for r in records} <= want and len(set(map(tuple, records))) == len(records)
    cases = [r[0] for r in records]
    assert all(cases.count(c) == len(CLASSES) for c in cases)
    return len(set(cases))


def test_ctrl_c_on_the_cluster_then_resume(slow_data, client, tmp_path, capsys):
    root = slow_data
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    args = ["evaluate", root / "pred", root / "gt", "--num-classes", 3, "--out", out, "--json", js, "-q",
            "--scheduler", client.scheduler.address]
    with on_workers(client, slow_cases, 0.1), cli_process(args) as proc:
        wait_for_rows(partial_path(out), 6, proc)
        err = interrupt_like_a_terminal(proc)
        assert proc.returncode == 130, err
        assert "run again with --resume" in err and "Traceback" not in err
        done = check_interrupted(out, root / "ref.csv")
        assert 3 <= done < 40
        # The interrupted run cancelled its tasks: the cluster is idle again.
        deadline = time.monotonic() + WAIT_S
        while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0
    assert main([str(a) for a in args] + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resume: {done} case(s) done" in err and f"{40 - done} to compute" in err
    assert out.read_bytes() == (root / "ref.csv").read_bytes()
    assert js.read_bytes() == (root / "ref.json").read_bytes()
    assert not partial_path(out).exists()


def test_ctrl_c_on_a_local_cluster_stops_every_process(slow_data, tmp_path):
    pytest.importorskip("distributed")
    root = slow_data
    out = tmp_path / "r.csv"
    args = ["evaluate", root / "pred", root / "gt", "--num-classes", 3, "--out", out, "-q", "--scheduler", "local:2"]
    with cli_process(args) as proc:
        wait_for_rows(partial_path(out), 4, proc)
        err = interrupt_like_a_terminal(proc)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err  # the workers leave it to the command
        check_interrupted(out, root / "ref.csv")
        assert group_is_gone(proc.pid)


def test_ctrl_c_in_process_then_resume(slow_data, tmp_path, capsys):
    root = slow_data
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    args = ["evaluate", root / "pred", root / "gt", "--num-classes", 3, "--out", out, "--json", js, "-q", "--jobs", 1]
    with cli_process(args) as proc:
        wait_for_rows(partial_path(out), 1, proc)
        err = interrupt_like_a_terminal(proc)
        assert proc.returncode == 130, err
        done = check_interrupted(out, root / "ref.csv")
        assert 1 <= done < 40
        assert group_is_gone(proc.pid)
    assert main([str(a) for a in args] + ["--resume"]) == 0
    assert out.read_bytes() == (root / "ref.csv").read_bytes()
    assert js.read_bytes() == (root / "ref.json").read_bytes()
    capsys.readouterr()


# ----------------------------------------------------------------------------- streaming and --resume, in-process


def test_rows_are_in_the_partial_file_as_soon_as_their_case_is_done(data, tmp_path):
    root, reference = data
    out = tmp_path / "r.csv"
    results = ResultsFile(out, CLASSES)
    by_case = {}
    for row in reference:
        by_case.setdefault(row["case"], []).append(row)
    for k, (case, rows) in enumerate(list(by_case.items())[:5]):
        results.add(case, rows)
        # Another process reading the file now sees every finished case, whole.
        assert len(parse_csv_exactly(partial_path(out).read_text())) == (k + 1) * len(CLASSES)
    with pytest.raises(ValueError, match="already"):
        results.add("case000", by_case["case000"])
    assert not out.exists()
    rows = results.finish(sorted(by_case, reverse=True))  # OUT follows the order given
    assert [r["case"] for r in rows[:: len(CLASSES)]] == sorted(list(by_case)[:5], reverse=True)
    assert not partial_path(out).exists() and len(parse_csv_exactly(out.read_text())) == 5 * len(CLASSES)


def test_resume_computes_only_the_cases_missing_or_cut_off(data, tmp_path, capsys, monkeypatch):
    import bettimatch.evaluation as ev

    root, reference = data
    args = ["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3", "-q"]
    assert main(args + ["--out", str(tmp_path / "ref.csv"), "--json", str(tmp_path / "ref.json")]) == 0
    ref_lines = (tmp_path / "ref.csv").read_text().splitlines(keepends=True)
    # An interrupted run's file: cases 0-9 whole (in another order), case 10 with one class only,
    # and a last line cut off in the middle.
    lines = [ref_lines[0]] + ref_lines[11:21] + ref_lines[1:11] + [ref_lines[21], ref_lines[23][:9]]
    out = tmp_path / "r.csv"
    partial_path(out).write_text("".join(lines))
    loaded = []
    real_load = ev._load
    monkeypatch.setattr(ev, "_load", lambda case, *a: loaded.append(case) or real_load(case, *a))
    assert main(args + ["--out", str(out), "--json", str(tmp_path / "s.json"), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "resume: 10 case(s) done" in err and "14 to compute" in err and "cut off half way" in err
    assert sorted(loaded) == [f"case{i:03d}" for i in range(10, 24)]
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert (tmp_path / "s.json").read_bytes() == (tmp_path / "ref.json").read_bytes()
    # Resuming a finished run computes nothing and writes the same files.
    loaded.clear()
    assert main(args + ["--out", str(out), "--resume"]) == 0
    assert loaded == [] and out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    # Nothing to resume from: a run from the start.
    fresh = tmp_path / "fresh.csv"
    assert main(args + ["--out", str(fresh), "--resume"]) == 0
    assert "no earlier results" in capsys.readouterr().err and fresh.read_bytes() == out.read_bytes()


def test_resume_refuses_a_file_of_another_evaluation(data, tmp_path, capsys):
    root, _ = data
    args = ["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3", "-q"]
    out = tmp_path / "r.csv"
    out.write_text("name,score\na,1\n")
    assert main(args + ["--out", str(out), "--resume"]) == 2
    assert "not a results CSV" in capsys.readouterr().err and out.read_text() == "name,score\na,1\n"
    assert main(args + ["--out", str(out), "--include-background"]) == 0
    assert main(args + ["--out", str(out), "--resume"]) == 2  # it has rows of class 0
    assert "class 0, which this run does not evaluate" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 2 and "--resume needs --out FILE" in capsys.readouterr().err
    assert main(args + ["--resume", "--out", "-"]) == 2
    capsys.readouterr()
    # Without --resume an earlier run's partial file is replaced, and said to be.
    partial_path(out).write_text("x\n")
    assert main(args + ["--out", str(out)]) == 0
    assert "of an earlier run is replaced" in capsys.readouterr().err and not partial_path(out).exists()


def test_a_stopped_run_keeps_its_rows_for_resume(data, tmp_path, capsys):
    root, _ = data
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for i in range(20):
        for side, folder in (("pred", pred), ("gt", gt)):
            (folder / f"case{i:03d}.npy").write_bytes((root / side / f"case{i:03d}.npy").read_bytes())
    good = (pred / "case015.npy").read_bytes()
    (pred / "case015.npy").write_bytes(b"broken")
    out = tmp_path / "r.csv"
    args = ["evaluate", str(pred), str(gt), "--num-classes", "3", "-q", "--out", str(out), "--jobs", "1"]
    assert main(args) == 1  # stops at case015, read after the first chunk (cases 0-7) was done
    err = capsys.readouterr().err
    assert "error: case case015" in err and "saved in" in err
    assert not out.exists() and len(parse_csv_exactly(partial_path(out).read_text())) == 8 * len(CLASSES)
    (pred / "case015.npy").write_bytes(good)
    kept = partial_path(out).read_text()
    other = ["evaluate", str(pred), str(gt), "--num-classes", "3", "-q", "--out", str(tmp_path / "other.csv")]
    assert main(other) == 0  # another output: this partial file stays
    assert partial_path(out).read_text() == kept
    assert main(args + ["--resume"]) == 0
    assert main(["evaluate", str(pred), str(gt), "--num-classes", "3", "-q", "--out", str(tmp_path / "ref.csv")]) == 0
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
    capsys.readouterr()


def test_an_interrupt_while_a_line_is_written_waits_for_the_line():
    caught = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the signal is delivered here, and held
            caught.append("the block went on")
    assert caught == ["the block went on"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_evaluate_folders_returns_a_table(data, tmp_path):
    root, reference = data
    rows = evaluate_folders(str(root / "pred"), str(root / "gt"), num_classes=3, as_frame=False)
    assert isinstance(rows, list) and rows == reference and rows.attrs == {"skipped": []}
    out = tmp_path / "r.csv"
    assert evaluate_folders(root / "pred", root / "gt", 3, out=out, as_frame=False) == reference
    assert out.read_text() == text(reference)
    pd = pytest.importorskip("pandas")
    frame = evaluate_folders(root / "pred", root / "gt", 3, as_frame=True)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(COLUMNS)
    assert frame.to_dict("records") == reference


def test_evaluate_folders_bad_arguments(data, tmp_path):
    root, _ = data
    with pytest.raises(ValueError, match="num_classes is required"):
        evaluate_folders(root / "pred", root / "gt")
    with pytest.raises(ValueError, match="no foreground class"):
        evaluate_folders(root / "pred", root / "gt", 1)
    with pytest.raises(ValueError, match="connectivity"):
        evaluate_folders(root / "pred", root / "gt", 3, connectivity=6)
    with pytest.raises(ValueError, match="not for 2D images"):
        evaluate_folders(root / "pred", root / "gt", 3, thinning="lee")
    with pytest.raises(ValueError, match="resume=True needs out"):
        evaluate_folders(root / "pred", root / "gt", 3, resume=True)
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    np.save(tmp_path / "pred" / "x.npy", np.zeros((4, 4), np.uint8))
    with pytest.raises(EvaluationError, match="no ground truth"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", 3)
    assert list(evaluate_folders(tmp_path / "pred", tmp_path / "gt", 3, skip_errors=True, as_frame=False)) == []


# ----------------------------------------------------------------------------- the command line's checks


def test_scheduler_usage_errors(data, tmp_path, capsys, monkeypatch):
    root, _ = data
    args = ["evaluate", str(root / "pred"), str(root / "gt"), "--num-classes", "3", "-q"]
    assert main(args + ["--scheduler", "local:0"]) == 2 and "local:N" in capsys.readouterr().err
    assert main(args + ["--scheduler", "local", "--plots", str(tmp_path / "figs")]) == 2
    assert "--plots" in capsys.readouterr().err
    assert main(args + ["--scheduler-file", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--scheduler", "local", "--scheduler-file", str(tmp_path / "s.json")])
    with socket.socket() as s:  # a port of 127.0.0.1 where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = pytest.importorskip("dask")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(args + ["--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    assert "cannot connect to the Dask scheduler" in capsys.readouterr().err
    # Without dask.distributed installed, asking for a scheduler says how to install it.
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(args + ["--scheduler", "local:2"]) == 2
    assert "pip install 'bettimatch[dask]'" in capsys.readouterr().err
    assert main(args) == 0  # and the in-process path needs nothing of it
    capsys.readouterr()


def test_a_handshake_assertion_of_distributed_is_retried():
    """distributed's Client can trip its own handshake assert when another client of the same
    scheduler connects at once (seen in CI): connecting is tried again, a lasting failure is a
    SchedulerError naming the scheduler."""
    from bettimatch import _dask

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise AssertionError
        return "client"

    assert _dask._client(flaky) == "client" and len(calls) == 2

    def broken():
        raise AssertionError

    with pytest.raises(AssertionError):
        _dask._client(broken)
    distributed = pytest.importorskip("distributed")
    original = distributed.Client
    distributed.Client = lambda *a, **k: broken()
    try:
        with pytest.raises(_dask.SchedulerError, match="tcp://127.0.0.1:1: cannot connect"):
            with _dask.connect("tcp://127.0.0.1:1"):
                pass
    finally:
        distributed.Client = original
