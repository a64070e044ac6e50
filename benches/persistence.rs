//! Criterion benches of the Rust core: barcodes, Betti matchings, mask counts and batches.
//!
//! ```text
//! cargo bench --bench persistence                         # everything but GUDHI (no Python needed)
//! cargo bench --bench persistence -- betti_matching/      # one group (criterion filter)
//! cargo bench --bench persistence --features bench-gudhi  # adds the `gudhi` group (see below)
//! BETTIMATCH_BENCH_CLOCK=cpu cargo bench --bench persistence   # CPU time (shared machines)
//! python benches/summarize.py [target/criterion-cpu]      # the results as a Markdown table
//! ```
//!
//! Groups (sizes 154², 301², 512², 1024² unless noted):
//! - `barcode/{conn4,conn8}_{threads1,default}`: one likelihood map.
//! - `betti_matching/{likelihood_vs_binary,likelihood_vs_likelihood}_{threads1,default}`
//!   (connectivity 4): a likelihood map against its binary target (the training case), and against
//!   an independent likelihood map.
//! - `mask_counts/*` (512², single-threaded): the metrics' path on two binary masks, next to the
//!   general matching of the same masks.
//! - `batch/*` (8 images of 154² and 512²): `batch::matchings` and `batch::barcodes` with
//!   `ThreadCount::Fixed(1)` and `ThreadCount::Auto`.
//! - `loss/softmax_8x3_{threads1,threads2}` (154²): what `DiceBettiMatchingLoss` sends to the core
//!   for a batch of 8 images with 4 classes and `include_background=False`: 24 pairs of a float32
//!   softmax channel against its one-hot target, through `batch::matchings` with
//!   `ThreadCount::Fixed(1)` and `Fixed(2)`.
//! - `diagram_matching/noise_dim{0,1}` (64², 128², 256²): the optimal diagram matching behind
//!   `HuTopoLoss` (`diagram_matching::optimal_matching_with`, workspace reused) of the diagrams of
//!   two independent white-noise images: its hardest common case (thousands of points per side,
//!   most near the diagonal). The barcodes are computed outside the timed region.
//! - `gudhi/*` and `gudhi_volume/*` (feature `bench-gudhi`): see below.
//!
//! `threads1` runs the call inside a one-thread rayon pool: the core's internal `rayon::join`s
//! (filtrations, dimensions) then run in turn. `default` calls from the main thread, so the joins
//! use rayon's global pool (`RAYON_NUM_THREADS`, else one thread per core), as a single Python
//! call with the default `num_threads` does.
//!
//! Inputs are deterministic (fixed seeds, a small built-in RNG) and look like what segmentation
//! produces: a binary target made of blobs (thresholded blurred noise), and a likelihood map that
//! blurs the target with added noise. Values are fed to the core as sublevel values `1 - p`, as the
//! Python layer does for the default `filtration="superlevel"`. Workspaces are reused across
//! iterations, as a batch reuses them.
//!
//! The `gudhi` group (feature `bench-gudhi`) embeds Python (pyo3 `auto-initialize`) and times, on
//! the same arrays and next to our barcode, `gudhi.CubicalComplex(vertices=x).persistence()`
//! (connectivity 4), `gudhi.CubicalComplex(top_dimensional_cells=x).persistence()` (connectivity
//! 8) and, for connectivity 8, GUDHI's specialised 2D path
//! (`gudhi._pers_cub_low_dim_ext._persistence_on_rectangle_from_top_cells`, what its sklearn
//! `CubicalPersistence` runs on 2D top cells: values only, no locations). GUDHI is
//! single-threaded: compare it with `bettimatch_threads1_*`. The interpreter pyo3 builds against
//! (`PYO3_PYTHON`, else `python3` on `PATH`) provides libpython; `gudhi` and `numpy` are looked up
//! in the active virtual environment (`VIRTUAL_ENV`), the one `PYO3_PYTHON` lives in, or the
//! interpreter's own site-packages. If libpython is not on the loader path (pyenv, conda), add its
//! directory to `LD_LIBRARY_PATH`. Without the feature nothing here touches Python.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bettimatch_core::batch::{barcodes, matchings, ImageRef, Stop};
use bettimatch_core::diagram_matching::{self, optimal_matching_with, Point};
use bettimatch_core::masks::{mask_counts_with, MaskWorkspace};
use bettimatch_core::matching::{betti_matching_with, MatchWorkspace};
use bettimatch_core::persistence::{barcode_with, Workspace};
use bettimatch_core::{Connectivity, Shape, ThreadCount, Ties};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};

