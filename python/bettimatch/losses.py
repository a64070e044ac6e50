"""Topology-aware segmentation losses for torch.

- :class:`BettiMatchingLoss`: the Betti matching loss (Stucki et al., ICML 2023) in its multi-class
  form (Berger, Lux, Stucki et al., MICCAI 2024): every (image, class) channel is a binary problem.
- :class:`DiceBettiMatchingLoss`: ``Dice + alpha * BettiMatching`` (the paper's eq. 4), with
  :func:`sigmoid_alpha` / :class:`AlphaSchedule` for the paper's warm-up schedule of ``alpha``.
- Baselines with the same argument conventions: :class:`ClDiceLoss` (Shit et al., CVPR 2021) and
  :class:`HuTopoLoss` (Hu et al., NeurIPS 2019).

Arguments follow MONAI's ``DiceLoss``: ``input`` is (B, C, H, W) logits or probabilities, ``target``
one-hot (B, C, H, W) or labels (B, 1, H, W) with ``to_onehot_y=True``; the activation
(``sigmoid``, ``softmax`` or ``other_act``) is applied before the background channel is dropped
(``include_background=False``). ``reduction`` is ``"mean"`` (over images and classes, as the
reference implementation), ``"sum"`` (as the paper writes it) or ``"none"`` (a (B, C') tensor).

Checks, the same for every loss: ``input`` must be a floating-point torch tensor and ``target`` a
torch tensor on the same device (TypeError, or ValueError for the device), ``input`` of shape
(B, C, H, W), or (B, C, D, H, W) for 3D volumes. A NaN or infinite value in a channel the loss uses,
of the probabilities (``input`` after the activation) or of ``target``, raises a ValueError that
names the argument, the (image, channel) and the pixel. An empty batch (B = 0), zero channels or
empty images raise a ValueError rather than returning NaN (MONAI's ``DiceLoss``, "mean") or a
zero loss (which optimizers with momentum would still step on). Hyper-parameters (``alpha``,
gammas, smoothing terms, thresholds, iterations, schedule steps) must be finite and non-negative;
``alpha`` is checked again whenever it is set.

How it works: the activated probabilities are detached and copied to the CPU once; one call into
the Rust core computes the persistence pairs of all B x C' channels in parallel and returns the
flat indices of their birth and death pixels; the loss then gathers the values at those pixels from
the (differentiable) probabilities on their own device, so gradients flow through the gather and
CUDA tensors work. float16/bfloat16 inputs are computed in float32, also under ``torch.autocast``.

This module imports torch; ``import bettimatch`` does not.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
import warnings
from typing import Any, Callable, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.modules.loss import _Loss

from . import _core
from ._inputs import check_connectivity, check_filtration, check_num_threads, check_ties

__all__ = [
    "AlphaSchedule",
    "BettiMatchingLoss",
    "ClDiceLoss",
    "DiceBettiMatchingLoss",
    "HuTopoLoss",
    "sigmoid_alpha",
    "soft_skeleton",
]

_REDUCTIONS = ("mean", "sum", "none")

# Row kinds returned by the native pair functions.
_MATCHED, _UNMATCHED_PRED, _UNMATCHED_TARGET, _ESSENTIAL = 0, 1, 2, 3


def _compiler_disable(fn: Callable) -> Callable:
    """Keep `fn` out of torch.compile graphs (it calls into native code on numpy arrays)."""
    compiler = getattr(torch, "compiler", None)
    disable = getattr(compiler, "disable", None)
    if disable is None:  # pragma: no cover - torch < 2.1
        dynamo = getattr(torch, "_dynamo", None)
        disable = getattr(dynamo, "disable", None)
    return disable(fn) if disable is not None else fn


# ---------------------------------------------------------------------------------------------
# Argument handling shared by all losses (MONAI DiceLoss conventions)
# ---------------------------------------------------------------------------------------------


class _ChannelLoss(_Loss):
    """Activation, one-hot conversion and background handling, as MONAI's DiceLoss does them."""

    def __init__(
        self,
        include_background: bool,
        to_onehot_y: bool,
        sigmoid: bool,
        softmax: bool,
        other_act: Optional[Callable],
        reduction: str,
    ) -> None:
        if other_act is not None and not callable(other_act):
            raise TypeError(f"other_act must be None or callable but is {type(other_act).__name__}.")
        if int(bool(sigmoid)) + int(bool(softmax)) + int(other_act is not None) > 1:
            raise ValueError("Incompatible values: more than 1 of [sigmoid=True, softmax=True, other_act is not None].")
        if reduction not in _REDUCTIONS:
            raise ValueError(f'Unsupported reduction: {reduction!r}, available options are ["mean", "sum", "none"].')
        super().__init__(reduction=reduction)
        self.include_background = bool(include_background)
        self.to_onehot_y = bool(to_onehot_y)
        self.sigmoid = bool(sigmoid)
        self.softmax = bool(softmax)
        self.other_act = other_act

    def _activate(self, input: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, int]:
        """(probabilities, one-hot target, first channel to use) for all channels, in float32/64."""
        if input.ndim not in (4, 5):
            raise ValueError(
                f"input must have shape (B, C, H, W) (2D images) or (B, C, D, H, W) (3D volumes), got {tuple(input.shape)}"
            )
        if input.shape[0] == 0:
            raise ValueError(f"input has an empty batch (B = 0, shape {tuple(input.shape)}): its loss is undefined")
        if input.shape[1] == 0:
            raise ValueError(f"input has no channels (C = 0, shape {tuple(input.shape)})")
        if 0 in input.shape[2:]:
            raise ValueError(f"input images are empty (shape {tuple(input.shape)})")
        x = input if input.dtype in (torch.float32, torch.float64) else input.float()
        n_ch = x.shape[1]
        if self.sigmoid:
            x = torch.sigmoid(x)
        if self.softmax:
            if n_ch == 1:
                warnings.warn("single channel prediction, `softmax=True` ignored.")
            else:
                x = torch.softmax(x, 1)
        if self.other_act is not None:
            x = self.other_act(x)
        if self.to_onehot_y:
            if n_ch == 1:
                warnings.warn("single channel prediction, `to_onehot_y=True` ignored.")
            else:
                target = _one_hot(target, n_ch)
        start = 0
        if not self.include_background:
            if n_ch == 1:
                warnings.warn("single channel prediction, `include_background=False` ignored.")
            else:
                start = 1
        if target.shape != x.shape:
            raise ValueError(f"ground truth has different shape ({tuple(target.shape)}) from input ({tuple(x.shape)})")
        target = target.to(device=x.device, dtype=x.dtype)
        return x, target, start

    def _reduce(self, per_channel: torch.Tensor) -> torch.Tensor:
        if self.reduction == "mean":
            return per_channel.mean()
        if self.reduction == "sum":
            return per_channel.sum()
        return per_channel


