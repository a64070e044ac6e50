"""Baseline losses: clDice against a direct implementation of the soft skeleton, the loss of Hu et
al. against a brute-force optimal matching of persistence diagrams, and fork safety of the losses
inside DataLoader workers."""

from __future__ import annotations

import itertools
import multiprocessing
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bettimatch as bm  # noqa: E402
from bettimatch.losses import BettiMatchingLoss, ClDiceLoss, HuTopoLoss, soft_skeleton  # noqa: E402

F = torch.nn.functional


# --- clDice --------------------------------------------------------------------------------------


def _erode(x):
    """min over the pixel and its 4-neighbours inside the image"""
    h, w = x.shape
    out = np.empty_like(x)
    for i in range(h):
        for j in range(w):
            nb = [x[i, j]] + [x[a, b] for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
                              if 0 <= a < h and 0 <= b < w]
            out[i, j] = min(nb)
    return out


def _dilate(x):
    """max over the 3x3 neighbourhood inside the image"""
    h, w = x.shape
    out = np.empty_like(x)
    for i in range(h):
        for j in range(w):
            out[i, j] = x[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].max()
    return out


def _skeleton(x, iterations):
    """Shit et al. (2021), Algorithm 1: soft-skeletonize by iterated erosion and opening"""
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    skel = relu(x - _dilate(_erode(x)))
    for _ in range(iterations):
        x = _erode(x)
        delta = relu(x - _dilate(_erode(x)))
        skel = skel + relu(delta - skel * delta)
    return skel


def _cldice(p, t, iterations, smooth):
    sp, st = _skeleton(p, iterations), _skeleton(t, iterations)
    tprec = ((sp * t).sum() + smooth) / (sp.sum() + smooth)
    tsens = ((st * p).sum() + smooth) / (st.sum() + smooth)
    return 1 - 2 * tprec * tsens / (tprec + tsens)


def test_soft_skeleton_matches_definition():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 2, 9, 7, generator=g, dtype=torch.float64)
    for it in (0, 1, 3):
        got = soft_skeleton(x, it).numpy()
        for b in range(2):
            for c in range(2):
                np.testing.assert_allclose(got[b, c], _skeleton(x[b, c].numpy(), it), atol=1e-14)


@pytest.mark.parametrize("iterations", [1, 3])
def test_cldice_matches_definition(iterations):
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, 10, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 1, 10, 8), generator=g)
    probs = torch.softmax(logits, 1).numpy()
    onehot = F.one_hot(labels[:, 0], 3).permute(0, 3, 1, 2).double().numpy()
    per = ClDiceLoss(iterations=iterations, smooth=1.0, softmax=True, to_onehot_y=True, reduction="none")(
        logits, labels
    )
    assert per.shape == (2, 2)
    want = [[_cldice(probs[b, c], onehot[b, c], iterations, 1.0) for c in (1, 2)] for b in range(2)]
    np.testing.assert_allclose(per.numpy(), want, atol=1e-12)
    mean = ClDiceLoss(iterations=iterations, smooth=1.0, softmax=True, to_onehot_y=True)(logits, labels)
    assert mean.item() == pytest.approx(np.mean(want))


def test_cldice_is_differentiable_and_zero_for_perfect_prediction():
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 2, (1, 1, 12, 12), generator=g)
    onehot = F.one_hot(labels[:, 0], 2).permute(0, 3, 1, 2).double()
    assert ClDiceLoss()(onehot, onehot).item() == pytest.approx(0.0, abs=1e-9)
    x = torch.randn(1, 2, 12, 12, generator=g, dtype=torch.float64, requires_grad=True)
    ClDiceLoss(softmax=True)(x, onehot).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


# --- Hu et al.: optimal diagram matching ------------------------------------------------------


def _diagram(bc, d):
    return list(zip(bc.birth_value[d].tolist(), bc.death_value[d].tolist()))


