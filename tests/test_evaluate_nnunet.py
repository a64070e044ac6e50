"""`bettimatch evaluate --nnunet` on folders laid out as nnU-Net writes them.

The rows must equal those of a plain run on the same files (the plain reading is checked against
the metric functions in test_cli.py) and of the metric functions on a few classes here.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bettimatch import metrics as M
from bettimatch.cli import main
from bettimatch.evaluation import evaluate_folders

nib = pytest.importorskip("nibabel")

LABELS = {"background": 0, "liver": 1, "tumor": 2}
CASES = [f"toy_{i:03d}" for i in range(8)]
FOLD_0 = CASES[:3]  # the validation cases of fold 0: labelsTr holds all eight


def label_map(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, (40, 48), dtype=np.uint8)


def save_nifti(path: Path, arr: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(arr[:, :, None], np.eye(4)), str(path))  # nnU-Net's 2D NIfTI: (H, W, 1)


def dataset_json(labels=None, **extra) -> str:
    return json.dumps({"channel_names": {"0": "CT"}, "labels": labels or LABELS, "numTraining": len(CASES),
                       "file_ending": ".nii.gz", **extra})


@pytest.fixture
def nnunet(tmp_path):
    """nnUNet_raw/Dataset001_Toy and the fold-0 validation folder of a trained model."""
    raw = tmp_path / "nnUNet_raw" / "Dataset001_Toy"
    (raw / "labelsTr").mkdir(parents=True)
    (raw / "imagesTr").mkdir()
    (raw / "dataset.json").write_text(dataset_json())
    for i, case in enumerate(CASES):
        save_nifti(raw / "labelsTr" / f"{case}.nii.gz", label_map(i))
        save_nifti(raw / "imagesTr" / f"{case}_0000.nii.gz", label_map(100 + i))
    model = tmp_path / "nnUNet_results" / "Dataset001_Toy" / "nnUNetTrainer__nnUNetPlans__2d"
    validation = model / "fold_0" / "validation"
    validation.mkdir(parents=True)
    (model / "dataset.json").write_text(dataset_json())
    for i, case in enumerate(FOLD_0):
        save_nifti(validation / f"{case}.nii.gz", label_map(50 + i))
        np.savez(validation / f"{case}.npz", probabilities=np.zeros((3, 40, 48), np.float32))  # --save_probabilities
        (validation / f"{case}.pkl").write_bytes(b"\x80\x04N.")
    (validation / "summary.json").write_text("{}")
    return raw, validation


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def read_rows(path: Path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plain_copy(validation: Path, labels: Path, tmp_path: Path):
    """The predicted cases and their ground truths in two plain folders (the oracle run's input)."""
    pred, gt = tmp_path / "plain_pred", tmp_path / "plain_gt"
    pred.mkdir()
    gt.mkdir()
    for case in FOLD_0:
        shutil.copy(validation / f"{case}.nii.gz", pred)
        shutil.copy(labels / f"{case}.nii.gz", gt)
    return pred, gt


def test_nnunet_validation_folder_against_labelsTr(nnunet, tmp_path, capsys):
    raw, validation = nnunet
    out, js = tmp_path / "r.csv", tmp_path / "s.json"
    code, stdout, err = run(["evaluate", validation, raw / "labelsTr", "--nnunet", "--out", out, "--json", js], capsys)
    assert code == 0, err
    # nnU-Net's other files in the validation folder are not cases, and are said to be left out.
    assert "ignoring 7 file(s) of another file ending" in err and "summary.json" in err
    assert "5 ground truth(s) without a prediction" in err
    rows = read_rows(out)
    assert [r["case"] for r in rows] == [c for c in FOLD_0 for _ in (1, 2)]
    pred, gt = plain_copy(validation, raw / "labelsTr", tmp_path)
    code, _, err = run(["evaluate", pred, gt, "--num-classes", 3, "--out", tmp_path / "plain.csv", "-q"], capsys)
    assert code == 0, err
    assert out.read_text() == (tmp_path / "plain.csv").read_text()
    for row in rows[:2]:
        p = label_map(50 + FOLD_0.index(row["case"]))
        g = label_map(CASES.index(row["case"]))
        c = int(row["class"])
        assert float(row["dice"]) == pytest.approx(M.dice(p == c, g == c), rel=1e-7)
        assert int(row["betti_matching_error"]) == M.betti_matching_error(p == c, g == c)
    # The summary names the classes by their labels.
    report = json.loads(js.read_text())
    assert report["class_names"] == {"1": "liver", "2": "tumor"} and report["num_classes"] == 3
    assert Path(report["dataset_json"]) == raw / "dataset.json"
    assert report["ground_truths_without_prediction"] == 5 and report["num_cases"] == 3
    assert "1 liver" in stdout and "2 tumor" in stdout


def test_dataset_json_of_the_model_folder_and_given_explicitly(nnunet, tmp_path, capsys):
    raw, validation = nnunet
    gt = tmp_path / "gt_segmentations"  # nnUNet_preprocessed keeps the labels without a dataset.json beside them
    shutil.copytree(raw / "labelsTr", gt)
    code, _, err = run(["evaluate", validation, gt, "--nnunet", "--out", tmp_path / "a.csv", "-q"], capsys)
    assert code == 0, err
    other = tmp_path / "elsewhere.json"
    other.write_text(dataset_json(labels={"background": 0, "vessel": 1, "wall": 2}))
    code, _, err = run(["evaluate", validation, gt, "--nnunet", "--dataset-json", other, "--json", tmp_path / "s.json",
                        "--out", tmp_path / "b.csv", "-q"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "s.json").read_text())["class_names"] == {"1": "vessel", "2": "wall"}
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_nnunet_v1_dataset_json_and_png_file_ending(tmp_path, capsys):
    from PIL import Image

    pred, gt = tmp_path / "pred", tmp_path / "labelsTr"
    pred.mkdir()
    gt.mkdir()
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"0": "background", "1": "cell"}, "file_ending": ".png"}))
    for i in range(3):
        Image.fromarray(label_map(i) % 2).save(pred / f"c{i}.png")
        Image.fromarray(label_map(10 + i) % 2).save(gt / f"c{i}.png")
    np.save(pred / "c0.npy", label_map(0))  # not of the file ending: not a second file of case c0
    code, _, err = run(["evaluate", pred, gt, "--nnunet", "--out", tmp_path / "r.csv", "-q"], capsys)
    assert code == 0, err
    rows = read_rows(tmp_path / "r.csv")
    assert [(r["case"], r["class"]) for r in rows] == [("c0", "1"), ("c1", "1"), ("c2", "1")]
    assert float(rows[1]["dice"]) == pytest.approx(M.dice(label_map(1) % 2 == 1, label_map(11) % 2 == 1), rel=1e-7)
    # v1 without a file ending means NIfTI: these PNG files are no cases then.
    (tmp_path / "dataset.json").write_text(json.dumps({"labels": {"0": "background", "1": "cell"}}))
    code, _, err = run(["evaluate", pred, gt, "--nnunet", "-q"], capsys)
    assert code == 1 and "no cases to evaluate" in err