const SIZES: [usize; 4] = [154, 301, 512, 1024];

// ---------------------------------------------------------------------------------------------
// Deterministic inputs

/// SplitMix64: tiny, fast, and good enough for benchmark noise.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng(seed);
    (0..n).map(|_| rng.unit()).collect()
}

/// Box blur of radius `r` of one line (clamped at the ends) into `out`.
fn blur_line(src: &[f64], r: usize, out: &mut Vec<f64>) {
    let len = src.len() as isize;
    let at = |i: isize| src[i.clamp(0, len - 1) as usize];
    let r = r as isize;
    let mut sum: f64 = (-r..=r).map(at).sum();
    out.clear();
    for i in 0..len {
        out.push(sum / (2 * r + 1) as f64);
        sum += at(i + r + 1) - at(i - r);
    }
}

/// One box-blur pass of radius `r` along rows, then along columns.
fn box_blur(values: &mut [f64], rows: usize, cols: usize, r: usize) {
    let mut line = Vec::new();
    for row in values.chunks_mut(cols) {
        blur_line(row, r, &mut line);
        row.copy_from_slice(&line);
    }
    let mut column = Vec::with_capacity(rows);
    for col in 0..cols {
        column.clear();
        column.extend((0..rows).map(|row| values[row * cols + col]));
        blur_line(&column, r, &mut line);
        for (row, &v) in line.iter().enumerate() {
            values[row * cols + col] = v;
        }
    }
}

/// Three box passes (close to a Gaussian), rescaled to [0, 1].
fn smooth(mut values: Vec<f64>, rows: usize, cols: usize, r: usize) -> Vec<f64> {
    for _ in 0..3 {
        box_blur(&mut values, rows, cols, r);
    }
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    values.iter_mut().for_each(|v| *v = (*v - lo) / span);
    values
}

/// One test case, from probabilities (superlevel) to the sublevel values `1 - p` the core works
/// on (as the Python layer does for the default `filtration="superlevel"`):
/// - `target`: a binary target (1 = foreground: blobs and thin gaps, ~50% foreground);
/// - `likelihood`: a likelihood map predicting it (the target blurred, plus noise, in [0, 1]);
/// - `other`: an independent likelihood map (smooth noise);
/// - `pred_mask`, `target_mask`: `likelihood > 0.5` and the target, as masks.
struct Case {
    shape: Shape,
    target: Vec<f64>,
    likelihood: Vec<f64>,
    other: Vec<f64>,
    pred_mask: Vec<bool>,
    target_mask: Vec<bool>,
}

impl Case {
    fn new(size: usize, seed: u64) -> Self {
        let (rows, cols) = (size, size);
        let n = rows * cols;
        let field = smooth(noise(n, seed), rows, cols, 4);
        let target: Vec<f64> = field.iter().map(|&v| if v > 0.5 { 1.0 } else { 0.0 }).collect();
        let jitter = noise(n, seed ^ 0xA5A5);
        let raw: Vec<f64> = target.iter().zip(&jitter).map(|(&t, &e)| 0.75 * t + 0.5 * e).collect();
        let likelihood = smooth(raw, rows, cols, 1);
        let other = smooth(noise(n, seed ^ 0x5A5A), rows, cols, 2);
        Case {
            shape: Shape::new(rows, cols),
            pred_mask: likelihood.iter().map(|&p| p > 0.5).collect(),
            target_mask: target.iter().map(|&t| t > 0.5).collect(),
            target: sublevel(&target),
            likelihood: sublevel(&likelihood),
            other: sublevel(&other),
        }
    }
}

