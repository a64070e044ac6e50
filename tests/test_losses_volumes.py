"""The losses on (B, C, D, H, W) volumes: values and gradients against the reference
implementation (topolosses, which runs Betti-Matching-3D per channel), gradcheck on tie-free
volumes, the 3D soft skeleton against one written here from the paper's definition."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bettimatch.losses import BettiMatchingLoss, ClDiceLoss, DiceBettiMatchingLoss, HuTopoLoss, soft_skeleton


def problem(seed, shape):
    g = torch.Generator().manual_seed(seed)
    logits = (2 * torch.randn(*shape, generator=g)).requires_grad_()
    labels = torch.randint(0, shape[1], (shape[0],) + shape[2:], generator=g)
    onehot = torch.movedim(F.one_hot(labels, shape[1]), -1, 1).float()
    return logits, labels, onehot


def reference(name):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import topolosses.losses as tl
    except Exception:  # pragma: no cover - not installed
        pytest.skip("topolosses is not installed")
    return getattr(tl, name)


@pytest.mark.parametrize("include_background", [False, True])
def test_betti_matching_loss_of_volumes_matches_topolosses(include_background):
    Reference = reference("BettiMatchingLoss")
    for seed, shape in [(1, (2, 3, 6, 7, 8)), (2, (1, 2, 10, 9, 8))]:
        logits, _, onehot = problem(seed, shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = Reference(softmax=True, include_background=include_background, use_base_loss=False, alpha=1.0)(logits, onehot)
        (want_grad,) = torch.autograd.grad(want, logits)
        got = BettiMatchingLoss(softmax=True, include_background=include_background)(logits, onehot)
        (got_grad,) = torch.autograd.grad(got, logits)
        torch.testing.assert_close(got, want, rtol=2e-6, atol=1e-6)
        torch.testing.assert_close(got_grad, want_grad, rtol=1e-4, atol=1e-7)


def test_dice_betti_matching_loss_of_volumes_matches_topolosses():
    Reference = reference("BettiMatchingLoss")
    logits, labels, onehot = problem(3, (2, 3, 8, 8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Reference(softmax=True, alpha=0.5)(logits, onehot)
    got = DiceBettiMatchingLoss(softmax=True, alpha=0.5)(logits, onehot)
    torch.testing.assert_close(got, want, rtol=2e-6, atol=1e-6)
    # Labels (B, 1, D, H, W) with to_onehot_y give the same loss.
    again = DiceBettiMatchingLoss(softmax=True, alpha=0.5, to_onehot_y=True)(logits, labels[:, None])
    torch.testing.assert_close(again, got)


def test_hutopo_loss_of_volumes_matches_topolosses():
    Reference = reference("HutopoLoss")
    logits, _, onehot = problem(4, (1, 2, 6, 6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Reference(softmax=True, include_background=True, use_base_loss=False, alpha=1.0)(logits, onehot)
    got = HuTopoLoss(softmax=True, include_background=True)(logits, onehot)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_gradcheck_on_tie_free_volumes():
    g = torch.Generator().manual_seed(5)
    n = 2 * 4 * 5 * 6
    values = (torch.randperm(2 * n, generator=g)[:n].double() + 0.5) / (2 * n)
    probs = values.reshape(1, 2, 4, 5, 6).requires_grad_()
    target = (torch.rand(1, 2, 4, 5, 6, generator=g) > 0.5).double()
    for loss in (BettiMatchingLoss(include_background=True), HuTopoLoss(include_background=True)):
        assert torch.autograd.gradcheck(lambda x: loss(x, target), (probs,), eps=1e-7, atol=1e-6)


def min_pool_cross(x):
    """Min over each voxel and its six face neighbours inside the volume: padding by +inf."""
    p = F.pad(x, (1, 1, 1, 1, 1, 1), value=float("inf"))
    d, h, w = x.shape[2:]
    out = p[:, :, 1:-1, 1:-1, 1:-1]
    for dz, dy, dx in [(0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)]:
        out = torch.minimum(out, p[:, :, dz : dz + d, dy : dy + h, dx : dx + w])
    return out


def max_pool_cube(x):
    p = F.pad(x, (1, 1, 1, 1, 1, 1), value=float("-inf"))
    d, h, w = x.shape[2:]
    out = torch.full_like(x, float("-inf"))
    for dz in range(3):
        for dy in range(3):
            for dx in range(3):
                out = torch.maximum(out, p[:, :, dz : dz + d, dy : dy + h, dx : dx + w])
    return out


def soft_skeleton_by_definition(x, iterations):
    """Shit et al.'s soft_skel: open = dilate(erode(x)); skel = relu(x - open), then per
    iteration x = erode(x), delta = relu(x - open(x)), skel += relu(delta - skel * delta)."""
    skel = F.relu(x - max_pool_cube(min_pool_cross(x)))
    for _ in range(iterations):
        x = min_pool_cross(x)
        delta = F.relu(x - max_pool_cube(min_pool_cross(x)))
        skel = skel + F.relu(delta - skel * delta)
    return skel


@pytest.mark.parametrize("iterations", [0, 1, 3])
def test_soft_skeleton_of_volumes_matches_the_definition(iterations):
    x = torch.rand(2, 2, 7, 8, 9, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    torch.testing.assert_close(soft_skeleton(x, iterations), soft_skeleton_by_definition(x, iterations))


def test_cldice_loss_of_volumes():
    logits, _, onehot = problem(7, (2, 3, 8, 8, 8))
    loss = ClDiceLoss(softmax=True)(logits, onehot)
    assert torch.isfinite(loss) and loss.requires_grad
    assert ClDiceLoss(include_background=True)(onehot, onehot).item() == pytest.approx(0.0, abs=1e-6)


def test_the_loss_of_a_large_float32_batch_sums_as_accurately_as_the_reference():
    """Thousands of pairs per channel: a sequential float32 sum drifted by 1e-5 relative from the
    exact value, ten times the reference's error; the sums are accumulated in float64."""
    Reference = reference("BettiMatchingLoss")
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 3, (2, 40, 40, 40))
    onehot = torch.movedim(F.one_hot(torch.from_numpy(labels), 3), -1, 1).float()
    logits = torch.from_numpy((2.0 * onehot.numpy() + rng.normal(0, 1.0, onehot.shape)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Reference(softmax=True, use_base_loss=False, alpha=1.0)(logits, onehot).item()
    exact = BettiMatchingLoss(softmax=True)(logits.double(), onehot.double()).item()
    got = BettiMatchingLoss(softmax=True)(logits, onehot).item()
    assert abs(want - exact) < 2e-6 * exact
    assert abs(got - exact) <= max(abs(want - exact), 1e-7 * exact)
