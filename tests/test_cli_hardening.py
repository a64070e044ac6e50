"""`bettimatch evaluate` against hostile inputs and outputs: stdout purity, outputs that would
overwrite inputs, outputs that cannot be written, files that do not fit in memory, failing cases,
ambiguous array shapes, and entries that are left out of a folder.

Every test checks the exit status, the family of the error message, and that the input folders
are byte-identical afterwards.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import stat
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from bettimatch import metrics as M
from bettimatch.cli import main

COLUMNS = [
    "case", "class", "dice", "cldice", "betti_matching_error", "betti_matching_error_0",
    "betti_matching_error_1", "betti_number_error_0", "betti_number_error_1", "score",
]
SUBPROCESS_TIMEOUT_S = 300
MEMORY_LIMIT_BYTES = 3 * 2**30
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def labels(seed: int, shape=(24, 32), c: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.standard_normal((c,) + shape), (0, 2, 2)).argmax(0).astype(np.uint8)


@pytest.fixture
def folders(tmp_path):
    """Three .npy cases; returns (pred_dir, gt_dir)."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for i, name in enumerate("abc"):
        np.save(pred / f"{name}.npy", labels(i + 50))
        np.save(gt / f"{name}.npy", labels(i))
    return pred, gt


def snapshot(*folders: Path) -> dict:
    """Every entry below `folders`: file content hashes, symlink targets, folder markers."""
    state = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(root) / name
                if path.is_symlink():
                    state[str(path)] = ("link", os.readlink(path))
                elif path.is_dir():
                    state[str(path)] = ("dir",)
                else:
                    state[str(path)] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return state


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(args, env=None, limit_memory=False, **kwargs):
    """`python -m bettimatch ARGS` in a child process, optionally under a 3 GiB address-space limit,
    with a timeout so that a hang or an abort fails the test instead of the test run."""
    preexec = None
    if limit_memory:
        resource = pytest.importorskip("resource")

        def preexec():
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "bettimatch"] + [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args],
        capture_output=True, timeout=SUBPROCESS_TIMEOUT_S, preexec_fn=preexec, env=full_env, **kwargs,
    )


def parse_csv_exactly(text: str):
    """The rows of a CSV text that holds nothing but the header and well-formed rows."""
    rows = list(csv.reader(io.StringIO(text)))
    assert rows, "empty CSV"
    assert rows[0] == COLUMNS, rows[0]
    for row in rows[1:]:
        assert len(row) == len(COLUMNS), row
        int(row[1])
        for value in row[2:]:
            float(value)
    return [dict(zip(COLUMNS, row)) for row in rows[1:]]


# ----------------------------------------------------------------------------- stdout is data only


def test_out_dash_stdout_is_exactly_the_csv(folders):
    pred, gt = folders
    before = snapshot(pred, gt)
    (pred / "notes.txt").write_text("not a case")  # a warning
    np.save(pred / "lonely.npy", labels(9))  # a skipped case
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "--out", "-", "--skip-errors"], text=True)
    assert res.returncode == 0, res.stderr
    rows = parse_csv_exactly(res.stdout)
    assert [(r["case"], r["class"]) for r in rows] == [(c, k) for c in "abc" for k in ("1", "2")]
    # The table, the warning and the skipped case all went to stderr.
    assert "foreground" in res.stderr and "±" in res.stderr
    assert "notes.txt" in res.stderr and "skipping case lonely" in res.stderr
    (pred / "notes.txt").unlink()
    (pred / "lonely.npy").unlink()
    assert snapshot(pred, gt) == before


def test_json_dash_stdout_is_exactly_the_json(folders, tmp_path):
    pred, gt = folders
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "--json", "-", "--out", tmp_path / "r.csv"], text=True)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["num_cases"] == 3
    assert "foreground" in res.stderr  # the table is not mixed into the JSON
    parse_csv_exactly((tmp_path / "r.csv").read_text())


def test_table_on_a_stdout_without_plus_minus(folders):
    pred, gt = folders
    res = run_process(["evaluate", pred, gt, "--num-classes", 3], env={"PYTHONIOENCODING": "ascii"}, text=True)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "foreground" in res.stdout and "+/-" in res.stdout


