//! Array intake: any supported numpy dtype and memory layout -> sublevel `f64` values.

use bettimatch_core::bitplane::BitPlane;
use bettimatch_core::Shape;
use numpy::{PyArray2, PyArray3, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Which filtration the user asked for. Superlevel is computed as the sublevel filtration of
/// `1 - x`, evaluated in the input's own precision, exactly as the reference implementations'
/// users prepare probabilities (so ties and rounding agree with them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sublevel,
    Superlevel,
}

trait Widen: numpy::Element + Copy {
    fn sublevel(self, dir: Direction) -> f64;
}

macro_rules! widen_exact {
    ($($t:ty),*) => {$(
        impl Widen for $t {
            #[inline]
            fn sublevel(self, dir: Direction) -> f64 {
                match dir {
                    Direction::Sublevel => self as f64,
                    Direction::Superlevel => 1.0 - self as f64,
                }
            }
        }
    )*};
}
widen_exact!(u8, i8, u16, i16, u32, i32, i64, u64, f64);

impl Widen for f32 {
    #[inline]
    fn sublevel(self, dir: Direction) -> f64 {
        match dir {
            Direction::Sublevel => self as f64,
            Direction::Superlevel => (1.0f32 - self) as f64,
        }
    }
}

impl Widen for bool {
    #[inline]
    fn sublevel(self, dir: Direction) -> f64 {
        (self as u8).sublevel(dir)
    }
}

fn widen<T: Widen>(array: &Bound<'_, PyArray2<T>>, dir: Direction, out: &mut Vec<f64>) -> PyResult<Shape> {
    let readonly = array.try_readonly()?;
    let view = readonly.as_array();
    let (rows, cols) = view.dim();
    out.clear();
    out.reserve(rows * cols);
    match view.as_slice() {
        Some(contiguous) => out.extend(contiguous.iter().map(|&x| x.sublevel(dir))),
        None => out.extend(view.iter().map(|&x| x.sublevel(dir))),
    }
    Ok(Shape::new(rows, cols))
}

/// Nonzero pixels of a 2D array as a row-major mask, without widening to `f64` first.
fn foreground<T: Widen>(array: &Bound<'_, PyArray2<T>>, out: &mut Vec<bool>) -> PyResult<Shape> {
    let readonly = array.try_readonly()?;
    let view = readonly.as_array();
    let (rows, cols) = view.dim();
    out.clear();
    out.reserve(rows * cols);
    let nonzero = |&x: &T| x.sublevel(Direction::Sublevel) != 0.0;
    match view.as_slice() {
        Some(contiguous) => out.extend(contiguous.iter().map(nonzero)),
        None => out.extend(view.iter().map(nonzero)),
    }
    Ok(Shape::new(rows, cols))
}

fn as_2d<'a, 'py>(obj: &'a Bound<'py, PyAny>, label: &str) -> PyResult<&'a Bound<'py, PyUntypedArray>> {
    let untyped = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err(format!("{label}: expected a numpy array, got {}", obj.get_type())))?;
    if untyped.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "{label}: expected a 2D image, got an array with {} dimensions (shape {:?})",
            untyped.ndim(),
            untyped.shape()
        )));
    }
    Ok(untyped)
}

fn unsupported_dtype(untyped: &Bound<'_, PyUntypedArray>, label: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{label}: unsupported dtype {}; expected bool, an integer type, float32 or float64",
        untyped.dtype()
    ))
}

/// Converts one 2D numpy array into sublevel values; `label` names it in error messages.
pub fn sublevel_values(obj: &Bound<'_, PyAny>, dir: Direction, label: &str) -> PyResult<(Vec<f64>, Shape)> {
    let untyped = as_2d(obj, label)?;
    let mut out = Vec::new();
    macro_rules! try_dtype {
        ($($t:ty),*) => {$(
            if let Ok(a) = obj.cast::<PyArray2<$t>>() {
                let shape = widen(a, dir, &mut out)?;
                return Ok((out, shape));
            }
        )*};
    }
    try_dtype!(f32, f64, u8, bool, i8, u16, i16, u32, i32, i64, u64);
    Err(unsupported_dtype(untyped, label))
}

/// Converts one 2D numpy array into a mask (nonzero = foreground); `label` names it in errors.
pub fn mask_values(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<(Vec<bool>, Shape)> {
    let untyped = as_2d(obj, label)?;
    let mut out = Vec::new();
    macro_rules! try_dtype {
        ($($t:ty),*) => {$(
            if let Ok(a) = obj.cast::<PyArray2<$t>>() {
                let shape = foreground(a, &mut out)?;
                return Ok((out, shape));
            }
        )*};
    }
    try_dtype!(bool, u8, f32, f64, i8, u16, i16, u32, i32, i64, u64);
    Err(unsupported_dtype(untyped, label))
}

fn widen_stack<T: Widen>(array: &Bound<'_, PyArray3<T>>, dir: Direction) -> PyResult<(Vec<Vec<f64>>, Shape)> {
    let readonly = array.try_readonly()?;
    let view = readonly.as_array();
    let (_, rows, cols) = view.dim();
    let images = view
        .outer_iter()
        .map(|image| match image.as_slice() {
            Some(contiguous) => contiguous.iter().map(|&x| x.sublevel(dir)).collect(),
            None => image.iter().map(|&x| x.sublevel(dir)).collect(),
        })
        .collect();
    Ok((images, Shape::new(rows, cols)))
}

/// Converts an (N, H, W) numpy array into N images of sublevel values.
pub fn sublevel_stack(obj: &Bound<'_, PyAny>, dir: Direction, label: &str) -> PyResult<(Vec<Vec<f64>>, Shape)> {
    let untyped = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err(format!("{label}: expected a numpy array, got {}", obj.get_type())))?;
    if untyped.ndim() != 3 {
        return Err(PyValueError::new_err(format!(
            "{label}: expected an (N, H, W) array, got shape {:?}",
            untyped.shape()
        )));
    }
    macro_rules! try_dtype {
        ($($t:ty),*) => {$(
            if let Ok(a) = obj.cast::<PyArray3<$t>>() {
                return widen_stack(a, dir);
            }
        )*};
    }
    try_dtype!(f32, f64, u8, bool, i8, u16, i16, u32, i32, i64, u64);
    Err(PyTypeError::new_err(format!(
        "{label}: unsupported dtype {}; expected bool, an integer type, float32 or float64",
        untyped.dtype()
    )))
}

/// Converts one 2D numpy array into a packed mask (nonzero = foreground); a contiguous bool array
/// is packed straight from its memory.
pub fn mask_plane(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<BitPlane> {
    let mut plane = BitPlane::default();
    if let Ok(a) = obj.cast::<PyArray2<bool>>() {
        let readonly = a.try_readonly()?;
        let view = readonly.as_array();
        if let Some(contiguous) = view.as_slice() {
            let (rows, cols) = view.dim();
            plane.pack(contiguous, Shape::new(rows, cols));
            return Ok(plane);
        }
    }
    let (mask, shape) = mask_values(obj, label)?;
    plane.pack(&mask, shape);
    Ok(plane)
}