@pytest.mark.parametrize("labels, extra, message", [
    ({"background": 0, "whole tumor": [1, 2], "core": 2}, {}, "region-based"),
    ({"background": 0, "vessel": 1, "ignore": 2}, {}, "ignore label"),
    ({"background": 0, "a": 2}, {}, "must be 0, 1"),
    ({"background": 0, "a": 1, "b": 1}, {}, "share the value 1"),
    ({"background": 0, "a": "one"}, {}, "expected an integer"),
    (None, {"file_ending": ".nrrd"}, "file_ending .nrrd"),
])
def test_dataset_json_that_cannot_be_used(nnunet, tmp_path, capsys, labels, extra, message):
    raw, validation = nnunet
    (raw / "dataset.json").write_text(dataset_json(labels=labels, **extra))
    code, _, err = run(["evaluate", validation, raw / "labelsTr", "--nnunet", "-q"], capsys)
    assert code == 1 and message in err and str(raw / "dataset.json") in err


def test_nnunet_usage(nnunet, tmp_path, capsys):
    raw, validation = nnunet
    code, _, err = run(["evaluate", validation, raw / "labelsTr", "--nnunet", "--num-classes", 4, "-q"], capsys)
    assert code == 2 and "has 3 labels" in err
    code, _, err = run(["evaluate", validation, raw / "labelsTr", "--num-classes", 3, "--dataset-json", raw / "dataset.json"], capsys)
    assert code == 2 and "--dataset-json is read with --nnunet only" in err
    lonely_pred, lonely_gt = tmp_path / "p", tmp_path / "g"
    lonely_pred.mkdir()
    lonely_gt.mkdir()
    code, _, err = run(["evaluate", lonely_pred, lonely_gt, "--nnunet"], capsys)
    assert code == 1 and "no dataset.json found" in err and "--dataset-json" in err
    # A prediction without its ground truth is an error, as without --nnunet.
    save_nifti(validation / "stray.nii.gz", label_map(99))
    code, _, err = run(["evaluate", validation, raw / "labelsTr", "--nnunet", "-q"], capsys)
    assert code == 1 and "no ground truth for prediction" in err and "stray" in err
    code, _, err = run(["evaluate", validation, raw / "labelsTr", "--nnunet", "-q", "--skip-errors"], capsys)
    assert code == 0 and "skipping case stray" in err


def test_evaluate_folders_reads_nnunet_layouts(nnunet):
    raw, validation = nnunet
    rows = evaluate_folders(validation, raw / "labelsTr", nnunet=True, as_frame=False)
    assert sorted({r["case"] for r in rows}) == FOLD_0 and {r["class"] for r in rows} == {1, 2}
    with pytest.raises(ValueError, match="has 3 labels"):
        evaluate_folders(validation, raw / "labelsTr", 2, nnunet=True)
