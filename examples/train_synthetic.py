"""Train a small residual U-Net on synthetic multi-class images (or, with --3d, volumes), once
with Dice alone and once with Dice + Betti matching (same seed, same steps), and compare the
topology of the results on held-out data.

The images: cells outlined by a membrane (a ring, class 1) whose brightness fades along parts of
its circumference, small organelles inside the cells (class 2), and thin branching filaments
(class 3), under noise, blur and uneven illumination. A pixel-wise loss is happy to leave gaps in
faint membranes and filaments; the Betti matching loss penalises every component and hole that has
no spatially matching partner in the ground truth.

The volumes (--3d): a hollow ellipsoidal shell (class 2) whose cavity must stay closed, a ring-shaped
tube whose loop must stay closed and one or two curved tubes that must stay in one piece (class 1),
each with a faint patch or stretch, under the same kind of noise, blur and illumination. The table
then has a b2 (cavity) column; clDice thins volumes with Lee et al.'s 3D thinning.

    python examples/train_synthetic.py                              # both runs: ~4 min on 2 idle cores
    python examples/train_synthetic.py --steps 600 --width 12 \
        --train-images 400                                          # under a minute, noisier
    python examples/train_synthetic.py --3d                         # 24^3 volumes: under 2 min of CPU
    python examples/train_synthetic.py --3d --size 32 --steps 400   # larger volumes, longer
    python examples/train_synthetic.py --ties both                  # also a run whose loss matches
                                                                    # the targets by ties="distance"

Needs numpy and torch (CPU is fine); tqdm for a nicer progress bar.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bettimatch import metrics
from bettimatch.losses import AlphaSchedule, DiceBettiMatchingLoss

CLASSES = ["background", "membrane", "organelle", "filament"]
CLASSES_3D = ["background", "tube", "shell"]


# ------------------------------------------------------------------------------- data: images


def _disc(yy, xx, cy, cx, ry, rx, angle):
    c, s = math.cos(angle), math.sin(angle)
    dy, dx = yy - cy, xx - cx
    u, v = (c * dx + s * dy) / rx, (-s * dx + c * dy) / ry
    return np.sqrt(u * u + v * v), np.arctan2(v, u)


def _filament(rng, size, labels, forbidden):
    """A random branching curve, 1 px wide and 4-connected, drawn where `forbidden` is False."""
    free = np.argwhere(~forbidden[4:-4, 4:-4]) + 4
    y, x = free[rng.integers(len(free))].astype(float)
    stack = [(y, x, rng.uniform(0, 2 * math.pi), int(rng.integers(30, 50)))]
    branches = 0
    while stack:
        y, x, heading, length = stack.pop()
        py, px = int(round(y)), int(round(x))
        for step in range(length):
            for _turn in range(6):  # steer around cells and the border
                h = heading + rng.normal(0, 0.2)
                ny, nx = y + math.sin(h), x + math.cos(h)
                iy, ix = int(round(ny)), int(round(nx))
                if 1 <= iy < size - 1 and 1 <= ix < size - 1 and not forbidden[iy, ix] and not forbidden[py, ix]:
                    break
                heading += rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
            else:
                break
            heading, y, x = h, ny, nx
            if iy != py and ix != px:
                labels[py, ix] = 3  # keep the curve 4-connected
            labels[iy, ix] = 3
            py, px = iy, ix
            if step > 5 and branches < 3 and rng.random() < 0.06:
                branches += 1
                turn = rng.choice([-1, 1]) * rng.uniform(0.6, 1.2)
                stack.append((y, x, heading + turn, int(rng.integers(12, 30))))


def make_image(rng: np.random.Generator, size: int = 64):
    """One (image, label map) pair."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    labels = np.zeros((size, size), np.int64)
    image = np.full((size, size), 0.15)
    cells = np.zeros((size, size), bool)
    membrane_gain = np.ones((size, size))
    for _ in range(int(rng.integers(1, 4))):
        for _attempt in range(20):
            ry, rx = rng.uniform(7, 12, 2)
            cy, cx = rng.uniform(ry + 1, size - ry - 1), rng.uniform(rx + 1, size - rx - 1)
            angle = rng.uniform(0, math.pi)
            r, theta = _disc(yy, xx, cy, cx, ry + 2, rx + 2, angle)
            if not (cells & (r <= 1.15)).any():
                break
        else:
            continue
        r, theta = _disc(yy, xx, cy, cx, ry, rx, angle)
        inside, ring = r < 1 - 2.2 / min(ry, rx), (r <= 1) & (r >= 1 - 2.2 / min(ry, rx))
        cells |= r <= 1
        labels[ring] = 1
        image[inside] = 0.35  # cytoplasm: background class, brighter than outside
        # the membrane fades along one or two arcs
        fade = np.ones_like(r)
        for _k in range(int(rng.integers(1, 3))):
            phase = rng.uniform(-math.pi, math.pi)
            d = np.angle(np.exp(1j * (theta - phase)))
            fade -= 0.55 * np.exp(-(d / 0.35) ** 2)
        membrane_gain[ring] = fade[ring]
        # organelles: small discs strictly inside
        for _k in range(int(rng.integers(1, 4))):
            oy, ox = rng.uniform(-0.45, 0.45, 2)
            c, s = math.cos(angle), math.sin(angle)
            py, px = cy + s * ox * rx + c * oy * ry, cx + c * ox * rx - s * oy * ry
            rad = rng.uniform(1.5, 3.0)
            org = ((yy - py) ** 2 + (xx - px) ** 2 <= rad * rad) & inside
            labels[org] = 2
    for _ in range(int(rng.integers(1, 3))):
        _filament(rng, size, labels, cells)
    image[labels == 1] = 0.15 + 0.6 * membrane_gain[labels == 1]
    image[labels == 2] = 0.9
    image[labels == 3] = 0.65
    return image, labels


