//! The binding layer: array intake, argument checks, GIL release around whole batches, results
//! as numpy arrays. The math lives in `bettimatch-core`.

mod calls;
mod huge_pages;
mod intake;
mod pairs;
mod results;
mod skeleton;

use bettimatch_core::batch::ImageRef;
use bettimatch_core::{Connectivity, InputError, Shape, Ties};
use calls::{detached, guarded, thread_count};
use bettimatch_core::bitplane::BitPlane;
use intake::{mask_plane, sublevel_values, tuple_text, Direction};
use numpy::PyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

#[global_allocator]
static ALLOCATOR: huge_pages::HugePageAlloc = huge_pages::HugePageAlloc;

fn direction(filtration: &str) -> PyResult<Direction> {
    match filtration {
        "superlevel" => Ok(Direction::Superlevel),
        "sublevel" => Ok(Direction::Sublevel),
        other => Err(PyValueError::new_err(format!(
            "filtration must be 'superlevel' or 'sublevel', got {other:?}"
        ))),
    }
}

pub(crate) fn tie_order(ties: &str) -> PyResult<Ties> {
    match ties {
        "index" => Ok(Ties::Index),
        "distance" => Ok(Ties::Distance),
        other => Err(PyValueError::new_err(format!("ties must be 'index' or 'distance', got {other:?}"))),
    }
}

fn connectivity(c: u32) -> PyResult<Connectivity> {
    match c {
        4 => Ok(Connectivity::Four),
        8 => Ok(Connectivity::Eight),
        6 => Ok(Connectivity::Six),
        26 => Ok(Connectivity::TwentySix),
        other => Err(PyValueError::new_err(format!(
            "connectivity must be 4 or 8 for 2D images or 6 or 26 for 3D volumes, got {other}"
        ))),
    }
}

fn input_error(label: &str, shape: Shape, e: InputError) -> PyErr {
    if let InputError::OutOfMemory { .. } = e {
        return pyo3::exceptions::PyMemoryError::new_err(format!("{label}: {e}"));
    }
    let at = |index: usize| tuple_text(&shape.coordinates(index));
    let msg = match e {
        InputError::NotFinite { index } => format!("{label}: value at {} is NaN or infinite", at(index)),
        InputError::BeyondSquareRange { index } => format!(
            "{label}: value at {} is beyond ±{:e}, where squared distances overflow",
            at(index),
            bettimatch_core::error::MAX_SQUARED_MAGNITUDE
        ),
        other => format!("{label}: {other}"),
    };
    PyValueError::new_err(msg)
}

fn label(name: &str, i: usize, batched: bool) -> String {
    if batched {
        format!("{name}[{i}]")
    } else {
        name.to_string()
    }
}

fn collect_images(
    items: &Bound<'_, PyList>,
    dir: Direction,
    name: &str,
    batched: bool,
) -> PyResult<Vec<(Vec<f64>, Shape)>> {
    items
        .iter()
        .enumerate()
        .map(|(i, obj)| sublevel_values(&obj, dir, &label(name, i, batched)))
        .collect()
}

/// Barcodes of a list of 2D arrays; per image a tuple of flat-index int64 arrays
/// `(birth0, death0, birth1, death1, essential0, essential1)`.
#[pyfunction]
#[pyo3(signature = (images, filtration, connectivity, num_threads, batched))]
fn barcode_batch<'py>(
    py: Python<'py>,
    images: &Bound<'py, PyList>,
    filtration: &str,
    connectivity: u32,
    num_threads: Option<i64>,
    batched: bool,
) -> PyResult<Vec<Bound<'py, PyTuple>>> {
    guarded("barcode_batch", || {
        let (dir, conn, threads) = (direction(filtration)?, self::connectivity(connectivity)?, thread_count(num_threads)?);
        let name = if batched { "images" } else { "image" };
        let owned = collect_images(images, dir, name, batched)?;
        let refs: Vec<ImageRef<'_>> = owned.iter().map(|(v, s)| ImageRef { values: v, shape: *s }).collect();
        let pixels = refs.iter().map(|r| r.values.len()).sum();
        let computed = detached(py, pixels, |stop| bettimatch_core::barcodes(&refs, conn, threads, stop))?;
        computed
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(b) => results::barcode_tuple(py, &b),
                Err(e) => Err(input_error(&label(name, i, batched), owned[i].1, e)),
            })
            .collect()
    })
}

