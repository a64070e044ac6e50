"""What every loss does with bad or unusual arguments: the same exception, with a message naming
the argument, for all four losses (see the bettimatch.losses module docstring)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from bettimatch.losses import (  # noqa: E402
    AlphaSchedule,
    BettiMatchingLoss,
    ClDiceLoss,
    DiceBettiMatchingLoss,
    HuTopoLoss,
    sigmoid_alpha,
    soft_skeleton,
)

LOSSES = [BettiMatchingLoss, DiceBettiMatchingLoss, ClDiceLoss, HuTopoLoss]
loss_classes = pytest.mark.parametrize("cls", LOSSES, ids=lambda c: c.__name__)


def problem(b=2, c=3, h=7, w=6, seed=0):
    """(B, C, H, W) float64 probabilities and a one-hot float64 target."""
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(b, c, h, w, generator=g, dtype=torch.float64), 1)
    labels = torch.randint(0, c, (b, h, w), generator=g)
    return probs, torch.nn.functional.one_hot(labels, c).permute(0, 3, 1, 2).double()


# --- types, dtypes, devices ----------------------------------------------------------------------


@loss_classes
def test_numpy_arguments_are_a_type_error_naming_the_argument(cls):
    x, t = problem()
    with pytest.raises(TypeError, match=r"^input must be a torch.Tensor .*got numpy.ndarray$"):
        cls()(x.numpy(), t)
    with pytest.raises(TypeError, match=r"^target must be a torch.Tensor .*got numpy.ndarray$"):
        cls()(x, t.numpy())
    with pytest.raises(TypeError, match=r"^target must be a torch.Tensor .*got list$"):
        cls()(x, t.tolist())


@loss_classes
@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool])
def test_integer_and_boolean_input_is_a_type_error(cls, dtype):
    x, t = problem()
    with pytest.raises(TypeError, match=f"input must be a floating-point tensor.*got {dtype}"):
        cls()(x.round().to(dtype), t)


@loss_classes
@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool, torch.float32])
def test_integer_and_boolean_targets_give_the_float_targets_loss(cls, dtype):
    x, t = problem(seed=1)
    torch.testing.assert_close(cls(reduction="none")(x, t.to(dtype)), cls(reduction="none")(x, t))


@loss_classes
def test_input_without_requires_grad_gives_the_same_value_and_no_graph(cls):
    x, t = problem(seed=2)
    plain = cls()(x, t)
    assert not plain.requires_grad
    with_grad = cls()(x.clone().requires_grad_(), t)
    assert with_grad.requires_grad
    torch.testing.assert_close(plain, with_grad.detach())


@loss_classes
def test_tensors_on_different_devices_are_refused(cls):
    # "meta" stands in for a CUDA device where there is none: the check is the same.
    x, t = problem()
    with pytest.raises(ValueError, match="input is on cpu but target is on meta: put both on one device"):
        cls()(x, t.to("meta"))


@loss_classes
def test_tensors_on_different_cuda_and_cpu_devices_are_refused(cls):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x, t = problem()
    with pytest.raises(ValueError, match="put both on one device"):
        cls()(x.cuda(), t)


# --- shapes --------------------------------------------------------------------------------------


@loss_classes
def test_shapes_that_do_not_fit_are_value_errors(cls):
    x, t = problem()
    with pytest.raises(ValueError, match="different shape"):
        cls()(x, t[:1])
    with pytest.raises(ValueError, match="different shape"):
        cls()(x, t[:, :, :-1])
    labels = t.argmax(1, keepdim=True)
    with pytest.raises(ValueError, match="different shape"):
        cls(to_onehot_y=True)(x, labels[:, :, 1:])
    with pytest.raises(ValueError, match=r"shape \(B, C, H, W\) \(2D images\) or \(B, C, D, H, W\) \(3D volumes\), got \(3, 7, 6\)$"):
        cls()(x[0], t[0])
    with pytest.raises(ValueError, match=r"or \(B, C, D, H, W\) \(3D volumes\), got \(2, 3, 7, 6, 4, 2\)$"):
        cls()(x[..., None, None].expand(-1, -1, -1, -1, 4, 2), t[..., None, None].expand(-1, -1, -1, -1, 4, 2))
    # Volumes are fine.
    assert torch.isfinite(cls()(x[..., None].expand(-1, -1, -1, -1, 4), t[..., None].expand(-1, -1, -1, -1, 4)))


@loss_classes
def test_empty_batches_channels_and_images_are_value_errors(cls):
    x, t = problem()
    with pytest.raises(ValueError, match=r"input has an empty batch \(B = 0"):
        cls()(x[:0], t[:0])
    with pytest.raises(ValueError, match=r"input has no channels \(C = 0"):
        cls()(x[:, :0], t[:, :0])
    with pytest.raises(ValueError, match="input images are empty"):
        cls()(x[:, :, :0], t[:, :, :0])
    with pytest.raises(ValueError, match="input images are empty"):
        cls()(x[..., :0], t[..., :0])


@loss_classes
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_empty_batch_is_refused_with_every_reduction(cls, reduction):
    x, t = problem()
    with pytest.raises(ValueError, match="empty batch"):
        cls(reduction=reduction, softmax=True, to_onehot_y=True)(x[:0], t[:0, :1])


# --- non-finite values ---------------------------------------------------------------------------

NON_FINITE = [math.nan, math.inf, -math.inf]


def _with_value_at(x, where, value):
    x = x.clone()
    x[where] = value
    return x


@loss_classes
@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("argument", ["input", "target"])
def test_non_finite_values_are_refused_by_every_loss(cls, value, argument):
    x, t = problem()
    where = (1, 2, 3, 4)
    args = {"input": x, "target": t}
    args[argument] = _with_value_at(args[argument], where, value)
    with pytest.raises(ValueError, match=rf"^{argument}\[1, 2\]: value at \(3, 4\) is NaN or infinite$"):
        cls()(args["input"], args["target"])


@pytest.mark.parametrize("argument", ["input", "target"])
def test_dice_term_alone_refuses_non_finite_values(argument):
    # alpha = 0 skips the native call, which checks the Betti matching channels itself.
    x, t = problem()
    args = {"input": x, "target": t}
    args[argument] = _with_value_at(args[argument], (0, 1, 2, 2), math.nan)
    with pytest.raises(ValueError, match=rf"^{argument}\[0, 1\]: value at \(2, 2\) is NaN or infinite$"):
        DiceBettiMatchingLoss(alpha=0.0)(args["input"], args["target"])


def test_dice_background_channel_is_checked_although_betti_matching_drops_it():
    x, t = problem()
    bad = _with_value_at(x, (1, 0, 0, 5), math.inf)
    with pytest.raises(ValueError, match=r"^input\[1, 0\]: value at \(0, 5\) is NaN or infinite$"):
        DiceBettiMatchingLoss()(bad, t)
    # Without the background in the Dice term no used channel holds the value.
    assert torch.isfinite(DiceBettiMatchingLoss(dice_include_background=False)(bad, t))


@loss_classes
def test_values_in_a_dropped_channel_are_not_used_and_not_checked(cls):
    x, t = problem()
    bad = _with_value_at(x, (0, 0, 1, 1), math.nan)
    kw = {"dice_include_background": False} if cls is DiceBettiMatchingLoss else {}
    torch.testing.assert_close(cls(**kw)(bad, t), cls(**kw)(x, t))


@loss_classes
def test_activation_turning_logits_into_nan_is_refused(cls):
    x, t = problem()
    logits = _with_value_at(x, (0, 1, 2, 3), math.inf)  # softmax of +inf is NaN
    with pytest.raises(ValueError, match=r"^input\[0, \d\]: value at \(2, 3\) is NaN or infinite$"):
        cls(softmax=True)(logits, t)


@given(
    cls=st.sampled_from(LOSSES),
    argument=st.sampled_from(["input", "target"]),
    value=st.sampled_from(NON_FINITE),
    where=st.tuples(st.integers(0, 1), st.integers(1, 2), st.integers(0, 6), st.integers(0, 5)),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_error_names_where_the_non_finite_value_is(cls, argument, value, where, dtype):
    x, t = problem()
    args = {"input": x.to(dtype), "target": t}
    args[argument] = _with_value_at(args[argument], where, value)
    b, c, row, col = where
    with pytest.raises(ValueError, match=rf"^{argument}\[{b}, {c}\]: value at \({row}, {col}\) is NaN or infinite$"):
        cls()(args["input"], args["target"])


@given(
    argument=st.sampled_from(["input", "target"]),
    value=st.sampled_from(NON_FINITE),
    where=st.tuples(st.integers(0, 1), st.integers(1, 2), st.integers(0, 6), st.integers(0, 5)),
    iterations=st.integers(0, 4),
    raw=st.booleans(),
    seed=st.integers(0, 3),
)
def test_cldice_finds_non_finite_values_through_its_skeletons(argument, value, where, iterations, raw, seed):
    # clDice checks only its (B, C') result: every non-finite value, also in raw (negative)
    # scores and after any number of skeleton iterations, must make that result non-finite.
    x, t = problem(seed=seed)
    if raw:
        x = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype) * 3
    args = {"input": x, "target": t}
    args[argument] = _with_value_at(args[argument], where, value)
    b, c, row, col = where
    with pytest.raises(ValueError, match=rf"^{argument}\[{b}, {c}\]: value at \({row}, {col}\) is NaN or infinite$"):
        ClDiceLoss(iterations=iterations)(args["input"], args["target"])


def test_non_finite_check_costs_nothing_on_the_normal_path(monkeypatch):
    # The losses find non-finite values from what they compute anyway: the native call's own
    # check, the (B,) Dice sums and the (B, C') clDice values; no extra pass over the tensors.
    checked = []
    isfinite = torch.isfinite

    def recording_isfinite(x):
        checked.append(x.numel())
        return isfinite(x)

    monkeypatch.setattr(torch, "isfinite", recording_isfinite)
    x, t = problem()
    for loss in (DiceBettiMatchingLoss(), DiceBettiMatchingLoss(alpha=0.0), BettiMatchingLoss(), HuTopoLoss(), ClDiceLoss()):
        loss(x, t)
    assert checked and max(checked) <= x.shape[0] * x.shape[1]


# --- hyper-parameters ----------------------------------------------------------------------------

BAD_REALS = [math.nan, math.inf, -math.inf, -0.5]

HYPER_PARAMETERS = [
    (BettiMatchingLoss, "gamma_matched"),
    (BettiMatchingLoss, "gamma_unmatched"),
    (BettiMatchingLoss, "barcode_length_threshold"),
    (DiceBettiMatchingLoss, "alpha"),
    (DiceBettiMatchingLoss, "smooth_nr"),
    (DiceBettiMatchingLoss, "smooth_dr"),
    (DiceBettiMatchingLoss, "gamma_matched"),
    (ClDiceLoss, "smooth"),
]


@pytest.mark.parametrize("cls, name", HYPER_PARAMETERS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("value", BAD_REALS)
def test_float_hyper_parameters_must_be_finite_and_non_negative(cls, name, value):
    with pytest.raises(ValueError, match=rf"^{name} must be a finite non-negative number, got {value}$"):
        cls(**{name: value})


@pytest.mark.parametrize("cls, name", HYPER_PARAMETERS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("value", ["0.5", None, True, 1j])
def test_float_hyper_parameters_must_be_real_numbers(cls, name, value):
    with pytest.raises(TypeError, match=rf"^{name} must be a real number"):
        cls(**{name: value})


@pytest.mark.parametrize("value", [0, 0.0, 2, np.float32(0.25), torch.tensor(0.25)])
def test_float_hyper_parameters_accept_numbers_and_one_element_tensors(value):
    loss = DiceBettiMatchingLoss(alpha=value, smooth_nr=value, gamma_matched=value)
    assert loss.alpha == loss.smooth_nr == loss.gamma_matched == float(value)
    assert type(loss.alpha) is float


@pytest.mark.parametrize("value", BAD_REALS + ["0.5"])
def test_alpha_is_checked_when_set(value):
    loss = DiceBettiMatchingLoss(alpha=0.5)
    with pytest.raises((ValueError, TypeError), match="^alpha must be a"):
        loss.alpha = value
    assert loss.alpha == 0.5
    loss.alpha = 2
    assert loss.alpha == 2.0


@pytest.mark.parametrize("iterations, error", [(-1, ValueError), (2.5, TypeError), (math.nan, TypeError), ("3", TypeError), (True, TypeError)])
def test_iterations_must_be_a_non_negative_integer(iterations, error):
    with pytest.raises(error, match="^iterations must be a non-negative integer"):
        ClDiceLoss(iterations=iterations)
    with pytest.raises(error, match="^iterations must be a non-negative integer"):
        soft_skeleton(torch.zeros(1, 1, 4, 4), iterations)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(step=math.nan), "step must be a finite non-negative"),
        (dict(step=-1), "step must be a finite non-negative"),
        (dict(total_steps=0), "total_steps must be a finite positive"),
        (dict(total_steps=math.nan), "total_steps must be a finite positive"),
        (dict(total_steps=math.inf), "total_steps must be a finite positive"),
        (dict(alpha_max=math.nan), "alpha_max must be a finite non-negative"),
        (dict(alpha_max=-0.5), "alpha_max must be a finite non-negative"),
        (dict(alpha_max=math.inf), "alpha_max must be a finite non-negative"),
        (dict(warmup_steps=-1), "warmup_steps must be a finite non-negative"),
        (dict(warmup_steps=math.nan), "warmup_steps must be a finite non-negative"),
    ],
)
def test_schedule_arguments_are_checked(kwargs, message):
    args = dict(step=10, total_steps=100, alpha_max=0.5, warmup_steps=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sigmoid_alpha(**args)
    if "step" not in kwargs:
        del args["step"]
        with pytest.raises(ValueError, match=message):
            AlphaSchedule(DiceBettiMatchingLoss(), **args)
        with pytest.raises(ValueError, match=message):
            AlphaSchedule(None, **args)


def test_schedule_state_must_hold_a_non_negative_step():
    schedule = AlphaSchedule(DiceBettiMatchingLoss(), total_steps=100, alpha_max=0.5)
    with pytest.raises(ValueError, match="^last_step must be a non-negative integer, got -3$"):
        schedule.load_state_dict({"last_step": -3})
    with pytest.raises(TypeError, match="^last_step must be a non-negative integer"):
        schedule.load_state_dict({"last_step": 2.5})
    schedule.load_state_dict({"last_step": np.int64(40)})
    assert schedule.loss.alpha == pytest.approx(sigmoid_alpha(40, 100, 0.5))


def test_valid_edge_values_still_work():
    x, t = problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.isfinite(DiceBettiMatchingLoss(alpha=0, gamma_matched=0, smooth_nr=0, smooth_dr=1e-5)(x, t))
        assert torch.isfinite(ClDiceLoss(iterations=0, smooth=1e-5)(x, t))
    assert sigmoid_alpha(0, 1, 0.0) == 0.0
