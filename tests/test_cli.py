"""`bettimatch evaluate` on temporary folders: outputs, formats, and every bad-input case."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
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
NUM_CLASSES = 3


def labels(seed: int, shape=(24, 32), c: int = NUM_CLASSES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.standard_normal((c,) + shape), (0, 2, 2)).argmax(0).astype(np.uint8)


def save_png(path: Path, arr: np.ndarray) -> None:
    Image = pytest.importorskip("PIL.Image")
    Image.fromarray(arr).save(path)


@pytest.fixture
def folders(tmp_path):
    """Four cases in four formats; returns (pred_dir, gt_dir, {case: (pred, gt)})."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    cases = {}
    for i, name in enumerate(["a", "b", "c", "d"]):
        g = labels(i)
        p = labels(i + 50)
        p[: 6 + i, : 8] = g[: 6 + i, : 8]
        cases[name] = (p, g)
    save_png(pred / "a.png", cases["a"][0])
    save_png(gt / "a.png", cases["a"][1])
    np.save(pred / "b.npy", cases["b"][0])
    np.save(gt / "b.npy", cases["b"][1].astype(np.int64))
    np.savez(pred / "c.npz", labels=cases["c"][0])
    save_png(gt / "c.png", cases["c"][1])
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(pred / "d.tif", cases["d"][0])
    tifffile.imwrite(gt / "d.tiff", cases["d"][1])
    return pred, gt, cases


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path: Path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def expected_rows(case, p, g, classes):
    out = []
    for c in classes:
        pm, gm = p == c, g == c
        bme = M.betti_matching_error(pm, gm, per_dimension=True)
        bne = M.betti_number_error(pm, gm, per_dimension=True)
        d = M.dice(pm, gm)
        betti_t = M.betti_number_error(np.zeros_like(gm), gm, per_dimension=True).sum()  # beta0 + beta1 of the target
        ratio = bme.sum() / betti_t if betti_t else float(bme.sum() > 0)
        out.append({
            "case": case, "class": c, "dice": d, "cldice": M.cldice(pm, gm),
            "betti_matching_error": bme.sum(), "betti_matching_error_0": bme[0], "betti_matching_error_1": bme[1],
            "betti_number_error_0": bne[0], "betti_number_error_1": bne[1], "score": d + 1 - min(1.0, ratio),
        })
    return out


def assert_row(row, want):
    for k, v in want.items():
        if k == "case":
            assert row[k] == v
        elif isinstance(v, float) or isinstance(v, np.floating):
            got = float(row[k])
            assert (math.isnan(got) and math.isnan(v)) or got == pytest.approx(v, rel=1e-5), (k, row[k], v)
        else:
            assert int(row[k]) == int(v), (k, row[k], v)


def test_evaluate_writes_rows_summary_and_json(folders, tmp_path, capsys):
    pred, gt, cases = folders
    out, js = tmp_path / "res.csv", tmp_path / "summary.json"
    code, stdout, stderr = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "--json", js], capsys)
    assert code == 0, stderr
    header, rows = read_csv(out)
    assert header == COLUMNS
    assert [(r["case"], int(r["class"])) for r in rows] == [(c, k) for c in "abcd" for k in (1, 2)]
    for r, want in zip(rows, [w for c in "abcd" for w in expected_rows(c, *cases[c], (1, 2))]):
        assert_row(r, want)
    summary = json.loads(js.read_text())
    assert summary["num_cases"] == 4 and summary["num_skipped"] == 0 and summary["classes"] == [1, 2]
    dice1 = [float(r["dice"]) for r in rows if r["class"] == "1"]
    assert summary["per_class"]["1"]["dice"]["mean"] == pytest.approx(np.mean(dice1), rel=1e-6)
    assert summary["per_class"]["1"]["dice"]["std"] == pytest.approx(np.std(dice1), rel=1e-5)
    bm_all = [int(r["betti_matching_error"]) for r in rows]
    assert summary["foreground"]["betti_matching_error"]["mean"] == pytest.approx(np.mean(bm_all))
    assert summary["foreground"]["betti_matching_error"]["n"] == 8
    # The table: one line per class and one over the foreground, mean ± std.
    lines = stdout.splitlines()
    assert any(line.startswith("1 ") for line in lines) and any(line.startswith("foreground") for line in lines)
    assert "±" in stdout and "Dice" in stdout and "clDice" in stdout