# ------------------------------------------------------------------------------ data: volumes


def _unit(rng):
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _draw_tube(points, radius, grid, labels, gain, rng):
    """Label the voxels within `radius` of the polyline `points` (n, 3) as tube (class 1); the
    contrast fades around one point of its length."""
    d2 = ((grid[:, None, :] - points[None, :, :]) ** 2).sum(-1)  # voxels x points
    nearest = d2.argmin(1)
    inside = d2[np.arange(len(grid)), nearest] <= radius * radius
    along = np.arange(len(points), dtype=float)
    fade_at = rng.uniform(0.2, 0.8) * len(points)
    width = rng.uniform(0.08, 0.15) * len(points)
    fade = 1.0 - 0.6 * np.exp(-((along - fade_at) / width) ** 2)
    flat_labels, flat_gain = labels.reshape(-1), gain.reshape(-1)
    flat_labels[inside] = 1
    flat_gain[inside] = fade[nearest[inside]]


def _curve(rng, size, forbidden, step=0.4):
    """A gently bending random curve of points (n, 3), 0.3 * size to 16 voxels long, inside the
    volume and off `forbidden` (None if none fits)."""
    free = np.argwhere(~forbidden[3:-3, 3:-3, 3:-3]) + 3
    for _ in range(30 if len(free) else 0):
        p = free[rng.integers(len(free))].astype(float)
        heading = _unit(rng)
        bend = 0.1 * _unit(rng)  # a slowly turning heading: arcs rather than a random walk
        points = [p]
        for _ in range(int(rng.integers(20, 40))):
            heading = heading + bend + rng.normal(0, 0.05, 3)
            heading /= np.linalg.norm(heading)
            p = p + step * heading
            i = np.round(p).astype(int)
            if (i < 2).any() or (i > size - 3).any() or forbidden[tuple(i)]:
                break
            points.append(p)
        if len(points) >= 0.3 * size / step:
            return np.array(points)
    return None


def _ring(rng, size, forbidden):
    """A circle of points (n, 3), radius 3 to 5 voxels, randomly oriented, off `forbidden` (None
    if none fits)."""
    for _ in range(100):
        radius = rng.uniform(3.0, min(5.0, size / 4.5))
        center = rng.uniform(radius + 2.5, size - radius - 3.5, 3)
        normal = _unit(rng)
        a = np.cross(normal, _unit(rng))
        a /= np.linalg.norm(a)
        b = np.cross(normal, a)
        t = np.linspace(0, 2 * math.pi, int(2 * math.pi * radius / 0.4), endpoint=False)
        points = center + radius * (np.cos(t)[:, None] * a + np.sin(t)[:, None] * b)
        if not forbidden[tuple(np.round(points).astype(int).T)].any():
            return points
    return None


