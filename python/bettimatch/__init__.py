"""bettimatch: fast, exact Betti matching for topology-aware image segmentation."""

from ._core import __version__
from ._persistence import (
    Barcode,
    BettiMatching,
    barcode,
    barcode_batch,
    betti_matching,
    betti_matching_batch,
)
from .evaluation import evaluate_folders
from .metrics import betti_matching_error, betti_number_error, cldice, dice

__all__ = [
    "Barcode",
    "BettiMatching",
    "__version__",
    "barcode",
    "barcode_batch",
    "betti_matching",
    "betti_matching_batch",
    "betti_matching_error",
    "betti_number_error",
    "cldice",
    "dice",
    "evaluate_folders",
]

# The torch losses live in `bettimatch.losses`; they are importable from here too, but torch is
# only imported when one of them is first used.
_LOSSES = (
    "AlphaSchedule",
    "BettiMatchingLoss",
    "ClDiceLoss",
    "DiceBettiMatchingLoss",
    "HuTopoLoss",
    "sigmoid_alpha",
)


def __getattr__(name):
    if name in _LOSSES:
        from . import losses

        return getattr(losses, name)
    # Not in __all__, so that `from bettimatch import *` works without matplotlib.
    if name == "plot_matching":  # matplotlib is imported only when a picture is drawn
        from .plot import plot_matching

        return plot_matching
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
