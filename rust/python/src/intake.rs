//! Array intake: any numeric numpy array (any dtype we support, byte order, memory layout) read
//! element by element from its buffer, in C order, into sublevel `f64` values or a packed mask.
//!
//! The buffer is read through its own strides in bytes, never through a typed view, because numpy
//! allows layouts a typed view gets wrong or must not touch: strides that are not a multiple of
//! the item size (a field of a packed structured array), unaligned data, the other byte order, and
//! bool buffers whose bytes are not 0 or 1 (read here as "nonzero is true", as numpy does).
//! The size is checked before anything of that size is allocated, and allocation failure is a
//! `MemoryError`.

use bettimatch_core::bitplane::BitPlane;
use bettimatch_core::Shape;
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// Which filtration the user asked for. Superlevel is computed as the sublevel filtration of
/// `1 - x`, evaluated in the input's own precision, exactly as the reference implementations'
/// users prepare probabilities (so ties and rounding agree with them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Sublevel,
    Superlevel,
}

/// Integers beyond this magnitude have float64 neighbours closer than 1 (or make `1 - x` round),
/// so distinct values could tie: they are refused rather than compared wrongly.
const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// One element type as stored in a numpy buffer.
trait Stored: Copy {
    const SIZE: usize;
    /// Reads one element at `ptr` (any alignment), in the buffer's byte order.
    ///
    /// # Safety
    /// `ptr` must point at `SIZE` readable bytes.
    unsafe fn load(ptr: *const u8, swapped: bool) -> Self;
    fn sublevel(self, dir: Direction) -> f64;
    fn is_nonzero(self) -> bool;
    /// Whether float64 holds this value (and `1 - value`) exactly.
    fn is_exact(self) -> bool {
        true
    }
}

macro_rules! stored_int {
    ($($t:ty),*) => {$(
        impl Stored for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline]
            unsafe fn load(ptr: *const u8, swapped: bool) -> Self {
                let v = std::ptr::read_unaligned(ptr.cast::<$t>());
                if swapped { v.swap_bytes() } else { v }
            }
            #[inline]
            fn sublevel(self, dir: Direction) -> f64 {
                match dir {
                    Direction::Sublevel => self as f64,
                    Direction::Superlevel => 1.0 - self as f64,
                }
            }
            #[inline]
            fn is_nonzero(self) -> bool {
                self != 0
            }
            #[inline]
            fn is_exact(self) -> bool {
                (self as i128).unsigned_abs() <= MAX_EXACT_INTEGER as u128
            }
        }
    )*};
}
stored_int!(u8, i8, u16, i16, u32, i32, u64, i64);

/// A bool buffer's byte: nonzero is true, whatever the byte.
#[derive(Clone, Copy)]
struct BoolByte(u8);

impl Stored for BoolByte {
    const SIZE: usize = 1;
    #[inline]
    unsafe fn load(ptr: *const u8, _swapped: bool) -> Self {
        BoolByte(*ptr)
    }
    #[inline]
    fn sublevel(self, dir: Direction) -> f64 {
        ((self.0 != 0) as u8).sublevel(dir)
    }
    #[inline]
    fn is_nonzero(self) -> bool {
        self.0 != 0
    }
}

impl Stored for f32 {
    const SIZE: usize = 4;
    #[inline]
    unsafe fn load(ptr: *const u8, swapped: bool) -> Self {
        f32::from_bits(u32::load(ptr, swapped))
    }
    #[inline]
    fn sublevel(self, dir: Direction) -> f64 {
        match dir {
            Direction::Sublevel => self as f64,
            Direction::Superlevel => (1.0f32 - self) as f64,
        }
    }
    #[inline]
    fn is_nonzero(self) -> bool {
        self != 0.0
    }
}

impl Stored for f64 {
    const SIZE: usize = 8;
    #[inline]
    unsafe fn load(ptr: *const u8, swapped: bool) -> Self {
        f64::from_bits(u64::load(ptr, swapped))
    }
    #[inline]
    fn sublevel(self, dir: Direction) -> f64 {
        match dir {
            Direction::Sublevel => self,
            Direction::Superlevel => 1.0 - self,
        }
    }
    #[inline]
    fn is_nonzero(self) -> bool {
        self != 0.0
    }
}

