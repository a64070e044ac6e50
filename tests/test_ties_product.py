"""The distance tie order (``ties="distance"``) across the product: the mask metrics (which then
leave the labelling path for the general matching), the multi-class functions, the losses, the
framework adapters, ``plot_matching`` and ``bettimatch evaluate --ties``.

The engine's order itself is checked against the boundary-matrix oracle in test_ties.py; here the
metrics are checked against that oracle too, and everything else against the matching API."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

import bettimatch as bm
from bettimatch import metrics as M
from bettimatch.losses import BettiMatchingLoss, DiceBettiMatchingLoss
from test_ties import oracle_rows, square_with_speck


def differing_pair():
    """Two 16x16 masks whose 8-connected Betti matching error depends on the tie order (the
    index order leaves 25 features unmatched, the distance order 23; found by a search over seeds)."""
    rng = np.random.default_rng(239)
    return rng.random((16, 16)) < 0.55, rng.random((16, 16)) < 0.55


def oracle_error(p: np.ndarray, t: np.ndarray, connectivity: int) -> np.ndarray:
    """Betti matching error per dimension from the oracle on the distance order, the essential
    component counted as the metrics count it."""
    sub = lambda m: np.where(m, 0.0, 1.0)  # noqa: E731 (the masks' sublevel values)
    rows, _ = oracle_rows(sub(p), sub(t), connectivity)
    err = np.array([len(pred) + len(target) for _, pred, target in rows], dtype=np.int64)
    err[0] += bool(p.any()) != bool(t.any())
    return err


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------


def test_the_pair_used_below_does_differ():
    p, t = differing_pair()
    index = M.betti_matching_error(p, t, connectivity=8, per_dimension=True)
    distance = M.betti_matching_error(p, t, connectivity=8, per_dimension=True, ties="distance")
    assert index.tolist() == [3, 22] and distance.tolist() == [3, 20]
    assert distance.tolist() == oracle_error(p, t, 8).tolist()


@pytest.mark.parametrize("connectivity", [4, 8, 6, 26])
def test_the_mask_error_equals_the_oracle_on_the_distance_order(connectivity):
    rng = np.random.default_rng([31, connectivity])
    volumes = connectivity in (6, 26)
    for _ in range(30 if volumes else 60):
        shape = tuple(int(s) for s in rng.integers(1, 5 if volumes else 9, 3 if volumes else 2))
        p, t = (rng.random(shape) < rng.uniform(0.2, 0.8) for _ in range(2))
        got = M.betti_matching_error(p, t, connectivity=connectivity, per_dimension=True, ties="distance")
        assert got.tolist() == oracle_error(p, t, connectivity).tolist(), (shape, p, t)


@pytest.mark.parametrize("connectivity", [4, 8, 6, 26])
def test_the_mask_error_equals_the_distance_matching(connectivity):
    """Larger masks than the oracle can take: the counts equal those of the matching API."""
    rng = np.random.default_rng([32, connectivity])
    volumes = connectivity in (6, 26)
    for _ in range(6):
        shape = (9, 10, 11) if volumes else (40, 37)
        p, t = (rng.random(shape) < rng.uniform(0.3, 0.7) for _ in range(2))
        m = bm.betti_matching(p, t, connectivity=connectivity, ties="distance")
        want = np.asarray(m.num_unmatched_pred) + np.asarray(m.num_unmatched_target)
        got = M.betti_matching_error(p, t, connectivity=connectivity, per_dimension=True, ties="distance")
        assert got.tolist() == want.tolist()


def test_likelihoods_are_binarized_before_the_tie_order():
    p, t = differing_pair()
    like = lambda m: np.where(m, 0.9, 0.2)  # noqa: E731
    want = M.betti_matching_error(p, t, connectivity=8, ties="distance")
    assert M.betti_matching_error(like(p), like(t), connectivity=8, ties="distance") == want


def test_betti_numbers_do_not_depend_on_the_tie_order():
    p, t = differing_pair()
    for ties in ("index", "distance"):
        got = M.mask_metrics([p], [t], connectivity=8, ties=ties)
        assert got["betti_pred"].tolist() == [list(M.betti_number_error(p, np.zeros_like(p), connectivity=8, per_dimension=True))]
        assert got["betti_number_error"].tolist() == [list(M.betti_number_error(p, t, connectivity=8, per_dimension=True))]


def test_multiclass_functions_take_the_tie_order_per_pair():
    rng = np.random.default_rng(7)
    labels_p, labels_t = rng.integers(0, 3, (2, 1, 24, 24)), rng.integers(0, 3, (2, 1, 24, 24))
    got = M.compute_betti_matching_error(labels_p, labels_t, num_classes=3, connectivity=8, per_dimension=True, ties="distance")
    for b in range(2):
        for c in (1, 2):
            want = M.betti_matching_error(labels_p[b, 0] == c, labels_t[b, 0] == c, connectivity=8, per_dimension=True, ties="distance")
            assert got[b, c - 1].tolist() == want.tolist()
    volumes_p, volumes_t = rng.integers(0, 2, (1, 1, 6, 7, 8)), rng.integers(0, 2, (1, 1, 6, 7, 8))
    got = M.compute_betti_matching_error(volumes_p, volumes_t, num_classes=2, per_dimension=True, ties="distance")
    want = M.betti_matching_error(volumes_p[0, 0] == 1, volumes_t[0, 0] == 1, per_dimension=True, ties="distance")
    assert got[0, 0].tolist() == want.tolist()


def test_mask_metrics_takes_volumes_and_refuses_a_mix():
    rng = np.random.default_rng(8)
    ps = [rng.random((5, 6, 7)) < 0.5 for _ in range(3)]
    ts = [rng.random((5, 6, 7)) < 0.5 for _ in range(3)]
    for ties in ("index", "distance"):
        got = M.mask_metrics(ps, ts, ties=ties)
        for i, (p, t) in enumerate(zip(ps, ts)):
            assert got["betti_matching_error"][i].tolist() == M.betti_matching_error(p, t, per_dimension=True, ties=ties).tolist()
            assert got["betti_number_error"][i].tolist() == M.betti_number_error(p, t, per_dimension=True).tolist()
            assert got["dice"][i] == pytest.approx(M.dice(p, t))
            assert got["cldice"][i] == pytest.approx(M.cldice(p, t))
    assert np.isnan(M.mask_metrics(ps, ts, cldice=False)["cldice"]).all()
    with pytest.raises(ValueError, match="pair 1: expected two boolean 3D masks"):
        M.mask_metrics([ps[0], ps[0][0]], [ts[0], ts[0][0]])
    with pytest.raises(ValueError, match="connectivity"):
        M.mask_metrics(ps, ts, connectivity=4)


@pytest.mark.parametrize("bad", ["Index", "", None, 1])
def test_metrics_refuse_a_bad_tie_order(bad):
    p, t = differing_pair()
    with pytest.raises(ValueError, match="ties must be 'index' or 'distance'"):
        M.betti_matching_error(p, t, ties=bad)
    with pytest.raises(ValueError, match="ties must be"):
        M.compute_betti_matching_error(p[None, None], t[None, None], ties=bad)
    with pytest.raises(ValueError, match="ties must be"):
        M.mask_metrics([p], [t], ties=bad)


def test_adapters_pass_the_tie_order_on():
    from bettimatch.monai import BettiMatchingErrorMetric
    from bettimatch.torchmetrics import BettiMatchingError

    p, t = differing_pair()
    y_pred, y = torch.from_numpy(p[None, None]), torch.from_numpy(t[None, None])
    want = M.compute_betti_matching_error(p[None, None], t[None, None], include_background=True, connectivity=8, ties="distance")
    assert want.item() != M.compute_betti_matching_error(p[None, None], t[None, None], include_background=True, connectivity=8).item()
    monai_metric = BettiMatchingErrorMetric(include_background=True, connectivity=8, ties="distance")
    monai_metric(y_pred, y)
    assert monai_metric.aggregate().item() == want.item()
    tm = BettiMatchingError(include_background=True, connectivity=8, ties="distance")
    tm.update(y_pred, y)
    assert tm.compute().item() == want.item()
    with pytest.raises(ValueError, match="ties must be"):
        BettiMatchingErrorMetric(ties="nearest")
    with pytest.raises(ValueError, match="ties must be"):
        BettiMatchingError(ties="nearest")


# --------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------


def test_the_loss_pushes_the_speck_down_not_the_square():
    """A binary prediction with a speck: the loss value is the same in both orders (one unmatched
    bar of length 1), but only the distance order puts its gradient on the speck."""
    pred, target = square_with_speck((0, 0))
    grads = {}
    for ties in ("index", "distance"):
        x = torch.tensor(pred[None, None], dtype=torch.float64, requires_grad=True)
        loss = BettiMatchingLoss(include_background=True, ties=ties)(x, torch.tensor(target[None, None], dtype=torch.float64))
        assert loss.item() == pytest.approx(1.0)
        loss.backward()
        grads[ties] = x.grad[0, 0].numpy()
    # The unmatched bar's birth pixel and its death pixel: with the distance order the speck and
    # the saddle between it and the square, (4, 4); with the index order the square's first pixel.
    assert sorted(map(tuple, np.argwhere(grads["distance"]).tolist())) == [(0, 0), (4, 4)]
    assert grads["index"][0, 0] == 0 and grads["index"][8, 8] != 0


def loss_by_formula(probs: np.ndarray, target: np.ndarray, connectivity: int, ties: str) -> float:
    """The Betti matching loss of one channel (γm = γu = 1, superlevel) from the matching API."""
    f, g = 1 - probs, 1 - target
    m = bm.betti_matching(probs, target, connectivity=connectivity, ties=ties)
    at = lambda x, rows: x[tuple(np.asarray(rows).T)] if len(rows) else np.zeros(0)  # noqa: E731
    total = 0.0
    for d in range(probs.ndim):
        pb, pd = at(f, m.pred_matched_birth[d]), at(f, m.pred_matched_death[d])
        tb, td = at(g, m.target_matched_birth[d]), at(g, m.target_matched_death[d])
        total += 2 * (((pb - tb) ** 2).sum() + ((pd - td) ** 2).sum())
        total += ((at(f, m.pred_unmatched_birth[d]) - at(f, m.pred_unmatched_death[d])) ** 2).sum()
        total += ((at(g, m.target_unmatched_birth[d]) - at(g, m.target_unmatched_death[d])) ** 2).sum()
    return float(total)


@pytest.mark.parametrize("connectivity", [4, 8, 6])
def test_loss_values_follow_the_distance_matching(connectivity):
    rng = np.random.default_rng([9, connectivity])
    shape = (3, 8, 9, 10) if connectivity == 6 else (3, 24, 25)
    probs = rng.random(shape)
    probs[0] = probs[0] > 0.5  # a binary prediction channel: ties on both sides
    target = (rng.random(shape) < 0.5).astype(np.float64)
    loss = BettiMatchingLoss(include_background=True, connectivity=connectivity, reduction="none", ties="distance")
    got = loss(torch.from_numpy(probs[None]), torch.from_numpy(target[None]))[0]
    for c in range(3):
        assert got[c].item() == pytest.approx(loss_by_formula(probs[c], target[c], connectivity, "distance"), rel=1e-12, abs=1e-12)


def test_dice_betti_matching_loss_passes_the_tie_order_on():
    p, t = differing_pair()
    x = torch.from_numpy(np.stack([~p, p]).astype(np.float64))[None]
    y = torch.from_numpy(np.stack([~t, t]).astype(np.float64))[None]
    values = {}
    for ties in ("index", "distance"):
        values[ties] = DiceBettiMatchingLoss(connectivity=8, alpha=1.0, ties=ties)(x, y).item()
    # Every bar of a binary pair has length 1: the loss is its error count (+ Dice), 25 vs 23.
    assert values["index"] - values["distance"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="ties must be"):
        BettiMatchingLoss(ties="raster")


# --------------------------------------------------------------------------------------------
# pictures and the command line
# --------------------------------------------------------------------------------------------


def red_pixels(fig) -> int:
    """Pixels of the figure drawn in the colour of unmatched features."""
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    return int((np.abs(rgb - np.array([0xD6, 0x27, 0x28])).sum(axis=-1) < 30).sum())


def test_plot_matching_draws_the_distance_matching():
    """The speck example: the index order paints the square red (unmatched), the distance order
    only the speck."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from bettimatch.plot import plot_matching, plot_matching_volume

    pred, target = square_with_speck((0, 0))
    red = {}
    for ties in ("index", "distance"):
        ax = plot_matching(pred, target, ties=ties, legend=False)
        red[ties] = red_pixels(ax[0].figure)
        plt.close("all")
    assert red["distance"] > 0 and red["index"] > 20 * red["distance"], red
    with pytest.raises(ValueError, match="ties must be"):
        plot_matching(pred, target, ties="raster")
    volume = {}
    for ties in ("index", "distance"):
        volume[ties] = red_pixels(plot_matching_volume(pred[None].repeat(3, 0), target[None].repeat(3, 0), ties=ties, legend=False))
        plt.close("all")
    assert volume["distance"] > 0 and volume["index"] > 5 * volume["distance"], volume