/// The case for `(size, seed)`, built on first use only, so that a criterion filter that skips a
/// bench also skips making its inputs.
fn case(size: usize, seed: u64) -> &'static Case {
    static CASES: OnceLock<Mutex<HashMap<(usize, u64), &'static Case>>> = OnceLock::new();
    let mut cases = CASES.get_or_init(Default::default).lock().unwrap();
    cases.entry((size, seed)).or_insert_with(|| Box::leak(Box::new(Case::new(size, seed))))
}

/// Probabilities -> the sublevel values the core works on.
fn sublevel(p: &[f64]) -> Vec<f64> {
    p.iter().map(|&x| 1.0 - x).collect()
}

/// A batch as the loss sees it, made like the inputs of `benches/compare.py`'s loss case: label
/// maps of `classes` smooth regions, logits `4 * smooth(onehot + 0.6 * noise) - 2`, their softmax
/// rounded to float32, and per (image, foreground class) the pair `(1 - p, 1 - onehot)` as the
/// binding computes it for float32 input (`1 - p` in float32, then widened). The background
/// channel 0 is left out.
fn softmax_pairs(size: usize, images: usize, classes: usize, seed: u64) -> Vec<(Vec<f64>, Vec<f64>)> {
    let n = size * size;
    let mut out = Vec::new();
    for i in 0..images {
        let seed = seed + 1000 * i as u64;
        let fields: Vec<Vec<f64>> = (0..classes).map(|k| smooth(noise(n, seed + k as u64), size, size, 4)).collect();
        let label: Vec<usize> = (0..n)
            .map(|p| (0..classes).max_by(|&a, &b| fields[a][p].total_cmp(&fields[b][p])).unwrap_or(0))
            .collect();
        let logits: Vec<Vec<f64>> = (0..classes)
            .map(|k| {
                let jitter = noise(n, seed ^ (0xC0FFEE + k as u64));
                let raw = label.iter().zip(&jitter).map(|(&l, &e)| (l == k) as u8 as f64 + 0.6 * e).collect();
                smooth(raw, size, size, 1).iter().map(|&x| (4.0 * x - 2.0) as f32 as f64).collect()
            })
            .collect();
        let mut probs = vec![vec![0f32; n]; classes];
        for p in 0..n {
            let top = (0..classes).map(|k| logits[k][p]).fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = (0..classes).map(|k| (logits[k][p] - top).exp()).sum();
            for k in 0..classes {
                probs[k][p] = ((logits[k][p] - top).exp() / total) as f32;
            }
        }
        for (k, class_probs) in probs.iter().enumerate().skip(1) {
            let pred = class_probs.iter().map(|&p| (1.0f32 - p) as f64).collect();
            let target = label.iter().map(|&l| if l == k { 0.0 } else { 1.0 }).collect();
            out.push((pred, target));
        }
    }
    out
}

fn configure<M: Measurement>(group: &mut BenchmarkGroup<'_, M>, size: usize) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(if size >= 1024 { 1000 } else { 500 }));
    group.measurement_time(Duration::from_secs(if size >= 512 { 3 } else { 2 }));
    // Flat sampling: every sample runs the same number of iterations, so slow cases need 10
    // iterations instead of criterion's linear ramp of 55.
    group.sampling_mode(SamplingMode::Flat);
}

fn conn_name(c: Connectivity) -> &'static str {
    match c {
        Connectivity::Four => "conn4",
        Connectivity::Eight => "conn8",
        Connectivity::Six => "conn6",
        Connectivity::TwentySix => "conn26",
    }
}

// ---------------------------------------------------------------------------------------------
// Groups

fn pixels(size: usize) -> Throughput {
    Throughput::Elements((size * size) as u64)
}

/// Where a single-image call runs. The core parallelises inside one call (`rayon::join` of the
/// filtrations and of the two dimensions), so "single-threaded" needs a one-thread pool.
#[derive(Clone, Copy)]
enum Threads {
    /// Inside a one-thread rayon pool: the joins run in turn (as in a busy batch).
    One,
    /// From the main thread: the joins use rayon's global pool (`RAYON_NUM_THREADS`, else one
    /// thread per core), as a single Python call with the default `num_threads` does.
    Default,
}