def _check_tensors(input: Any, target: Any) -> None:
    """Types, dtypes and devices, checked before anything else touches the arguments."""
    for name, value in (("input", input), ("target", target)):
        if not isinstance(value, torch.Tensor):
            kind = f"{type(value).__module__}.{type(value).__name__}".replace("builtins.", "")
            raise TypeError(f"{name} must be a torch.Tensor (the losses take torch tensors), got {kind}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"input must be a floating-point tensor (logits or probabilities), got {input.dtype}")
    if target.dtype.is_complex:
        raise TypeError(f"target must be a real or boolean tensor, got {target.dtype}")
    if input.device != target.device:
        raise ValueError(f"input is on {input.device} but target is on {target.device}: put both on one device")


def _first_non_finite(x: torch.Tensor, name: str, start: int) -> None:
    """Raise the ValueError for the first NaN or infinite value of channels ``start:`` of (B, C, H,
    W) `x`, worded as the native code words it; return if there is none."""
    bad = torch.nonzero(~torch.isfinite(x[:, start:].detach()))
    if bad.shape[0]:
        b, c, *at = (int(v) for v in bad[0])
        raise ValueError(f"{name}[{b}, {c + start}]: value at ({', '.join(map(str, at))}) is NaN or infinite")


@_compiler_disable
def _check_finite_through(result: torch.Tensor, named: Tuple[Tuple[str, torch.Tensor], ...], start: int) -> None:
    """Refuse NaN or infinite values in channels ``start:`` of the `named` tensors, given a small
    `result` that every such value makes non-finite: only the result is checked on the normal
    path, the tensors only when it is not finite (a finite-valued overflow then passes)."""
    if bool(torch.isfinite(result.detach()).all()):
        return
    for name, x in named:
        _first_non_finite(x, name, start)


def _one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    if labels.ndim not in (4, 5) or labels.shape[1] != 1:
        raise ValueError(
            f"to_onehot_y=True expects labels of shape (B, 1, H, W) or (B, 1, D, H, W), got {tuple(labels.shape)}"
        )
    lab = labels[:, 0].long()
    if not _is_compiling():  # data-dependent checks would break a compiled graph
        if labels.dtype.is_floating_point and not torch.equal(labels, labels.round()):
            raise ValueError("to_onehot_y=True expects integer class labels")
        if lab.numel() and (int(lab.min()) < 0 or int(lab.max()) >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes - 1}] for {num_classes} channels")
    return torch.movedim(F.one_hot(lab, num_classes), -1, 1)


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    is_compiling = getattr(compiler, "is_compiling", None)
    return bool(is_compiling()) if is_compiling is not None else False


