//! Whole-batch parallel drivers: one rayon task per image or pair, buffers reused per thread.
//!
//! Each call runs on a pool owned by this crate (never rayon's global pool), keyed by thread count
//! and process id: a process forked after a call (a DataLoader worker) builds its own pool instead
//! of waiting on threads that did not survive the fork. At most [`MAX_POOLS`] pools are kept, so
//! calls with many different thread counts do not accumulate threads.
//!
//! Every driver takes a [`Stop`] flag, checked before each item: the binding sets it when the user
//! presses Ctrl-C, and the call returns [`BatchError::Stopped`] once the items in flight are done.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{InputError, MAX_SQUARED_MAGNITUDE};
use crate::grid::{Connectivity, Shape};
use crate::diagram_matching::{optimal_matching_with, DiagramMatching, Point};
use crate::bitplane::BitPlane;
use crate::masks::{tied_mask_counts_with, MaskCounts, MaskWorkspace};
use crate::matching::{betti_matching_with, MatchWorkspace, Matching};
use crate::persistence::{barcode_with, Barcode, Workspace};
use crate::tie_order::Ties;

/// The most threads one call may use: more only costs memory and start-up time.
pub const MAX_THREADS: usize = 256;

/// The most thread pools kept alive at once (the least recently used one goes first).
pub const MAX_POOLS: usize = 4;

/// How many threads a batch may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadCount {
    /// `RAYON_NUM_THREADS` if set to a positive integer, else one per core.
    Auto,
    Fixed(usize),
}

impl ThreadCount {
    /// The number of threads this means here, at most [`MAX_THREADS`].
    pub fn resolve(self) -> Result<usize, BatchError> {
        match self {
            ThreadCount::Fixed(0) => Err(BatchError::BadThreadCount { requested: 0, from_env: false }),
            ThreadCount::Fixed(n) if n > MAX_THREADS => Err(BatchError::BadThreadCount { requested: n, from_env: false }),
            ThreadCount::Fixed(n) => Ok(n),
            ThreadCount::Auto => {
                let from_env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|s| s.trim().parse::<usize>().ok());
                match from_env {
                    Some(n) if n > MAX_THREADS => Err(BatchError::BadThreadCount { requested: n, from_env: true }),
                    Some(n) if n > 0 => Ok(n),
                    _ => Ok(cores()),
                }
            }
        }
    }
}

/// The cores this process may use, asked once: on Linux the answer reads the cgroup's CPU quota
/// from files, about 0.1 ms, which would be most of the time of a call on a small image.
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS))
}

/// Why a batch call as a whole did not run to the end (a bad item is an error of its own instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// A thread count of zero or above [`MAX_THREADS`] (`from_env`: it came from `RAYON_NUM_THREADS`).
    BadThreadCount { requested: usize, from_env: bool },
    /// The operating system refused to start the worker threads.
    Spawn(String),
    /// The [`Stop`] flag was raised.
    Stopped,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::BadThreadCount { requested, from_env: true } => {
                write!(f, "RAYON_NUM_THREADS={requested} is too large: at most {MAX_THREADS} threads are supported")
            }
            BatchError::BadThreadCount { requested, from_env: false } => {
                write!(f, "num_threads must be between 1 and {MAX_THREADS}, got {requested}")
            }
            BatchError::Spawn(why) => write!(f, "could not start worker threads: {why}"),
            BatchError::Stopped => write!(f, "stopped before the end"),
        }
    }
}

impl std::error::Error for BatchError {}

/// A flag that asks a running batch to stop: before its next item, and inside long items (the
/// sweeps look at it every few thousand cells). Clones share the flag.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Stop::default()
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Lower bounds of the working memory per pixel (voxel), measured on white noise (which needs
/// the most): a barcode, and a matching (three filtrations and their sweeps).
const BARCODE_BYTES_2D: usize = 40;
const MATCHING_BYTES_2D: usize = 120;
const BARCODE_BYTES_3D: usize = 120;
const MATCHING_BYTES_3D: usize = 200;

/// Checks, before an item's buffers are allocated one by one (an allocation failure there would
/// abort the process), that `bytes` of address space can be had at all: a reservation that is
/// never touched, so it costs no memory. Inputs that cannot fit become an error value.
fn ensure_memory(bytes: usize) -> Result<(), InputError> {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).map_err(|_| InputError::OutOfMemory { bytes })
}

fn barcode_bytes(shape: Shape) -> usize {
    shape.pixels().saturating_mul(if shape.dims() == 3 { BARCODE_BYTES_3D } else { BARCODE_BYTES_2D })
}

fn matching_bytes(shape: Shape) -> usize {
    shape.pixels().saturating_mul(if shape.dims() == 3 { MATCHING_BYTES_3D } else { MATCHING_BYTES_2D })
}