def test_closed_stdout_pipe_is_not_a_traceback(folders):
    pred, gt = folders
    # 2 x 3 x 1999 rows: far more than a pipe buffer, so the writer meets the closed pipe.
    process = subprocess.Popen(
        [sys.executable, "-m", "bettimatch", "evaluate", str(pred), str(gt), "--num-classes", "2000", "--out", "-", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout.readline().decode().rstrip("\n").split(",") == COLUMNS
        process.stdout.close()
        _, err = process.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    finally:
        process.kill()
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


# ----------------------------------------------------------------------------- outputs never touch inputs


def _output_arguments(kind: str, pred: Path, gt: Path, tmp: Path):
    """Arguments for one refused output, and a fragment of the message."""
    if kind == "out is a prediction":
        return ["--out", pred / "b.npy"], "would overwrite the input file"
    if kind == "json is a ground truth":
        return ["--json", gt / "a.npy"], "would overwrite the input file"
    if kind == "out inside the prediction folder":
        return ["--out", pred / "results.csv"], "lies inside the input folder"
    if kind == "out symlink to an input":
        (tmp / "link.csv").symlink_to(gt / "b.npy")
        return ["--out", tmp / "link.csv"], "would overwrite the input file"
    if kind == "out is an input reached through a symlinked folder":
        (tmp / "alias").symlink_to(pred, target_is_directory=True)
        return ["--out", tmp / "alias" / "c.npy"], "would overwrite the input file"
    if kind == "out is the target of a symlinked input":
        outside = tmp / "outside"
        outside.mkdir()
        np.save(outside / "d.npy", labels(3))
        (pred / "d.npy").symlink_to(outside / "d.npy")
        np.save(gt / "d.npy", labels(4))
        return ["--out", outside / "d.npy"], "would overwrite the input file"
    if kind == "out is a hard link to an input":
        os.link(pred / "a.npy", tmp / "hard.csv")
        return ["--out", tmp / "hard.csv"], "would overwrite the input file"
    if kind == "out and json are hard links of one file":
        (tmp / "h.csv").write_text("x")
        os.link(tmp / "h.csv", tmp / "h.json")
        return ["--out", tmp / "h.csv", "--json", tmp / "h.json"], "both write to the same file"
    if kind == "plots is the prediction folder":
        return ["--plots", pred], "lies inside the input folder"
    if kind == "plots inside the ground-truth folder":
        return ["--plots", gt / "figs"], "lies inside the input folder"
    if kind == "plot file is a symlinked input":
        figs = tmp / "figs"
        figs.mkdir()
        (figs / "a.png").symlink_to(pred / "a.npy")
        return ["--plots", figs], "would overwrite the input file"
    if kind == "out and json are one file":
        return ["--out", tmp / "x", "--json", tmp / "x"], "both write to the same file"
    if kind == "out and json are one file through a symlink":
        (tmp / "y.json").symlink_to(tmp / "y.csv")
        return ["--out", tmp / "y.csv", "--json", tmp / "y.json"], "both write to the same file"
    if kind == "out and json both stdout":
        return ["--out", "-", "--json", "-"], "both write to stdout"
    if kind == "out is a plot":
        (tmp / "figs").mkdir()
        return ["--out", tmp / "figs" / "a.png", "--plots", tmp / "figs"], "would overwrite this file with a plot"
    if kind == "out is the plot folder":
        return ["--out", tmp / "figs", "--plots", tmp / "figs"], "the --plots folder"
    if kind == "out is a folder":
        return ["--out", tmp], "is a folder"
    if kind == "out in a missing folder":
        return ["--out", tmp / "missing" / "r.csv"], "does not exist"
    if kind == "json name too long":
        return ["--json", tmp / ("x" * 300 + ".json")], "too long"
    if kind == "plots is a file":
        (tmp / "plots.txt").write_text("x")
        return ["--plots", tmp / "plots.txt"], "not a folder"
    raise ValueError(kind)


REFUSED_OUTPUTS = [
    "out is a prediction", "json is a ground truth", "out inside the prediction folder", "out symlink to an input",
    "out is an input reached through a symlinked folder", "out is the target of a symlinked input",
    "out is a hard link to an input", "out and json are hard links of one file",
    "plots is the prediction folder", "plots inside the ground-truth folder", "plot file is a symlinked input",
    "out and json are one file", "out and json are one file through a symlink", "out and json both stdout",
    "out is a plot", "out is the plot folder", "out is a folder", "out in a missing folder", "json name too long",
    "plots is a file",
]


@pytest.mark.parametrize("kind", REFUSED_OUTPUTS)
def test_outputs_that_would_touch_inputs_or_collide_are_refused_before_any_work(folders, tmp_path, capsys, kind):
    pytest.importorskip("matplotlib")
    pred, gt = folders
    arguments, fragment = _output_arguments(kind, pred, gt, tmp_path)
    (pred / "c.npy").write_bytes(b"not an array")  # reading any case would report it
    before = snapshot(pred, gt, tmp_path)
    code, out, err = run(["evaluate", pred, gt, "--num-classes", 3, "--skip-errors", *arguments], capsys)
    assert code == 2, err
    assert fragment in err and "error" in err, err
    assert "skipping case" not in err and "Traceback" not in err  # refused before reading any case
    assert out == ""
    assert snapshot(pred, gt, tmp_path) == before  # nothing written, nothing created


def test_plots_next_to_inputs_is_fine_and_the_next_run_still_works(folders, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pred, gt = folders
    before = snapshot(pred, gt)
    for _ in range(2):
        code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--plots", tmp_path / "figs", "-q"], capsys)
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["a.png", "b.png", "c.png"]
    assert snapshot(pred, gt) == before


def test_unencodable_output_name_is_a_usage_error(folders, tmp_path, capsys):
    pred, gt = folders
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", tmp_path / "\ud800.csv"], capsys)
    assert code == 2 and "cannot be encoded" in err
    assert list(tmp_path.glob("*.csv")) == []


def test_non_utf8_output_name_is_written(folders, tmp_path):
    pred, gt = folders
    name = os.fsencode(tmp_path) + b"/r\xff.csv"
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "--out", name, "-q"], text=True)
    assert res.returncode == 0, res.stderr
    with open(name, "r", encoding="utf-8") as f:
        assert len(parse_csv_exactly(f.read())) == 6


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_read_only_output_folder_is_a_usage_error(folders, tmp_path, capsys):
    pred, gt = folders
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", locked / "r.csv"], capsys)
    finally:
        locked.chmod(stat.S_IRWXU)
    assert code == 2 and "cannot create the file" in err


def test_failed_run_keeps_the_old_output_and_leaves_no_temporary_file(folders, tmp_path, capsys):
    pred, gt = folders
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    out.write_text("old csv\n")
    js.write_text("old json\n")
    np.save(pred / "b.npy", labels(1, shape=(5, 5)))  # shape mismatch: exit 1
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", out, "--json", js, "-q"], capsys)
    assert code == 1 and "shape mismatch" in err
    assert out.read_text() == "old csv\n" and js.read_text() == "old json\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt", "pred", "r.csv", "s.json"]