def test_quiet_include_background_and_stdout_csv(folders, capsys):
    pred, gt, _ = folders
    code, stdout, stderr = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--quiet", "--include-background", "--out", "-"], capsys)
    assert code == 0 and stderr == ""
    rows = list(csv.reader(stdout.splitlines()))
    assert rows[0] == COLUMNS and len(rows) == 1 + 4 * 3
    assert {r[1] for r in rows[1:]} == {"0", "1", "2"}
    code, stdout, stderr = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "-q"], capsys)
    assert code == 0 and stdout == "" and stderr == ""


def test_python_dash_m(folders, tmp_path):
    pred, gt, _ = folders
    out = tmp_path / "r.csv"
    res = subprocess.run(
        [sys.executable, "-m", "bettimatch", "evaluate", str(pred), str(gt), "--num-classes", "3", "--out", str(out), "-q", "--jobs", "2"],
        capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr
    assert len(read_csv(out)[1]) == 8
    res = subprocess.run([sys.executable, "-m", "bettimatch", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("bettimatch ")


def test_likelihood_maps_and_channels(tmp_path, capsys):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    g = labels(1, c=2)
    prob = np.clip(g + np.random.default_rng(0).normal(0, 0.3, g.shape), 0, 1)
    np.save(pred / "x.npy", prob)  # a foreground likelihood map (num-classes 2)
    np.save(gt / "x.npy", g)
    channels = np.stack([1 - prob, prob]).astype(np.float32)
    np.save(pred / "y.npy", channels)  # (C, H, W) per-class likelihoods
    np.save(gt / "y.npy", g)
    out = tmp_path / "r.csv"
    for threshold in ("0.5", "0.7"):
        code, _, err = run(["evaluate", pred, gt, "--num-classes", 2, "--threshold", threshold, "--out", out, "-q"], capsys)
        assert code == 0, err
        _, rows = read_csv(out)
        t = float(threshold)
        for r in rows:
            assert_row(r, expected_rows(r["case"], (prob > t).astype(int), g, (1,))[0])


def test_plots(folders, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pred, gt, _ = folders
    plots = tmp_path / "plots"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--plots", plots, "-q"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in plots.iterdir()) == ["a.png", "b.png", "c.png", "d.png"]
    assert all(p.stat().st_size > 1000 for p in plots.iterdir())


def test_nifti(tmp_path, capsys):
    nib = pytest.importorskip("nibabel")
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    g, p = labels(3), labels(4)
    nib.save(nib.Nifti1Image(p[:, :, None].astype(np.int16), np.eye(4)), str(pred / "n.nii.gz"))
    nib.save(nib.Nifti1Image(g.astype(np.int16), np.eye(4)), str(gt / "n.nii"))
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "-q"], capsys)
    assert code == 0, err
    _, rows = read_csv(out)
    for r, want in zip(rows, expected_rows("n", p, g, (1, 2))):
        assert_row(r, want)
    vol = np.zeros((5, 6, 7), np.int16)
    nib.save(nib.Nifti1Image(vol, np.eye(4)), str(pred / "v.nii.gz"))
    nib.save(nib.Nifti1Image(vol, np.eye(4)), str(gt / "v.nii.gz"))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "-q"], capsys)
    # A 3D NIfTI volume is a volume now; next to a 2D case it makes a mixed folder, refused up front.
    assert code == 1 and "the cases mix 2D images (1: n) and 3D volumes (1: v)" in err


# --------------------------------------------------------------------------------------------
# bad inputs: a clear message, a non-zero exit, or with --skip-errors a report and the rest
# --------------------------------------------------------------------------------------------