impl Threads {
    fn name(self) -> &'static str {
        match self {
            Threads::One => "threads1",
            Threads::Default => "default",
        }
    }

    fn run<R: Send>(self, f: impl FnOnce() -> R + Send) -> R {
        static ONE: OnceLock<rayon::ThreadPool> = OnceLock::new();
        match self {
            Threads::One => ONE
                .get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("one-thread pool"))
                .install(f),
            Threads::Default => f(),
        }
    }
}

fn bench_barcode<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("barcode");
    for size in SIZES {
        configure(&mut group, size);
        group.throughput(pixels(size));
        for conn in [Connectivity::Four, Connectivity::Eight] {
            for threads in [Threads::One, Threads::Default] {
                let mut ws = Workspace::default();
                group.bench_function(BenchmarkId::new(format!("{}_{}", conn_name(conn), threads.name()), size), |b| {
                    let x = case(size, 1);
                    b.iter(|| {
                        threads.run(|| black_box(barcode_with(&mut ws, black_box(&x.likelihood), x.shape, conn).unwrap()))
                    })
                });
            }
        }
    }
    group.finish();
}

fn bench_matching<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("betti_matching");
    for size in SIZES {
        configure(&mut group, size);
        group.throughput(pixels(size));
        for name in ["likelihood_vs_binary", "likelihood_vs_likelihood"] {
            for threads in [Threads::One, Threads::Default] {
                let mut ws = MatchWorkspace::default();
                group.bench_function(BenchmarkId::new(format!("{name}_{}", threads.name()), size), |b| {
                    let x = case(size, 2);
                    let target = if name == "likelihood_vs_binary" { &x.target } else { &x.other };
                    b.iter(|| {
                        threads.run(|| {
                            black_box(
                                betti_matching_with(&mut ws, black_box(&x.likelihood), black_box(target), x.shape, Connectivity::Four, Ties::Index)
                                    .unwrap(),
                            )
                        })
                    })
                });
            }
        }
        // The same call without workspace reuse (a fresh workspace per call): what reuse saves.
        group.bench_function(BenchmarkId::new("likelihood_vs_binary_fresh_workspace_threads1", size), |b| {
            let x = case(size, 2);
            b.iter(|| {
                Threads::One.run(|| {
                    black_box(bettimatch_core::betti_matching(black_box(&x.likelihood), black_box(&x.target), x.shape, Connectivity::Four).unwrap())
                })
            })
        });
    }
    group.finish();
}

/// Binary masks: the metrics' path, next to the general matching on the same masks (as 0/1
/// values), both single-threaded.
fn bench_mask_counts<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("mask_counts");
    let size = 512;
    configure(&mut group, size);
    group.throughput(pixels(size));
    for conn in [Connectivity::Four, Connectivity::Eight] {
        let mut ws = MaskWorkspace::default();
        group.bench_function(BenchmarkId::new(conn_name(conn), size), |b| {
            let x = case(size, 3);
            b.iter(|| {
                Threads::One.run(|| {
                    black_box(mask_counts_with(&mut ws, black_box(&x.pred_mask), black_box(&x.target_mask), x.shape, conn).unwrap())
                })
            })
        });
        // Speckle: independent pixels at density 1/2, the most runs and components per pixel.
        let speckle = |seed: u64| noise(size * size, seed).into_iter().map(|v| v < 0.5).collect::<Vec<bool>>();
        let (p, t) = (speckle(11), speckle(12));
        group.bench_function(BenchmarkId::new(format!("speckle_{}", conn_name(conn)), size), |b| {
            b.iter(|| Threads::One.run(|| black_box(mask_counts_with(&mut ws, black_box(&p), black_box(&t), Shape::new(size, size), conn).unwrap())))
        });
        let mut ws = MatchWorkspace::default();
        group.bench_function(BenchmarkId::new(format!("general_matching_{}", conn_name(conn)), size), |b| {
            let x = case(size, 3);
            let as_values = |m: &[bool]| m.iter().map(|&f| if f { 0.0 } else { 1.0 }).collect::<Vec<f64>>();
            let (p, t) = (as_values(&x.pred_mask), as_values(&x.target_mask));
            b.iter(|| Threads::One.run(|| black_box(betti_matching_with(&mut ws, black_box(&p), black_box(&t), x.shape, conn, Ties::Index).unwrap())))
        });
    }
    group.finish();
}

