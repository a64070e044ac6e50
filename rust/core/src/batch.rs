//! Whole-batch parallel drivers: one rayon task per image or pair, buffers reused per thread.
//!
//! Each call runs on a pool owned by this crate (never rayon's global pool), keyed by thread count
//! and process id: a process forked after a call (a DataLoader worker) builds its own pool instead
//! of waiting on threads that did not survive the fork.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::InputError;
use crate::grid::{Connectivity, Shape};
use crate::diagram_matching::{optimal_matching_with, DiagramMatching, Point};
use crate::bitplane::BitPlane;
use crate::masks::{packed_mask_counts_with, MaskCounts, MaskWorkspace};
use crate::matching::{betti_matching_with, MatchWorkspace, Matching};
use crate::persistence::{barcode_with, Barcode, Workspace};

/// How many threads a batch may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadCount {
    /// `RAYON_NUM_THREADS` if set, else one per core.
    Auto,
    Fixed(usize),
}

/// A borrowed image: sublevel values in row-major order.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    pub values: &'a [f64],
    pub shape: Shape,
}

type PoolKey = (u32, usize);

pub(crate) fn pool(threads: ThreadCount) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<PoolKey, Arc<ThreadPool>>>> = OnceLock::new();
    let n = match threads {
        ThreadCount::Fixed(n) => n.max(1),
        ThreadCount::Auto => std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    let key = (std::process::id(), n);
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&key) {
        return p.clone();
    }
    // Pools of a parent process are unusable after fork; forget them (their threads are gone).
    pools.retain(|k, _| k.0 == key.0);
    let p = Arc::new(
        ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("bettimatch-{i}"))
            .build()
            .expect("failed to start worker threads"),
    );
    pools.insert(key, p.clone());
    p
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

/// Barcodes of a batch of images.
pub fn barcodes(
    images: &[ImageRef<'_>],
    connectivity: Connectivity,
    threads: ThreadCount,
) -> Vec<Result<Barcode, InputError>> {
    let spares = Spares::<Workspace>::new();
    pool(threads).install(|| {
        images
            .par_iter()
            .map_init(|| spares.lend(), |ws, img| barcode_with(ws.get(), img.values, img.shape, connectivity))
            .collect()
    })
}

/// Betti matchings of a batch of (prediction, target) pairs.
pub fn matchings(
    pairs: &[(ImageRef<'_>, ImageRef<'_>)],
    connectivity: Connectivity,
    threads: ThreadCount,
) -> Vec<Result<Matching, InputError>> {
    let spares = Spares::<MatchWorkspace>::new();
    pool(threads).install(|| {
        pairs
            .par_iter()
            .map_init(|| spares.lend(), |ws, (p, t)| {
                p.shape.check_pair(t.shape)?;
                betti_matching_with(ws.get(), p.values, t.values, p.shape, connectivity)
            })
            .collect()
    })
}

/// A borrowed binary mask, row-major.
#[derive(Clone, Copy, Debug)]
pub struct MaskRef<'a> {
    pub mask: &'a [bool],
    pub shape: Shape,
}

/// Matching counts of a batch of (prediction, target) pairs of packed masks.
pub fn mask_counts_batch(
    pairs: &[(&BitPlane, &BitPlane)],
    connectivity: Connectivity,
    threads: ThreadCount,
) -> Vec<Result<MaskCounts, InputError>> {
    let spares = Spares::<MaskWorkspace>::new();
    pool(threads).install(|| {
        pairs
            .par_iter()
            .map_init(|| spares.lend(), |ws, (p, t)| packed_mask_counts_with(ws.get(), p, t, connectivity))
            .collect()
    })
}

/// Both barcodes of a (prediction, target) pair and, per dimension, the optimal matching of
/// their persistence diagrams (squared Euclidean costs, the diagonal allowed): Hu et al. (2019).
#[derive(Clone, Debug, PartialEq)]
pub struct DiagramPairing {
    pub pred: Barcode,
    pub target: Barcode,
    pub matchings: [DiagramMatching; 2],
}

fn diagram(bars: &Barcode, values: &[f64], dim: usize) -> Vec<Point> {
    bars.pairs[dim].iter().map(|p| Point::new(values[p.birth as usize], values[p.death as usize])).collect()
}

/// Diagram matchings of a batch of (prediction, target) pairs.
pub fn diagram_matchings(
    pairs: &[(ImageRef<'_>, ImageRef<'_>)],
    connectivity: Connectivity,
    threads: ThreadCount,
) -> Vec<Result<DiagramPairing, InputError>> {
    type Buffers = (Workspace, crate::diagram_matching::Workspace);
    let spares = Spares::<Buffers>::new();
    pool(threads).install(|| {
        pairs
            .par_iter()
            .map_init(|| spares.lend(), |ws, (p, t)| {
                let (bars_ws, match_ws) = ws.get();
                p.shape.check_pair(t.shape)?;
                let pred = barcode_with(bars_ws, p.values, p.shape, connectivity)?;
                let target = barcode_with(bars_ws, t.values, t.shape, connectivity)?;
                let matchings = [0, 1].map(|d| {
                    optimal_matching_with(match_ws, &diagram(&pred, p.values, d), &diagram(&target, t.values, d))
                });
                Ok(DiagramPairing { pred, target, matchings })
            })
            .collect()
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
            let batch: Vec<_> = matchings(&pairs, Connectivity::Four, threads).into_iter().map(Result::unwrap).collect();
            assert_eq!(batch, singles, "{threads:?}");
        }
    }

    #[test]
    fn a_diagram_matches_itself_point_for_point() {
        let shape = Shape::new(11, 9);
        let imgs = images(3, shape);
        let pairs: Vec<_> = imgs.iter().map(|v| (ImageRef { values: v, shape }, ImageRef { values: v, shape })).collect();
        for r in diagram_matchings(&pairs, Connectivity::Four, ThreadCount::Fixed(2)) {
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
        let out = barcodes(&images, Connectivity::Eight, ThreadCount::Fixed(2));
        assert!(out[0].is_ok());
        assert_eq!(out[1], Err(InputError::NotFinite { index: 4 }));
    }
}