/// Betti matchings of two equal-length lists of 2D arrays; per pair a tuple of flat-index int64
/// arrays, see `results::matching_tuple` for the order.
#[pyfunction]
#[pyo3(signature = (preds, targets, filtration, connectivity, num_threads, batched, ties="index"))]
#[allow(clippy::too_many_arguments)]
fn matching_batch<'py>(
    py: Python<'py>,
    preds: &Bound<'py, PyList>,
    targets: &Bound<'py, PyList>,
    filtration: &str,
    connectivity: u32,
    num_threads: Option<i64>,
    batched: bool,
    ties: &str,
) -> PyResult<Vec<Bound<'py, PyTuple>>> {
    guarded("matching_batch", || {
        let (dir, conn, threads) = (direction(filtration)?, self::connectivity(connectivity)?, thread_count(num_threads)?);
        let ties = tie_order(ties)?;
        if preds.len() != targets.len() {
            return Err(PyValueError::new_err(format!(
                "preds and targets must have the same length, got {} and {}",
                preds.len(),
                targets.len()
            )));
        }
        let pred_name = if batched { "preds" } else { "pred" };
        let target_name = if batched { "targets" } else { "target" };
        let p = collect_images(preds, dir, pred_name, batched)?;
        let t = collect_images(targets, dir, target_name, batched)?;
        for (i, (a, b)) in p.iter().zip(&t).enumerate() {
            if a.1 != b.1 {
                return Err(PyValueError::new_err(format!(
                    "{} has shape {} but {} has shape {}",
                    label(pred_name, i, batched),
                    tuple_text(&a.1.axes()),
                    label(target_name, i, batched),
                    tuple_text(&b.1.axes())
                )));
            }
        }
        let pairs: Vec<(ImageRef<'_>, ImageRef<'_>)> = p
            .iter()
            .zip(&t)
            .map(|(a, b)| (ImageRef { values: &a.0, shape: a.1 }, ImageRef { values: &b.0, shape: b.1 }))
            .collect();
        let pixels = pairs.iter().map(|(p, _)| p.values.len()).sum();
        let computed = detached(py, pixels, |stop| bettimatch_core::matchings(&pairs, conn, ties, threads, stop))?;
        computed
            .into_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(m) => results::matching_tuple(py, &m),
                Err(e) => {
                    // Say which side is bad: re-validate each separately.
                    let pred_is_bad = matches!(e, InputError::OutOfMemory { .. }) || p[i].1.validate(&p[i].0).is_err();
                    let side = if pred_is_bad { pred_name } else { target_name };
                    Err(input_error(&label(side, i, batched), p[i].1, e))
                }
            })
            .collect()
    })
}

