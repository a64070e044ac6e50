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

__all__ = [
    "Barcode",
    "BettiMatching",
    "__version__",
    "barcode",
    "barcode_batch",
    "betti_matching",
    "betti_matching_batch",
]
