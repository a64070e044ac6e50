"""The Betti matching loss (bettimatch.losses): values by hand, gradients, argument conventions,
dtypes/autocast/compile, and agreement with the reference implementation (topolosses)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bettimatch as bm  # noqa: E402
from bettimatch.losses import (  # noqa: E402
    AlphaSchedule,
    BettiMatchingLoss,
    DiceBettiMatchingLoss,
    sigmoid_alpha,
)

F = torch.nn.functional


def _stack(*channels):
    """(1, 1 + k, H, W) float64 probabilities: a dummy background channel, then the channels."""
    fg = torch.tensor(np.stack(channels), dtype=torch.float64)
    return torch.cat([1 - fg[:1], fg]).unsqueeze(0)


def _bm_loss(pred, target, **kw):
    """Loss of one binary problem (a single foreground channel), float64."""
    return BettiMatchingLoss(**kw)(_stack(pred), _stack(target)).item()


# --- small cases, evaluated by hand --------------------------------------------------------------

# pred (superlevel, 4-connected): components born at p=.9 (pixel (0,0)) and p=.8 (pixel (0,2)),
# merged when (0,1) enters at p=.3. Filtration values v = 1 - p: the finite bar is (0.2, 0.7).
PRED = np.array([[0.9, 0.3, 0.8], [0.1, 0.1, 0.1], [0.1, 0.1, 0.1]])
ONE_OBJECT = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0]])
TWO_OBJECTS = np.array([[1.0, 0, 1], [0, 0, 0], [0, 0, 0]])
# a ring (p=.8) around a centre (p=.3) on a background (p=.1); target: the ring mask
RING = np.full((5, 5), 0.1)
RING[1:4, 1:4] = 0.8
RING[2, 2] = 0.3
RING_TARGET = np.zeros((5, 5))
RING_TARGET[1:4, 1:4] = 1
RING_TARGET[2, 2] = 0


def test_hand_case_unmatched_prediction_bar():
    m = bm.betti_matching(PRED, ONE_OBJECT)
    np.testing.assert_array_equal(m.pred_unmatched_birth[0], [[0, 2]])
    np.testing.assert_array_equal(m.pred_unmatched_death[0], [[0, 1]])
    assert m.num_matched.sum() == 0 and m.num_unmatched_target.sum() == 0
    # γu·(b - d)² = (0.2 - 0.7)²
    assert _bm_loss(PRED, ONE_OBJECT) == pytest.approx(0.25, abs=1e-12)
    assert _bm_loss(PRED, ONE_OBJECT, gamma_unmatched=3.0) == pytest.approx(0.75, abs=1e-12)
    # push to (1, 0): 2·γu·((b - 1)² + d²) = 2·(0.64 + 0.49)
    assert _bm_loss(PRED, ONE_OBJECT, push_unmatched_to_1_0=True) == pytest.approx(2.26, abs=1e-12)
    # bars not longer than the threshold are ignored
    assert _bm_loss(PRED, ONE_OBJECT, barcode_length_threshold=0.6) == 0.0


def test_hand_case_matched_bar():
    m = bm.betti_matching(PRED, TWO_OBJECTS)
    np.testing.assert_array_equal(m.pred_matched_birth[0], [[0, 2]])
    np.testing.assert_array_equal(m.target_matched_birth[0], [[0, 2]])
    np.testing.assert_array_equal(m.target_matched_death[0], [[0, 1]])
    # 2·γm·[(0.2 - 0)² + (0.7 - 1)²] = 2·0.13
    assert _bm_loss(PRED, TWO_OBJECTS) == pytest.approx(0.26, abs=1e-12)
    assert _bm_loss(PRED, TWO_OBJECTS, gamma_matched=0.5) == pytest.approx(0.13, abs=1e-12)


def test_hand_case_unmatched_target_bar():
    flat = np.full((3, 3), 0.1)
    flat[0, 0] = 0.9
    m = bm.betti_matching(flat, TWO_OBJECTS)
    assert m.num_unmatched_target[0] == 1 and m.num_matched.sum() == 0 and m.num_unmatched_pred.sum() == 0
    # (b_t - d_t)² = (0 - 1)², and with push 2·((0 - 1)² + 1²) = 4; γu does not weigh target bars
    assert _bm_loss(flat, TWO_OBJECTS, gamma_unmatched=5.0) == pytest.approx(1.0, abs=1e-12)
    assert _bm_loss(flat, TWO_OBJECTS, push_unmatched_to_1_0=True) == pytest.approx(4.0, abs=1e-12)


def test_hand_case_cycle():
    m = bm.betti_matching(RING, RING_TARGET)
    np.testing.assert_array_equal(m.pred_matched_death[1], [[2, 2]])
    assert m.num_matched.tolist() == [0, 1] and m.num_unmatched_pred.sum() == 0
    # the hole: pred bar (0.2, 0.7), target bar (0, 1): 2·(0.04 + 0.09)
    assert _bm_loss(RING, RING_TARGET) == pytest.approx(0.26, abs=1e-12)
    assert _bm_loss(RING, RING_TARGET, connectivity=8) == pytest.approx(0.26, abs=1e-12)


def test_essential_component_is_opt_in():
    empty = np.full((3, 3), 0.3)
    assert _bm_loss(empty, ONE_OBJECT) == 0.0  # the reference's convention: finite bars only
    # the component that never dies: born at v = 0.7 in pred, 0 in target: 2·0.7²
    assert _bm_loss(empty, ONE_OBJECT, include_essential=True) == pytest.approx(0.98, abs=1e-12)
    assert _bm_loss(ONE_OBJECT, ONE_OBJECT, include_essential=True) == 0.0


def test_multi_class_reductions_by_hand():
    # one image, channels: background, then the three hand cases above (same 3x3 shape)
    flat = np.full((3, 3), 0.1)
    flat[0, 0] = 0.9
    x = _stack(PRED, PRED, flat)
    t = _stack(ONE_OBJECT, TWO_OBJECTS, TWO_OBJECTS)
    per = BettiMatchingLoss(reduction="none")(x, t)
    assert per.shape == (1, 3)
    np.testing.assert_allclose(per.detach().numpy(), [[0.25, 0.26, 1.0]], atol=1e-12)
    assert BettiMatchingLoss()(x, t).item() == pytest.approx(1.51 / 3, abs=1e-12)
    assert BettiMatchingLoss(reduction="sum")(x, t).item() == pytest.approx(1.51, abs=1e-12)
    # a batch of two images: the mean runs over images and classes
    xb, tb = torch.cat([x, x.flip(1)]), torch.cat([t, t.flip(1)])
    per_b = BettiMatchingLoss(reduction="none", include_background=True)(xb, tb)
    assert per_b.shape == (2, 4)
    assert BettiMatchingLoss(include_background=True)(xb, tb).item() == pytest.approx(per_b.mean().item())


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("filtration", ["superlevel", "sublevel"])
def test_zero_when_prediction_equals_binary_target(connectivity, filtration):
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (3, 1, 17, 13), generator=g)
    onehot = F.one_hot(labels[:, 0], 3).permute(0, 3, 1, 2).float()
    for kw in [{}, {"push_unmatched_to_1_0": True}, {"include_essential": True}]:
        loss = BettiMatchingLoss(
            include_background=True, filtration=filtration, connectivity=connectivity, **kw
        )(onehot.clone().requires_grad_(), onehot)
        assert loss.item() == 0.0
        loss.backward()


def test_sublevel_of_complement_equals_superlevel():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(2, 3, 12, 12, generator=g, dtype=torch.float64)
    t = (torch.rand(2, 3, 12, 12, generator=g) > 0.5).double()
    a = BettiMatchingLoss(reduction="none")(p, t)
    b = BettiMatchingLoss(reduction="none", filtration="sublevel")(1 - p, 1 - t)
    torch.testing.assert_close(a, b)


# --- gradients -----------------------------------------------------------------------------------


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 6, 5, generator=g, dtype=torch.float64).requires_grad_()
    labels = torch.randint(0, 3, (2, 1, 6, 5), generator=g)
    loss = BettiMatchingLoss(softmax=True, to_onehot_y=True)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels), (logits,), eps=1e-7, atol=1e-6)
    variants = [{"push_unmatched_to_1_0": True, "gamma_matched": 0.7}, {"include_essential": True}]
    for kw in variants:
        loss = BettiMatchingLoss(softmax=True, to_onehot_y=True, **kw)
        assert torch.autograd.gradcheck(lambda x: loss(x, labels), (logits,), eps=1e-7, atol=1e-6, fast_mode=True)
    loss = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True, alpha=0.3, dice="generalized")
    assert torch.autograd.gradcheck(lambda x: loss(x, labels), (logits,), eps=1e-7, atol=1e-6, fast_mode=True)


def test_gradcheck_through_soft_targets_and_sliced_channels():
    # A soft target that requires grad gets its gradient too, and with the background left out
    # the gradient lands on the right channels of every image (no cross-channel shift).
    from bettimatch.losses import HuTopoLoss

    g = torch.Generator().manual_seed(5)
    probs = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64).requires_grad_()
    soft = torch.rand(2, 3, 5, 6, generator=g, dtype=torch.float64).requires_grad_()
    for loss in (
        BettiMatchingLoss(),
        BettiMatchingLoss(push_unmatched_to_1_0=True, gamma_unmatched=0.6, filtration="sublevel"),
        BettiMatchingLoss(include_essential=True, barcode_length_threshold=0.1, reduction="none"),
        HuTopoLoss(),
        HuTopoLoss(filtration="sublevel", reduction="sum"),
    ):
        assert torch.autograd.gradcheck(lambda x, t: loss(x, t), (probs, soft), eps=1e-7, atol=1e-6)
        probs.grad = None
        loss(probs, soft).sum().backward()
        assert not probs.grad[:, 0].any()
        assert probs.grad[:, 1:].abs().sum((2, 3)).all()


def test_second_derivatives():
    # A backward pass that builds a graph recomputes the pair terms with torch operations: the
    # Hessian of the piecewise-quadratic loss is exact (gradgradcheck), not silently zero.
    from bettimatch.losses import HuTopoLoss

    g = torch.Generator().manual_seed(6)
    x = torch.rand(1, 2, 5, 5, generator=g, dtype=torch.float64).requires_grad_()
    t = torch.rand(1, 2, 5, 5, generator=g, dtype=torch.float64).requires_grad_()
    for loss in (BettiMatchingLoss(), BettiMatchingLoss(push_unmatched_to_1_0=True), HuTopoLoss()):
        assert torch.autograd.gradgradcheck(lambda a, b: loss(a, b), (x, t), eps=1e-7, atol=1e-6)
        (grad,) = torch.autograd.grad(loss(x, t.detach()), x, create_graph=True)
        (hessian_row_sum,) = torch.autograd.grad(grad.sum(), x)
        assert hessian_row_sum.abs().sum() > 0


def test_gradient_only_at_birth_and_death_pixels():
    g = torch.Generator().manual_seed(4)
    p = torch.rand(2, 2, 15, 15, generator=g, dtype=torch.float64).requires_grad_()
    t = (torch.rand(2, 2, 15, 15, generator=g) > 0.6).double()
    BettiMatchingLoss(include_background=True, reduction="sum")(p, t).backward()
    for b in range(2):
        for c in range(2):
            m = bm.betti_matching(p[b, c].detach().numpy(), t[b, c].numpy())
            allowed = np.zeros((15, 15), bool)
            for d in range(2):
                for coords in (m.pred_matched_birth[d], m.pred_matched_death[d],
                               m.pred_unmatched_birth[d], m.pred_unmatched_death[d]):
                    allowed[coords[:, 0], coords[:, 1]] = True
            grad = p.grad[b, c].numpy()
            assert np.all(grad[~allowed] == 0)
            assert np.count_nonzero(grad) > 0


# --- argument conventions (MONAI DiceLoss) -----------------------------------------------------


def _random_problem(seed=5, b=2, c=3, h=11, w=9):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, c, h, w, generator=g)
    labels = torch.randint(0, c, (b, 1, h, w), generator=g)
    return logits, labels, F.one_hot(labels[:, 0], c).permute(0, 3, 1, 2).float()


def test_activations_and_onehot_conventions():
    logits, labels, onehot = _random_problem()
    base = BettiMatchingLoss(reduction="none")
    probs = torch.softmax(logits, 1)
    torch.testing.assert_close(BettiMatchingLoss(softmax=True, to_onehot_y=True, reduction="none")(logits, labels),
                               base(probs, onehot))
    torch.testing.assert_close(BettiMatchingLoss(sigmoid=True, reduction="none")(logits, onehot),
                               base(torch.sigmoid(logits), onehot))
    act = lambda x: torch.softmax(2 * x, 1)  # noqa: E731
    torch.testing.assert_close(BettiMatchingLoss(other_act=act, reduction="none")(logits, onehot),
                               base(act(logits), onehot))
    # the activation sees all channels; the background is dropped afterwards
    full = BettiMatchingLoss(include_background=True, softmax=True, reduction="none")(logits, onehot)
    assert full.shape == (2, 3)
    torch.testing.assert_close(BettiMatchingLoss(softmax=True, reduction="none")(logits, onehot), full[:, 1:])


def test_argument_errors_and_warnings():
    logits, labels, onehot = _random_problem()
    with pytest.raises(ValueError, match="Incompatible"):
        BettiMatchingLoss(sigmoid=True, softmax=True)
    with pytest.raises(ValueError, match="Incompatible"):
        BettiMatchingLoss(softmax=True, other_act=torch.tanh)
    with pytest.raises(TypeError):
        BettiMatchingLoss(other_act="relu")
    with pytest.raises(ValueError, match="reduction"):
        BettiMatchingLoss(reduction="max")
    with pytest.raises(ValueError):
        BettiMatchingLoss(filtration="both")
    with pytest.raises(ValueError):
        BettiMatchingLoss(connectivity=5)
    with pytest.raises(ValueError, match="connectivity.*2D input"):
        BettiMatchingLoss(connectivity=6)(logits, onehot)  # 6 is for volumes
    with pytest.raises(ValueError):
        BettiMatchingLoss(gamma_matched=-1)
    with pytest.raises(ValueError, match="different shape"):
        BettiMatchingLoss()(logits, onehot[:, :2])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        BettiMatchingLoss(to_onehot_y=True)(logits, onehot)
    with pytest.raises(ValueError, match="labels"):
        BettiMatchingLoss(to_onehot_y=True)(logits, labels + 3)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        BettiMatchingLoss()(logits[0], onehot[0])
    with pytest.raises(ValueError, match="NaN"):
        BettiMatchingLoss()(torch.full_like(logits, float("nan")), onehot)
    single, single_t = torch.sigmoid(logits[:, :1]), onehot[:, :1]
    with pytest.warns(UserWarning, match="softmax=True"):
        BettiMatchingLoss(softmax=True, include_background=True)(single, single_t)
    with pytest.warns(UserWarning, match="include_background=False"):
        single_loss = BettiMatchingLoss()(single, single_t)
    torch.testing.assert_close(single_loss, BettiMatchingLoss(include_background=True)(single, single_t))
    with pytest.warns(UserWarning, match="to_onehot_y=True"):
        BettiMatchingLoss(to_onehot_y=True, include_background=True)(single, single_t)


def test_dice_terms_match_monai():
    monai_losses = pytest.importorskip("monai.losses")
    logits, labels, onehot = _random_problem(seed=6)
    for dice, ref in [("dice", monai_losses.DiceLoss), ("generalized", monai_losses.GeneralizedDiceLoss)]:
        ours = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True, alpha=0.0, dice=dice)(logits, labels)
        theirs = ref(softmax=True, to_onehot_y=True, include_background=True)(logits, labels)
        torch.testing.assert_close(ours, theirs)
        ours = DiceBettiMatchingLoss(softmax=True, alpha=0.0, dice=dice, dice_include_background=False)(logits, onehot)
        theirs = ref(softmax=True, include_background=False)(logits, onehot)
        torch.testing.assert_close(ours, theirs)


def test_dice_betti_matching_combination():
    logits, labels, onehot = _random_problem(seed=7)
    bm_part = BettiMatchingLoss(softmax=True, reduction="none")(logits, onehot)
    dice_part = DiceBettiMatchingLoss(softmax=True, alpha=0.0, reduction="none")(logits, onehot)
    assert dice_part.shape == (2,)
    for reduction in ["mean", "sum", "none"]:
        got = DiceBettiMatchingLoss(softmax=True, alpha=0.25, reduction=reduction)(logits, onehot)
        if reduction == "none":
            want = dice_part + 0.25 * bm_part.mean(1)
        elif reduction == "mean":
            want = dice_part.mean() + 0.25 * bm_part.mean()
        else:
            want = dice_part.sum() * 3 + 0.25 * bm_part.sum()
        torch.testing.assert_close(got, want)
    with pytest.raises(ValueError):
        DiceBettiMatchingLoss(dice="focal")


def test_sigmoid_alpha_schedule():
    assert sigmoid_alpha(0, 100, 0.5, warmup_steps=10) == 0.0
    assert sigmoid_alpha(9, 100, 0.5, warmup_steps=10) == 0.0
    assert sigmoid_alpha(10, 100, 0.5, warmup_steps=10) == 0.0
    p = 0.3
    assert sigmoid_alpha(40, 100, 0.5, warmup_steps=10) == pytest.approx((2 / (1 + np.exp(-10 * p)) - 1) * 0.5)
    assert sigmoid_alpha(10_000, 100, 0.5) == pytest.approx(0.5)
    loss = DiceBettiMatchingLoss()
    sched = AlphaSchedule(loss, total_steps=100, alpha_max=2.0, warmup_steps=5)
    assert loss.alpha == 0.0
    for _ in range(30):
        sched.step()
    assert loss.alpha == pytest.approx(sigmoid_alpha(30, 100, 2.0, 5)) and sched.alpha == loss.alpha
    state = sched.state_dict()
    other = AlphaSchedule(DiceBettiMatchingLoss(), 100, 2.0, 5)
    other.load_state_dict(state)
    assert other.loss.alpha == loss.alpha


# --- dtypes, autocast, devices, compile ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    logits, labels, _ = _random_problem(seed=8)
    x = logits.to(dtype).requires_grad_()
    loss = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True)(x, labels)
    assert loss.dtype == torch.float32
    want = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True)(x.detach().float(), labels)
    torch.testing.assert_close(loss, want)
    loss.backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad.float()).all()


def test_autocast_cpu():
    logits, labels, _ = _random_problem(seed=9)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(logits)
        assert out.dtype == torch.bfloat16
        loss = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True)(out, labels)
    assert loss.dtype == torch.float32
    loss.backward()
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()


def test_torch_compile_of_a_model_using_the_loss():
    if not hasattr(torch, "compile"):
        pytest.skip("torch.compile needs torch >= 2")
    logits, labels, _ = _random_problem(seed=10)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)
    loss_fn = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True)

    def step(x, y):
        return loss_fn(conv(x), y)

    compiled = torch.compile(step, backend="aot_eager")
    loss = compiled(logits, labels)
    loss.backward()
    torch.testing.assert_close(loss, step(logits, labels))
    assert conv.weight.grad is not None


def test_devices_cuda_if_available():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    logits, labels, onehot = _random_problem(seed=11, h=40, w=37)
    cpu = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True)
    x = logits.cuda().requires_grad_()
    loss = cpu(x, labels.cuda())
    assert loss.device.type == "cuda"
    torch.testing.assert_close(loss.cpu(), cpu(logits, labels))
    loss.backward()
    xc = logits.clone().requires_grad_()
    cpu(xc, labels).backward()
    torch.testing.assert_close(x.grad.cpu(), xc.grad)


def test_loss_without_any_pairs_still_backpropagates():
    x = torch.zeros(1, 2, 4, 4, requires_grad=True)
    t = torch.zeros(1, 2, 4, 4)
    loss = BettiMatchingLoss()(x, t)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.count_nonzero(x.grad) == 0


def test_import_bettimatch_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, bettimatch; assert 'torch' not in sys.modules; bettimatch.BettiMatchingLoss; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the reference implementation ----------------------------------------------------------------


def _topolosses():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from topolosses.losses import BettiMatchingLoss as Reference
    except Exception:  # pragma: no cover - not installed
        pytest.skip("topolosses is not installed")
    return Reference


@pytest.mark.parametrize("include_background", [False, True])
@pytest.mark.parametrize(
    "variant",
    [{}, {"push_unmatched_to_1_0": True}, {"barcode_length_threshold": 0.1}, {"gammas": (2.0, 0.5)}],
)
def test_matches_topolosses(include_background, variant):
    Reference = _topolosses()
    variant = dict(variant)
    gm, gu = variant.pop("gammas", (1.0, 1.0))
    g = torch.Generator().manual_seed(12)
    for shape in [(2, 3, 24, 21), (1, 4, 40, 40)]:
        logits = (2 * torch.randn(*shape, generator=g)).requires_grad_()
        labels = torch.randint(0, shape[1], (shape[0],) + shape[2:], generator=g)
        onehot = F.one_hot(labels, shape[1]).permute(0, 3, 1, 2).float()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_fn = Reference(softmax=True, include_background=include_background, use_base_loss=False,
                               alpha=1.0, topology_weights=(gm, gu), **variant)
            ref = ref_fn(logits, onehot)
        (ref_grad,) = torch.autograd.grad(ref, logits)
        ours = BettiMatchingLoss(softmax=True, include_background=include_background, gamma_matched=gm,
                                 gamma_unmatched=gu, **variant)(logits, onehot)
        (our_grad,) = torch.autograd.grad(ours, logits)
        torch.testing.assert_close(ours, ref, rtol=2e-6, atol=1e-6)
        torch.testing.assert_close(our_grad, ref_grad, rtol=1e-4, atol=1e-7)


def test_dice_betti_matching_matches_topolosses_default():
    Reference = _topolosses()
    logits, _, onehot = _random_problem(seed=13, b=2, c=4, h=30, w=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Reference(softmax=True, alpha=0.5)(logits, onehot)
    ours = DiceBettiMatchingLoss(softmax=True, alpha=0.5)(logits, onehot)
    torch.testing.assert_close(ours, ref, rtol=2e-6, atol=1e-6)