def make_volume(rng, size=24):
    """One (volume, label volume) pair: a hollow shell (class 2, its cavity must stay closed), a
    ring-shaped tube (class 1, its loop must stay closed) and one or two open tubes (class 1, each
    must stay in one piece), each with a stretch or patch of faint contrast."""
    zz, yy, xx = np.mgrid[0:size, 0:size, 0:size].astype(np.float64)
    grid = np.stack([zz, yy, xx], -1).reshape(-1, 3)
    labels = np.zeros((size,) * 3, np.int64)
    gain = np.ones((size,) * 3)
    volume = np.full((size,) * 3, 0.15)
    # the shell: an ellipsoid 2 voxels thick
    radii = rng.uniform(0.19 * size, 0.29 * size, 3)
    center = rng.uniform(radii + 1, size - radii - 2)
    rel = (np.stack([zz, yy, xx], -1) - center) / radii
    r = np.sqrt((rel**2).sum(-1))
    thickness = 2.0 / radii.min()
    shell = (r <= 1) & (r >= 1 - thickness)
    cavity = r < 1 - thickness
    labels[shell] = 2
    volume[cavity] = 0.35
    fade = np.ones_like(r)
    unit = rel / np.maximum(r, 1e-9)[..., None]
    for _ in range(int(rng.integers(1, 3))):
        cos = (unit * _unit(rng)).sum(-1)
        fade -= 0.6 * np.exp(-((1 - cos) / 0.12) ** 2)
    gain[shell] = fade[shell]
    forbidden = r <= 1 + 1.5 / radii.min()  # tubes keep 1.5 voxels off the shell
    ring = _ring(rng, size, forbidden)
    tubes = [ring] if ring is not None else []
    tubes += [_curve(rng, size, forbidden) for _ in range(int(rng.integers(1, 3)))]
    for points in filter(lambda p: p is not None, tubes):
        _draw_tube(points, rng.uniform(0.9, 1.2), grid, labels, gain, rng)
    volume[labels == 1] = 0.15 + 0.55 * gain[labels == 1]
    volume[labels == 2] = 0.15 + 0.75 * gain[labels == 2]
    return volume, labels


# ------------------------------------------------------------------------- data: both kinds


def make_dataset(n: int, seed: int, size: int = 64, dims: int = 2):
    """`n` (image, labels) pairs, (n, 1, size, size) or (n, 1, size, size, size), blurred, unevenly lit
    and noisy."""
    rng = np.random.default_rng(seed)
    make = make_image if dims == 2 else make_volume
    pairs = [make(rng, size) for _ in range(n)]
    images = torch.tensor(np.stack([p[0] for p in pairs]), dtype=torch.float32)[:, None]
    labels = torch.tensor(np.stack([p[1] for p in pairs]))[:, None]
    k = torch.tensor([0.25, 0.5, 0.25])
    if dims == 2:
        kernel = (k[:, None] * k[None, :])[None, None]
        images = F.conv2d(F.pad(images, (1,) * 4, mode="replicate"), kernel)
    else:
        kernel = (k[:, None, None] * k[None, :, None] * k[None, None, :])[None, None]
        images = F.conv3d(F.pad(images, (1,) * 6, mode="replicate"), kernel)
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, *(4,) * dims, generator=g)
    light = F.interpolate(coarse, size=(size,) * dims, mode="bicubic" if dims == 2 else "trilinear", align_corners=True)
    images = images * (0.75 + 0.5 * light) + 0.12 * torch.randn(images.shape, generator=g)
    return images, labels


# --------------------------------------------------------------------------------------- model