/// float16 as stored (its bits), widened exactly to float32 when read; its arithmetic, `1 - x`
/// included, is then float32's, as for a float16 array the Python layer converts with
/// `astype(float32)`.
#[derive(Clone, Copy)]
struct Half(u16);

impl Stored for Half {
    const SIZE: usize = 2;
    #[inline]
    unsafe fn load(ptr: *const u8, swapped: bool) -> Self {
        Half(u16::load(ptr, swapped))
    }
    #[inline]
    fn sublevel(self, dir: Direction) -> f64 {
        half_to_f32(self.0).sublevel(dir)
    }
    #[inline]
    fn is_nonzero(self) -> bool {
        self.0 & 0x7fff != 0
    }
}

/// IEEE binary16 bits to the equal float32.
fn half_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exponent = ((bits >> 10) & 0x1f) as u32;
    let mantissa = (bits & 0x3ff) as u32;
    let magnitude = match exponent {
        0 => {
            // Subnormal: mantissa * 2^-24, exact in float32.
            let v = mantissa as f32 * 2f32.powi(-24);
            return if sign == 0 { v } else { -v };
        }
        0x1f => 0x7f80_0000 | (mantissa << 13),
        e => ((e + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(sign | magnitude)
}

/// The element types we read, as found in a dtype.
#[derive(Clone, Copy, Debug)]
enum Element {
    Bool,
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F16,
    F32,
    F64,
}

/// A numpy array's buffer as the intake reads it: where it starts, its shape and byte strides.
pub struct RawArray<'py> {
    array: Bound<'py, PyUntypedArray>,
    data: *const u8,
    shape: Vec<usize>,
    strides: Vec<isize>,
    element: Element,
    swapped: bool,
}

impl<'py> RawArray<'py> {
    /// Reads `obj`'s layout; `label` names it in errors. Refuses anything but a numeric or bool
    /// array.
    pub fn new(obj: &Bound<'py, PyAny>, label: &str) -> PyResult<Self> {
        let array = obj
            .cast::<PyUntypedArray>()
            .map_err(|_| PyTypeError::new_err(format!("{label}: expected a numpy array, got {}", obj.get_type())))?
            .clone();
        let dtype = array.dtype();
        let unsupported = || {
            PyTypeError::new_err(format!(
                "{label}: unsupported dtype {dtype}; expected bool, an integer type or a float type (float16, float32, float64)"
            ))
        };
        if dtype.has_fields() || dtype.has_subarray() {
            return Err(unsupported());
        }
        let element = match (dtype.kind(), dtype.itemsize()) {
            (b'b', 1) => Element::Bool,
            (b'u', 1) => Element::U8,
            (b'i', 1) => Element::I8,
            (b'u', 2) => Element::U16,
            (b'i', 2) => Element::I16,
            (b'u', 4) => Element::U32,
            (b'i', 4) => Element::I32,
            (b'u', 8) => Element::U64,
            (b'i', 8) => Element::I64,
            (b'f', 2) => Element::F16,
            (b'f', 4) => Element::F32,
            (b'f', 8) => Element::F64,
            _ => return Err(unsupported()),
        };
        let swapped = dtype.is_native_byteorder() == Some(false);
        // SAFETY: `array` is a live numpy array; its data pointer is read, not dereferenced.
        let data = unsafe { (*array.as_array_ptr()).fields.data as *const u8 };
        let (shape, strides) = (array.shape().to_vec(), array.strides().to_vec());
        Ok(RawArray { array, data, shape, strides, element, swapped })
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The sub-array at index `i` of the first axis.
    pub fn item(&self, i: usize) -> RawArray<'py> {
        assert!(i < self.shape[0]);
        RawArray {
            array: self.array.clone(),
            // SAFETY: `i` is inside the first axis, so the offset stays inside the buffer.
            data: unsafe { self.data.offset(i as isize * self.strides[0]) },
            shape: self.shape[1..].to_vec(),
            strides: self.strides[1..].to_vec(),
            element: self.element,
            swapped: self.swapped,
        }
    }

    /// Whether the elements lie in C order without gaps (length-1 axes may have any stride).
    fn is_c_contiguous(&self, itemsize: isize) -> bool {
        let mut expected = itemsize;
        self.shape.iter().zip(&self.strides).rev().all(|(&len, &stride)| {
            let ok = len <= 1 || stride == expected;
            expected *= len as isize;
            ok
        })
    }

    /// The buffer as bytes, for one-byte elements stored in C order.
    fn contiguous_bytes(&self) -> Option<&[u8]> {
        let one_byte = matches!(self.element, Element::Bool | Element::U8 | Element::I8);
        let n: usize = self.shape.iter().product();
        // SAFETY: n one-byte elements lie contiguously at `data`, kept alive by `self.array`.
        (one_byte && n > 0 && self.is_c_contiguous(1)).then(|| unsafe { std::slice::from_raw_parts(self.data, n) })
    }

    /// Every element in C order through `convert`, into `out`.
    fn gather<T: Stored, O>(&self, out: &mut Vec<O>, convert: impl Fn(T) -> O) {
        // The contiguous path reads the buffer as `[T]`: `T` must be the stored representation.
        assert_eq!(std::mem::size_of::<T>(), T::SIZE);
        let n: usize = self.shape.iter().product();
        let contiguous = self.is_c_contiguous(T::SIZE as isize);
        let aligned = (self.data as usize) & (std::mem::align_of::<T>() - 1) == 0;
        if contiguous && aligned && !self.swapped && n > 0 {
            // SAFETY: n elements of T lie contiguously at `data`, aligned; `T` is a plain
            // number (or the byte wrapper), valid for every bit pattern.
            let items = unsafe { std::slice::from_raw_parts(self.data.cast::<T>(), n) };
            out.extend(items.iter().map(|&x| convert(x)));
            return;
        }
        if n == 0 {
            return;
        }
        self.gather_strided(self.data, 0, out, &convert);
    }

    fn gather_strided<T: Stored, O>(&self, at: *const u8, axis: usize, out: &mut Vec<O>, convert: &impl Fn(T) -> O) {
        let (len, stride) = (self.shape[axis], self.strides[axis]);
        if axis + 1 == self.shape.len() {
            for k in 0..len {
                // SAFETY: index k of this axis lies inside the buffer numpy describes.
                out.push(convert(unsafe { T::load(at.offset(k as isize * stride), self.swapped) }));
            }
        } else {
            for k in 0..len {
                // SAFETY: as above, for the start of sub-array k.
                self.gather_strided(unsafe { at.offset(k as isize * stride) }, axis + 1, out, convert);
            }
        }
    }

    /// The first element (C order) that float64 cannot hold exactly, for 64-bit integers.
    fn first_inexact(&self) -> Option<(usize, String)> {
        fn scan<T: Stored + std::fmt::Display>(a: &RawArray<'_>) -> Option<(usize, String)> {
            let mut flags = Vec::new();
            a.gather(&mut flags, |x: T| if x.is_exact() { None } else { Some(x.to_string()) });
            flags.into_iter().enumerate().find_map(|(i, v)| v.map(|v| (i, v)))
        }
        match self.element {
            Element::U64 => scan::<u64>(self),
            Element::I64 => scan::<i64>(self),
            _ => None,
        }
    }

    /// The array's shape as a 2D image or a 3D volume, checked before anything of its size is
    /// allocated.
    fn image_shape(&self, label: &str) -> PyResult<Shape> {
        let shape = match self.shape[..] {
            [rows, cols] => Shape::new(rows, cols),
            [depth, rows, cols] => Shape::volume(depth, rows, cols),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{label}: expected a 2D image or a 3D volume, got an array with {} dimensions (shape {})",
                    self.shape.len(),
                    tuple_text(&self.shape)
                )))
            }
        };
        shape.check_size().map_err(|e| size_error(label, e, &self.shape))?;
        Ok(shape)
    }

    fn coordinates(&self, flat: usize) -> Vec<usize> {
        let mut rest = flat;
        let mut at = vec![0; self.shape.len()];
        for (axis, &len) in self.shape.iter().enumerate().rev() {
            at[axis] = rest % len.max(1);
            rest /= len.max(1);
        }
        at
    }
}