/// A borrowed image: sublevel values in row-major order.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    pub values: &'a [f64],
    pub shape: Shape,
}

/// (process id, thread count).
type PoolKey = (u32, usize);

/// The cached pools, least recently used first.
type PoolCache = Mutex<Vec<(PoolKey, Arc<ThreadPool>)>>;

fn pool_cache() -> &'static PoolCache {
    static POOLS: OnceLock<PoolCache> = OnceLock::new();
    POOLS.get_or_init(Default::default)
}

/// The pool for `threads`, built on first use. Least recently used pools beyond [`MAX_POOLS`] are
/// released; a call still running on one keeps it alive until it returns.
pub(crate) fn pool(threads: ThreadCount) -> Result<Arc<ThreadPool>, BatchError> {
    let key = (std::process::id(), threads.resolve()?);
    let mut pools = pool_cache().lock().unwrap_or_else(|e| e.into_inner());
    // Pools of a parent process are unusable after fork; forget them (their threads are gone).
    pools.retain(|(k, _)| k.0 == key.0);
    if let Some(at) = pools.iter().position(|(k, _)| *k == key) {
        let entry = pools.remove(at);
        let p = entry.1.clone();
        pools.push(entry);
        return Ok(p);
    }
    let p = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(key.1)
            .thread_name(|i| format!("bettimatch-{i}"))
            .build()
            .map_err(|e| BatchError::Spawn(e.to_string()))?,
    );
    if pools.len() >= MAX_POOLS {
        pools.remove(0);
    }
    pools.push((key, p.clone()));
    Ok(p)
}

#[cfg(test)]
fn cached_pools() -> usize {
    pool_cache().lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// Runs `work` on every item on the pool for `threads`, each rayon job borrowing its buffers `W`
/// from one shared store; checks `stop` before each item.
pub(crate) fn run_batch<I, W, R>(
    items: &[I],
    threads: ThreadCount,
    stop: &Stop,
    work: impl Fn(&mut W, &I) -> R + Sync,
) -> Result<Vec<R>, BatchError>
where
    I: Sync,
    W: Default + Send,
    R: Send,
{
    let spares = Spares::<W>::new();
    let results: Option<Vec<R>> = pool(threads)?.install(|| {
        items
            .par_iter()
            .map_init(|| spares.lend(), |ws, item| {
                if stop.is_requested() {
                    return None;
                }
                let result = work(ws.get(), item);
                // An item cut short by the flag is no result.
                (!stop.is_requested()).then_some(result)
            })
            .collect()
    });
    results.ok_or(BatchError::Stopped)
}

/// Buffers handed from one rayon job of a batch call to the next. Rayon runs a batch as several
/// jobs per thread (more when threads steal work from each other), and `map_init` gives each job
/// its own buffers: fresh ones cost allocations and a page fault per page on first touch, a large
/// part of the work for small images. Jobs borrow spare buffers here and give them back when done.
struct Spares<T>(Mutex<Vec<T>>);

impl<T: Default> Spares<T> {
    fn new() -> Self {
        Spares(Mutex::new(Vec::new()))
    }

    fn lend(&self) -> Lent<'_, T> {
        let spare = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Lent { spares: self, item: Some(spare.unwrap_or_default()) }
    }
}

/// A borrowed buffer, returned to its [`Spares`] on drop.
struct Lent<'a, T> {
    spares: &'a Spares<T>,
    item: Option<T>,
}

impl<T> Lent<'_, T> {
    fn get(&mut self) -> &mut T {
        self.item.as_mut().expect("held until dropped")
    }
}

impl<T> Drop for Lent<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.spares.0.lock().unwrap_or_else(|e| e.into_inner()).push(item);
        }
    }
}

/// The result of a batch call: one result per item, or why the call as a whole stopped.
pub type BatchResult<T> = Result<Vec<Result<T, InputError>>, BatchError>;

/// Barcodes of a batch of images.
pub fn barcodes(images: &[ImageRef<'_>], connectivity: Connectivity, threads: ThreadCount, stop: &Stop) -> BatchResult<Barcode> {
    run_batch(images, threads, stop, |ws: &mut Workspace, img| {
        ws.filtration.watch(stop);
        ensure_memory(barcode_bytes(img.shape))?;
        barcode_with(ws, img.values, img.shape, connectivity)
    })
}

/// Betti matchings of a batch of (prediction, target) pairs.
pub fn matchings(
    pairs: &[(ImageRef<'_>, ImageRef<'_>)],
    connectivity: Connectivity,
    ties: Ties,
    threads: ThreadCount,
    stop: &Stop,
) -> BatchResult<Matching> {
    run_batch(pairs, threads, stop, |ws: &mut MatchWorkspace, (p, t)| {
        ws.watch(stop);
        p.shape.check_pair(t.shape)?;
        ensure_memory(matching_bytes(p.shape))?;
        betti_matching_with(ws, p.values, t.values, p.shape, connectivity, ties)
    })
}

/// A borrowed binary mask, row-major.
#[derive(Clone, Copy, Debug)]
pub struct MaskRef<'a> {
    pub mask: &'a [bool],
    pub shape: Shape,
}