def test_evaluate_takes_ties(tmp_path, capsys):
    from bettimatch.cli import main

    p, t = differing_pair()
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    np.save(tmp_path / "pred" / "case.npy", p.astype(np.uint8))
    np.save(tmp_path / "gt" / "case.npy", t.astype(np.uint8))
    rows = {}
    for ties in ("index", "distance"):
        out, report = tmp_path / f"{ties}.csv", tmp_path / f"{ties}.json"
        args = ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--num-classes", "2", "--connectivity", "8",
                "--out", str(out), "--json", str(report), "--quiet", "--ties", ties]
        assert main(args) == 0
        rows[ties] = next(csv.DictReader(io.StringIO(out.read_text())))
        assert json.loads(report.read_text())["ties"] == ties
    for ties in ("index", "distance"):
        want = M.betti_matching_error(p, t, connectivity=8, per_dimension=True, ties=ties)
        assert [int(rows[ties][f"betti_matching_error_{d}"]) for d in (0, 1)] == want.tolist()
    assert rows["index"]["betti_matching_error_1"] != rows["distance"]["betti_matching_error_1"]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--num-classes", "2", "--ties", "raster"])


def test_evaluate_folders_takes_ties(tmp_path):
    from bettimatch.evaluation import evaluate_folders

    p, t = differing_pair()
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    np.save(tmp_path / "pred" / "case.npy", p.astype(np.uint8))
    np.save(tmp_path / "gt" / "case.npy", t.astype(np.uint8))
    for ties in ("index", "distance"):
        rows = evaluate_folders(tmp_path / "pred", tmp_path / "gt", 2, connectivity=8, ties=ties, as_frame=False)
        want = M.betti_matching_error(p, t, connectivity=8, per_dimension=True, ties=ties)
        assert [int(rows[0][f"betti_matching_error_{d}"]) for d in (0, 1)] == want.tolist()
    with pytest.raises(ValueError, match="ties must be"):
        evaluate_folders(tmp_path / "pred", tmp_path / "gt", 2, ties="raster")


def test_the_readme_picture_script_runs(tmp_path):
    pytest.importorskip("matplotlib")
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "ties_speck.py"
    out = tmp_path / "speck.png"
    argv, sys.argv = sys.argv, [str(script), str(out)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
