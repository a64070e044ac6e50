"""`bettimatch evaluate` on 3D volumes: formats, columns, the score with beta2, how shapes are read
(never guessed), mixed folders, bad cases, outputs, and the volume plots.

Values are checked against independent computations: Betti numbers by scipy labelling and the Euler
characteristic (skimage), Dice by counting, the Betti matching error by direct calls of the public
3D metric."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi

import bettimatch as bm
from bettimatch import metrics as M
from bettimatch.cli import main

COLUMNS_2D = [
    "case", "class", "dice", "cldice", "betti_matching_error", "betti_matching_error_0",
    "betti_matching_error_1", "betti_number_error_0", "betti_number_error_1", "score",
]
COLUMNS_3D = [
    "case", "class", "dice", "cldice", "betti_matching_error", "betti_matching_error_0",
    "betti_matching_error_1", "betti_matching_error_2", "betti_number_error_0", "betti_number_error_1",
    "betti_number_error_2", "score",
]
NUM_CLASSES = 3
SHAPE = (10, 14, 16)


def label_volume(seed: int, shape=SHAPE, c: int = NUM_CLASSES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.standard_normal((c,) + shape), (0, 1.5, 1.5, 1.5)).argmax(0).astype(np.uint8)


def label_map(seed: int, shape=(24, 32), c: int = NUM_CLASSES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.standard_normal((c,) + shape), (0, 2, 2)).argmax(0).astype(np.uint8)


def pair(seed: int, shape=SHAPE):
    """A ground truth and a prediction that agrees with it on part of the volume; in volumes of
    the default shape the ground truth holds a box of class 2 around a core of class 1 (a cavity
    of class 2), which the prediction fills for even seeds."""
    g = label_volume(seed, shape)
    p = label_volume(seed + 100, shape)
    p[: shape[0] // 2] = g[: shape[0] // 2]
    if shape == SHAPE:
        g[5:10, 2:8, 2:8] = 2
        g[6:9, 3:7, 3:7] = 1
        p[5:10, 2:8, 2:8] = 2
        if seed % 2:
            p[6:9, 3:7, 3:7] = 1
    return p, g


def labelled_betti(mask: np.ndarray):
    """(beta0, beta1, beta2) of a 3D mask by labelling: 6-connected components, 26-connected
    background components off the border, beta1 from the Euler characteristic."""
    from skimage.measure import euler_number

    b0 = ndi.label(mask, ndi.generate_binary_structure(3, 1))[1]
    b2 = ndi.label(np.pad(~mask, 1, constant_values=True), ndi.generate_binary_structure(3, 3))[1] - 1
    chi = euler_number(np.pad(mask, 1), connectivity=1)
    return b0, b0 + b2 - chi, b2


def expected_rows(case, p, g, classes):
    out = []
    for c in classes:
        pm, gm = p == c, g == c
        bme = M.betti_matching_error(pm, gm, per_dimension=True)
        bp, bt = np.array(labelled_betti(pm)), np.array(labelled_betti(gm))
        inter, total = np.count_nonzero(pm & gm), np.count_nonzero(pm) + np.count_nonzero(gm)
        d = 2 * inter / total if total else float("nan")
        ratio = bme.sum() / bt.sum() if bt.sum() else float(bme.sum() > 0)
        row = {"case": case, "class": c, "dice": d, "betti_matching_error": bme.sum(), "score": d + 1 - min(1.0, ratio)}
        for k in range(3):
            row[f"betti_matching_error_{k}"] = bme[k]
            row[f"betti_number_error_{k}"] = abs(bp[k] - bt[k])
        out.append(row)
    return out


def assert_row(row, want):
    for k, v in want.items():
        if k == "case":
            assert row[k] == v
        elif isinstance(v, (float, np.floating)):
            got = float(row[k])
            assert (math.isnan(got) and math.isnan(v)) or got == pytest.approx(v, rel=1e-6), (k, row[k], v)
        else:
            assert int(row[k]) == int(v), (k, row[k], v)


def assert_cldice(row, p, g, c):
    """The CLI's clDice of a volume is the public 3D clDice (Lee thinning, as skimage's)."""
    got = float(row["cldice"])
    want = float(M.compute_cldice((p == c)[None, None], (g == c)[None, None], include_background=True, spatial_dims=3)[0, 0])
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-6)


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bettimatch"] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=300, **kwargs)


def parse_csv_exactly(text: str, columns=COLUMNS_3D):
    rows = list(csv.reader(io.StringIO(text)))
    assert rows and rows[0] == columns, rows[:1]
    for row in rows[1:]:
        assert len(row) == len(columns), row
        int(row[1])
        for value in row[2:]:
            float(value)
    return [dict(zip(columns, row)) for row in rows[1:]]


def snapshot(*folders: Path) -> dict:
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders for path in sorted(folder.rglob("*")) if path.is_file()
    }


def folders_of(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    return pred, gt


def save_nifti(path: Path, arr: np.ndarray, zooms=(1.0, 1.0, 1.0)) -> None:
    nib = pytest.importorskip("nibabel")
    image = nib.Nifti1Image(arr.astype(np.int16), np.diag(list(zooms) + [1.0]))
    nib.save(image, str(path))


@pytest.fixture
def volumes(tmp_path):
    """Five cases in five formats: NIfTI .nii.gz and .nii, .npy, .npz, a multi-page TIFF stack;
    returns (pred_dir, gt_dir, {case: (pred, gt)})."""
    tifffile = pytest.importorskip("tifffile")
    pred, gt = folders_of(tmp_path)
    cases = {name: pair(i) for i, name in enumerate(["a", "b", "c", "d", "e"])}
    save_nifti(pred / "a.nii.gz", cases["a"][0])
    save_nifti(gt / "a.nii.gz", cases["a"][1])
    save_nifti(pred / "b.nii", cases["b"][0])
    np.save(gt / "b.npy", cases["b"][1].astype(np.int64))
    np.save(pred / "c.npy", cases["c"][0])
    np.savez_compressed(gt / "c.npz", labels=cases["c"][1])
    np.savez(pred / "d.npz", cases["d"][0])
    tifffile.imwrite(gt / "d.tif", cases["d"][1])
    tifffile.imwrite(pred / "e.tiff", cases["e"][0])
    with tifffile.TiffWriter(gt / "e.tif") as writer:  # a stack written page by page: one series per page
        for page in cases["e"][1]:
            writer.write(page)
    return pred, gt, cases


# ----------------------------------------------------------------------------- values and columns


def test_volumes_in_every_format_give_the_independent_values(volumes, tmp_path, capsys):
    pred, gt, cases = volumes
    before = snapshot(pred, gt)
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    code, stdout, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "--json", js], capsys)
    assert code == 0, err
    rows = parse_csv_exactly(out.read_text())
    assert [(r["case"], int(r["class"])) for r in rows] == [(c, k) for c in "abcde" for k in (1, 2)]
    for r in rows:
        p, g = cases[r["case"]]
        assert_row(r, expected_rows(r["case"], p, g, [int(r["class"])])[0])
        assert_cldice(r, p, g, int(r["class"]))
    # The cases are not trivial: each kind of error occurs somewhere.
    for column in ("betti_matching_error_0", "betti_matching_error_1", "betti_matching_error_2"):
        assert any(int(r[column]) > 0 for r in rows), column
    report = json.loads(js.read_text())
    assert report["spatial_dims"] == 3 and report["connectivity"] == 6 and report["num_cases"] == 5
    assert set(report["foreground"]) == set(COLUMNS_3D[2:])
    bm2 = [int(r["betti_matching_error_2"]) for r in rows if r["class"] == "2"]
    assert report["per_class"]["2"]["betti_matching_error_2"]["mean"] == pytest.approx(np.mean(bm2))
    assert "BM2" in stdout and "BNE2" in stdout and "(3D volumes)" in stdout and "connectivity 6" in stdout
    assert snapshot(pred, gt) == before


def test_one_hot_and_likelihood_channels_of_volumes(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    p, g = pair(7)
    one_hot = (p[None] == np.arange(NUM_CLASSES).reshape(-1, 1, 1, 1)).astype(np.uint8)  # (C, D, H, W)
    np.save(pred / "x.npy", one_hot)
    np.save(gt / "x.npy", g)
    likelihood = np.where(one_hot, 0.8, 0.1).astype(np.float32)
    np.save(pred / "y.npy", likelihood)
    np.save(gt / "y.npy", g)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "-q"], capsys)
    assert code == 0, err
    rows = parse_csv_exactly(out.read_text())
    for r in rows:
        assert_row(r, expected_rows(r["case"], p, g, [int(r["class"])])[0])


def test_score_counts_the_cavities_of_the_target(tmp_path, capsys):
    """A hollow cube (one component, one cavity) against the solid cube: the cavity is the only
    error, and S = Dice + 1 - 1 / (beta0 + beta1 + beta2) = Dice + 1/2."""
    pred, gt = folders_of(tmp_path)
    hollow = np.zeros((7, 7, 7), np.uint8)
    hollow[1:6, 1:6, 1:6] = 1
    hollow[3, 3, 3] = 0
    solid = np.zeros_like(hollow)
    solid[1:6, 1:6, 1:6] = 1
    np.save(pred / "x.npy", solid)
    np.save(gt / "x.npy", hollow)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 2, "--out", out, "-q"], capsys)
    assert code == 0, err
    (row,) = parse_csv_exactly(out.read_text())
    dice = 2 * 124 / (125 + 124)
    assert [int(row[c]) for c in COLUMNS_3D[4:11]] == [1, 0, 0, 1, 0, 0, 1]
    assert float(row["score"]) == pytest.approx(dice + 0.5, rel=1e-7)
    assert float(row["dice"]) == pytest.approx(dice, rel=1e-7)


def test_stdout_carries_exactly_the_csv_or_the_json(volumes):
    pred, gt, _ = volumes
    res = run_process(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", "-"])
    assert res.returncode == 0, res.stderr
    assert len(parse_csv_exactly(res.stdout)) == 10
    assert "foreground" in res.stderr  # the table went to stderr
    res = run_process(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--json", "-", "-q"])
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["spatial_dims"] == 3


def test_two_d_runs_keep_their_columns(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    np.save(pred / "x.npy", label_map(1))
    np.save(gt / "x.npy", label_map(2))
    code, out, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", "-", "-q"], capsys)
    assert code == 0, err
    parse_csv_exactly(out, COLUMNS_2D)


def test_a_volume_one_slice_thick_equals_its_image(tmp_path, capsys):
    """--spatial-dims 3 reads a 2D image as a (1, H, W) volume: 6-connected in one slice is
    4-connected, so the values are the 2D ones and dimension 2 is empty."""
    pred, gt = folders_of(tmp_path)
    p, g = label_map(3), label_map(4)
    np.save(pred / "x.npy", p)
    np.save(gt / "x.npy", g)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--spatial-dims", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    for row in parse_csv_exactly(out.read_text()):
        c = int(row["class"])
        bme = M.betti_matching_error(p == c, g == c, per_dimension=True, connectivity=4)
        bne = M.betti_number_error(p == c, g == c, per_dimension=True, connectivity=4)
        assert [int(row[f"betti_matching_error_{k}"]) for k in range(3)] == [bme[0], bme[1], 0]
        assert [int(row[f"betti_number_error_{k}"]) for k in range(3)] == [bne[0], bne[1], 0]
        assert float(row["dice"]) == pytest.approx(M.dice(p == c, g == c))


# ----------------------------------------------------------------------------- mixed folders


def mixed(tmp_path):
    pred, gt = folders_of(tmp_path)
    np.save(pred / "img.npy", label_map(1))
    np.save(gt / "img.npy", label_map(2))
    p, g = pair(3)
    np.save(pred / "vol.npy", p)
    np.save(gt / "vol.npy", g)
    return pred, gt, p, g


@pytest.mark.parametrize("skip", [False, True])
def test_a_folder_mixing_images_and_volumes_is_refused_up_front(tmp_path, capsys, skip):
    pred, gt, _, _ = mixed(tmp_path)
    out = tmp_path / "r.csv"
    args = ["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "-q"] + (["--skip-errors"] if skip else [])
    code, _, err = run(args, capsys)
    assert code == 1
    assert "the cases mix 2D images (1: img) and 3D volumes (1: vol)" in err and "--spatial-dims 3" in err
    assert not out.exists()


def test_spatial_dims_3_evaluates_a_mixed_folder_as_volumes(tmp_path, capsys):
    pred, gt, p, g = mixed(tmp_path)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--spatial-dims", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    rows = parse_csv_exactly(out.read_text())
    assert {r["case"] for r in rows} == {"img", "vol"}
    for r in rows:
        if r["case"] == "vol":
            assert_row(r, expected_rows("vol", p, g, [int(r["class"])])[0])


def test_spatial_dims_2_refuses_volumes(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    np.save(pred / "x.npy", np.zeros((5, 24, 32), np.uint8))
    np.save(gt / "x.npy", np.zeros((5, 24, 32), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 4, "--spatial-dims", 2, "-q"], capsys)
    assert code == 1 and "x.npy" in err and "--spatial-dims 2 reads 2D images only" in err and "(5, 24, 32)" in err


# ----------------------------------------------------------------------------- shapes: never guessed


@pytest.mark.parametrize("skip", [False, True])
def test_volumes_of_different_shapes(tmp_path, capsys, skip):
    pred, gt = folders_of(tmp_path)
    p, g = pair(1)
    np.save(pred / "good.npy", p)
    np.save(gt / "good.npy", g)
    save_nifti(pred / "bad.nii.gz", p[:, :, :-1])
    save_nifti(gt / "bad.nii.gz", g)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "-q"]
                       + (["--skip-errors"] if skip else []), capsys)
    message = f"shape mismatch: prediction {pred / 'bad.nii.gz'} is (10, 14, 15) but ground truth {gt / 'bad.nii.gz'} is (10, 14, 16)"
    assert message in err
    if skip:
        assert code == 0 and "skipping case bad" in err and {r["case"] for r in parse_csv_exactly(out.read_text())} == {"good"}
    else:
        assert code == 1 and "--skip-errors" in err and not out.exists()


@pytest.mark.parametrize("shape", [(24, 32, 3), (2, 24, 32), (1, 3, 24, 32)])
def test_label_volume_against_an_image_is_a_mismatch(tmp_path, capsys, shape):
    """Shapes that were refused before volumes were read are label volumes now; against a 2D
    ground truth they are a case whose files disagree, named both."""
    pred, gt = folders_of(tmp_path)
    np.save(pred / "x.npy", np.zeros(shape, np.uint8))
    np.save(gt / "x.npy", np.zeros((24, 32), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 4, "-q"], capsys)
    volume = tuple(n for n in shape if n != 1) if shape[0] == 1 else shape
    assert code == 1
    assert f"prediction {pred / 'x.npy'} is a 3D volume {volume} but ground truth {gt / 'x.npy'} is a 2D image (24, 32)" in err


def test_channels_of_an_image_next_to_a_volume_say_how_to_read_a_volume(tmp_path, capsys):
    """A (num_classes, H, W) array is read as the channels of a 2D image (as before volumes were
    read); next to a volume that is a mismatch whose message says to pass --spatial-dims 3."""
    pred, gt = folders_of(tmp_path)
    g = label_volume(5, (3, 14, 16))  # depth 3 == --num-classes
    p = (label_volume(6, (3, 14, 16)) == 1).astype(np.uint8)  # values 0 and 1: valid one-hot channels
    np.save(pred / "x.npy", p)
    save_nifti(gt / "x.nii.gz", g)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1
    assert "is a 2D image (14, 16) but ground truth" in err and "is a 3D volume (3, 14, 16)" in err
    assert "read as the per-class channels of a 2D image" in err and "--spatial-dims 3" in err
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--spatial-dims", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    for r in parse_csv_exactly(out.read_text()):
        assert_row(r, expected_rows("x", p, g, [int(r["class"])])[0])


def test_label_volume_of_depth_num_classes_with_large_labels_says_how(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    p, g = label_volume(1, (3, 8, 8)), label_volume(2, (3, 8, 8))
    assert p.max() == 2  # labels, not one-hot
    np.save(pred / "x.npy", p)
    np.save(gt / "x.npy", g)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1
    assert "x.npy: integer channels must be one-hot" in err and "a label volume of depth 3?" in err and "--spatial-dims 3" in err
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--spatial-dims", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    for r in parse_csv_exactly(out.read_text()):
        assert_row(r, expected_rows("x", p, g, [int(r["class"])])[0])


def test_an_inner_size_one_axis_is_ambiguous_unless_spatial_dims_3(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    p, g = label_volume(1, (24, 1, 32)), label_volume(2, (24, 1, 32))
    np.save(pred / "x.npy", p)
    np.save(gt / "x.npy", g)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 4, "-q"], capsys)
    assert code == 1 and "ambiguous shape" in err and "--spatial-dims 3" in err and "(24, 1, 32)" in err
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 4, "--spatial-dims", 3, "--out", out, "-q"], capsys)
    assert code == 0, err
    for r in parse_csv_exactly(out.read_text()):
        assert_row(r, expected_rows("x", p, g, [int(r["class"])])[0])


@pytest.mark.parametrize(
    "writer, fragment",
    [
        (lambda d: np.save(d / "x.npy", np.zeros((2, 5, 6, 7), np.uint8)), "a 4D array of shape (2, 5, 6, 7): too many axes"),
        (lambda d: save_nifti(d / "x.nii.gz", np.zeros((5, 6, 7, 2))), "a 4D array of shape (5, 6, 7, 2): too many axes (a time series"),
        (lambda d: np.save(d / "x.npy", np.zeros((2, 2, 5, 6, 7), np.uint8)), "a 5D array of shape (2, 2, 5, 6, 7): too many axes"),
    ],
)
def test_arrays_with_too_many_axes_are_refused(tmp_path, capsys, writer, fragment):
    pred, gt = folders_of(tmp_path)
    writer(pred)
    np.save(gt / "x.npy", np.zeros((5, 6, 7), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and fragment in err and "(num_classes, D, H, W)" in err


def test_tiff_pages_of_different_shapes_are_refused(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")
    pred, gt = folders_of(tmp_path)
    with tifffile.TiffWriter(pred / "x.tif") as writer:
        writer.write(np.zeros((8, 8), np.uint8))
        writer.write(np.zeros((4, 4), np.uint8))
    np.save(gt / "x.npy", np.zeros((2, 8, 8), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "-q"], capsys)
    assert code == 1 and "x.tif" in err and "2 images of different shapes" in err


def test_connectivity_fits_the_dimension(volumes, capsys):
    pred, gt, cases = volumes
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--connectivity", 8, "-q"], capsys)
    assert code == 2 and "--connectivity 8 is for 2D images; volumes take 6 or 26" in err
    code, out, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--connectivity", 26, "--out", "-", "-q"], capsys)
    assert code == 0, err
    for r in parse_csv_exactly(out):
        p, g = cases[r["case"]]
        pm, gm = p == int(r["class"]), g == int(r["class"])
        bme = M.betti_matching_error(pm, gm, per_dimension=True, connectivity=26)
        bne = M.betti_number_error(pm, gm, per_dimension=True, connectivity=26)
        assert [int(r[f"betti_matching_error_{k}"]) for k in range(3)] == list(bme)
        assert [int(r[f"betti_number_error_{k}"]) for k in range(3)] == list(bne)


def test_spacing_is_read_and_ignored(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    p, g = pair(2)
    save_nifti(pred / "x.nii.gz", p, zooms=(0.5, 0.5, 2.0))
    save_nifti(gt / "x.nii.gz", g)
    out = tmp_path / "r.csv"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--out", out, "-q"], capsys)
    assert code == 0, err
    assert "voxel spacing (0.5, 0.5, 2.0) differs from the ground truth's (1.0, 1.0, 1.0)" in err
    for r in parse_csv_exactly(out.read_text()):
        assert_row(r, expected_rows("x", p, g, [int(r["class"])])[0])


# ----------------------------------------------------------------------------- memory bound


def test_max_voxels_counts_voxels_times_classes(tmp_path, capsys):
    pred, gt = folders_of(tmp_path)
    np.save(pred / "x.npy", np.zeros((5, 6, 7), np.uint8))
    np.save(gt / "x.npy", np.zeros((5, 6, 7), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--max-voxels", 629, "-q"], capsys)
    assert code == 1 and "a 5x6x7 volume with 3 classes needs 630 mask values" in err
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--max-voxels", 630, "-q"], capsys)
    assert code == 0, err


def test_a_tiff_stack_is_sized_from_its_pages_before_decoding(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")
    pred, gt = folders_of(tmp_path)
    with tifffile.TiffWriter(pred / "x.tif") as writer:
        for _ in range(3):
            writer.write(np.zeros((4, 4), np.uint8))
    np.save(gt / "x.npy", np.zeros((3, 4, 4), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 2, "--max-voxels", 47, "-q"], capsys)
    assert code == 1 and "x.tif: too large: the file stores 48 values (shape (3, 4, 4))" in err


def test_a_nifti_volume_is_refused_from_its_header(tmp_path, capsys):
    """The header claims a 1000^3 volume, but the file holds no data: a size check after decoding
    would report an unreadable file instead."""
    nib = pytest.importorskip("nibabel")
    pred, gt = folders_of(tmp_path)
    header = nib.Nifti1Header()
    header.set_data_shape((1000, 1000, 1000))
    header.set_data_dtype(np.uint8)
    header["vox_offset"] = 352
    with gzip.open(pred / "x.nii.gz", "wb") as f:
        f.write(header.binaryblock + bytes(4))
    np.save(gt / "x.npy", np.zeros((4, 4, 4), np.uint8))
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 2, "-q"], capsys)
    assert code == 1 and "x.nii.gz: too large: the file stores 1000000000 values" in err


# ----------------------------------------------------------------------------- plots


def test_plots_of_volumes_are_written(volumes, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    pred, gt, _ = volumes
    before = snapshot(pred, gt)
    plots = tmp_path / "plots"
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--plots", plots, "-q"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in plots.iterdir()) == [f"{c}.png" for c in "abcde"]
    from PIL import Image

    for png in plots.iterdir():
        with Image.open(png) as im:
            assert im.size[0] > 500 and im.size[1] > 500
            assert np.asarray(im.convert("L")).std() > 10  # not a blank picture
    assert snapshot(pred, gt) == before


def scene():
    """Target: a ring (one tunnel) in the plane z = 5, a hollow box (one cavity), a small blob.
    Prediction: the ring cut open, the box filled, the blob missed, and an extra blob."""
    t = np.zeros((16, 24, 24), bool)
    t[4:7, 2:12, 2:12] = True
    t[4:7, 5:9, 5:9] = False
    t[3:12, 14:22, 14:22] = True
    t[6:9, 17:19, 17:19] = False
    t[0:2, 18:20, 2:4] = True
    p = t.copy()
    p[4:7, 6:8, 2:5] = False
    p[6:9, 17:19, 17:19] = True
    p[0:2, 18:20, 2:4] = False
    p[12:14, 2:4, 18:20] = True
    return p, t


def cavities(mask: np.ndarray) -> np.ndarray:
    """Background voxels that are 26-connected to no border voxel (scipy)."""
    labels, _ = ndi.label(np.pad(~mask, 1, constant_values=True), ndi.generate_binary_structure(3, 3))
    return (labels != labels[0, 0, 0])[1:-1, 1:-1, 1:-1] & ~mask


def panel_rgb(ax):
    return np.asarray(ax.images[0].get_array())[..., :3]


def rgb(hex_):
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(hex_))


def test_volume_plot_shows_what_it_claims():
    plt = pytest.importorskip("matplotlib.pyplot")
    from bettimatch.plot import _PALETTE, _UNMATCHED, _UNMATCHED_DARK, plot_matching_volume

    p, t = scene()
    m = bm.betti_matching(p, t)
    err = M.betti_matching_error(p, t, per_dimension=True)
    fig = plot_matching_volume(p, t, m)
    rows = fig.subfigs
    n_unmatched = int(err.sum())
    assert len(rows) == 1 + n_unmatched  # the overview and one slice per unmatched feature
    overview = rows[0].axes
    per_side = [m.num_unmatched_pred, m.num_unmatched_target]
    for k, ax in enumerate(overview):
        n = list(per_side[k])
        n[0] += int(bool(p.any()) != bool(t.any()))
        want = f"unmatched: {n[0]} component{'s' if n[0] != 1 else ''}"
        assert want in ax.get_title()
    legend = overview[1].get_legend().get_title().get_text()
    assert f"Betti matching error {n_unmatched}" in legend
    assert f"(dim 0: {err[0]}, dim 1: {err[1]}, dim 2: {err[2]})" in legend
    # The maximum projection: every projected foreground pixel is painted (each component is a
    # feature), and the essential pair has one colour in both panels.
    grey = rgb("#c8c8c8")
    for ax, mask in zip(overview, (p, t)):
        img = panel_rgb(ax)
        assert not np.all(np.isclose(img[mask.any(axis=0)], grey), axis=-1).any()
    ess_p, ess_t = m.pred_essential[0][0], m.target_essential[0][0]
    assert np.allclose(panel_rgb(overview[0])[tuple(ess_p[1:])], rgb(_PALETTE[0]))
    assert np.allclose(panel_rgb(overview[1])[tuple(ess_t[1:])], rgb(_PALETTE[0]))
    # Each slice row is the slice through its feature's voxel, which is circled in both panels;
    # an unmatched component is red there.
    titles = [row.get_suptitle() for row in rows[1:]]
    lp, _ = ndi.label(p, ndi.generate_binary_structure(3, 1))
    for row, title in zip(rows[1:], titles):
        voxel = tuple(int(v) for v in title.split("at voxel (")[1].split(")")[0].split(", "))
        for ax, mask in zip(row.axes, (p, t)):
            assert f"slice {voxel[0]} along axis 0" in ax.get_title()
            img, fg = panel_rgb(ax), mask[voxel[0]]
            assert img.shape[:2] == fg.shape
            # Foreground is painted (every component is a feature); background is white except
            # inside cavities, which are tinted.
            assert not np.isclose(img[fg], 1.0).all(-1).any() and not np.isclose(img[fg], grey).all(-1).any()
            assert np.isclose(img[~fg & ~cavities(mask)[voxel[0]]], 1.0).all()
            circled = [line for line in ax.lines if line.get_marker() == "o"]
            assert circled and tuple(circled[0].get_xydata()[0]) == (voxel[2], voxel[1])
        if "unmatched component of the prediction" in title:
            region = lp[voxel[0]] == lp[voxel]
            img = panel_rgb(row.axes[0])[region]
            red = np.isclose(img, rgb(_UNMATCHED)).all(-1) | np.isclose(img, rgb(_UNMATCHED_DARK)).all(-1)
            assert red.all()
    kinds = sorted(t.split("unmatched ")[1].split(" of")[0] for t in titles)
    want = sorted(["component"] * int(err[0]) + ["tunnel"] * int(err[1]) + ["cavity"] * int(err[2]))
    assert kinds == want
    # The cavity of the target is unmatched: outlined (dashed) in the projection and in its slice.
    cavity_row = next(r for r, t in zip(rows[1:], titles) if "cavity" in t)
    assert cavity_row.axes[1].collections and not cavity_row.axes[0].collections
    plt.close(fig)


def test_plot_matching_volume_limits_slices_and_refuses_images():
    plt = pytest.importorskip("matplotlib.pyplot")
    from bettimatch.plot import plot_matching_volume

    p, t = scene()
    fig = plot_matching_volume(p, t, max_slices=2, axis=1)
    assert len(fig.subfigs) == 3
    assert "slices of 2 of the 4 unmatched" in fig.subfigs[0].axes[1].get_legend().get_title().get_text()
    # The kinds in turn, the largest first: the target's big box before the small extra blob.
    assert "unmatched component of the target, at voxel (3, 14, 14)" in fig.subfigs[1].get_suptitle()
    assert "unmatched tunnel" in fig.subfigs[2].get_suptitle()
    assert "along axis 1" in fig.subfigs[1].axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="plot_matching_volume"):
        bm.plot_matching(p, t)
    with pytest.raises(ValueError, match="expected a 3D volume"):
        plot_matching_volume(p[0], t[0])
    with pytest.raises(ValueError, match="axis"):
        plot_matching_volume(p, t, axis=3)
    with pytest.raises(ValueError, match="shape"):
        plot_matching_volume(p, t[:-1])


@settings(max_examples=60, deadline=None)
@given(mask=hnp.arrays(np.bool_, st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))),
       connectivity=st.sampled_from([6, 26]))
def test_label_components_of_volumes_equals_scipy(mask, connectivity):
    from bettimatch.plot import label_components

    ours, n = label_components(mask, connectivity)
    ref, m = ndi.label(mask, ndi.generate_binary_structure(3, 1 if connectivity == 6 else 3))
    assert n == m
    assert len(set(zip(ours[mask].tolist(), ref[mask].tolist()))) == n and (ours[~mask] == 0).all()


def test_thinning_fits_the_dimension(volumes, capsys):
    pred, gt, cases = volumes
    code, _, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--thinning", "guo-hall", "-q"], capsys)
    assert code == 2 and "--thinning guo-hall is for 2D images" in err
    code, out, err = run(["evaluate", pred, gt, "--num-classes", NUM_CLASSES, "--thinning", "lee-topological", "--out", "-", "-q"], capsys)
    assert code == 0, err
    for r in parse_csv_exactly(out):
        p, g = cases[r["case"]]
        c = int(r["class"])
        want = M.cldice(p == c, g == c, thinning="lee-topological")
        assert (math.isnan(want) and r["cldice"] == "nan") or float(r["cldice"]) == pytest.approx(want, rel=1e-6)
