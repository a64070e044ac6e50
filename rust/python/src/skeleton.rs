//! Binding for the batched skeletonization behind clDice.

use bettimatch_core::batch::MaskRef;
use bettimatch_core::skeleton::{skeletonize_batch as skeletonize_masks, Thinning};
use bettimatch_core::Shape;
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::intake::mask_values;

fn thinning(method: &str) -> PyResult<Thinning> {
    match method {
        "guo-hall" => Ok(Thinning::GuoHall),
        "zhang-suen" => Ok(Thinning::ZhangSuen),
        "lee" => Ok(Thinning::Lee),
        "lee-topological" => Ok(Thinning::LeeTopological),
        other => Err(PyValueError::new_err(format!(
            "method must be 'guo-hall', 'zhang-suen', 'lee' or 'lee-topological', got {other:?}"
        ))),
    }
}

/// Skeletons of a list of 2D masks or 3D volumes (nonzero = foreground) as bool arrays of the same
/// shapes. `method`: "guo-hall" (Guo & Hall 1989, A1) or "zhang-suen" (Zhang & Suen 1984), 2D
/// only; "lee" (Lee, Kashyap & Chu 1994, as skimage) or "lee-topological" (the same, every
/// deletion re-checked in full), 2D or 3D.
#[pyfunction]
#[pyo3(signature = (masks, method, num_threads))]
pub fn skeletonize_batch<'py>(
    py: Python<'py>,
    masks: &Bound<'py, PyList>,
    method: &str,
    num_threads: Option<i64>,
) -> PyResult<Vec<Bound<'py, PyArrayDyn<bool>>>> {
    crate::calls::guarded("skeletonize_batch", || {
        let (method, threads) = (thinning(method)?, crate::calls::thread_count(num_threads)?);
        let owned: Vec<(Vec<bool>, Shape)> = masks
            .iter()
            .enumerate()
            .map(|(i, obj)| mask_values(&obj, &format!("masks[{i}]")))
            .collect::<PyResult<_>>()?;
        let refs: Vec<MaskRef<'_>> = owned.iter().map(|(m, s)| MaskRef { mask: m, shape: *s }).collect();
        let pixels = refs.iter().map(|m| m.mask.len()).sum();
        let computed = crate::calls::detached(py, pixels, |stop| skeletonize_masks(&refs, method, threads, stop))?;
        computed
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let shape = owned[i].1;
                let skeleton = r.map_err(|e| PyValueError::new_err(format!("masks[{i}]: {e}")))?;
                PyArray1::from_vec(py, skeleton).reshape(shape.axes())
            })
            .collect()
    })
}
