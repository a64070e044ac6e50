"""torchmetrics adapter: :class:`BettiMatchingError`, a ``torchmetrics.Metric``.

Needs torchmetrics (``pip install 'bettimatch[torchmetrics]'``)::

    metric = BettiMatchingError(num_classes=3)
    for preds, target in loader:
        metric.update(preds, target)   # one-hot (B, C, H, W) or label maps with num_classes
    value = metric.compute()           # mean over images and foreground classes
"""

from __future__ import annotations

from typing import Any, Optional

try:
    import torch
    from torchmetrics import Metric
    from torchmetrics.utilities import dim_zero_cat
except ImportError as exc:  # pragma: no cover - exercised only without torchmetrics
    raise ImportError(
        "bettimatch.torchmetrics needs torchmetrics and torch: pip install 'bettimatch[torchmetrics]'"
        " (or pip install torchmetrics)"
    ) from exc

from .metrics import _check_options, compute_betti_matching_error

__all__ = ["BettiMatchingError"]

_REDUCTIONS = ("mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel", "none")


def reduce_values(f: torch.Tensor, reduction: str) -> torch.Tensor:
    """MONAI's reductions over the (image, class) axes, NaNs left out (a trailing per-dimension
    axis is kept). "mean" averages over classes first, then over images."""
    if reduction == "none":
        return f
    nans = torch.isnan(f)
    count = (~nans).to(f.dtype)
    g = torch.where(nans, torch.zeros_like(f), f)

    def mean(x: torch.Tensor, n: torch.Tensor, dim: int):
        s, k = x.sum(dim=dim), n.sum(dim=dim)
        return torch.where(k > 0, s / k.clamp(min=1), torch.zeros_like(s)), (k > 0).to(f.dtype)

    if reduction == "mean":
        m, has = mean(g, count, 1)
        return mean(m, has, 0)[0]
    if reduction == "sum":
        return g.sum(dim=(0, 1))
    if reduction == "mean_batch":
        return mean(g, count, 0)[0]
    if reduction == "sum_batch":
        return g.sum(dim=0)
    if reduction == "mean_channel":
        return mean(g, count, 1)[0]
    return g.sum(dim=1)  # sum_channel


class BettiMatchingError(Metric):
    """Betti matching error per image and class, accumulated over ``update`` calls.

    ``update(preds, target)`` takes one-hot ``(B, C, H, W)`` tensors (boolean, or binarized as
    ``x > threshold``) or label maps ``(B, H, W)`` / ``(B, 1, H, W)`` with ``num_classes``.
    ``compute()`` reduces all values with ``reduction`` (MONAI's names: "mean" (default), "sum",
    "mean_batch", "sum_batch", "mean_channel", "sum_channel", "none" for the (N, C') values);
    ``per_dimension=True`` keeps a trailing axis for dimensions 0 and 1. The values are gathered
    across processes with ``dist_reduce_fx="cat"``. ``ties``: the matching's order of equal
    values, as in :func:`bettimatch.betti_matching_error`.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(
        self,
        include_background: bool = False,
        num_classes: Optional[int] = None,
        per_dimension: bool = False,
        reduction: str = "mean",
        connectivity: Optional[int] = None,
        num_threads: Optional[int] = None,
        threshold: float = 0.5,
        ties: str = "index",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_options(num_classes, connectivity, num_threads, threshold, ties)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}; got {reduction!r}")
        self.include_background = include_background
        self.num_classes = num_classes
        self.per_dimension = per_dimension
        self.reduction = reduction
        self.connectivity = connectivity
        self.num_threads = num_threads
        self.threshold = threshold
        self.ties = ties
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        values = compute_betti_matching_error(
            preds,
            target,
            include_background=self.include_background,
            num_classes=self.num_classes,
            per_dimension=self.per_dimension,
            num_threads=self.num_threads,
            connectivity=self.connectivity,
            threshold=self.threshold,
            ties=self.ties,
        )
        self.values.append(torch.as_tensor(values, dtype=torch.float32, device=self.device))

    def compute(self) -> torch.Tensor:
        if not self.values:
            raise ValueError("BettiMatchingError.compute() called before any update()")
        return reduce_values(dim_zero_cat(self.values), self.reduction)
