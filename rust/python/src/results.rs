//! Results as tuples of int64 numpy arrays of flat pixel indices (Python turns them into
//! coordinates and values).

use bettimatch_core::{Barcode, Matching, PersistencePair};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

fn indices<'py>(py: Python<'py>, it: impl Iterator<Item = u32>) -> Bound<'py, PyAny> {
    PyArray1::from_vec(py, it.map(i64::from).collect()).into_any()
}

fn births<'py>(py: Python<'py>, pairs: &[PersistencePair]) -> Bound<'py, PyAny> {
    indices(py, pairs.iter().map(|p| p.birth))
}

fn deaths<'py>(py: Python<'py>, pairs: &[PersistencePair]) -> Bound<'py, PyAny> {
    indices(py, pairs.iter().map(|p| p.death))
}

/// For each dimension d, `birth_d, death_d`; then `essential_d` for each d (in 2D:
/// `(birth0, death0, birth1, death1, essential0, essential1)`).
pub fn barcode_tuple<'py>(py: Python<'py>, b: &Barcode) -> PyResult<Bound<'py, PyTuple>> {
    let bars = b.pairs.iter().flat_map(|pairs| [births(py, pairs), deaths(py, pairs)]);
    let essential = b.essential.iter().map(|e| indices(py, e.iter().copied()));
    PyTuple::new(py, bars.chain(essential).collect::<Vec<_>>())
}

/// For each dimension d, eight arrays: pred matched birth/death, target matched birth/death
/// (row-aligned), pred unmatched birth/death, target unmatched birth/death; then pred essential
/// per dimension, then target essential per dimension (10 arrays per dimension in all).
pub fn matching_tuple<'py>(py: Python<'py>, m: &Matching) -> PyResult<Bound<'py, PyTuple>> {
    let mut items = Vec::with_capacity(10 * m.dims());
    for d in 0..m.dims() {
        let pick = |bars: &[PersistencePair], idx: &mut dyn Iterator<Item = u32>| -> Vec<PersistencePair> {
            idx.map(|i| bars[i as usize]).collect()
        };
        let pm = pick(&m.pred.pairs[d], &mut m.matched[d].iter().map(|x| x.0));
        let tm = pick(&m.target.pairs[d], &mut m.matched[d].iter().map(|x| x.1));
        let pu = pick(&m.pred.pairs[d], &mut m.unmatched_pred[d].iter().copied());
        let tu = pick(&m.target.pairs[d], &mut m.unmatched_target[d].iter().copied());
        for bars in [&pm, &tm, &pu, &tu] {
            items.push(births(py, bars));
            items.push(deaths(py, bars));
        }
    }
    for b in [&m.pred, &m.target] {
        for essential in &b.essential {
            items.push(indices(py, essential.iter().copied()));
        }
    }
    PyTuple::new(py, items)
}