def test_output_replaced_whole_with_its_permissions(folders, tmp_path, capsys):
    pred, gt = folders
    out = tmp_path / "r.csv"
    out.write_text("x" * 100000)
    out.chmod(0o640)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    assert len(parse_csv_exactly(out.read_text())) == 6
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt", "pred", "r.csv"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    from bettimatch import _summary

    target = tmp_path / "r.csv"
    target.write_text("old\n")
    _summary.write_file_atomically(target, b"new\n")
    assert target.read_text() == "new\n"

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_summary.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        _summary.write_file_atomically(target, b"newer\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_output_to_a_device_is_written_in_place(folders, capsys):
    if not os.path.exists(os.devnull) or os.name != "posix":
        pytest.skip("needs /dev/null")
    pred, gt = folders
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", os.devnull, "--json", os.devnull + "/../null", "-q"], capsys)
    assert code == 2 and "both write to the same file" in err  # the same device under two names
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", os.devnull, "-q"], capsys)
    assert code == 0, err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)  # still the device, not replaced by a file


# ----------------------------------------------------------------------------- memory bounds


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_zero_png(path: Path, side: int) -> None:
    """A grayscale PNG of side x side zeros, written without holding the image."""
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)  # filter byte + pixels
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))


def _write_zeros(stream, count: int, block: int = 1 << 22) -> None:
    zeros = bytes(block)
    while count > 0:
        stream.write(zeros[: min(block, count)])
        count -= block


def write_zero_npz(path: Path, side: int) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (side, side)})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("labels.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            _write_zeros(member, side * side)


def write_header_only_npy(path: Path, side: int) -> None:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (side, side)})