/// The batch drivers on 8 images: one thread, and one per core (`Auto`).
fn bench_batch<M: Measurement>(c: &mut Criterion<M>) {
    const BATCH: u64 = 8;
    let mut group = c.benchmark_group("batch");
    for size in [154, 512] {
        configure(&mut group, size);
        group.throughput(Throughput::Elements(BATCH * (size * size) as u64));
        for (name, threads) in [("threads1", ThreadCount::Fixed(1)), ("auto", ThreadCount::Auto)] {
            group.bench_function(BenchmarkId::new(format!("matchings_x{BATCH}_{name}"), size), |b| {
                let cases: Vec<&Case> = (0..BATCH).map(|i| case(size, 100 + i)).collect();
                let pairs: Vec<(ImageRef<'_>, ImageRef<'_>)> = cases
                    .iter()
                    .map(|x| (ImageRef { values: &x.likelihood, shape: x.shape }, ImageRef { values: &x.target, shape: x.shape }))
                    .collect();
                b.iter(|| black_box(matchings(black_box(&pairs), Connectivity::Four, Ties::Index, threads, &Stop::new())))
            });
            group.bench_function(BenchmarkId::new(format!("barcodes_x{BATCH}_{name}"), size), |b| {
                let images: Vec<ImageRef<'_>> =
                    (0..BATCH).map(|i| case(size, 100 + i)).map(|x| ImageRef { values: &x.likelihood, shape: x.shape }).collect();
                b.iter(|| black_box(barcodes(black_box(&images), Connectivity::Four, threads, &Stop::new())))
            });
        }
    }
    group.finish();
}

/// The loss's batch (see the module docs): 8 images x 3 foreground classes of 154².
fn bench_loss<M: Measurement>(c: &mut Criterion<M>) {
    let size = 154;
    let mut group = c.benchmark_group("loss");
    configure(&mut group, size);
    let pairs_owned = softmax_pairs(size, 8, 4, 7);
    group.throughput(Throughput::Elements((pairs_owned.len() * size * size) as u64));
    let shape = Shape::new(size, size);
    let pairs: Vec<(ImageRef<'_>, ImageRef<'_>)> =
        pairs_owned.iter().map(|(p, t)| (ImageRef { values: p, shape }, ImageRef { values: t, shape })).collect();
    for threads in [1, 2] {
        group.bench_function(BenchmarkId::new(format!("softmax_8x3_threads{threads}"), size), |b| {
            b.iter(|| black_box(matchings(black_box(&pairs), Connectivity::Four, Ties::Index, ThreadCount::Fixed(threads), &Stop::new())))
        });
    }
    group.finish();
}

/// The finite diagrams (dimensions 0 and 1) of a white-noise image, as (birth, death) values.
fn noise_diagrams(size: usize, seed: u64) -> [Vec<Point>; 2] {
    let values = noise(size * size, seed);
    let bars = barcode_with(&mut Workspace::default(), &values, Shape::new(size, size), Connectivity::Four).unwrap();
    [0, 1].map(|d| bars.pairs[d].iter().map(|p| Point::new(values[p.birth as usize], values[p.death as usize])).collect())
}

