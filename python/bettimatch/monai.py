"""MONAI adapter: :class:`BettiMatchingErrorMetric`, a ``CumulativeIterationMetric``.

Needs MONAI (``pip install 'bettimatch[monai]'``). Use it like MONAI's ``DiceMetric``::

    metric = BettiMatchingErrorMetric(include_background=False, reduction="mean")
    for batch in loader:
        metric(y_pred=onehot_pred, y=onehot_label)  # (B, C, H, W), or label maps with num_classes
    value = metric.aggregate()                       # a scalar tensor ("mean")
    metric.reset()
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Union

try:
    import torch
    from monai.metrics import CumulativeIterationMetric
    from monai.metrics.utils import do_metric_reduction
    from monai.utils import MetricReduction
except ImportError as exc:  # pragma: no cover - exercised only without MONAI
    raise ImportError(
        "bettimatch.monai needs MONAI and torch: pip install 'bettimatch[monai]' (or pip install monai)"
    ) from exc

from .metrics import _check_options, compute_betti_matching_error

__all__ = ["BettiMatchingErrorMetric"]


class BettiMatchingErrorMetric(CumulativeIterationMetric):
    """Betti matching error per image and class, accumulated over iterations (MONAI style).

    Each call takes ``y_pred`` and ``y`` as batch-first tensors (one-hot ``(B, C, H, W)``, boolean
    or binarized as ``x > threshold``; or label maps ``(B, 1, H, W)`` with ``num_classes``) or as
    lists of channel-first tensors, and returns the ``(B, C')`` float32 errors (``(B, C', 2)`` with
    ``per_dimension=True``). :meth:`aggregate` reduces everything buffered since the last
    :meth:`reset` with ``reduction`` (MONAI's names: "mean", "sum", "mean_batch", "sum_batch",
    "mean_channel", "sum_channel", "none"); with ``get_not_nans=True`` it also returns the counts
    of non-NaN values. The error is never NaN; the essential component is counted as in
    :func:`bettimatch.betti_matching_error`. All images and classes of a call go to the native
    code at once, on ``num_threads`` threads (None: all cores). ``ties``: the matching's order of
    equal values, as in :func:`bettimatch.betti_matching_error`.
    """

    def __init__(
        self,
        include_background: bool = False,
        reduction: Union[MetricReduction, str] = MetricReduction.MEAN,
        get_not_nans: bool = False,
        per_dimension: bool = False,
        num_classes: Optional[int] = None,
        connectivity: Optional[int] = None,
        num_threads: Optional[int] = None,
        threshold: float = 0.5,
        ties: str = "index",
    ) -> None:
        super().__init__()
        _check_options(num_classes, connectivity, num_threads, threshold, ties)
        MetricReduction(reduction)  # an unknown name fails here, not at aggregate()
        self.include_background = include_background
        self.reduction = reduction
        self.get_not_nans = get_not_nans
        self.per_dimension = per_dimension
        self.num_classes = num_classes
        self.connectivity = connectivity
        self.num_threads = num_threads
        self.threshold = threshold
        self.ties = ties

    def _compute_tensor(self, y_pred: torch.Tensor, y: Optional[torch.Tensor] = None, **kwargs: Any) -> torch.Tensor:
        if y is None:
            raise ValueError("BettiMatchingErrorMetric needs the ground truth y")
        values = compute_betti_matching_error(
            y_pred,
            y,
            include_background=self.include_background,
            num_classes=self.num_classes,
            per_dimension=self.per_dimension,
            num_threads=self.num_threads,
            connectivity=self.connectivity,
            threshold=self.threshold,
            ties=self.ties,
        )
        return torch.as_tensor(values, dtype=torch.float32, device=y_pred.device)

    def _compute_list(self, y_pred: Sequence[torch.Tensor], y: Optional[Sequence[torch.Tensor]] = None, **kwargs: Any):
        # Channel-first items of one shape are stacked so that the whole list is one native call.
        if y is not None and len(y_pred) and len({tuple(p.shape) for p in y_pred}) == 1 and len({tuple(t.shape) for t in y}) == 1:
            return self._compute_tensor(torch.stack([p.detach() for p in y_pred]), torch.stack([t.detach() for t in y]))
        return super()._compute_list(y_pred, y, **kwargs)

    def aggregate(self, reduction: Union[MetricReduction, str, None] = None):
        """The buffered values reduced with ``reduction`` (default: the one given at construction)."""
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError(f"the data to aggregate must be a PyTorch Tensor, got {type(data)}")
        f, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (f, not_nans) if self.get_not_nans else f
