"""3D training loss: forward + backward of ``DiceBettiMatchingLoss`` on softmax volumes against the
reference path (topolosses' ``BettiMatchingLoss``: Betti-Matching-3D per image and class, then the
gathers), in the same run, alternating the candidates; medians of ``--repeat`` steps.

    python benches/loss_3d.py [--cases 2x3x48,2x3x64] [--repeat 5] [--big 2x3x128]

``--big`` cases run ours only (one nnU-Net-sized patch; the reference takes minutes there). The
logits are a smoothed one-hot of smoothed random labels plus noise, as a network's output part way
through training; the targets are the one-hot labels. Both losses get the same logits; the test
suite checks that they give the same value (tests/test_losses_volumes.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from scipy import ndimage


def problem(batch: int, classes: int, size: int, seed: int = 7) -> Tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    fields = ndimage.uniform_filter(rng.random((batch, classes, size, size, size)), size=(1, 1, 9, 9, 9))
    labels = fields.argmax(axis=1)
    onehot = np.eye(classes, dtype=np.float32)[labels].transpose(0, 4, 1, 2, 3)
    noisy = onehot + 0.6 * rng.random(onehot.shape)
    logits = 4.0 * ndimage.uniform_filter(noisy, size=(1, 1, 3, 3, 3)) - 2.0
    return torch.from_numpy(logits.astype(np.float32)), torch.from_numpy(np.ascontiguousarray(onehot))


def step(loss_fn, logits: torch.Tensor, target: torch.Tensor) -> Callable[[], float]:
    def run() -> float:
        x = logits.clone().requires_grad_(True)
        loss = loss_fn(x, target)
        loss.backward()
        return float(loss.detach())

    return run


def candidates() -> List[Tuple[str, object]]:
    from bettimatch.losses import DiceBettiMatchingLoss

    out = [("bettimatch DiceBettiMatchingLoss", DiceBettiMatchingLoss(softmax=True, alpha=0.5))]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from topolosses.losses import BettiMatchingLoss
        out.append(("topolosses BettiMatchingLoss (Betti-Matching-3D)", BettiMatchingLoss(softmax=True, alpha=0.5)))
    except Exception as e:  # pragma: no cover - reference not installed
        print(f"reference skipped: {type(e).__name__}: {e}")
    return out


def parse_case(text: str) -> Tuple[int, int, int]:
    b, c, s = (int(v) for v in text.lower().split("x"))
    return b, c, s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="2x3x48")
    parser.add_argument("--big", default="2x3x128")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    cands = candidates()
    print(f"{os.cpu_count()} cores; medians of {args.repeat} forward+backward steps")
    for case in filter(None, args.cases.split(",")):
        b, c, s = parse_case(case)
        logits, target = problem(b, c, s)
        runs = [(name, step(fn, logits, target)) for name, fn in cands]
        values = {name: run() for name, run in runs}  # warm-up, and the values side by side
        times: Dict[str, List[float]] = {name: [] for name, _ in runs}
        for _ in range(args.repeat):
            for name, run in runs:
                t0 = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - t0)
        base = statistics.median(times[runs[0][0]])
        for name, _ in runs:
            t = statistics.median(times[name])
            print(f"{b}x{c}x{s}³  {name:50} {t * 1e3:9.1f} ms  x{t / base:5.1f}  loss {values[name]:.6f}")
    for case in filter(None, args.big.split(",")):
        b, c, s = parse_case(case)
        logits, target = problem(b, c, s)
        run = step(cands[0][1], logits, target)
        run()
        t = statistics.median([_timed(run) for _ in range(max(1, args.repeat // 2))])
        print(f"{b}x{c}x{s}³  {cands[0][0]:50} {t:9.2f} s")


def _timed(run: Callable[[], float]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
