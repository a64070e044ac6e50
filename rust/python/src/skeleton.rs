//! Binding for the batched skeletonization behind clDice.

use bettimatch_core::batch::MaskRef;
use bettimatch_core::skeleton::{skeletonize_batch as skeletonize_masks, Thinning};
use bettimatch_core::Shape;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::intake::{sublevel_values, Direction};

fn thinning(method: &str) -> PyResult<Thinning> {
    match method {
        "guo-hall" => Ok(Thinning::GuoHall),
        "zhang-suen" => Ok(Thinning::ZhangSuen),
        other => Err(PyValueError::new_err(format!(
            "method must be 'guo-hall' or 'zhang-suen', got {other:?}"
        ))),
    }
}

/// One mask as row-major booleans (nonzero = foreground); bool arrays are read directly.
fn mask_of(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<(Vec<bool>, Shape)> {
    if let Ok(a) = obj.cast::<PyArray2<bool>>() {
        let readonly = a.try_readonly()?;
        let view = readonly.as_array();
        let (rows, cols) = view.dim();
        let mask = match view.as_slice() {
            Some(contiguous) => contiguous.to_vec(),
            None => view.iter().copied().collect(),
        };
        return Ok((mask, Shape::new(rows, cols)));
    }
    let (values, shape) = sublevel_values(obj, Direction::Sublevel, label)?;
    Ok((values.into_iter().map(|v| v != 0.0).collect(), shape))
}

/// Skeletons of a list of 2D masks (nonzero = foreground) as bool arrays of the same shapes.
/// `method`: "guo-hall" (Guo & Hall 1989, A1) or "zhang-suen" (Zhang & Suen 1984).
#[pyfunction]
#[pyo3(signature = (masks, method, num_threads))]
pub fn skeletonize_batch<'py>(
    py: Python<'py>,
    masks: &Bound<'py, PyList>,
    method: &str,
    num_threads: Option<i64>,
) -> PyResult<Vec<Bound<'py, PyArray2<bool>>>> {
    let (method, threads) = (thinning(method)?, crate::thread_count(num_threads)?);
    let owned: Vec<(Vec<bool>, Shape)> = masks
        .iter()
        .enumerate()
        .map(|(i, obj)| mask_of(&obj, &format!("masks[{i}]")))
        .collect::<PyResult<_>>()?;
    let refs: Vec<MaskRef<'_>> = owned.iter().map(|(m, s)| MaskRef { mask: m, shape: *s }).collect();
    let computed = py.detach(|| skeletonize_masks(&refs, method, threads));
    computed
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let shape = owned[i].1;
            let skeleton = r.map_err(|e| PyValueError::new_err(format!("masks[{i}]: {e}")))?;
            PyArray1::from_vec(py, skeleton).reshape([shape.rows, shape.cols])
        })
        .collect()
}