/// Matching counts of a batch of (prediction, target) pairs of packed masks, under `ties`.
pub fn mask_counts_batch(
    pairs: &[(&BitPlane, &BitPlane)],
    connectivity: Connectivity,
    ties: Ties,
    threads: ThreadCount,
    stop: &Stop,
) -> BatchResult<MaskCounts> {
    run_batch(pairs, threads, stop, |ws: &mut MaskWorkspace, (p, t)| {
        if p.shape().dims() == 3 || ties == Ties::Distance {
            // These take the general matching (and its memory).
            ws.watch(stop);
            ensure_memory(matching_bytes(p.shape()).saturating_add(p.shape().pixels().saturating_mul(16)))?;
        }
        tied_mask_counts_with(ws, p, t, connectivity, ties)
    })
}

/// Both barcodes of a (prediction, target) pair and, per dimension, the optimal matching of
/// their persistence diagrams (squared Euclidean costs, the diagonal allowed): Hu et al. (2019).
#[derive(Clone, Debug, PartialEq)]
pub struct DiagramPairing {
    pub pred: Barcode,
    pub target: Barcode,
    /// Per homology dimension.
    pub matchings: Vec<DiagramMatching>,
}

fn diagram(bars: &Barcode, values: &[f64], dim: usize) -> Vec<Point> {
    bars.pairs[dim].iter().map(|p| Point::new(values[p.birth as usize], values[p.death as usize])).collect()
}

