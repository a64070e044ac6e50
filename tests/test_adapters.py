"""MONAI and torchmetrics adapters (skipped when the framework is not installed)."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
from scipy import ndimage as ndi

from bettimatch.metrics import compute_betti_matching_error

torch = pytest.importorskip("torch")

C = 3


def label_batch(seed: int, b: int = 3, shape=(16, 20)):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([ndi.gaussian_filter(rng.standard_normal((C,) + shape), (0, 1.5, 1.5)).argmax(0) for _ in range(b)]))


def onehot(labels):
    return torch.nn.functional.one_hot(labels, C).permute(0, 3, 1, 2)


@pytest.fixture(scope="module")
def batches():
    return [(label_batch(s), label_batch(s + 10)) for s in range(3)]


def test_monai_metric(batches):
    pytest.importorskip("monai")
    from monai.metrics.utils import do_metric_reduction

    from bettimatch.monai import BettiMatchingErrorMetric

    metric = BettiMatchingErrorMetric(include_background=False, reduction="mean", get_not_nans=True)
    expected = []
    for yp, y in batches:
        out = metric(y_pred=onehot(yp), y=onehot(y))
        want = compute_betti_matching_error(yp, y, num_classes=C)
        assert out.shape == (3, C - 1) and out.dtype == torch.float32
        assert np.array_equal(out.numpy(), want)
        expected.append(want)
    allv = np.concatenate(expected)
    value, not_nans = metric.aggregate()
    assert float(value) == pytest.approx(allv.mean(1).mean())
    assert float(not_nans) == allv.shape[0]
    for reduction in ("sum", "mean_batch", "mean_channel", "none"):
        got = metric.aggregate(reduction)[0]
        ref = do_metric_reduction(torch.as_tensor(allv, dtype=torch.float32), reduction)[0]
        assert torch.allclose(got, ref)
    metric.reset()
    # Label maps (B, 1, H, W) with num_classes, per dimension, and lists of channel-first tensors.
    m2 = BettiMatchingErrorMetric(num_classes=C, per_dimension=True, include_background=True, reduction="mean_batch")
    yp, y = batches[0]
    out = m2([t for t in yp[:, None]], [t for t in y[:, None]])
    want = compute_betti_matching_error(yp, y, num_classes=C, per_dimension=True, include_background=True)
    assert out.shape == (3, C, 2) and np.array_equal(out.numpy(), want)
    assert torch.allclose(m2.aggregate(), torch.as_tensor(want, dtype=torch.float32).mean(0))
    # Mixed shapes in a list fall back to one item at a time.
    m3 = BettiMatchingErrorMetric(num_classes=C)
    small = label_batch(5, 1, (8, 9))
    out = m3([yp[0][None], small[0][None]], [y[0][None], small[0][None]])
    assert out.shape == (2, C - 1) and float(out[1].sum()) == 0.0
    with pytest.raises(ValueError, match="ground truth"):
        m3(onehot(yp))


def test_torchmetrics_metric(batches):
    pytest.importorskip("torchmetrics")
    from bettimatch.torchmetrics import BettiMatchingError, reduce_values

    metric = BettiMatchingError(num_classes=C)
    allv = []
    for yp, y in batches:
        metric.update(yp, y)
        allv.append(compute_betti_matching_error(yp, y, num_classes=C))
    allv = np.concatenate(allv)
    assert float(metric.compute()) == pytest.approx(allv.mean())
    metric.reset()
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="before any update"):
        metric.compute()
    per_dim = BettiMatchingError(num_classes=C, per_dimension=True, reduction="mean_batch", include_background=True)
    yp, y = batches[1]
    per_dim.update(onehot(yp), onehot(y))
    want = compute_betti_matching_error(yp, y, num_classes=C, per_dimension=True, include_background=True)
    assert torch.allclose(per_dim.compute(), torch.as_tensor(want, dtype=torch.float32).mean(0))
    with pytest.raises(ValueError, match="reduction"):
        BettiMatchingError(reduction="median")
    # The reductions agree with MONAI's, NaNs included.
    monai_utils = pytest.importorskip("monai.metrics.utils")
    f = torch.tensor([[1.0, float("nan")], [3.0, 4.0], [float("nan"), float("nan")]])
    for reduction in ("mean", "sum", "mean_batch", "sum_batch", "mean_channel", "sum_channel"):
        ref = monai_utils.do_metric_reduction(f.clone(), reduction)[0]
        assert torch.allclose(reduce_values(f.clone(), reduction), ref.reshape(reduce_values(f.clone(), reduction).shape))


@pytest.mark.parametrize("module, framework, extra", [("bettimatch.monai", "monai", "monai"), ("bettimatch.torchmetrics", "torchmetrics", "torchmetrics")])
def test_clear_message_when_the_framework_is_missing(monkeypatch, module, framework, extra):
    monkeypatch.delitem(sys.modules, module, raising=False)
    for name in list(sys.modules):
        if name == framework or name.startswith(framework + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, framework, None)
    with pytest.raises(ImportError, match=rf"pip install 'bettimatch\[{extra}\]'"):
        importlib.import_module(module)
    monkeypatch.delitem(sys.modules, module, raising=False)


def _adapter(name):
    if name == "monai":
        pytest.importorskip("monai")
        from bettimatch.monai import BettiMatchingErrorMetric

        return BettiMatchingErrorMetric
    pytest.importorskip("torchmetrics")
    from bettimatch.torchmetrics import BettiMatchingError

    return BettiMatchingError


@pytest.mark.parametrize("adapter", ["monai", "torchmetrics"])
@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(threshold=float("nan")), "threshold must be a finite number"),
        (dict(threshold="0.5"), "threshold must be a finite number"),
        (dict(num_classes=0), "num_classes must be a positive integer"),
        (dict(num_classes=2.0), "num_classes must be a positive integer"),
        (dict(connectivity=5), "connectivity must be 4 or 8"),
        (dict(num_threads=0), "num_threads must be an integer between 1 and"),
        (dict(reduction="median"), "median"),
    ],
)
def test_adapters_check_their_options_when_constructed(adapter, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _adapter(adapter)(**kwargs)


@pytest.mark.parametrize("adapter", ["monai", "torchmetrics"])
def test_adapters_with_uint8_labels_and_many_classes(adapter):
    # uint8 label maps with num_classes > 256 (the class indices used to wrap in the label dtype)
    yp, y = label_batch(20), label_batch(21)
    metric = _adapter(adapter)(num_classes=300, reduction="none")
    if adapter == "monai":
        narrow = metric(yp.to(torch.uint8)[:, None], y.to(torch.uint8)[:, None])
    else:
        metric.update(yp.to(torch.uint8), y.to(torch.uint8))
        narrow = metric.compute()
    want = compute_betti_matching_error(yp.numpy(), y.numpy(), num_classes=300)
    assert narrow.shape == (3, 299) and np.array_equal(narrow.numpy(), want)
    assert not narrow[:, C:].any()