/// The optimal diagram matching of `HuTopoLoss` on noise vs noise (see the module docs).
fn bench_diagram_matching<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("diagram_matching");
    for size in [64, 128, 256] {
        configure(&mut group, size);
        let (pred, target) = (noise_diagrams(size, 41), noise_diagrams(size, 42));
        for d in 0..2 {
            group.throughput(Throughput::Elements((pred[d].len() + target[d].len()) as u64));
            let mut ws = diagram_matching::Workspace::default();
            group.bench_function(BenchmarkId::new(format!("noise_dim{d}"), size), |b| {
                b.iter(|| black_box(optimal_matching_with(&mut ws, black_box(&pred[d]), black_box(&target[d]))))
            });
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// GUDHI, through an embedded interpreter (opt-in)

#[cfg(feature = "bench-gudhi")]
mod gudhi {
    use super::*;
    use numpy::{PyArray1, PyArrayMethods};
    use pyo3::prelude::*;
    use pyo3::types::PyDict;

    /// Puts the site-packages of the active virtual environment (or of the one `PYO3_PYTHON`
    /// belongs to) on `sys.path`: an embedded interpreter does not find a venv by itself.
    fn add_venv_site_packages(py: Python<'_>) -> PyResult<()> {
        let mut roots = Vec::new();
        if let Ok(v) = std::env::var("VIRTUAL_ENV") {
            roots.push(std::path::PathBuf::from(v));
        }
        if let Ok(p) = std::env::var("PYO3_PYTHON") {
            if let Some(root) = std::path::Path::new(&p).parent().and_then(|b| b.parent()) {
                roots.push(root.to_path_buf());
            }
        }
        let site = py.import("site")?;
        for root in roots {
            if !root.join("pyvenv.cfg").exists() {
                continue;
            }
            for lib in ["lib", "lib64"] {
                let Ok(entries) = std::fs::read_dir(root.join(lib)) else { continue };
                for e in entries.flatten() {
                    let sp = e.path().join("site-packages");
                    if e.file_name().to_string_lossy().starts_with("python") && sp.is_dir() {
                        site.call_method1("addsitedir", (sp.to_string_lossy().into_owned(),))?;
                    }
                }
            }
        }
        Ok(())
    }

    pub fn bench_gudhi<M: Measurement>(c: &mut Criterion<M>) {
        Python::attach(|py| {
            if let Err(e) = add_venv_site_packages(py) {
                eprintln!("bench-gudhi: could not add the venv's site-packages: {e}");
            }
            let complex = match py.import("gudhi").and_then(|m| m.getattr("CubicalComplex")) {
                Ok(cls) => cls,
                Err(e) => {
                    eprintln!(
                        "bench-gudhi: skipping the gudhi group, `import gudhi` failed ({e}); \
                         activate a venv with gudhi or set PYO3_PYTHON to its python"
                    );
                    return;
                }
            };
            let version: String =
                py.import("gudhi").and_then(|m| m.getattr("__version__")).and_then(|v| v.extract()).unwrap_or_default();
            eprintln!("bench-gudhi: gudhi {version}");
            let fast_2d = py
                .import("gudhi._pers_cub_low_dim_ext")
                .and_then(|m| m.getattr("_persistence_on_rectangle_from_top_cells"))
                .map_err(|e| eprintln!("bench-gudhi: no 2D fast path in this gudhi ({e})"))
                .ok();
            let mut group = c.benchmark_group("gudhi");
            for size in SIZES {
                configure(&mut group, size);
                group.throughput(pixels(size));
                let x = case(size, 1);
                let array = PyArray1::from_slice(py, &x.likelihood).reshape([size, size]).expect("reshape");
                for (conn, kw, name) in
                    [(Connectivity::Four, "vertices", "V"), (Connectivity::Eight, "top_dimensional_cells", "T")]
                {
                    for threads in [Threads::One, Threads::Default] {
                        let mut ws = Workspace::default();
                        let id = format!("bettimatch_{}_{}", threads.name(), conn_name(conn));
                        group.bench_function(BenchmarkId::new(id, size), |b| {
                            b.iter(|| {
                                threads.run(|| black_box(barcode_with(&mut ws, black_box(&x.likelihood), x.shape, conn).unwrap()))
                            })
                        });
                    }
                    let kwargs = PyDict::new(py);
                    kwargs.set_item(kw, &array).expect("kwargs");
                    group.bench_function(BenchmarkId::new(format!("gudhi_{name}_{}", conn_name(conn)), size), |b| {
                        b.iter(|| {
                            let cc = complex.call((), Some(&kwargs)).expect("CubicalComplex");
                            black_box(cc.call_method0("persistence").expect("persistence"))
                        })
                    });
                    // GUDHI's specialised 2D path (T-construction, values only, no locations): what
                    // its sklearn `CubicalPersistence` uses for 2D top-dimensional cells.
                    if let (Connectivity::Eight, Some(fast)) = (conn, fast_2d.as_ref()) {
                        group.bench_function(BenchmarkId::new("gudhi_T_2d_fast_path_conn8", size), |b| {
                            b.iter(|| black_box(fast.call1((&array, 0.0)).expect("_persistence_on_rectangle_from_top_cells")))
                        });
                    }
                }
            }
            group.finish();
            bench_gudhi_volumes(c, &complex);
        });
    }

    /// The 3D twin (group `gudhi_volume`): our barcode of a `side`³ likelihood at connectivity
    /// 6 and 26 (one thread and the default) next to `CubicalComplex(vertices=x)` and
    /// `CubicalComplex(top_dimensional_cells=x)` on the same array (GUDHI is single-threaded).
    fn bench_gudhi_volumes<M: Measurement>(c: &mut Criterion<M>, complex: &Bound<'_, PyAny>) {
        let py = complex.py();
        let mut group = c.benchmark_group("gudhi_volume");
        for side in [32, 64] {
            group.sample_size(10);
            group.sampling_mode(SamplingMode::Flat);
            group.measurement_time(Duration::from_secs(10));
            group.throughput(Throughput::Elements((side * side * side) as u64));
            let shape = Shape::volume(side, side, side);
            for kind in ["smooth", "noise"] {
                let (pred, _) = volume_case(side, kind);
                let array = PyArray1::from_slice(py, &pred).reshape([side, side, side]).expect("reshape");
                for (conn, kw, name) in [(Connectivity::Six, "vertices", "V"), (Connectivity::TwentySix, "top_dimensional_cells", "T")] {
                    for threads in [Threads::One, Threads::Default] {
                        let mut ws = Workspace::default();
                        let id = format!("bettimatch_{kind}_{}_{}", threads.name(), conn_name(conn));
                        group.bench_function(BenchmarkId::new(id, side), |b| {
                            b.iter(|| threads.run(|| black_box(barcode_with(&mut ws, black_box(&pred), shape, conn).unwrap())))
                        });
                    }
                    let kwargs = PyDict::new(py);
                    kwargs.set_item(kw, &array).expect("kwargs");
                    group.bench_function(BenchmarkId::new(format!("gudhi_{kind}_{name}_{}", conn_name(conn)), side), |b| {
                        b.iter(|| {
                            let cc = complex.call((), Some(&kwargs)).expect("CubicalComplex");
                            black_box(cc.call_method0("persistence").expect("persistence"))
                        })
                    });
                }
            }
        }
        group.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Clock: wall time (criterion's default) or, with BETTIMATCH_BENCH_CLOCK=cpu, this process's CPU
// time. On a shared machine (other jobs on the same cores) CPU time stays close to what an idle
// machine's wall clock would show for single-threaded work; multi-threaded benches (batch/*_auto)
// then report the total CPU time of all threads, i.e. work, not latency.

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod cpu_clock {
    use super::*;

    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }

    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }

    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;

    fn now_ns() -> u64 {
        let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `t` is a valid, writable timespec; the clock id is a Linux constant.
        let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    /// Process CPU time, in nanoseconds (formatted like wall time).
    pub struct CpuTime;

    static WALL: WallTime = WallTime;

    impl Measurement for CpuTime {
        type Intermediate = u64;
        type Value = u64;
        fn start(&self) -> u64 {
            now_ns()
        }
        fn end(&self, start: u64) -> u64 {
            now_ns().saturating_sub(start)
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            WALL.formatter()
        }
    }
}

/// Volume sides of the 3D groups (`cargo bench -- volume`).
const VOLUME_SIDES: [usize; 3] = [32, 64, 128];

/// A `side`³ likelihood against a mask, as `benches/matching_3d.py` makes them: `smooth` is the
/// mask blurred with noise added (every axis blurred), `noise` white noise; sublevel values.
fn volume_case(side: usize, kind: &str) -> (Vec<f64>, Vec<f64>) {
    let n = side * side * side;
    // Blur each z-slice in its plane, then along z: a separable 3D box blur.
    let blur3 = |mut v: Vec<f64>, r: usize| {
        for _ in 0..2 {
            for slice in v.chunks_mut(side * side) {
                box_blur(slice, side, side, r);
            }
            let mut line = Vec::new();
            let mut column = Vec::with_capacity(side);
            for p in 0..side * side {
                column.clear();
                column.extend((0..side).map(|z| v[z * side * side + p]));
                blur_line(&column, r, &mut line);
                for (z, &x) in line.iter().enumerate() {
                    v[z * side * side + p] = x;
                }
            }
        }
        v
    };
    let field = blur3(noise(n, side as u64), 3);
    let mean = field.iter().sum::<f64>() / n as f64;
    let mask: Vec<f64> = field.iter().map(|&v| if v > mean { 0.0 } else { 1.0 }).collect();
    let pred = match kind {
        "smooth" => {
            let jitter = noise(n, 7 + side as u64);
            blur3(mask.iter().zip(&jitter).map(|(&m, &e)| m + 0.7 * (e - 0.5)).collect(), 1)
        }
        _ => noise(n, 11 + side as u64),
    };
    (pred, mask)
}

fn bench_volumes<M: Measurement>(c: &mut Criterion<M>) {
    let mut group = c.benchmark_group("volume");
    for side in VOLUME_SIDES {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.measurement_time(Duration::from_secs(if side >= 128 { 60 } else { 10 }));
        group.throughput(Throughput::Elements((side * side * side) as u64));
        let shape = Shape::volume(side, side, side);
        for kind in ["smooth", "noise"] {
            let inputs: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
            let mut ws = Workspace::default();
            group.bench_function(BenchmarkId::new(format!("barcode_{kind}"), side), |b| {
                let (pred, _) = inputs.get_or_init(|| volume_case(side, kind));
                b.iter(|| black_box(barcode_with(&mut ws, black_box(pred), shape, Connectivity::Six).unwrap()))
            });
            for threads in [Threads::One, Threads::Default] {
                let mut ws = MatchWorkspace::default();
                group.bench_function(BenchmarkId::new(format!("matching_{kind}_vs_mask_{}", threads.name()), side), |b| {
                    let (pred, mask) = inputs.get_or_init(|| volume_case(side, kind));
                    b.iter(|| {
                        threads.run(|| black_box(betti_matching_with(&mut ws, black_box(pred), black_box(mask), shape, Connectivity::Six, Ties::Index).unwrap()))
                    })
                });
            }
        }
    }
    group.finish();
}

fn run_all<M: Measurement + 'static>(c: &mut Criterion<M>) {
    bench_volumes(c);
    bench_barcode(c);
    bench_matching(c);
    bench_mask_counts(c);
    bench_batch(c);
    bench_loss(c);
    bench_diagram_matching(c);
    #[cfg(feature = "bench-gudhi")]
    gudhi::bench_gudhi(c);
}

fn main() {
    let clock = std::env::var("BETTIMATCH_BENCH_CLOCK").unwrap_or_default();
    match clock.as_str() {
        #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
        "cpu" => {
            eprintln!("BETTIMATCH_BENCH_CLOCK=cpu: timing process CPU time, not wall time");
            // A separate results folder, so that criterion never compares CPU with wall times.
            let dir = std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("criterion-cpu")))
                .unwrap_or_else(|| "target/criterion-cpu".into());
            run_all(
                &mut Criterion::default().with_measurement(cpu_clock::CpuTime).output_directory(&dir).configure_from_args(),
            );
        }
        "" | "wall" => run_all(&mut Criterion::default().configure_from_args()),
        other => panic!("BETTIMATCH_BENCH_CLOCK={other}: expected `wall` or `cpu` (Linux)"),
    }
    Criterion::default().configure_from_args().final_summary();
}
