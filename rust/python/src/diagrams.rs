//! Optimal persistence-diagram matchings for the loss of Hu et al. (2019): one batched call for a
//! stack of (prediction, target) images.

use bettimatch_core::batch::ImageRef;
use bettimatch_core::diagram_matching::{optimal_matching_with, DiagramMatching, Point, Workspace};
use bettimatch_core::{Barcode, ThreadCount};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::intake::sublevel_stack;

const MATCHED: i64 = 0;
const UNMATCHED_PRED: i64 = 1;
const UNMATCHED_TARGET: i64 = 2;

fn points(b: &Barcode, values: &[f64], dim: usize) -> Vec<Point> {
    b.pairs[dim].iter().map(|p| Point::new(values[p.birth as usize], values[p.death as usize])).collect()
}

fn threads_for(threads: ThreadCount, items: usize) -> usize {
    let n = match threads {
        ThreadCount::Fixed(n) => n,
        ThreadCount::Auto => std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    n.clamp(1, items.max(1))
}

/// The optimal matchings (finite bars, dimensions 0 and 1, squared Euclidean costs, the diagonal
/// allowed) of the barcodes of a stack of (N, H, W) predictions and targets, as flat int64 arrays
/// `(item, dim, kind, pred_birth, pred_death, target_birth, target_death)`, with global flat
/// indices into the (N, H, W) array and -1 where a side has no bar. Kinds: 0 matched, 1 pred bar
/// sent to the diagonal, 2 target bar sent to the diagonal.
#[pyfunction]
#[pyo3(signature = (preds, targets, filtration, connectivity, num_threads))]
pub fn diagram_matching_pairs<'py>(
    py: Python<'py>,
    preds: &Bound<'py, PyAny>,
    targets: &Bound<'py, PyAny>,
    filtration: &str,
    connectivity: u32,
    num_threads: Option<i64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (dir, conn, threads) =
        (super::direction(filtration)?, super::connectivity(connectivity)?, super::thread_count(num_threads)?);
    let (p, ps) = sublevel_stack(preds, dir, "input")?;
    let (t, ts) = sublevel_stack(targets, dir, "target")?;
    if p.len() != t.len() || ps != ts {
        return Err(PyValueError::new_err(format!(
            "input has shape ({}, {}, {}) but target has shape ({}, {}, {})",
            p.len(),
            ps.rows,
            ps.cols,
            t.len(),
            ts.rows,
            ts.cols
        )));
    }
    let items = p.len();
    let images: Vec<ImageRef<'_>> =
        p.iter().chain(&t).map(|v| ImageRef { values: v, shape: ps }).collect();

    type Computed = (Vec<Barcode>, Vec<[DiagramMatching; 2]>);
    let computed: Result<Computed, PyErr> = py.detach(|| {
        let bars = bettimatch_core::barcodes(&images, conn, threads);
        let mut barcodes = Vec::with_capacity(bars.len());
        for (i, r) in bars.into_iter().enumerate() {
            let (side, k) = if i < items { ("input", i) } else { ("target", i - items) };
            barcodes.push(r.map_err(|e| super::input_error(&format!("{side}[{k}]"), ps, e))?);
        }
        // The matchings: independent per item, split over fresh scoped threads (fork safe).
        let match_item = |ws: &mut Workspace, i: usize| -> [DiagramMatching; 2] {
            let (bp, bt) = (&barcodes[i], &barcodes[items + i]);
            [0, 1].map(|d| optimal_matching_with(ws, &points(bp, &p[i], d), &points(bt, &t[i], d)))
        };
        let n_threads = threads_for(threads, items);
        let matchings = if n_threads <= 1 {
            let mut ws = Workspace::default();
            (0..items).map(|i| match_item(&mut ws, i)).collect()
        } else {
            let chunk = items.div_ceil(n_threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..items)
                    .step_by(chunk)
                    .map(|start| {
                        let match_item = &match_item;
                        s.spawn(move || {
                            let mut ws = Workspace::default();
                            (start..(start + chunk).min(items)).map(|i| match_item(&mut ws, i)).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().expect("matching thread panicked")).collect()
            })
        };
        Ok((barcodes, matchings))
    });
    let (barcodes, matchings) = computed?;

    let mut cols: [Vec<i64>; 7] = Default::default();
    let n = ps.pixels() as i64;
    for (i, per_dim) in matchings.iter().enumerate() {
        let base = i as i64 * n;
        let (bp, bt) = (&barcodes[i], &barcodes[items + i]);
        let mut push = |dim: usize, kind: i64, pb: i64, pd: i64, tb: i64, td: i64| {
            let shift = |x: i64| if x < 0 { -1 } else { base + x };
            for (col, v) in cols.iter_mut().zip([i as i64, dim as i64, kind, shift(pb), shift(pd), shift(tb), shift(td)]) {
                col.push(v);
            }
        };
        for (d, m) in per_dim.iter().enumerate() {
            for &(a, b) in &m.matched {
                let (x, y) = (bp.pairs[d][a as usize], bt.pairs[d][b as usize]);
                push(d, MATCHED, x.birth.into(), x.death.into(), y.birth.into(), y.death.into());
            }
            for &a in &m.unmatched_pred {
                let x = bp.pairs[d][a as usize];
                push(d, UNMATCHED_PRED, x.birth.into(), x.death.into(), -1, -1);
            }
            for &b in &m.unmatched_target {
                let y = bt.pairs[d][b as usize];
                push(d, UNMATCHED_TARGET, -1, -1, y.birth.into(), y.death.into());
            }
        }
    }
    let arrays: Vec<Bound<'py, PyAny>> = cols.into_iter().map(|c| PyArray1::from_vec(py, c).into_any()).collect();
    PyTuple::new(py, arrays)
}
