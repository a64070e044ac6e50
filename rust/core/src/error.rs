use std::fmt;

/// Why an input image was refused. Every entry point validates before computing, so a bad image is
/// an error value, never a panic or a silently wrong answer.
#[derive(Clone, Debug, PartialEq)]
pub enum InputError {
    /// The image has no pixels.
    Empty,
    /// `values.len()` does not equal `rows * cols`.
    LengthMismatch { len: usize, rows: usize, cols: usize },
    /// Prediction and target differ in shape.
    ShapeMismatch { pred: Vec<usize>, target: Vec<usize> },
    /// A NaN or infinite value at this flat pixel index.
    NotFinite { index: usize },
    /// More pixels than the 32-bit cell indices can address.
    TooLarge { pixels: usize },
    /// The working memory an item needs (at least `bytes`) cannot be had.
    OutOfMemory { bytes: usize },
    /// A computation this version does not do yet.
    NotYet { what: &'static str },
    /// A connectivity of another dimension than the image's.
    Connectivity { connectivity: crate::grid::Connectivity, dims: usize },
    /// A value whose square overflows, at this flat pixel index (for squared-distance costs).
    BeyondSquareRange { index: usize },
}

/// The largest magnitude a value may have where squared differences of values must stay finite.
pub const MAX_SQUARED_MAGNITUDE: f64 = 1e150;

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Empty => write!(f, "image is empty (it has a zero-length axis)"),
            InputError::LengthMismatch { len, rows, cols } => {
                write!(f, "{len} values do not fill a {rows}x{cols} image")
            }
            InputError::ShapeMismatch { pred, target } => write!(
                f,
                "prediction shape {:?} does not match target shape {:?}",
                pred, target
            ),
            InputError::NotFinite { index } => {
                write!(f, "value at flat index {index} is NaN or infinite")
            }
            InputError::NotYet { what } => write!(f, "{what} is not supported yet"),
            InputError::OutOfMemory { bytes } => {
                write!(f, "not enough memory: the computation needs at least {} MiB", bytes >> 20)
            }
            InputError::Connectivity { connectivity, dims } => write!(
                f,
                "connectivity {} is for {}D images, not {dims}D ones (2D: 4 or 8; 3D: 6)",
                connectivity.neighbours(),
                connectivity.dims()
            ),
            InputError::BeyondSquareRange { index } => write!(
                f,
                "value at flat index {index} is beyond ±{MAX_SQUARED_MAGNITUDE:e}, where squared distances overflow"
            ),
            InputError::TooLarge { pixels } => {
                write!(f, "image has {pixels} pixels; at most {} are supported", crate::grid::MAX_PIXELS)
            }
        }
    }
}

impl std::error::Error for InputError {}
