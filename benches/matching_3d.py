"""3D Betti matching (connectivity 6, likelihood vs mask) against Betti-Matching-3D, each candidate
in its own process: median seconds of `--repeat` calls and the process's peak RSS.

    python benches/matching_3d.py [--sizes 32,64,128] [--kinds smooth,noise] [--repeat 3]
                                  [--threads 1,2] [--reference-max 128]

Run from the repository root with the test venv (topolosses installed for the reference). The
volumes are seeded: `smooth` is a Gaussian-filtered noise likelihood against the mask of another
such field, `noise` is white noise against the same kind of mask, `masks` two binary masks
(bettimatch's metric mask path; the reference on 1 - mask, its way to filter the foreground). Peak RSS is the worker's
`ru_maxrss` (inputs included: the same for every candidate) next to its RSS before the first call.
The reference runs once per size above 64³ (it takes seconds to minutes there); `--timeout`
bounds each worker.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np


def volumes(size: int, kind: str):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(size)
    shape = (size, size, size)
    target_field = gaussian_filter(rng.standard_normal(shape), 3.0)
    target = (target_field > 0.0).astype(np.float64)
    if kind == "smooth":
        pred = gaussian_filter(target + 0.7 * rng.standard_normal(shape), 2.0)
        pred = (pred - pred.min()) / (pred.max() - pred.min())
    elif kind == "noise":
        pred = rng.random(shape)
    elif kind == "masks":
        # Two binary masks: the Betti matching error of a segmentation against its ground truth.
        pred = gaussian_filter(target + 0.7 * rng.standard_normal(shape), 2.0)
        pred = (pred > 0.5).astype(np.float64)
    else:
        raise ValueError(kind)
    return np.ascontiguousarray(pred), np.ascontiguousarray(target)


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(candidate: str, size: int, kind: str, repeat: int) -> dict:
    pred, target = volumes(size, kind)
    if candidate.startswith("bettimatch"):
        import bettimatch as bm

        threads = int(candidate.split(":")[1])
        if kind == "masks":
            # The metric's mask path (the foreground's superlevel set, as the reference's 1 - mask).
            from bettimatch.metrics import compute_betti_matching_error

            p, t = (pred > 0.5)[None, None], (target > 0.5)[None, None]
            run = lambda: compute_betti_matching_error(p, t, include_background=True, num_threads=threads)
        else:
            # Sublevel on the arrays as given: the reference's own convention.
            run = lambda: bm.betti_matching_batch([pred], [target], filtration="sublevel", num_threads=threads)
    else:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
        from conftest import _reference

        ref, why = _reference()
        if ref is None:
            return {"skipped": why}
        if kind == "masks":
            pred, target = 1.0 - pred, 1.0 - target
        run = lambda: ref.compute_matching(pred, target)
    before = rss_mib()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": statistics.median(times), "peak_mib": peak, "before_mib": before}


def measure(candidate: str, size: int, kind: str, repeat: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", candidate, str(size), kind, str(repeat)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    except subprocess.CalledProcessError as e:
        return {"failed": e.stderr.strip().splitlines()[-1:] or ["?"]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, candidate, size, kind, repeat = sys.argv
        print(json.dumps(worker(candidate, int(size), kind, int(repeat))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32,64,128")
    parser.add_argument("--kinds", default="smooth,noise")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--reference-max", type=int, default=128, help="largest size the reference runs at")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    candidates = [f"bettimatch:{t}" for t in args.threads.split(",")] + ["reference"]
    print(f"{'kind':6} {'size':>5} {'candidate':26} {'median s':>9} {'peak MiB':>9} {'ratio':>7}")
    for kind in args.kinds.split(","):
        for size in sizes:
            results = {}
            for cand in candidates:
                if cand == "reference" and size > args.reference_max:
                    continue
                repeat = args.repeat if (cand != "reference" or size <= 64) else 1
                results[cand] = measure(cand, size, kind, repeat, args.timeout)
            ref = results.get("reference", {}).get("seconds")
            for cand, r in results.items():
                name = "Betti-Matching-3D" if cand == "reference" else f"bettimatch ({cand.split(':')[1]} thr)"
                if "seconds" not in r:
                    print(f"{kind:6} {size:>5} {name:26} {json.dumps(r)}")
                    continue
                ratio = f"{ref / r['seconds']:6.1f}x" if ref and cand != "reference" else ""
                print(f"{kind:6} {size:>5} {name:26} {r['seconds']:9.3f} {r['peak_mib']:9.0f} {ratio:>7}", flush=True)


if __name__ == "__main__":
    main()