def _brute_force_cost(p, q):
    """min over all bijections of the (n + m)-square problem: points plus the other side's
    diagonal projections; squared distances, (d - b)²/2 to the diagonal."""
    n, m = len(p), len(q)
    diag = lambda x: 0.5 * (x[1] - x[0]) ** 2  # noqa: E731

    def cost(i, j):
        if i < n and j < m:
            return (p[i][0] - q[j][0]) ** 2 + (p[i][1] - q[j][1]) ** 2
        if i < n:
            return diag(p[i]) if j - m == i else np.inf
        if j < m:
            return diag(q[j]) if i - n == j else np.inf
        return 0.0

    table = [[cost(i, j) for j in range(n + m)] for i in range(n + m)]
    return min(sum(table[i][j] for i, j in enumerate(perm)) for perm in itertools.permutations(range(n + m)))


def test_hutopo_matches_brute_force_on_small_diagrams():
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(60):
        # three channels of one image per trial: tiny random images -> small diagrams
        p = rng.random((1, 3, 4, 4))
        t = rng.random((1, 3, 4, 4))
        want = []
        for c in range(3):
            bp, bt = bm.barcode(p[0, c]), bm.barcode(t[0, c])
            total = 0.0
            for d in range(2):
                dp, dt = _diagram(bp, d), _diagram(bt, d)
                if len(dp) + len(dt) > 7:
                    break
                total += _brute_force_cost(dp, dt)
            else:
                want.append(total)
                continue
            want.append(None)
        if None in want:
            continue
        got = HuTopoLoss(include_background=True, reduction="none")(torch.tensor(p), torch.tensor(t))
        np.testing.assert_allclose(got[0].numpy(), want, atol=1e-12)
        checked += 1
    assert checked >= 15


def test_hutopo_gradient_and_zero_for_equal_inputs():
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 3, (2, 1, 9, 9), generator=g)
    onehot = F.one_hot(labels[:, 0], 3).permute(0, 3, 1, 2).double()
    assert HuTopoLoss(include_background=True)(onehot, onehot).item() == 0.0
    logits = torch.randn(2, 3, 9, 9, generator=g, dtype=torch.float64, requires_grad=True)
    loss = HuTopoLoss(softmax=True, to_onehot_y=True)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels), (logits,), eps=1e-7, atol=1e-6, fast_mode=True)


def test_hutopo_matches_topolosses():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from topolosses.losses import HutopoLoss as Reference
    except Exception:
        pytest.skip("topolosses (with gudhi) is not installed")
    g = torch.Generator().manual_seed(5)
    for include_background in (False, True):
        logits = 2 * torch.randn(2, 3, 20, 20, generator=g)
        labels = torch.randint(0, 3, (2, 20, 20), generator=g)
        onehot = F.one_hot(labels, 3).permute(0, 3, 1, 2).float()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = Reference(softmax=True, include_background=include_background, use_base_loss=False, alpha=1.0)
            want = ref(logits, onehot)
        got = HuTopoLoss(softmax=True, include_background=include_background)(logits, onehot)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


# --- fork safety ----------------------------------------------------------------------------------


class _LossDataset(torch.utils.data.Dataset):
    """Each item computes the losses in the worker process."""

    def __init__(self, x, t):
        self.x, self.t = x, t

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x, t = self.x[i : i + 1], self.t[i : i + 1]
        return torch.stack([BettiMatchingLoss()(x, t), HuTopoLoss()(x, t)])


def test_losses_in_forked_dataloader_workers():
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    g = torch.Generator().manual_seed(6)
    x = torch.softmax(torch.randn(6, 3, 48, 48, generator=g), 1)
    t = F.one_hot(torch.randint(0, 3, (6, 48, 48), generator=g), 3).permute(0, 3, 1, 2).float()
    # first calls in the parent start its native thread pools
    want = torch.stack([BettiMatchingLoss(reduction="none")(x, t).mean(1), HuTopoLoss(reduction="none")(x, t).mean(1)], 1)
    loader = torch.utils.data.DataLoader(
        _LossDataset(x, t), batch_size=None, num_workers=2, multiprocessing_context="fork", timeout=60
    )
    got = torch.stack(list(loader))
    torch.testing.assert_close(got, want)
    # and the parent still works afterwards
    torch.testing.assert_close(BettiMatchingLoss(reduction="none")(x, t).mean(1), want[:, 0])