/// Diagram matchings of a batch of (prediction, target) pairs.
pub fn diagram_matchings(
    pairs: &[(ImageRef<'_>, ImageRef<'_>)],
    connectivity: Connectivity,
    threads: ThreadCount,
    stop: &Stop,
) -> BatchResult<DiagramPairing> {
    /// Barcode buffers for each side, and diagram-matching buffers for each dimension.
    type Buffers = ([Workspace; 2], Vec<crate::diagram_matching::Workspace>);
    run_batch(pairs, threads, stop, |(bars_ws, match_ws): &mut Buffers, (p, t)| {
        for ws in bars_ws.iter_mut() {
            ws.filtration.watch(stop);
        }
        p.shape.check_pair(t.shape)?;
        ensure_memory(barcode_bytes(p.shape).saturating_mul(2))?;
        for values in [p.values, t.values] {
            p.shape.validate(values)?;
            if let Some(index) = values.iter().position(|v| v.abs() > MAX_SQUARED_MAGNITUDE) {
                return Err(InputError::BeyondSquareRange { index });
            }
        }
        // The two barcodes, then the dimensions' matchings, as parallel tasks: inside a busy pool
        // (a batch) they simply run in turn.
        let [pred_ws, target_ws] = bars_ws;
        let (pred, target) = rayon::join(
            || barcode_with(pred_ws, p.values, p.shape, connectivity),
            || barcode_with(target_ws, t.values, t.shape, connectivity),
        );
        let (pred, target) = (pred?, target?);
        match_ws.resize_with(pred.dims(), Default::default);
        let matchings = match_ws
            .par_iter_mut()
            .enumerate()
            .map(|(d, ws)| optimal_matching_with(ws, &diagram(&pred, p.values, d), &diagram(&target, t.values, d)))
            .collect();
        Ok(DiagramPairing { pred, target, matchings })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::betti_matching;

    fn images(n: usize, shape: Shape) -> Vec<Vec<f64>> {
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        (0..n).map(|_| (0..shape.pixels()).map(|_| rng.below(7) as f64).collect()).collect()
    }

    #[test]
    fn batches_equal_singles_for_any_thread_count() {
        let shape = Shape::new(13, 17);
        let preds = images(9, shape);
        let targets = images(9, shape);
        let pairs: Vec<_> = preds
            .iter()
            .zip(&targets)
            .map(|(p, t)| (ImageRef { values: p, shape }, ImageRef { values: t, shape }))
            .collect();
        let singles: Vec<_> = preds
            .iter()
            .zip(&targets)
            .map(|(p, t)| betti_matching(p, t, shape, Connectivity::Four).unwrap())
            .collect();
        for threads in [ThreadCount::Fixed(1), ThreadCount::Fixed(3), ThreadCount::Auto] {
            let batch: Vec<_> = matchings(&pairs, Connectivity::Four, Ties::Index, threads, &Stop::new()).unwrap().into_iter().map(Result::unwrap).collect();
            assert_eq!(batch, singles, "{threads:?}");
        }
    }

    #[test]
    fn a_diagram_matches_itself_point_for_point() {
        let shape = Shape::new(11, 9);
        let imgs = images(3, shape);
        let pairs: Vec<_> = imgs.iter().map(|v| (ImageRef { values: v, shape }, ImageRef { values: v, shape })).collect();
        for r in diagram_matchings(&pairs, Connectivity::Four, ThreadCount::Fixed(2), &Stop::new()).unwrap() {
            let dp = r.unwrap();
            for (d, m) in dp.matchings.iter().enumerate() {
                assert!(m.unmatched_pred.is_empty() && m.unmatched_target.is_empty());
                assert_eq!(m.matched.len(), dp.pred.pairs[d].len());
            }
        }
    }

    #[test]
    fn a_bad_item_fails_alone() {
        let shape = Shape::new(3, 3);
        let good = vec![0.0; 9];
        let mut bad = vec![0.0; 9];
        bad[4] = f64::NAN;
        let images = [ImageRef { values: &good, shape }, ImageRef { values: &bad, shape }];
        let out = barcodes(&images, Connectivity::Eight, ThreadCount::Fixed(2), &Stop::new()).unwrap();
        assert!(out[0].is_ok());
        assert_eq!(out[1], Err(InputError::NotFinite { index: 4 }));
    }

    #[test]
    fn a_raised_stop_flag_stops_the_batch() {
        let shape = Shape::new(4, 4);
        let imgs = images(5, shape);
        let refs: Vec<_> = imgs.iter().map(|v| ImageRef { values: v, shape }).collect();
        let stop = Stop::new();
        stop.request();
        assert_eq!(barcodes(&refs, Connectivity::Four, ThreadCount::Fixed(2), &stop), Err(BatchError::Stopped));
        assert!(barcodes(&[], Connectivity::Four, ThreadCount::Fixed(2), &stop).unwrap().is_empty());
    }

    #[test]
    fn thread_counts_are_bounded() {
        assert!(matches!(ThreadCount::Fixed(0).resolve(), Err(BatchError::BadThreadCount { requested: 0, .. })));
        assert_eq!(ThreadCount::Fixed(MAX_THREADS).resolve(), Ok(MAX_THREADS));
        let too_many = ThreadCount::Fixed(1_000_000);
        assert_eq!(too_many.resolve(), Err(BatchError::BadThreadCount { requested: 1_000_000, from_env: false }));
        let shape = Shape::new(2, 2);
        let img = vec![0.0; 4];
        let refs = [ImageRef { values: &img, shape }];
        assert!(barcodes(&refs, Connectivity::Four, too_many, &Stop::new()).is_err());
        assert!(ThreadCount::Auto.resolve().unwrap() >= 1);
    }

    #[test]
    fn the_pool_cache_stays_bounded() {
        let shape = Shape::new(3, 3);
        let img = vec![1.0; 9];
        let refs = [ImageRef { values: &img, shape }];
        for n in (1..=3 * MAX_POOLS).chain(1..=3) {
            assert!(barcodes(&refs, Connectivity::Four, ThreadCount::Fixed(n), &Stop::new()).unwrap()[0].is_ok());
            assert!(cached_pools() <= MAX_POOLS);
        }
    }

    #[test]
    fn an_item_during_which_the_flag_rises_is_not_returned() {
        let stop = Stop::new();
        let out = run_batch(&[1u32, 2, 3], ThreadCount::Fixed(1), &stop, |_: &mut (), &x| {
            if x == 2 {
                stop.request();
            }
            x
        });
        assert_eq!(out, Err(BatchError::Stopped));
    }

    #[test]
    fn a_watched_sweep_gives_up_at_once() {
        let shape = Shape::new(300, 300);
        let values = &images(1, shape)[0];
        let mut f = crate::filtration::Filtration::default();
        f.build(values, shape, Connectivity::Four);
        let mut uf = crate::union_find::UnionFind::default();
        let count = |f: &crate::filtration::Filtration, uf: &mut crate::union_find::UnionFind| {
            let mut bars = 0;
            crate::persistence::component_sweep(f, uf, None::<&mut Vec<crate::filtration::Edge>>, |_, _| bars += 1);
            bars
        };
        assert!(count(&f, &mut uf) > 100);
        let stop = Stop::new();
        stop.request();
        f.watch(&stop);
        assert_eq!(count(&f, &mut uf), 0);
    }
}