/// `(a, b, c)`, as Python prints a tuple of ints.
pub fn tuple_text(items: &[usize]) -> String {
    let parts: Vec<String> = items.iter().map(|d| d.to_string()).collect();
    match parts.len() {
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

fn size_error(label: &str, e: bettimatch_core::InputError, shape: &[usize]) -> PyErr {
    PyValueError::new_err(format!("{label}: {e} (shape {})", tuple_text(shape)))
}

fn reserved<T>(n: usize, label: &str) -> PyResult<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        PyMemoryError::new_err(format!(
            "{label}: cannot allocate {} MiB for the image",
            (n as u128 * std::mem::size_of::<T>() as u128) >> 20
        ))
    })?;
    Ok(v)
}

/// The elements of `raw` in C order as sublevel values.
fn sublevel_of(raw: &RawArray<'_>, dir: Direction, out: &mut Vec<f64>) {
    match raw.element {
        Element::Bool => raw.gather(out, |x: BoolByte| x.sublevel(dir)),
        Element::U8 => raw.gather(out, |x: u8| x.sublevel(dir)),
        Element::I8 => raw.gather(out, |x: i8| x.sublevel(dir)),
        Element::U16 => raw.gather(out, |x: u16| x.sublevel(dir)),
        Element::I16 => raw.gather(out, |x: i16| x.sublevel(dir)),
        Element::U32 => raw.gather(out, |x: u32| x.sublevel(dir)),
        Element::I32 => raw.gather(out, |x: i32| x.sublevel(dir)),
        Element::U64 => raw.gather(out, |x: u64| x.sublevel(dir)),
        Element::I64 => raw.gather(out, |x: i64| x.sublevel(dir)),
        Element::F16 => raw.gather(out, |x: Half| x.sublevel(dir)),
        Element::F32 => raw.gather(out, |x: f32| x.sublevel(dir)),
        Element::F64 => raw.gather(out, |x: f64| x.sublevel(dir)),
    }
}