def _no_autocast(device_type: str):
    """Autocast off for the loss computation (it runs in float32 or float64)."""
    if device_type in ("cpu", "cuda"):
        return torch.autocast(device_type=device_type, enabled=False)
    return contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------
# The native call: one per forward
# ---------------------------------------------------------------------------------------------


class _Pairs:
    """The pairs of channels ``start:`` of (B, C, *spatial) probabilities and target, from one
    native call, with the detached numpy copies they index (see :func:`_native_pairs`)."""

    __slots__ = ("rows", "probs", "target", "channels", "start")

    def __init__(self, rows: np.ndarray, probs: np.ndarray, target: np.ndarray, channels: int, start: int) -> None:
        #: (7, K) int64: item (``b * C' + c - start``), dim, kind, pred_birth, pred_death,
        #: target_birth, target_death; the last four flat indices into the (B * C', *spatial)
        #: copies (-1: none).
        self.rows = rows
        self.probs = probs
        self.target = target
        self.channels = channels
        self.start = start


@_compiler_disable
def _native_pairs(
    kind: str,
    probs: torch.Tensor,
    target: torch.Tensor,
    start: int,
    filtration: str,
    connectivity: Optional[int],
    num_threads: Optional[int],
    include_essential: bool = False,
    ties: str = "index",
) -> _Pairs:
    """The Betti matching (`kind` "betti") or diagram matching ("diagram") pairs of channels
    ``start:`` of (B, C, *spatial) `probs` and `target` (2D or 3D). `connectivity` None: 4 in 2D,
    6 in 3D."""
    b, c_all, *spatial = probs.shape
    c = c_all - start
    connectivity = check_connectivity(connectivity, len(spatial))
    p = probs.detach()[:, start:].reshape(b * c, *spatial).cpu().numpy()
    t = target.detach()[:, start:].reshape(b * c, *spatial).cpu().numpy()
    try:
        if kind == "betti":
            raw = _core.loss_pairs(p, t, filtration, connectivity, num_threads, include_essential, ties)
        else:
            raw = _core.diagram_matching_pairs(p, t, filtration, connectivity, num_threads)
    except ValueError as e:
        # name the (image, channel) instead of the flattened item
        def where(m: "re.Match") -> str:
            k = int(m.group(2))
            return f"{m.group(1)}[{k // c}, {k % c + start}]"

        raise ValueError(re.sub(r"\b(input|target)\[(\d+)\]", where, str(e))) from None
    return _Pairs(np.stack(raw), p, t, c, start)


# Operands of a squared difference: the filtration value at a row's pred birth / pred death /
# target birth / target death (the rows of `_Pairs.rows`), or a constant (a float).
_PRED_BIRTH, _PRED_DEATH, _TARGET_BIRTH, _TARGET_DEATH = 3, 4, 5, 6


class _Square(NamedTuple):
    """The term ``weight · (a − b)²`` of the pairs in `rows` (indices into the pairs)."""

    rows: np.ndarray
    weight: float
    a: Any  # an operand
    b: Any