def write_zero_tiff(path: Path, side: int) -> None:
    tifffile = pytest.importorskip("tifffile")
    tile = np.zeros((1024, 1024), np.uint8)
    tiles_per_side = -(-side // 1024)
    n_tiles = tiles_per_side * tiles_per_side
    tifffile.imwrite(path, (tile for _ in range(n_tiles)), shape=(side, side), dtype=np.uint8, tile=(1024, 1024), compression="zlib")


def write_zero_nifti_gz(path: Path, side: int) -> None:
    nib = pytest.importorskip("nibabel")
    header = nib.Nifti1Header()
    header.set_data_shape((side, side, 1))
    header.set_data_dtype(np.uint8)
    header["vox_offset"] = 352
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header.binaryblock + bytes(4))
        _write_zeros(f, side * side)


BIG_SIDE = 20000  # 4e8 pixels: 3.2 GB as int64 labels, more than the child process may allocate


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Small files that decode to 20000 x 20000 images, each paired with a small ground truth,
    and one good case."""
    pytest.importorskip("PIL")
    root = tmp_path_factory.mktemp("bombs")
    pred, gt = root / "pred", root / "gt"
    pred.mkdir()
    gt.mkdir()
    write_zero_npz(pred / "npz.npz", BIG_SIDE)
    write_header_only_npy(pred / "npy.npy", BIG_SIDE)
    write_zero_png(pred / "png.png", BIG_SIDE)
    write_zero_tiff(pred / "tif.tif", BIG_SIDE)
    write_zero_nifti_gz(pred / "nii.nii.gz", BIG_SIDE)
    for case in ("npz", "npy", "png", "tif", "nii"):
        np.save(gt / f"{case}.npy", np.zeros((4, 4), np.uint8))
    np.save(pred / "good.npy", labels(0))
    np.save(gt / "good.npy", labels(1))
    assert all(p.stat().st_size < 4 * 2**20 for p in pred.iterdir())
    return pred, gt


def test_files_too_large_for_memory_are_bad_cases(bombs):
    pred, gt = bombs
    before = snapshot(pred, gt)
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "--skip-errors", "--out", "-", "-q"], limit_memory=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr
    for name in ("npz.npz", "npy.npy", "png.png", "tif.tif", "nii.nii.gz"):
        assert any(name in line and "too large" in line and "--max-voxels" in line for line in res.stderr.splitlines()), (name, res.stderr)
    assert "skipped 5 case(s)" in res.stderr
    assert {r["case"] for r in parse_csv_exactly(res.stdout)} == {"good"}
    assert snapshot(pred, gt) == before


def test_file_too_large_without_skip_errors_names_the_file(bombs):
    pred, gt = bombs
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "-q"], limit_memory=True, text=True)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "too large" in res.stderr and "nii.nii.gz" in res.stderr and "--skip-errors" in res.stderr


def test_max_voxels_bounds_the_class_masks(folders, tmp_path, capsys):
    pred, gt = folders
    # 24 x 32 x 3 classes = 2304 mask values; the file itself stores only 768.
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--max-voxels", 2303, "-q"], capsys)
    assert code == 1 and "needs 2304 mask values" in err and "a.npy" in err
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--max-voxels", 2304, "-q"], capsys)
    assert code == 0, err
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 4, "--max-voxels", 2304, "-q", "--skip-errors"], capsys)
    assert code == 1 and "every case was skipped" in err


def test_num_classes_and_jobs_have_an_upper_bound(folders):
    pred, gt = folders
    # In a child process: without the bounds these runs claim gigabytes or start 100000 threads.
    for option, value in (("--num-classes", "1000000"), ("--jobs", "100000")):
        res = run_process(["evaluate", pred, gt, "--num-classes", 3, option, value, "-q"], limit_memory=True, text=True)
        assert res.returncode == 2, res.stderr
        assert "at most" in res.stderr and option in res.stderr


def test_many_classes_on_small_labels_do_not_wrap(tmp_path, capsys):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    g = np.zeros((12, 12), np.uint8)
    g[2:6, 2:6] = 44
    g[7:10, 7:10] = 255
    p = g.copy()
    p[2:4, 2:6] = 0
    np.save(pred / "x.npy", p)
    np.save(gt / "x.npy", g)
    out = tmp_path / "r.csv"
    # With labels compared in uint8, class 300 would wrap onto class 44.
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 301, "--out", out, "-q"], capsys)
    assert code == 0, err
    rows = {int(r["class"]): r for r in parse_csv_exactly(out.read_text())}
    assert len(rows) == 300
    assert float(rows[44]["dice"]) == pytest.approx(M.dice(p == 44, g == 44))
    assert float(rows[255]["dice"]) == 1.0
    assert np.isnan(float(rows[300]["dice"])) and np.isnan(float(rows[44 + 256]["dice"]))


# ----------------------------------------------------------------------------- every case failure is caught


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError("native failure"), ValueError("odd"), KeyError("k")])
def test_any_failure_reading_a_case_is_reported_with_its_name(folders, tmp_path, capsys, monkeypatch, error):
    import bettimatch.evaluation as evaluation

    pred, gt = folders
    real_load = evaluation.load_masks

    def load(path, *args, **kwargs):
        if path.name == "b.npy":
            raise error
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(evaluation, "load_masks", load)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--skip-errors", "--out", out, "-q"], capsys)
    assert code == 0, err
    assert f"skipping case b: {type(error).__name__}" in err or "skipping case b: out of memory" in err
    assert {r["case"] for r in parse_csv_exactly(out.read_text())} == {"a", "c"}
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "error: case b:" in err and "--skip-errors" in err


def test_native_failure_in_the_metrics_is_blamed_on_its_case(folders, tmp_path, capsys, monkeypatch):
    import bettimatch.metrics as metrics

    pred, gt = folders
    poisoned = np.load(pred / "b.npy") == 1
    real = metrics.mask_metrics

    def mask_metrics(preds, targets, **kwargs):
        if any(p.shape == poisoned.shape and np.array_equal(p, poisoned) for p in preds):
            raise RuntimeError("bettimatch native panic: index out of bounds")
        return real(preds, targets, **kwargs)

    monkeypatch.setattr(metrics, "mask_metrics", mask_metrics)
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--skip-errors", "--out", out, "--json", js, "-q"], capsys)
    assert code == 0, err
    assert "skipping case b: computing the metrics" in err and "RuntimeError: bettimatch native panic" in err
    assert {r["case"] for r in parse_csv_exactly(out.read_text())} == {"a", "c"}
    report = json.loads(js.read_text())
    assert [s["case"] for s in report["skipped"]] == ["b"]
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "error: case b: computing the metrics" in err


# ----------------------------------------------------------------------------- array shapes are never guessed


def one_hot(label_map: np.ndarray, c: int) -> np.ndarray:
    return (label_map[None] == np.arange(c).reshape(c, 1, 1)).astype(np.uint8)


def test_one_hot_with_a_single_row_is_read_as_channels(tmp_path, capsys):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    g = labels(0, shape=(1, 40))
    p = labels(1, shape=(1, 40))
    np.save(pred / "x.npy", one_hot(p, 3))  # (3, 1, 40): channels of a 1 x 40 image
    np.save(gt / "x.npy", g)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    rows = parse_csv_exactly(out.read_text())
    for row in rows:
        c = int(row["class"])
        want = M.dice(p == c, g == c)
        assert (np.isnan(want) and np.isnan(float(row["dice"]))) or float(row["dice"]) == pytest.approx(want)


@pytest.mark.parametrize(
    "shape, fragment",
    # (24, 32, 3), (2, 24, 32) and (1, 3, 24, 32) are label volumes now (tests/test_cli_volumes.py).
    [((3, 1, 40), "ambiguous shape"), ((24, 1, 32), "ambiguous shape"), ((40,), "expected a 2D image")],
)
def test_shapes_that_are_neither_label_maps_nor_channels_are_refused(tmp_path, capsys, shape, fragment):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    np.save(pred / "x.npy", np.zeros(shape, np.uint8))
    np.save(gt / "x.npy", np.zeros((24, 32), np.uint8))
    before = snapshot(pred, gt)
    # --num-classes 4: no first axis above equals it, so none is read as channels.
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 4, "-q"], capsys)
    assert code == 1, err
    assert fragment in err and "x.npy" in err and str(shape) in err
    assert "(num_classes, H, W)" in err or fragment == "expected a 2D image"
    assert snapshot(pred, gt) == before


@pytest.mark.parametrize("shape", [(1, 24, 32), (24, 32, 1), (1, 24, 32, 1), (1, 1, 24, 32)])
def test_size_one_axes_around_a_label_map_are_dropped(tmp_path, capsys, shape):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    np.save(pred / "x.npy", labels(1).reshape(shape))
    np.save(gt / "x.npy", labels(0))
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    rows = parse_csv_exactly(out.read_text())
    assert float(rows[0]["dice"]) == pytest.approx(M.dice(labels(1) == 1, labels(0) == 1))


def test_integer_channels_must_be_one_hot(tmp_path, capsys):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    np.save(pred / "x.npy", one_hot(labels(1), 3) * 255)
    np.save(gt / "x.npy", labels(0))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "must be one-hot" in err and "x.npy" in err


def test_infinite_values_in_a_label_map_are_refused(tmp_path, capsys):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    bad = labels(1).astype(np.float32)
    bad[0, 0] = np.inf
    np.save(pred / "x.npy", bad)
    np.save(gt / "x.npy", labels(0))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "contains infinite values" in err and "x.npy" in err


# ----------------------------------------------------------------------------- what a folder leaves out


def test_left_out_entries_are_reported_and_counted(folders, tmp_path, capsys):
    pred, gt = folders
    (pred / ".DS_Store").write_bytes(b"\0")
    np.save(gt / ".hidden.npy", labels(5))
    (pred / "sub").mkdir()
    (gt / "dangling").symlink_to(tmp_path / "nowhere")
    (gt / "README.txt").write_text("hello")
    before = snapshot(pred, gt)
    js = tmp_path / "s.json"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--json", js, "-q"], capsys)
    assert code == 0, err
    assert "ignoring 1 hidden file(s) in" in err and ".DS_Store" in err and ".hidden.npy" in err
    assert "ignoring 1 folder(s) in" in err and "sub" in err
    assert "ignoring 1 broken symbolic link(s)" in err and "dangling" in err
    assert "ignoring 1 file(s) of unsupported type" in err and "README.txt" in err
    report = json.loads(js.read_text())
    assert report["num_ignored"] == 5
    assert sorted(e["reason"] for e in report["ignored"]) == [
        "broken symbolic link", "folder", "hidden", "hidden", "unsupported type",
    ]
    assert snapshot(pred, gt) == before


def test_broken_symlink_case_is_a_bad_case_not_a_missing_partner(folders, tmp_path, capsys):
    pred, gt = folders
    (pred / "b.npy").unlink()
    (pred / "b.npy").symlink_to(tmp_path / "gone.npy")
    before = snapshot(pred, gt)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "broken symbolic link" in err and "b.npy" in err
    assert "no prediction" not in err
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q", "--skip-errors", "--out", out], capsys)
    assert code == 0 and "skipping case b: " in err and "broken symbolic link" in err
    assert {r["case"] for r in parse_csv_exactly(out.read_text())} == {"a", "c"}
    assert snapshot(pred, gt) == before


def test_non_utf8_input_name_is_a_bad_case(folders, tmp_path):
    pred, gt = folders
    for folder in (pred, gt):
        with open(os.fsencode(folder) + b"/z\xff.npy", "wb") as f:
            np.save(f, labels(7))
    out = tmp_path / "r.csv"
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "-q", "--skip-errors", "--out", out], text=True)
    assert res.returncode == 0, res.stderr
    assert "not valid UTF-8" in res.stderr and "Traceback" not in res.stderr
    assert {r["case"] for r in parse_csv_exactly(out.read_text(encoding="utf-8"))} == {"a", "b", "c"}
    res = run_process(["evaluate", pred, gt, "--num-classes", 3, "-q"], text=True)
    assert res.returncode == 1 and "not valid UTF-8" in res.stderr


def test_chunks_of_cases_stay_within_the_voxel_budget(folders, tmp_path, capsys, monkeypatch):
    import bettimatch.metrics as metrics

    pred, gt = folders
    real = metrics.mask_metrics
    calls = []

    def mask_metrics(preds, targets, **kwargs):
        calls.append(sum(p.size for p in preds) + sum(t.size for t in targets))
        return real(preds, targets, **kwargs)

    monkeypatch.setattr(metrics, "mask_metrics", mask_metrics)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 0, err
    assert len(calls) == 1  # three small cases: one chunk
    calls.clear()
    # Each case holds 2 x 24 x 32 x 3 mask values, the whole budget: one case per chunk.
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--max-voxels", 2 * 24 * 32 * 3, "-q"], capsys)
    assert code == 0, err
    assert len(calls) == 3


def test_pillows_own_pixel_limit_does_not_override_max_voxels(tmp_path, capsys, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    Image.fromarray(labels(1)).save(pred / "x.png")
    np.save(gt / "x.npy", labels(0))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a 24 x 32 image is a "bomb" to pillow now
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 0, err
    assert Image.MAX_IMAGE_PIXELS == 100  # restored
