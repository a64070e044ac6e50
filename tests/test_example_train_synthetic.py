"""examples/train_synthetic.py: both runs end to end with tiny settings (2D and --3d), the table's
structure and values, and the topology the synthetic volumes promise (checked with scipy)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ndimage = pytest.importorskip("scipy.ndimage")
skimage_measure = pytest.importorskip("skimage.measure")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_synthetic.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("train_synthetic", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(out: str):
    """The mean table printed by the example: (column names, {run: [cells]})."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("loss "))
    columns = lines[at].split()
    columns = ["loss"] + [" ".join(columns[i : i + 2]) if columns[i + 1 : i + 2] == ["error"] else columns[i]
                          for i in range(1, len(columns)) if columns[i] != "error"]
    assert set(lines[at + 1]) == {"-"}
    rows = {}
    for line in lines[at + 2 :]:
        if not line.strip() or line.startswith("training loss"):
            break
        name, cells = line[:12].strip(), line[12:].split()
        rows[name] = cells
    return columns, rows


def _check_run(example, capsys, argv, dims, classes, runs=("Dice", "Dice + BM")):
    results = example.main(argv)
    out = capsys.readouterr().out
    errors = ["BM error"] + [f"b{k} error" for k in range(dims)]
    columns, rows = _table(out)
    assert columns == ["loss", "Dice", "clDice", *errors, "time"]
    assert list(rows) == list(runs) == list(results)
    # same seed: the runs agree until alpha leaves 0, then the Betti matching term changes the loss
    dice_losses, bm_losses = results["Dice"][1], results["Dice + BM"][1]
    assert dice_losses[0] == bm_losses[0] and dice_losses[-1] != bm_losses[-1]
    for name, cells in rows.items():
        per_class, losses, seconds = results[name]
        assert sorted(per_class) == sorted(columns[1:-1] + [example.DISTANCE_ERROR])
        # Betti numbers do not depend on the tie order, so the distance error is bounded the same way
        assert (per_class[example.DISTANCE_ERROR] >= sum(per_class[f"b{k} error"] for k in range(dims)) - 1e-9).all()
        assert len(losses) == int(argv[argv.index("--steps") + 1]) and all(map(math.isfinite, losses))
        assert cells[-1].endswith("s") and float(cells[-1][:-1]) >= 0 and seconds >= 0
        values = dict(zip(columns[1:-1], cells[:-1]))
        for m in ("Dice", "clDice"):
            assert 0 <= float(values[m]) <= 1
            assert per_class[m].shape == (len(classes) - 1,)
        for e in errors:
            assert float(values[e]) >= 0
            assert per_class[e].shape == (len(classes) - 1,) and np.isfinite(per_class[e]).all()
            # the printed mean is the mean over classes of the returned per-class means
            assert float(values[e]) == pytest.approx(per_class[e].mean(), abs=5e-4)
        # Betti matching error >= Betti number error summed over dimensions (matching can only add)
        assert (per_class["BM error"] >= sum(per_class[f"b{k} error"] for k in range(dims)) - 1e-9).all()
    assert f"classes 1-{len(classes) - 1} ({', '.join(classes[1:])})" in out
    per_class_lines = out[out.index("per class: " + " / ".join(errors)) :].splitlines()[1 : 1 + len(runs)]
    assert [line[:12].strip() for line in per_class_lines] == list(runs)
    assert 'held-out BM error with ties="distance"' in out


def test_3d_runs_and_prints_the_table(example, capsys):
    argv = ["--3d", "--steps", "4", "--size", "16", "--train-images", "3", "--test-images", "2",
            "--batch", "2", "--width", "4", "--warmup", "0.25"]
    _check_run(example, capsys, argv, dims=3, classes=example.CLASSES_3D)


def test_2d_runs_and_prints_the_table(example, capsys):
    argv = ["--steps", "3", "--size", "32", "--train-images", "3", "--test-images", "2",
            "--batch", "2", "--width", "4"]
    _check_run(example, capsys, argv, dims=2, classes=example.CLASSES)


def test_both_tie_orders_train_a_run_each(example, capsys):
    argv = ["--steps", "3", "--size", "32", "--train-images", "3", "--test-images", "2",
            "--batch", "2", "--width", "4", "--warmup", "0", "--ties", "both"]
    _check_run(example, capsys, argv, dims=2, classes=example.CLASSES, runs=("Dice", "Dice + BM", "Dice+BM dist"))


@pytest.mark.parametrize("argv", [["--3d", "--size", "18"], ["--3d", "--size", "12"], ["--size", "28"],
                                  ["--steps", "0"], ["--width", "6"]])
def test_bad_settings_are_refused(example, argv, capsys):
    with pytest.raises(SystemExit):
        example.parse_args(argv)
    assert "must be" in capsys.readouterr().err


def _betti_by_labelling(mask):
    """(b0, b1, b2) of a 3D mask: 6-connected foreground components, cavities as the 26-connected
    background components that do not touch the border, b1 from the Euler characteristic."""
    b0 = ndimage.label(mask, structure=ndimage.generate_binary_structure(3, 1))[1]
    padded = np.pad(~mask, 1, constant_values=True)
    b2 = ndimage.label(padded, structure=np.ones((3, 3, 3)))[1] - 1
    chi = skimage_measure.euler_number(mask, connectivity=1)
    return b0, b0 + b2 - chi, b2


@pytest.mark.parametrize("size", [16, 24, 32])
def test_volumes_hold_a_closed_shell_and_tubes(example, size):
    rng = np.random.default_rng(size)
    for _ in range(6):
        volume, labels = example.make_volume(rng, size)
        assert volume.shape == labels.shape == (size,) * 3
        assert set(np.unique(labels)) <= {0, 1, 2}
        # one hollow shell: one component around one closed cavity, no tunnel
        assert _betti_by_labelling(labels == 2) == (1, 0, 1)
        # tubes: solid, never a cavity; every tube is drawn, so there is at least one component
        b0, _, b2 = _betti_by_labelling(labels == 1)
        assert b0 >= 1 and b2 == 0
        # the faint stretches are darker than the bright parts of the same class
        for c in (1, 2):
            assert volume[labels == c].min() < volume[labels == c].max() - 0.2


def test_a_drawn_ring_is_one_loop(example):
    size = 24
    rng = np.random.default_rng(7)
    zz, yy, xx = np.mgrid[0:size, 0:size, 0:size].astype(np.float64)
    grid = np.stack([zz, yy, xx], -1).reshape(-1, 3)
    for _ in range(5):
        labels = np.zeros((size,) * 3, np.int64)
        gain = np.ones((size,) * 3)
        points = example._ring(rng, size, np.zeros((size,) * 3, bool))
        example._draw_tube(points, 1.0, grid, labels, gain, rng)
        assert _betti_by_labelling(labels == 1) == (1, 1, 0)
        assert gain[labels == 1].min() < 0.6 < gain[labels == 1].max()


def test_progress_without_tqdm(example, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # makes `from tqdm.auto import tqdm` fail
    bar = example.progress_bar(20, "run")
    assert isinstance(bar, example._TextBar)
    for _ in range(20):
        bar.set_postfix_str("loss 0.5", refresh=False)
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    assert "run [" in err and "20/20" in err and "loss 0.5" in err and err.endswith("\n")