class _SquarePlan:
    """The terms of :func:`_square_sums`, resolved: per square, its items, weight and two operands,
    each ``(side, locations into the flat full input)`` (side 0: probs, 1: target) or a constant."""

    def __init__(self, n_items: int, superlevel: bool) -> None:
        self.n_items = n_items
        self.superlevel = superlevel
        self.terms: list = []

    def torch_sums(self, probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The same sums from torch operations (differentiable to any order; slower)."""
        flat = (probs.reshape(-1), target.reshape(-1))
        out = torch.zeros(self.n_items, dtype=torch.float64, device=probs.device)
        for item, weight, operands in self.terms:
            values = []
            for operand in operands:
                if isinstance(operand, float):
                    values.append(operand)
                    continue
                side, loc = operand
                v = flat[side][torch.from_numpy(loc).to(probs.device)].to(torch.float64)
                values.append(1 - v if self.superlevel else v)
            out = out.index_add(0, torch.from_numpy(item).to(probs.device), weight * (values[0] - values[1]) ** 2)
        return out


class _SquareSums(torch.autograd.Function):
    """Per-item sums computed outside autograd, with their gradient: flat entries (location,
    item, coefficient) per input, scattered by the backward pass. Far fewer operators than the
    same sums built from torch operations, whose fixed cost dominated the loss of small images.
    A backward pass that builds a graph (``create_graph=True``: second derivatives) recomputes the
    sums with torch operations instead and differentiates those."""

    @staticmethod
    def forward(ctx, probs, target, sums, grad_entries, plan):  # type: ignore[override]
        ctx.entries = grad_entries
        ctx.plan = plan
        ctx.save_for_backward(probs, target)
        return torch.from_numpy(sums).to(device=probs.device, dtype=probs.dtype)

    @staticmethod
    def backward(ctx, grad_sums):  # type: ignore[override]
        probs, target = ctx.saved_tensors
        needed = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled():
            inputs = [x for x, need in zip((probs, target), needed) if need]
            sums = ctx.plan.torch_sums(probs, target).to(probs.dtype)
            got = iter(torch.autograd.grad(sums, inputs, grad_sums, create_graph=True, allow_unused=True))
            # (allow_unused gives None for an input no pair touches; torch >= 2.1 could materialize it)
            grads = [(next(got) if need else None) for need in needed]
            grads = [torch.zeros_like(x) if need and g is None else g for x, g, need in zip((probs, target), grads, needed)]
            return grads[0], grads[1], None, None, None
        g = grad_sums.reshape(-1)
        grads = []
        for x, entries, need in zip((probs, target), ctx.entries, needed):
            if not need:
                grads.append(None)
                continue
            locations, items, coefficients = (torch.from_numpy(e).to(x.device) for e in entries)
            flat = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
            flat.index_add_(0, locations, g[items].to(x.dtype) * coefficients.to(x.dtype))
            grads.append(flat.reshape(x.shape))
        return grads[0], grads[1], None, None, None


@_compiler_disable
def _square_sums(
    pairs: _Pairs, squares: Sequence[_Square], filtration: str, probs: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """``Σ weight · (a − b)²`` over `squares` per item, shaped (B, C'), as a function of the full
    (B, C, *spatial) `probs` and `target` (gradients flow to both). Computed in float64 from the
    values the native call saw."""
    rows, c, start = pairs.rows, pairs.channels, pairs.start
    sources = (pairs.probs.reshape(-1), pairs.target.reshape(-1))
    superlevel = filtration == "superlevel"
    # d(filtration value)/d(input value)
    slope = -1.0 if superlevel else 1.0
    n_items = probs.shape[0] * c
    pixels = math.prod(probs.shape[2:])
    plan = _SquarePlan(n_items, superlevel)
    sums = np.zeros(n_items, dtype=np.float64)
    entries: Tuple[list, list] = ([], [])

    for sq in squares:
        if sq.rows.size == 0 or sq.weight == 0:
            continue
        item = rows[0, sq.rows]
        # item b * C' + c' sits at channel start + c' of image b: b * start + start channels on
        shift = (item // c * start + start) * pixels if start else 0
        values, operands = [], []
        for spec in (sq.a, sq.b):
            if isinstance(spec, float):
                values.append(spec)
                operands.append(spec)
                continue
            side = 0 if spec in (_PRED_BIRTH, _PRED_DEATH) else 1
            loc = rows[spec, sq.rows]
            v = sources[side][loc].astype(np.float64)
            values.append(1.0 - v if superlevel else v)
            operands.append((side, loc + shift))
        diff = values[0] - values[1]
        sums += np.bincount(item, weights=sq.weight * diff * diff, minlength=n_items)
        coefficient = (2.0 * sq.weight * slope) * diff
        for operand, sign in zip(operands, (1.0, -1.0)):
            if not isinstance(operand, float):
                entries[operand[0]].append((operand[1], item, sign * coefficient))
        plan.terms.append((item, sq.weight, operands))

    def joined(parts: list):
        """(locations into the flat full input, items, coefficients)."""
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.float64)
        return tuple(np.concatenate(x) for x in zip(*parts))

    sums = _SquareSums.apply(probs, target, sums, (joined(entries[0]), joined(entries[1])), plan)
    return sums.reshape(probs.shape[0], c)


def _check_any_connectivity(connectivity: Any) -> Optional[int]:
    """A connectivity valid for 2D (4, 8) or 3D (6, 26) inputs, or None (picked by the input's
    dimensions at each call); the value is checked against the input's dimensions there."""
    if connectivity is None:
        return None
    if isinstance(connectivity, bool) or not isinstance(connectivity, (int, np.integer)) or connectivity not in (4, 6, 8, 26):
        raise ValueError(
            f"connectivity must be 4 or 8 for 2D images or 6 or 26 for 3D volumes (None: 4 or 6 by the input), got {connectivity!r}"
        )
    return int(connectivity)


def _check_real(name: str, value: Any, positive: bool = False) -> float:
    """A hyper-parameter as a float: a real number (or one-element tensor), finite and
    non-negative (positive with ``positive=True``)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype.is_complex:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite {'positive' if positive else 'non-negative'} number, got {value}")
    return value


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Betti matching
# ---------------------------------------------------------------------------------------------


class BettiMatchingLoss(_ChannelLoss):
    """The Betti matching loss, per (image, class) channel, reduced over images and classes.

    Per channel and homology dimension, with ``b``, ``d`` the filtration values (``1 - p`` for
    ``filtration="superlevel"``, ``p`` for ``"sublevel"``) at the birth and death pixels::

        2·γm·Σ_matched [(b_p − b_t)² + (d_p − d_t)²] + γu·Σ_unmatched pred (b_p − d_p)²
                                                        + Σ_unmatched target (b_t − d_t)²

    With ``push_unmatched_to_1_0=True`` the unmatched terms become ``2·γu·((b_p − 1)² + d_p²)`` and
    ``2·((b_t − 1)² + d_t²)``. Unmatched prediction bars not longer than
    ``barcode_length_threshold`` are ignored. These are the conventions of the reference
    implementation (topolosses' ``BettiMatchingLoss``), whose values this loss reproduces.

    ``include_essential=True`` adds, per channel, ``2·γm·(b_p − b_t)²`` for the component that never
    dies (an empty prediction against a one-object target is then penalised; off by default, as in
    the reference).

    Args:
        include_background: use channel 0 too (default: drop it; ignored for 1-channel input).
        to_onehot_y: the target holds labels (B, 1, H, W); convert them to one-hot.
        sigmoid, softmax, other_act: the activation turning ``input`` into probabilities (at most
            one; none if ``input`` already holds probabilities).
        filtration: ``"superlevel"`` (high values are foreground) or ``"sublevel"``.
        connectivity: the foreground's connectivity (the background gets the other): 4 or 8 for
            2D images, 6 for 3D volumes; None (default) picks 4 or 6 by the input's dimensions.
        gamma_matched, gamma_unmatched: γm and γu above.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` (a (B, C') tensor).
        num_threads: threads of the native computation (None: ``RAYON_NUM_THREADS`` or all cores).
        ties: the order of equal values in the matching, which decides which features of a binary
            target (or a binary prediction) pair up: ``"index"`` (default; raster order, the
            reference's, so the values equal topolosses') or ``"distance"`` (by the distance
            transform of the binarized comparison image ``min`` of the two: deep foreground first,
            then the background nearest to it; the pairs follow where objects overlap, not where
            they lie in raster order). Continuous likelihoods rarely tie, so it mostly acts on
            the target.

    Raises (as every loss here, see the module docstring): TypeError unless ``input`` is a
    floating-point tensor and ``target`` a tensor; ValueError for tensors on different devices,
    shapes that do not fit, NaN or infinite values in the channels used, an empty batch (B = 0),
    zero channels or empty images, and hyper-parameters that are not finite and non-negative.
    """

    def __init__(
        self,
        include_background: bool = False,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Optional[Callable] = None,
        filtration: str = "superlevel",
        connectivity: Optional[int] = None,
        gamma_matched: float = 1.0,
        gamma_unmatched: float = 1.0,
        push_unmatched_to_1_0: bool = False,
        barcode_length_threshold: float = 0.0,
        reduction: str = "mean",
        num_threads: Optional[int] = None,
        include_essential: bool = False,
        ties: str = "index",
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        self.filtration = check_filtration(filtration)
        self.connectivity = _check_any_connectivity(connectivity)
        self.gamma_matched = _check_real("gamma_matched", gamma_matched)
        self.gamma_unmatched = _check_real("gamma_unmatched", gamma_unmatched)
        self.push_unmatched_to_1_0 = bool(push_unmatched_to_1_0)
        self.barcode_length_threshold = _check_real("barcode_length_threshold", barcode_length_threshold)
        self.num_threads = check_num_threads(num_threads)
        self.include_essential = bool(include_essential)
        self.ties = check_ties(ties)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_tensors(input, target)
        with _no_autocast(input.device.type):
            x, t, start = self._activate(input, target)
            return self._reduce(self.per_channel(x, t, start))

    def per_channel(self, probs: torch.Tensor, target: torch.Tensor, start: int = 0) -> torch.Tensor:
        """The loss of channels ``start:``, (B, C - start), for (B, C, H, W) or (B, C, D, H, W)
        probabilities and a target of the same shape."""
        pairs = _native_pairs(
            "betti", probs, target, start, self.filtration, self.connectivity, self.num_threads,
            self.include_essential, self.ties,
        )
        rows = pairs.rows
        kind = rows[2]
        gm, gu = self.gamma_matched, self.gamma_unmatched
        matched = np.flatnonzero(kind == _MATCHED)
        unmatched_pred = np.flatnonzero(kind == _UNMATCHED_PRED)
        unmatched_target = np.flatnonzero(kind == _UNMATCHED_TARGET)
        # unmatched predicted bars no longer than the threshold cost nothing
        values = pairs.probs.reshape(-1).astype(np.float64, copy=False)
        lengths = np.abs(values[rows[_PRED_BIRTH, unmatched_pred]] - values[rows[_PRED_DEATH, unmatched_pred]])
        unmatched_pred = unmatched_pred[lengths > self.barcode_length_threshold]
        squares = [
            _Square(matched, 2 * gm, _PRED_BIRTH, _TARGET_BIRTH),
            _Square(matched, 2 * gm, _PRED_DEATH, _TARGET_DEATH),
        ]
        if self.push_unmatched_to_1_0:
            squares += [
                _Square(unmatched_pred, 2 * gu, _PRED_BIRTH, 1.0),
                _Square(unmatched_pred, 2 * gu, _PRED_DEATH, 0.0),
                _Square(unmatched_target, 2.0, _TARGET_BIRTH, 1.0),
                _Square(unmatched_target, 2.0, _TARGET_DEATH, 0.0),
            ]
        else:
            squares += [
                _Square(unmatched_pred, gu, _PRED_BIRTH, _PRED_DEATH),
                _Square(unmatched_target, 1.0, _TARGET_BIRTH, _TARGET_DEATH),
            ]
        if self.include_essential:
            squares.append(_Square(np.flatnonzero(kind == _ESSENTIAL), 2 * gm, _PRED_BIRTH, _TARGET_BIRTH))
        return _square_sums(pairs, squares, self.filtration, probs, target)


# ---------------------------------------------------------------------------------------------
# Dice + Betti matching, and the alpha schedule
# ---------------------------------------------------------------------------------------------


def _dice_per_image(
    probs: torch.Tensor, target: torch.Tensor, kind: str, smooth_nr: float, smooth_dr: float
) -> torch.Tensor:
    """(B,) Dice loss per image: soft Dice averaged over channels, or Sudre's generalized Dice."""
    axes = list(range(2, probs.ndim))
    inter = (probs * target).sum(axes)
    ground = target.sum(axes)
    pred = probs.sum(axes)
    if kind == "dice":
        return (1.0 - (2.0 * inter + smooth_nr) / (ground + pred + smooth_dr)).mean(1)
    # generalized Dice (Sudre et al. 2017), MONAI's weighting: w = 1 / ground², absent classes get
    # the largest finite weight of their image.
    w = 1.0 / (ground * ground)
    infs = torch.isinf(w)
    w = torch.where(infs, torch.zeros_like(w), w)
    w = w + infs * w.max(1, keepdim=True).values
    numer = 2.0 * (inter * w).sum(1) + smooth_nr
    denom = ((ground + pred) * w).sum(1) + smooth_dr
    return 1.0 - numer / denom


class DiceBettiMatchingLoss(BettiMatchingLoss):
    """``Dice + alpha · BettiMatching`` (Berger et al. 2024, eq. 4).

    Takes :class:`BettiMatchingLoss`'s arguments plus:
        alpha: weight of the Betti matching term (set it per step with :class:`AlphaSchedule`;
            with ``alpha=0`` the topological term is skipped entirely).
        dice: ``"dice"`` (soft Dice, averaged over channels) or ``"generalized"`` (Sudre et al.).
        dice_include_background: channels of the Dice term: all (default, as in the reference
            implementation) or, if False, the foreground channels only. ``include_background``
            applies to the Betti matching term.
        smooth_nr, smooth_dr: Dice smoothing constants (as MONAI's DiceLoss), finite and >= 0.

    ``reduction``: ``"mean"`` (Dice averaged over images and channels, Betti matching over images
    and classes), ``"sum"`` (sums over images; Betti matching also over classes), or ``"none"``
    (per image, (B,): that image's Dice + alpha · its mean Betti matching loss over classes).
    """

    def __init__(
        self,
        include_background: bool = False,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Optional[Callable] = None,
        filtration: str = "superlevel",
        connectivity: Optional[int] = None,
        gamma_matched: float = 1.0,
        gamma_unmatched: float = 1.0,
        push_unmatched_to_1_0: bool = False,
        barcode_length_threshold: float = 0.0,
        reduction: str = "mean",
        num_threads: Optional[int] = None,
        include_essential: bool = False,
        alpha: float = 0.5,
        dice: str = "dice",
        dice_include_background: bool = True,
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        ties: str = "index",
    ) -> None:
        super().__init__(
            include_background, to_onehot_y, sigmoid, softmax, other_act, filtration, connectivity,
            gamma_matched, gamma_unmatched, push_unmatched_to_1_0, barcode_length_threshold, reduction,
            num_threads, include_essential, ties,
        )
        if dice not in ("dice", "generalized"):
            raise ValueError(f"dice must be 'dice' or 'generalized', got {dice!r}")
        self.alpha = alpha
        self.dice = dice
        self.dice_include_background = bool(dice_include_background)
        self.smooth_nr = _check_real("smooth_nr", smooth_nr)
        self.smooth_dr = _check_real("smooth_dr", smooth_dr)

    @property
    def alpha(self) -> float:
        """Weight of the Betti matching term; setting it checks the value (finite, >= 0)."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._alpha = _check_real("alpha", value)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_tensors(input, target)
        with _no_autocast(input.device.type):
            x, t, start = self._activate(input, target)
            dice_start = 0 if self.dice_include_background else start
            dice = _dice_per_image(x[:, dice_start:], t[:, dice_start:], self.dice, self.smooth_nr, self.smooth_dr)
            # Every value of the Dice channels enters its image's sums, so a NaN or infinite one
            # makes that image's Dice non-finite: checking the (B,) result costs nothing. The
            # native call checks the Betti matching channels itself.
            _check_finite_through(dice, (("input", x), ("target", t)), dice_start)
            if self.reduction == "sum":
                dice = dice * (x.shape[1] - dice_start if self.dice == "dice" else 1)
            alpha = float(self.alpha)
            if alpha == 0.0:
                topo = None
            else:
                topo = self.per_channel(x, t, start)
            if self.reduction == "none":
                return dice if topo is None else dice + alpha * topo.mean(1)
            dice = dice.mean() if self.reduction == "mean" else dice.sum()
            if topo is None:
                return dice
            return dice + alpha * (topo.mean() if self.reduction == "mean" else topo.sum())


def sigmoid_alpha(step: float, total_steps: float, alpha_max: float, warmup_steps: float = 0) -> float:
    """The paper's schedule: ``α = (2 / (1 + exp(−10·p)) − 1) · α_max`` with
    ``p = (step − warmup_steps) / total_steps``, and 0 before the warm-up ends.

    All arguments must be finite and non-negative, ``total_steps`` positive (ValueError)."""
    step = _check_real("step", step)
    total_steps = _check_real("total_steps", total_steps, positive=True)
    alpha_max = _check_real("alpha_max", alpha_max)
    warmup_steps = _check_real("warmup_steps", warmup_steps)
    if step < warmup_steps:
        return 0.0
    p = (step - warmup_steps) / total_steps
    return float((2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0) * alpha_max)


class AlphaSchedule:
    """Steps :func:`sigmoid_alpha` from a training loop and writes it into a loss's ``alpha``.

    >>> loss = DiceBettiMatchingLoss(softmax=True, to_onehot_y=True)
    >>> schedule = AlphaSchedule(loss, total_steps=10_000, alpha_max=0.5, warmup_steps=500)
    >>> # in the loop, after optimizer.step():  schedule.step()
    """

    def __init__(self, loss: Optional[Any], total_steps: int, alpha_max: float, warmup_steps: int = 0) -> None:
        _check_real("total_steps", total_steps, positive=True)
        _check_real("warmup_steps", warmup_steps)
        self.loss = loss
        self.total_steps = total_steps
        self.alpha_max = _check_real("alpha_max", alpha_max)
        self.warmup_steps = warmup_steps
        self.last_step = 0
        self._apply()

    @property
    def alpha(self) -> float:
        return sigmoid_alpha(self.last_step, self.total_steps, self.alpha_max, self.warmup_steps)

    def _apply(self) -> None:
        if self.loss is not None:
            self.loss.alpha = self.alpha

    def step(self) -> float:
        """Advance one step; returns the new alpha."""
        self.last_step += 1
        self._apply()
        return self.alpha

    def state_dict(self) -> dict:
        return {"last_step": self.last_step}

    def load_state_dict(self, state: dict) -> None:
        self.last_step = _check_count("last_step", state["last_step"])
        self._apply()


# ---------------------------------------------------------------------------------------------
# Baselines: clDice and the persistence-diagram loss of Hu et al.
# ---------------------------------------------------------------------------------------------


def _soft_erode(x: torch.Tensor) -> torch.Tensor:
    """Min over the cross-shaped neighbourhood: the minimum of the axis-wise 3-pixel min-pools."""
    if x.ndim == 5:
        a = -F.max_pool3d(-x, (3, 1, 1), (1, 1, 1), (1, 0, 0))
        b = -F.max_pool3d(-x, (1, 3, 1), (1, 1, 1), (0, 1, 0))
        c = -F.max_pool3d(-x, (1, 1, 3), (1, 1, 1), (0, 0, 1))
        return torch.minimum(torch.minimum(a, b), c)
    a = -F.max_pool2d(-x, (3, 1), (1, 1), (1, 0))
    b = -F.max_pool2d(-x, (1, 3), (1, 1), (0, 1))
    return torch.minimum(a, b)


def _soft_dilate(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 5:
        return F.max_pool3d(x, (3, 3, 3), (1, 1, 1), (1, 1, 1))
    return F.max_pool2d(x, (3, 3), (1, 1), (1, 1))


def soft_skeleton(x: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    """Soft skeleton of (B, C, H, W) maps or (B, C, D, H, W) volumes by iterated min/max pooling
    (Shit et al. 2021; in 3D the erosion is the minimum of the three axis-wise min-pools, the
    dilation a 3x3x3 max-pool, as in their reference code)."""
    if x.ndim not in (4, 5):
        raise ValueError(f"soft_skeleton expects (B, C, H, W) or (B, C, D, H, W), got {tuple(x.shape)}")
    iterations = _check_count("iterations", iterations)
    skel = F.relu(x - _soft_dilate(_soft_erode(x)))
    for _ in range(iterations):
        x = _soft_erode(x)
        delta = F.relu(x - _soft_dilate(_soft_erode(x)))
        skel = skel + F.relu(delta - skel * delta)
    return skel


class ClDiceLoss(_ChannelLoss):
    """Soft clDice loss (Shit et al., CVPR 2021), per (image, class) channel::

        1 − 2·Tprec·Tsens / (Tprec + Tsens),  Tprec = (Σ S(p)·t + s) / (Σ S(p) + s),
                                               Tsens = (Σ S(t)·p + s) / (Σ S(t) + s)

    with ``S`` the soft skeleton after ``iterations`` rounds (:func:`soft_skeleton`) and ``s`` =
    ``smooth``. Other arguments, and the checks of the inputs, as :class:`BettiMatchingLoss`.
    Combine it with a Dice loss yourself (the paper's baseline uses ``(1 − α)·Dice + α·clDice``).
    """

    def __init__(
        self,
        iterations: int = 3,
        smooth: float = 1e-5,
        include_background: bool = False,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Optional[Callable] = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        self.iterations = _check_count("iterations", iterations)
        self.smooth = _check_real("smooth", smooth)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_tensors(input, target)
        with _no_autocast(input.device.type):
            x, t, start = self._activate(input, target)
            xs, ts = x[:, start:], t[:, start:]
            sp, st = soft_skeleton(xs, self.iterations), soft_skeleton(ts, self.iterations)
            s = self.smooth
            tprec = ((sp * ts).sum((2, 3)) + s) / (sp.sum((2, 3)) + s)
            tsens = ((st * xs).sum((2, 3)) + s) / (st.sum((2, 3)) + s)
            per_channel = 1.0 - 2.0 * tprec * tsens / (tprec + tsens)
            # A NaN or infinite value reaches its channel's soft skeleton (pooling, minimum and
            # relu all propagate NaN; an infinity meets a zero or another infinity in the sums),
            # so checking the (B, C') result finds it without a pass over the tensors.
            _check_finite_through(per_channel, (("input", x), ("target", t)), start)
            return self._reduce(per_channel)


class HuTopoLoss(_ChannelLoss):
    """The persistence-diagram loss of Hu et al. (NeurIPS 2019), per (image, class) channel.

    The finite bars of dimensions 0 and 1 of prediction and target are matched optimally (exact
    assignment, computed natively), a bar may also go to the diagonal; the loss is the cost of that
    matching, the squared 2-Wasserstein distance between the diagrams::

        Σ_matched [(b_p − b_t)² + (d_p − d_t)²] + ½·Σ_unmatched pred (b_p − d_p)²
                                                + ½·Σ_unmatched target (b_t − d_t)²

    Unlike Betti matching, the matching ignores where the features are. Arguments, and the checks
    of the inputs, as :class:`BettiMatchingLoss`.
    """

    def __init__(
        self,
        include_background: bool = False,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Optional[Callable] = None,
        filtration: str = "superlevel",
        connectivity: Optional[int] = None,
        reduction: str = "mean",
        num_threads: Optional[int] = None,
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        self.filtration = check_filtration(filtration)
        self.connectivity = _check_any_connectivity(connectivity)
        self.num_threads = check_num_threads(num_threads)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_tensors(input, target)
        with _no_autocast(input.device.type):
            x, t, start = self._activate(input, target)
            return self._reduce(self.per_channel(x, t, start))

    def per_channel(self, probs: torch.Tensor, target: torch.Tensor, start: int = 0) -> torch.Tensor:
        """The loss of channels ``start:``, (B, C - start), for (B, C, H, W) or (B, C, D, H, W)
        probabilities and a target of the same shape."""
        pairs = _native_pairs("diagram", probs, target, start, self.filtration, self.connectivity, self.num_threads)
        kind = pairs.rows[2]
        matched = np.flatnonzero(kind == _MATCHED)
        squares = [
            _Square(matched, 1.0, _PRED_BIRTH, _TARGET_BIRTH),
            _Square(matched, 1.0, _PRED_DEATH, _TARGET_DEATH),
            _Square(np.flatnonzero(kind == _UNMATCHED_PRED), 0.5, _PRED_BIRTH, _PRED_DEATH),
            _Square(np.flatnonzero(kind == _UNMATCHED_TARGET), 0.5, _TARGET_BIRTH, _TARGET_DEATH),
        ]
        return _square_sums(pairs, squares, self.filtration, probs, target)