class ResBlock(nn.Module):
    def __init__(self, cin, cout, dims=2):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.conv1 = conv(cin, cout, 3, padding=1)
        self.conv2 = conv(cout, cout, 3, padding=1)
        self.norm1 = nn.GroupNorm(4, cout)
        self.norm2 = nn.GroupNorm(4, cout)
        self.skip = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        h = F.relu(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return F.relu(h + self.skip(x))


class ResUNet(nn.Module):
    """Three levels; `dims` = 2 for (B, 1, H, W) images, 3 for (B, 1, D, H, W) volumes (sides
    divisible by 4)."""

    def __init__(self, cin=1, classes=4, width=16, dims=2):
        super().__init__()
        w = width
        up = nn.ConvTranspose2d if dims == 2 else nn.ConvTranspose3d
        self.pool = nn.MaxPool2d(2) if dims == 2 else nn.MaxPool3d(2)
        self.enc1, self.enc2, self.enc3 = ResBlock(cin, w, dims), ResBlock(w, 2 * w, dims), ResBlock(2 * w, 4 * w, dims)
        self.up2, self.dec2 = up(4 * w, 2 * w, 2, stride=2), ResBlock(4 * w, 2 * w, dims)
        self.up1, self.dec1 = up(2 * w, w, 2, stride=2), ResBlock(2 * w, w, dims)
        self.head = (nn.Conv2d if dims == 2 else nn.Conv3d)(w, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        e3 = self.enc3(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(e3), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


# --------------------------------------------------------------------------------------- training


class _TextBar:
    """The part of tqdm's interface used here, as one line on stderr (when tqdm is not installed)."""

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n, self.postfix, self.start = total, desc, 0, "", time.time()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n % 10 == 0 or self.n == self.total:
            frac = self.n / self.total
            elapsed = time.time() - self.start
            eta = elapsed / frac - elapsed
            sys.stderr.write(
                f"\r{self.desc} [{'#' * int(30 * frac):<30}] {self.n}/{self.total} "
                f"{elapsed:5.0f}s eta {eta:4.0f}s {self.postfix}   "
            )
            sys.stderr.flush()

    def set_postfix_str(self, postfix: str, refresh: bool = True) -> None:
        self.postfix = postfix

    def close(self) -> None:
        sys.stderr.write("\n")


def progress_bar(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(total, desc)
    return tqdm(total=total, desc=desc, unit="step")


def train(name, images, labels, args, alpha_max, classes, dims, ties="index"):
    """Train a fresh U-Net (seeded by `args.seed`) with Dice + `alpha_max`-scheduled Betti matching
    (its matching under the tie order `ties`)."""
    torch.manual_seed(args.seed)
    model = ResUNet(classes=len(classes), width=args.width, dims=dims)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched_lr = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    loss_fn = DiceBettiMatchingLoss(
        softmax=True, to_onehot_y=True, alpha=0.0,
        gamma_matched=args.gamma_matched, gamma_unmatched=args.gamma_unmatched, ties=ties,
    )
    warmup = warmup_steps(args)
    schedule = AlphaSchedule(loss_fn, total_steps=args.steps - warmup, alpha_max=alpha_max, warmup_steps=warmup)
    order = torch.Generator().manual_seed(args.seed)
    losses = []
    bar = progress_bar(args.steps, f"{name:>12}")
    start = time.time()
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(images), (args.batch,), generator=order)
        x, y = images[idx], labels[idx]
        # flips as augmentation
        if step % 2:
            x, y = x.flip(-1), y.flip(-1)
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched_lr.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix_str(f"loss {losses[-1]:.3f} alpha {loss_fn.alpha:.3f}", refresh=False)
        bar.update(1)
    bar.close()
    return model, losses, time.time() - start


def warmup_steps(args) -> int:
    return int(args.warmup * args.steps)


@torch.no_grad()
def evaluate(model, images, labels, num_classes, dims):
    """Per foreground class, the mean over held-out images of Dice, clDice, the Betti matching
    error and the Betti number error of each dimension (b0 ... b{dims-1})."""
    model.eval()
    pred = torch.cat([model(images[i : i + 32]).argmax(1) for i in range(0, len(images), 32)])
    p = F.one_hot(pred, num_classes).movedim(-1, 1).bool().numpy()
    t = F.one_hot(labels[:, 0], num_classes).movedim(-1, 1).bool().numpy()
    out = {
        "Dice": metrics.compute_dice(p, t, spatial_dims=dims),
        "clDice": metrics.compute_cldice(p, t, spatial_dims=dims),
        "BM error": metrics.compute_betti_matching_error(p, t, spatial_dims=dims),
        "BM error (distance ties)": metrics.compute_betti_matching_error(p, t, spatial_dims=dims, ties="distance"),
    }
    betti = metrics.compute_betti_number_error(p, t, per_dimension=True, spatial_dims=dims)
    for k in range(dims):
        out[f"b{k} error"] = betti[..., k]
    with warnings.catch_warnings():  # a class absent from all targets and predictions: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: np.nanmean(v, axis=0) for k, v in out.items()}  # per class


DISTANCE_ERROR = "BM error (distance ties)"


def _cell(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"


def print_table(results, args, classes, dims, what):
    """The comparison table: means over held-out `what`s and classes, then per class."""
    names = [m for m in next(iter(results.values()))[0] if m != DISTANCE_ERROR]
    tenth = max(1, args.steps // 10)
    shape = "x".join([str(args.size)] * dims)
    print(f"\nheld-out: {args.test_images} {what}s of {shape}, classes 1-{len(classes) - 1} "
          f"({', '.join(classes[1:])}); {args.steps} steps, batch {args.batch}; "
          f"alpha_max {args.alpha}, warm-up {warmup_steps(args)} steps")
    print("mean over images and foreground classes (higher is better for Dice/clDice, lower for errors)")
    head = f"{'loss':<12}" + "".join(f"{m:>10}" for m in names) + f"{'time':>9}"
    print(head)
    print("-" * len(head))
    for name, (res, _, secs) in results.items():
        print(f"{name:<12}" + "".join(f"{_cell(np.mean(res[m])):>10}" for m in names) + f"{secs:>8.0f}s")
    print("training loss, mean of the first -> last tenth of the steps: " + ", ".join(
        f"{name} {np.mean(losses[:tenth]):.3f} -> {np.mean(losses[-tenth:]):.3f}"
        for name, (_, losses, _) in results.items()
    ))
    print(f"held-out BM error with ties=\"distance\" (the metric's tie order): " + ", ".join(
        f"{name} {np.mean(res[DISTANCE_ERROR]):.3f}" for name, (res, _, _) in results.items()
    ))
    if any(np.isnan(np.mean(res[m])) for res, _, _ in results.values() for m in names):
        print("n/a: a class empty in every held-out target and prediction has no Dice or clDice")
    errors = ["BM error"] + [f"b{k} error" for k in range(dims)]
    print("\nper class: " + " / ".join(errors))
    for name, (res, _, _) in results.items():
        cells = "".join(
            f"{classes[c + 1]:>11}: " + "/".join(f"{res[e][c]:.2f}" for e in errors)
            for c in range(len(classes) - 1)
        )
        print(f"{name:<12}{cells}")


# Defaults per mode: 2D images, 3D volumes (--3d).
DEFAULTS = {
    2: dict(steps=1500, batch=8, train_images=800, test_images=100, width=16, size=64, threads=None),
    # one torch thread: small 3D convolutions gained nothing from the second core of a shared
    # 2-core machine and lost up to 10x to threads waiting on each other
    3: dict(steps=300, batch=4, train_images=150, test_images=20, width=8, size=24, threads=1),
}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)

    def per_mode(key):
        return f"(default {DEFAULTS[2][key]}; {DEFAULTS[3][key]} with --3d)"

    ap.add_argument("--3d", dest="dims", action="store_const", const=3, default=2,
                    help="volumes (tubes, rings and hollow shells) and a 3D U-Net instead of images")
    ap.add_argument("--steps", type=int, help="training steps of each run " + per_mode("steps"))
    ap.add_argument("--batch", type=int, help=per_mode("batch"))
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--size", type=int, help="side of the images or volumes, a multiple of 4 " + per_mode("size"))
    ap.add_argument("--train-images", type=int, help="training images or volumes " + per_mode("train_images"))
    ap.add_argument("--test-images", type=int, help="held-out images or volumes " + per_mode("test_images"))
    ap.add_argument("--alpha", type=float, default=0.05, help="alpha_max of the Betti matching term")
    ap.add_argument("--warmup", type=float, default=0.3, help="fraction of steps with Dice alone")
    ap.add_argument("--gamma-matched", type=float, default=1.0)
    ap.add_argument("--gamma-unmatched", type=float, default=1.0)
    ap.add_argument("--width", type=int, help="channels of the first U-Net level " + per_mode("width"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ties", choices=("index", "distance", "both"), default="index",
                    help="tie order of the loss's matching: index (default, the reference's), distance, or "
                    "both (two Betti matching runs, 'Dice + BM' and 'Dice+BM dist')")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's; 1 with --3d)")
    args = ap.parse_args(argv)
    for key, value in DEFAULTS[args.dims].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    smallest = 32 if args.dims == 2 else 16  # room for a cell / a shell and a ring
    if args.size % 4 or args.size < smallest:
        ap.error(f"--size must be a multiple of 4 (two 2x poolings) and at least {smallest}, got {args.size}")
    for key in ("steps", "batch", "train_images", "test_images"):
        if getattr(args, key) < 1:
            ap.error(f"--{key.replace('_', '-')} must be at least 1, got {getattr(args, key)}")
    if args.width < 4 or args.width % 4:
        ap.error(f"--width must be a positive multiple of 4 (GroupNorm of 4 groups), got {args.width}")
    return args


def main(argv=None):
    """Both runs and the table; returns {run: (per-class metrics, losses per step, seconds)}."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dims = args.dims
    classes, what = (CLASSES, "image") if dims == 2 else (CLASSES_3D, "volume")
    train_x, train_y = make_dataset(args.train_images, seed=1000 + args.seed, size=args.size, dims=dims)
    test_x, test_y = make_dataset(args.test_images, seed=2000 + args.seed, size=args.size, dims=dims)
    results = {}
    runs = [("Dice", 0.0, "index")]
    if args.ties in ("index", "both"):
        runs.append(("Dice + BM", args.alpha, "index"))
    if args.ties in ("distance", "both"):
        runs.append(("Dice+BM dist", args.alpha, "distance"))
    for name, alpha, ties in runs:
        model, losses, secs = train(name, train_x, train_y, args, alpha, classes, dims, ties)
        results[name] = (evaluate(model, test_x, test_y, len(classes), dims), losses, secs)
    print_table(results, args, classes, dims, what)
    return results


if __name__ == "__main__":
    main()