/// Matching counts of binary masks (nonzero = foreground), one row per pair: per dimension d the
/// unmatched pred bars, then the unmatched target bars, the finite pred bars, the finite target
/// bars, then `pred_nonempty, target_nonempty` (in 2D: `[unmatched_pred0, unmatched_pred1,
/// unmatched_target0, unmatched_target1, finite_pred0, finite_pred1, finite_target0,
/// finite_target1, pred_nonempty, target_nonempty]`). `ties="distance"` takes the general
/// matching under the distance tie order.
#[pyfunction]
#[pyo3(signature = (preds, targets, connectivity, num_threads, ties="index"))]
fn mask_matching_counts<'py>(
    py: Python<'py>,
    preds: &Bound<'py, PyList>,
    targets: &Bound<'py, PyList>,
    connectivity: u32,
    num_threads: Option<i64>,
    ties: &str,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    guarded("mask_matching_counts", || {
        let (conn, threads, ties) = (self::connectivity(connectivity)?, thread_count(num_threads)?, tie_order(ties)?);
        if preds.len() != targets.len() {
            return Err(PyValueError::new_err(format!(
                "preds and targets must have the same length, got {} and {}",
                preds.len(),
                targets.len()
            )));
        }
        let to_planes = |items: &Bound<'py, PyList>, name: &str| -> PyResult<Vec<BitPlane>> {
            items.iter().enumerate().map(|(i, obj)| mask_plane(&obj, &label(name, i, true))).collect()
        };
        let p = to_planes(preds, "preds")?;
        let t = to_planes(targets, "targets")?;
        let pairs: Vec<(&BitPlane, &BitPlane)> = p.iter().zip(&t).collect();
        let pixels = p.iter().map(|plane| plane.shape().pixels()).sum::<usize>() / 16;
        let computed = detached(py, pixels, |stop| bettimatch_core::mask_counts_batch(&pairs, conn, ties, threads, stop))?;
        let mut rows = Vec::with_capacity(computed.len());
        for (i, r) in computed.into_iter().enumerate() {
            let c = r.map_err(|e| input_error(&format!("pair {i}"), p[i].shape(), e))?;
            let per_dimension = [&c.unmatched_pred, &c.unmatched_target, &c.finite_pred, &c.finite_target];
            let mut row: Vec<i64> = per_dimension.into_iter().flatten().map(|&n| i64::from(n)).collect();
            row.extend([c.pred_nonempty as i64, c.target_nonempty as i64]);
            rows.push(row);
        }
        if rows.is_empty() {
            return Ok(PyArray2::zeros(py, [0, 4 * Shape::default().dims() + 2], false));
        }
        Ok(PyArray2::from_vec2(py, &rows).expect("rows have equal length"))
    })
}

/// Betti numbers `(β0, β1, β2)` of 3D binary masks (nonzero = foreground) by labelling and the
/// Euler characteristic, one row per mask.
#[pyfunction]
#[pyo3(signature = (masks, connectivity, num_threads))]
fn volume_betti_numbers<'py>(
    py: Python<'py>,
    masks: &Bound<'py, PyList>,
    connectivity: u32,
    num_threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    guarded("volume_betti_numbers", || {
        let (conn, threads) = (self::connectivity(connectivity)?, thread_count(num_threads)?);
        let owned: Vec<(Vec<bool>, Shape)> =
            masks.iter().enumerate().map(|(i, obj)| intake::mask_values(&obj, &format!("masks[{i}]"))).collect::<PyResult<_>>()?;
        let refs: Vec<bettimatch_core::batch::MaskRef<'_>> =
            owned.iter().map(|(m, s)| bettimatch_core::batch::MaskRef { mask: m, shape: *s }).collect();
        let voxels = owned.iter().map(|(m, _)| m.len()).sum::<usize>() / 16;
        let computed = detached(py, voxels, |stop| {
            bettimatch_core::volume_betti::volume_betti_numbers_batch(&refs, conn, threads, stop)
        })?;
        let mut rows = Vec::with_capacity(computed.len());
        for (i, r) in computed.into_iter().enumerate() {
            let betti = r.map_err(|e| input_error(&format!("masks[{i}]"), owned[i].1, e))?;
            rows.push(betti.iter().map(|&b| i64::from(b)).collect::<Vec<i64>>());
        }
        if rows.is_empty() {
            return Ok(PyArray2::zeros(py, [0, 3], false));
        }
        Ok(PyArray2::from_vec2(py, &rows).expect("rows have equal length"))
    })
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(barcode_batch, m)?)?;
    m.add_function(wrap_pyfunction!(matching_batch, m)?)?;
    m.add_function(wrap_pyfunction!(mask_matching_counts, m)?)?;
    m.add_function(wrap_pyfunction!(volume_betti_numbers, m)?)?;
    m.add_function(wrap_pyfunction!(pairs::loss_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(skeleton::skeletonize_batch, m)?)?;
    m.add_function(wrap_pyfunction!(pairs::diagram_matching_pairs, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_THREADS", bettimatch_core::MAX_THREADS)?;
    Ok(())
}
