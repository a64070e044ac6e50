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
//! down, right, down-right, down-left, dual edges `2 * p + kind` (4-neighbours) and `2 * N + p`
//! (a boundary pixel to the outside), and the pixels themselves as dual nodes.

use crate::error::InputError;

/// The largest image we index with `u32` cell keys (T-construction edge keys reach `4 * N`).
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

    /// Checks that `values` can be filtered as an image of this shape.
    pub fn validate(&self, values: &[f64]) -> Result<(), InputError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(InputError::Empty);
        }
        if values.len() != self.pixels() {
            return Err(InputError::LengthMismatch { len: values.len(), rows: self.rows, cols: self.cols });
        }
        if self.pixels() > MAX_PIXELS {
            return Err(InputError::TooLarge { pixels: self.pixels() });
        }
        match values.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(InputError::NotFinite { index }),
            None => Ok(()),
        }
    }
}

/// A neighbour direction `(row offset, col offset)` with a non-negative flat offset, so that the
/// pixel it starts from is the endpoint with the smaller index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    pub drow: usize,
    pub dcol: isize,
}

/// Kind 0 = down, 1 = right: Betti-Matching-3D's edge types 0 and 1.
pub(crate) const FOUR_STEPS: [Step; 2] = [Step { drow: 1, dcol: 0 }, Step { drow: 0, dcol: 1 }];
/// Down, right, down-right, down-left.
pub(crate) const EIGHT_STEPS: [Step; 4] = [
    Step { drow: 1, dcol: 0 },
    Step { drow: 0, dcol: 1 },
    Step { drow: 1, dcol: 1 },
    Step { drow: 1, dcol: -1 },
];

impl Step {
    /// The pixel one step forward from `(row, col)`, if inside the grid.
    #[inline]
    pub fn forward(&self, shape: Shape, row: usize, col: usize) -> Option<u32> {
        let r = row + self.drow;
        let c = col as isize + self.dcol;
        if r < shape.rows && c >= 0 && (c as usize) < shape.cols {
            Some((r * shape.cols + c as usize) as u32)
        } else {
            None
        }
    }

    /// The pixel one step backward from `(row, col)`, if inside the grid.
    #[inline]
    pub fn backward(&self, shape: Shape, row: usize, col: usize) -> Option<u32> {
        let c = col as isize - self.dcol;
        if row >= self.drow && c >= 0 && (c as usize) < shape.cols {
            Some(((row - self.drow) * shape.cols + c as usize) as u32)
        } else {
            None
        }
    }

    #[inline]
    pub fn offset(&self, shape: Shape) -> u32 {
        (self.drow as isize * shape.cols as isize + self.dcol) as u32
    }
}