/// The elements of `raw` in C order as bytes, 1 where nonzero.
fn nonzero_of(raw: &RawArray<'_>, out: &mut Vec<u8>) {
    fn nz<T: Stored>(x: T) -> u8 {
        x.is_nonzero() as u8
    }
    match raw.element {
        Element::Bool => raw.gather(out, |x: BoolByte| x.0),
        Element::U8 => raw.gather(out, |x: u8| x),
        Element::I8 => raw.gather(out, nz::<i8>),
        Element::U16 => raw.gather(out, nz::<u16>),
        Element::I16 => raw.gather(out, nz::<i16>),
        Element::U32 => raw.gather(out, nz::<u32>),
        Element::I32 => raw.gather(out, nz::<i32>),
        Element::U64 => raw.gather(out, nz::<u64>),
        Element::I64 => raw.gather(out, nz::<i64>),
        Element::F16 => raw.gather(out, nz::<Half>),
        Element::F32 => raw.gather(out, nz::<f32>),
        Element::F64 => raw.gather(out, nz::<f64>),
    }
}

/// One image of `raw` (already of image shape) as sublevel values.
fn image_values(raw: &RawArray<'_>, shape: Shape, dir: Direction, label: &str) -> PyResult<Vec<f64>> {
    if let Some((flat, value)) = raw.first_inexact() {
        return Err(PyValueError::new_err(format!(
            "{label}: integer {value} at {} is beyond ±(2**53 - 1), where float64 cannot compare values exactly; \
             convert the array to float64 yourself if rounding is acceptable",
            tuple_text(&raw.coordinates(flat))
        )));
    }
    let mut out = reserved(shape.pixels(), label)?;
    sublevel_of(raw, dir, &mut out);
    Ok(out)
}

