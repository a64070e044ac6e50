//! Pixel grids, connectivities and the cell indices that fix the tie-breaking order.
//!
//! Pixels are indexed row-major: `p = row * cols + col`. Cells of equal value are ordered by an
//! index, exactly as Betti-Matching-3D orders them for the V-construction:
//! - edges (connectivity 4) by `2 * p + kind`, where `p` is the endpoint with the smaller index and
//!   kind 0 joins `p` to the pixel below, kind 1 to the pixel on its right (x-y-type order);
//! - squares (connectivity 4, dual nodes) by `row * (cols - 1) + col` of their top-left pixel, and
//!   the outside node comes after every square.
//!
//! For connectivity 8 (T-construction) the same principle gives edges `4 * p + kind` with kinds
//! down, right, down-right, down-left, and dual edges `2 * p + kind` (4-neighbours); a boundary
//! pixel's dual edge to the outside is keyed by the padding pixel it crosses into (see
//! `filtration`, whose padded indices extend the row-major order by a one-pixel border). The
//! pixels themselves are the dual nodes.

use crate::error::InputError;

/// The largest padded image we index with `u32` cell keys (T-construction edge keys reach `4 * N`
/// for `N = (rows + 2) * (cols + 2)` padded pixels).
pub const MAX_PIXELS: usize = (u32::MAX / 4) as usize;

/// The connectivity of the foreground (the sublevel set); the background gets the complementary one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Connectivity {
    /// 4-connected foreground: pixels are vertices of the cubical complex (V-construction).
    Four,
    /// 8-connected foreground: pixels are top-dimensional cells (T-construction, GUDHI's default).
    Eight,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape {
    pub rows: usize,
    pub cols: usize,
}

impl Shape {
    pub fn new(rows: usize, cols: usize) -> Self {
        Shape { rows, cols }
    }

    /// The number of axes, which is also the number of homology dimensions (0 to `dims - 1`).
    pub const fn dims(&self) -> usize {
        2
    }

    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// Squares of the V-construction: one per 2x2 block of pixels.
    pub fn squares(&self) -> usize {
        self.rows.saturating_sub(1) * self.cols.saturating_sub(1)
    }

    pub fn row_col(&self, p: u32) -> (usize, usize) {
        let p = p as usize;
        (p / self.cols, p % self.cols)
    }

    /// Checks that this shape is a non-empty image the cell indices can address. Overflow-safe, so
    /// it can run on any claimed shape before anything of that size is allocated.
    pub fn check_size(&self) -> Result<(), InputError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(InputError::Empty);
        }
        let padded = (self.rows.checked_add(2)).and_then(|r| self.cols.checked_add(2).and_then(|c| r.checked_mul(c)));
        match padded {
            Some(n) if n <= MAX_PIXELS => Ok(()),
            _ => Err(InputError::TooLarge { pixels: self.rows.saturating_mul(self.cols) }),
        }
    }

    /// Checks that `len` values fill a non-empty image of this shape that the cell indices can address.
    pub fn check_len(&self, len: usize) -> Result<(), InputError> {
        self.check_size()?;
        if len != self.pixels() {
            return Err(InputError::LengthMismatch { len, rows: self.rows, cols: self.cols });
        }
        Ok(())
    }

    /// Checks that a prediction of this shape and a target of shape `target` form a pair.
    pub fn check_pair(&self, target: Shape) -> Result<(), InputError> {
        if *self == target {
            Ok(())
        } else {
            Err(InputError::ShapeMismatch { pred: (self.rows, self.cols), target: (target.rows, target.cols) })
        }
    }

    /// Checks that `values` can be filtered as an image of this shape.
    pub fn validate(&self, values: &[f64]) -> Result<(), InputError> {
        self.check_len(values.len())?;
        match values.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(InputError::NotFinite { index }),
            None => Ok(()),
        }
    }
}