def break_case(kind: str, pred: Path, gt: Path) -> str:
    """Spoil case 'b' (or add a lone file); returns a fragment of the expected message."""
    if kind == "missing partner":
        np.save(pred / "lonely.npy", labels(9))
        return "no ground truth for prediction"
    if kind == "missing prediction":
        np.save(gt / "orphan.npy", labels(9))
        return "no prediction for ground truth"
    if kind == "shape mismatch":
        np.save(pred / "b.npy", labels(1, shape=(24, 30)))
        return "shape mismatch"
    if kind == "label too large":
        bad = labels(1)
        bad[0, 0] = 7
        np.save(pred / "b.npy", bad)
        return "label value 7 is not below --num-classes 3"
    if kind == "negative label":
        bad = labels(1).astype(np.int8)
        bad[0, 0] = -1
        np.save(gt / "b.npy", bad)
        return "negative label value -1"
    if kind == "unreadable":
        (pred / "b.npy").write_bytes(b"this is not a numpy file")
        return "cannot read"
    if kind == "3D volume":
        np.save(pred / "b.npy", np.zeros((5, 24, 32), np.uint8))
        return "is a 3D volume (5, 24, 32) but ground truth"
    if kind == "colour png":
        (pred / "b.npy").unlink()
        save_png(pred / "b.png", np.zeros((24, 32, 3), np.uint8))
        return "colour image"
    if kind == "npz with two arrays":
        (pred / "b.npy").unlink()
        np.savez(pred / "b.npz", one=labels(1), two=labels(2))
        return "exactly one array"
    if kind == "non-integer labels":
        np.save(pred / "b.npy", labels(1) + 0.5)
        return "non-integer values"
    raise ValueError(kind)


BAD = [
    "missing partner", "missing prediction", "shape mismatch", "label too large", "negative label",
    "unreadable", "3D volume", "colour png", "npz with two arrays", "non-integer labels",
]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_fails_with_a_clear_message(folders, tmp_path, capsys, kind):
    pred, gt, _ = folders
    fragment = break_case(kind, pred, gt)
    out = tmp_path / "res.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "-q"], capsys)
    assert code == 1
    assert fragment in err and "error" in err
    assert "--skip-errors" in err
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("kind", BAD)
def test_skip_errors_reports_and_goes_on(folders, tmp_path, capsys, kind):
    pred, gt, _ = folders
    fragment = break_case(kind, pred, gt)
    out, js = tmp_path / "res.csv", tmp_path / "s.json"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "--json", js, "--skip-errors", "-q"], capsys)
    assert code == 0, err
    bad_case = {"missing partner": "lonely", "missing prediction": "orphan"}.get(kind, "b")
    assert f"skipping case {bad_case}" in err and fragment in err
    assert "skipped 1 case(s)" in err
    cases = {r["case"] for r in read_csv(out)[1]}
    assert bad_case not in cases and cases == {"a", "b", "c", "d"} - {bad_case}
    summary = json.loads(js.read_text())
    assert summary["num_skipped"] == 1 and summary["skipped"][0]["case"] == bad_case
    assert fragment in summary["skipped"][0]["error"]


def test_usage_errors(folders, tmp_path, capsys):
    pred, gt, _ = folders
    code, _, err = run(["evaluate", tmp_path / "nowhere", gt, "--num-classes", 3], capsys)
    assert code == 1 and "not a directory" in err
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 1], capsys)
    assert code == 2 and "no foreground class" in err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(pred), str(gt)])  # --num-classes is required
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["evaluate", str(pred), str(gt), "--num-classes", "3", "--connectivity", "5"])
    capsys.readouterr()
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--connectivity", 6, "-q"], capsys)
    assert code == 2 and "--connectivity 6 is for volumes; 2D images take 4 or 8" in err
    assert main([]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(["evaluate", empty, empty, "--num-classes", 3], capsys)
    assert code == 1 and "no cases" in err
    # Files of other types are reported, not silently dropped.
    (pred / "notes.txt").write_text("hello")
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 0 and "ignoring 1 file" in err and "notes.txt" in err
    # Two files for one case.
    np.save(pred / "a.npy", labels(0))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "two files for case 'a'" in err


def test_every_case_bad_with_skip_errors_is_an_error(tmp_path, capsys):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    np.save(pred / "x.npy", labels(0))
    np.save(gt / "x.npy", labels(0)[:, :10])
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--skip-errors", "-q"], capsys)
    assert code == 1 and "every case was skipped" in err
