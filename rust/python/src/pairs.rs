//! Persistence pairs for the losses, as flat rows over a whole (N, H, W) stack: the Betti matching
//! (`loss_pairs`) and the optimal diagram matching of Hu et al. (`diagram_matching_pairs`).
//!
//! Both return seven int64 arrays `(item, dim, kind, pred_birth, pred_death, target_birth,
//! target_death)`; pixel indices are global flat indices into the (N, H, W) array, -1 where a side
//! has no bar. Kinds: 0 matched, 1 pred bar without a partner (sent to the diagonal), 2 target bar
//! without a partner, 3 the essential (never dying) component of both sides (deaths -1).

use bettimatch_core::batch::{diagram_matchings, ImageRef};
use bettimatch_core::{InputError, PersistencePair, Shape};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::intake::{sublevel_stack, tuple_text, Direction};

const MATCHED: i64 = 0;
const UNMATCHED_PRED: i64 = 1;
const UNMATCHED_TARGET: i64 = 2;
const ESSENTIAL: i64 = 3;

/// The two stacks as sublevel images of one shape.
struct Stacks {
    preds: Vec<Vec<f64>>,
    targets: Vec<Vec<f64>>,
    shape: Shape,
}

impl Stacks {
    fn read(preds: &Bound<'_, PyAny>, targets: &Bound<'_, PyAny>, dir: Direction) -> PyResult<Self> {
        let (p, ps) = sublevel_stack(preds, dir, "input")?;
        let (t, ts) = sublevel_stack(targets, dir, "target")?;
        if p.len() != t.len() || ps != ts {
            let full = |n: usize, s: Shape| [vec![n], s.axes()].concat();
            return Err(PyValueError::new_err(format!(
                "input has shape {} but target has shape {}",
                tuple_text(&full(p.len(), ps)),
                tuple_text(&full(t.len(), ts))
            )));
        }
        Ok(Stacks { preds: p, targets: t, shape: ps })
    }

    fn pairs(&self) -> Vec<(ImageRef<'_>, ImageRef<'_>)> {
        let shape = self.shape;
        self.preds
            .iter()
            .zip(&self.targets)
            .map(|(p, t)| (ImageRef { values: p, shape }, ImageRef { values: t, shape }))
            .collect()
    }

    /// The error for item `i`, naming the side whose values are bad.
    fn error(&self, i: usize, e: InputError) -> PyErr {
        let out_of_range = |v: &[f64]| v.iter().any(|x| x.abs() > bettimatch_core::error::MAX_SQUARED_MAGNITUDE);
        let pred_bad = match e {
            InputError::BeyondSquareRange { .. } => out_of_range(&self.preds[i]),
            _ => self.shape.validate(&self.preds[i]).is_err(),
        };
        let side = if pred_bad { "input" } else { "target" };
        super::input_error(&format!("{side}[{i}]"), self.shape, e)
    }
}

/// The seven columns, filled row by row.
struct Rows {
    columns: [Vec<i64>; 7],
    pixels: i64,
}

impl Rows {
    fn new(shape: Shape) -> Self {
        Rows { columns: Default::default(), pixels: shape.pixels() as i64 }
    }

    fn push(&mut self, item: usize, dim: usize, kind: i64, pred: Option<PersistencePair>, target: Option<PersistencePair>) {
        let base = item as i64 * self.pixels;
        let at = |p: Option<PersistencePair>, death: bool| match p {
            Some(_) if death && kind == ESSENTIAL => -1,
            Some(p) => base + i64::from(if death { p.death } else { p.birth }),
            None => -1,
        };
        let row = [item as i64, dim as i64, kind, at(pred, false), at(pred, true), at(target, false), at(target, true)];
        for (column, v) in self.columns.iter_mut().zip(row) {
            column.push(v);
        }
    }

    fn into_tuple(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        PyTuple::new(py, self.columns.into_iter().map(|c| PyArray1::from_vec(py, c)))
    }
}

/// The Betti matching pairs a loss needs (see the module doc for the layout); kind 3 rows only
/// with `include_essential`.
#[pyfunction]
#[pyo3(signature = (preds, targets, filtration, connectivity, num_threads, include_essential, ties="index"))]
#[allow(clippy::too_many_arguments)]
pub fn loss_pairs<'py>(
    py: Python<'py>,
    preds: &Bound<'py, PyAny>,
    targets: &Bound<'py, PyAny>,
    filtration: &str,
    connectivity: u32,
    num_threads: Option<i64>,
    include_essential: bool,
    ties: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    crate::calls::guarded("loss_pairs", || {
        let (dir, conn, threads) =
            (super::direction(filtration)?, super::connectivity(connectivity)?, crate::calls::thread_count(num_threads)?);
        let ties = super::tie_order(ties)?;
        let stacks = Stacks::read(preds, targets, dir)?;
        let pairs = stacks.pairs();
        let pixels = stacks.preds.len() * stacks.shape.pixels();
        let computed = crate::calls::detached(py, pixels, |stop| bettimatch_core::matchings(&pairs, conn, ties, threads, stop))?;
        let mut rows = Rows::new(stacks.shape);
        for (i, r) in computed.into_iter().enumerate() {
            let m = r.map_err(|e| stacks.error(i, e))?;
            for d in 0..m.dims() {
                for (a, b) in m.matched_pairs(d) {
                    rows.push(i, d, MATCHED, Some(a), Some(b));
                }
                for &k in &m.unmatched_pred[d] {
                    rows.push(i, d, UNMATCHED_PRED, Some(m.pred.pairs[d][k as usize]), None);
                }
                for &k in &m.unmatched_target[d] {
                    rows.push(i, d, UNMATCHED_TARGET, None, Some(m.target.pairs[d][k as usize]));
                }
            }
            if include_essential {
                let essential = |b: &bettimatch_core::Barcode| PersistencePair { birth: b.essential[0][0], death: 0 };
                rows.push(i, 0, ESSENTIAL, Some(essential(&m.pred)), Some(essential(&m.target)));
            }
        }
        rows.into_tuple(py)
    })
}

/// The optimal matchings of the persistence diagrams (finite bars, dimensions 0 and 1, squared
/// Euclidean costs, the diagonal allowed): the pairs of Hu et al.'s loss, same layout.
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
    crate::calls::guarded("diagram_matching_pairs", || {
        let (dir, conn, threads) =
            (super::direction(filtration)?, super::connectivity(connectivity)?, crate::calls::thread_count(num_threads)?);
        let stacks = Stacks::read(preds, targets, dir)?;
        let pairs = stacks.pairs();
        let pixels = stacks.preds.len() * stacks.shape.pixels();
        let computed = crate::calls::detached(py, pixels, |stop| diagram_matchings(&pairs, conn, threads, stop))?;
        let mut rows = Rows::new(stacks.shape);
        for (i, r) in computed.into_iter().enumerate() {
            let dp = r.map_err(|e| stacks.error(i, e))?;
            for (d, m) in dp.matchings.iter().enumerate() {
                for &(a, b) in &m.matched {
                    rows.push(i, d, MATCHED, Some(dp.pred.pairs[d][a as usize]), Some(dp.target.pairs[d][b as usize]));
                }
                for &a in &m.unmatched_pred {
                    rows.push(i, d, UNMATCHED_PRED, Some(dp.pred.pairs[d][a as usize]), None);
                }
                for &b in &m.unmatched_target {
                    rows.push(i, d, UNMATCHED_TARGET, None, Some(dp.target.pairs[d][b as usize]));
                }
            }
        }
        rows.into_tuple(py)
    })
}