/// Converts one 2D image or 3D volume into sublevel values; `label` names it in error messages.
pub fn sublevel_values(obj: &Bound<'_, PyAny>, dir: Direction, label: &str) -> PyResult<(Vec<f64>, Shape)> {
    let raw = RawArray::new(obj, label)?;
    let shape = raw.image_shape(label)?;
    Ok((image_values(&raw, shape, dir, label)?, shape))
}

/// Converts an (N, H, W) or (N, D, H, W) numpy array into N images (volumes) of sublevel values.
pub fn sublevel_stack(obj: &Bound<'_, PyAny>, dir: Direction, label: &str) -> PyResult<(Vec<Vec<f64>>, Shape)> {
    let raw = RawArray::new(obj, label)?;
    let shape = match raw.shape()[..] {
        [_, rows, cols] => Shape::new(rows, cols),
        [_, depth, rows, cols] => Shape::volume(depth, rows, cols),
        _ => {
            return Err(PyValueError::new_err(format!(
                "{label}: expected an (N, H, W) or (N, D, H, W) array, got shape {}",
                tuple_text(raw.shape())
            )))
        }
    };
    let n = raw.shape()[0];
    shape.check_size().map_err(|e| size_error(label, e, raw.shape()))?;
    let mut images = reserved(n, label)?;
    for i in 0..n {
        images.push(image_values(&raw.item(i), shape, dir, &format!("{label}[{i}]"))?);
    }
    Ok((images, shape))
}

/// The array's shape as a 2D image: masks have no 3D path yet.
fn mask_shape(raw: &RawArray<'_>, label: &str) -> PyResult<Shape> {
    raw.image_shape(label)
}

/// The nonzero pixels of one 2D numpy array as row-major 0/1 bytes.
fn nonzero_bytes(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<(Vec<u8>, Shape)> {
    let raw = RawArray::new(obj, label)?;
    let shape = mask_shape(&raw, label)?;
    let mut out = reserved(shape.pixels(), label)?;
    nonzero_of(&raw, &mut out);
    Ok((out, shape))
}

/// Converts one 2D numpy array into a mask (nonzero = foreground); `label` names it in errors.
pub fn mask_values(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<(Vec<bool>, Shape)> {
    let (bytes, shape) = nonzero_bytes(obj, label)?;
    Ok((bytes.into_iter().map(|b| b != 0).collect(), shape))
}

/// Converts one 2D numpy array into a packed mask (nonzero = foreground); a contiguous bool or
/// byte array is packed straight from its buffer.
pub fn mask_plane(obj: &Bound<'_, PyAny>, label: &str) -> PyResult<BitPlane> {
    let mut plane = BitPlane::default();
    let raw = RawArray::new(obj, label)?;
    let shape = mask_shape(&raw, label)?;
    match raw.contiguous_bytes() {
        Some(bytes) => plane.pack_nonzero(bytes, shape),
        None => {
            let mut bytes = reserved(shape.pixels(), label)?;
            nonzero_of(&raw, &mut bytes);
            plane.pack_nonzero(&bytes, shape);
        }
    }
    Ok(plane)
}

#[cfg(test)]
mod tests {
    use super::half_to_f32;

    #[test]
    fn half_floats_widen_exactly() {
        let cases: [(u16, f32); 9] = [
            (0x0000, 0.0),
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x0001, 2f32.powi(-24)),
            (0x8001, -(2f32.powi(-24))),
            (0x03ff, 1023.0 * 2f32.powi(-24)),
            (0x7bff, 65504.0),
            (0x7c00, f32::INFINITY),
        ];
        for (bits, want) in cases {
            assert_eq!(half_to_f32(bits), want, "{bits:#06x}");
        }
        assert!(half_to_f32(0x7e00).is_nan());
        assert!(half_to_f32(0x8000).is_sign_negative());
    }
}
