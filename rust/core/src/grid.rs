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
    /// 3D, 6-connected foreground: voxels are vertices (V-construction, Betti-Matching-3D's).
    Six,
    /// 3D, 26-connected foreground: voxels are top cells (T-construction, GUDHI's
    /// `top_dimensional_cells`).
    TwentySix,
}

impl Connectivity {
    /// The number of neighbours of a foreground pixel: the user's name for it (4, 8, 6).
    pub fn neighbours(self) -> u32 {
        match self {
            Connectivity::Four => 4,
            Connectivity::Eight => 8,
            Connectivity::Six => 6,
            Connectivity::TwentySix => 26,
        }
    }

    /// The number of axes of the images it applies to.
    pub fn dims(self) -> usize {
        match self {
            Connectivity::Four | Connectivity::Eight => 2,
            Connectivity::Six | Connectivity::TwentySix => 3,
        }
    }

    /// How many edge keys one padded pixel anchors (the keys reach this many times the padded
    /// pixel count).
    pub fn edge_kinds(self) -> usize {
        match self {
            Connectivity::Four => 2,
            Connectivity::Eight => 4,
            Connectivity::Six => 3,
            Connectivity::TwentySix => 13,
        }
    }
}

/// The shape of a 2D image (`rows × cols`) or of a 3D volume (`depth × rows × cols`), row-major
/// with the last axis fastest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shape {
    /// The first axis of a volume; 1 for an image.
    pub depth: usize,
    pub rows: usize,
    pub cols: usize,
    volume: bool,
}

impl Shape {
    /// A 2D image's shape.
    pub fn new(rows: usize, cols: usize) -> Self {
        Shape { depth: 1, rows, cols, volume: false }
    }

    /// A 3D volume's shape (a volume of depth 1 stays 3D: it has three homology dimensions).
    pub fn volume(depth: usize, rows: usize, cols: usize) -> Self {
        Shape { depth, rows, cols, volume: true }
    }

    /// The number of axes, which is also the number of homology dimensions (0 to `dims - 1`).
    pub const fn dims(&self) -> usize {
        if self.volume {
            3
        } else {
            2
        }
    }

    pub fn pixels(&self) -> usize {
        self.depth * self.rows * self.cols
    }

    /// Squares of the V-construction: one per 2x2 block of pixels.
    pub fn squares(&self) -> usize {
        self.rows.saturating_sub(1) * self.cols.saturating_sub(1)
    }

    /// The lengths of its axes.
    pub fn axes(&self) -> Vec<usize> {
        if self.volume {
            vec![self.depth, self.rows, self.cols]
        } else {
            vec![self.rows, self.cols]
        }
    }

    /// The coordinates of a flat index, one per axis.
    pub fn coordinates(&self, p: usize) -> Vec<usize> {
        let (plane, rest) = (p / (self.rows * self.cols), p % (self.rows * self.cols));
        let (r, c) = (rest / self.cols, rest % self.cols);
        if self.volume {
            vec![plane, r, c]
        } else {
            vec![r, c]
        }
    }

    pub fn row_col(&self, p: u32) -> (usize, usize) {
        let p = p as usize;
        (p / self.cols, p % self.cols)
    }

    /// Checks that this shape is a non-empty image the cell indices can address. Overflow-safe, so
    /// it can run on any claimed shape before anything of that size is allocated.
    pub fn check_size(&self) -> Result<(), InputError> {
        if self.rows == 0 || self.cols == 0 || self.depth == 0 {
            return Err(InputError::Empty);
        }
        let padded_depth = if self.volume { self.depth.checked_add(2) } else { Some(1) };
        let padded = [self.rows.checked_add(2), self.cols.checked_add(2), padded_depth]
            .into_iter()
            .try_fold(1usize, |n, side| side.and_then(|s| n.checked_mul(s)));
        match padded {
            Some(n) if n <= MAX_PIXELS => Ok(()),
            _ => Err(InputError::TooLarge { pixels: self.depth.saturating_mul(self.rows).saturating_mul(self.cols) }),
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

    /// Checks that this is a 2D shape, for the computations that have no 3D version yet.
    pub fn check_planar(&self, what: &'static str) -> Result<(), InputError> {
        if self.dims() == 2 {
            Ok(())
        } else {
            Err(InputError::NotYet { what })
        }
    }

    /// Checks that `connectivity` applies to images of this many axes.
    /// Also refuses a shape whose edge keys under `connectivity` would not fit in `u32` (the 26
    /// neighbours of the T-construction need 13 keys per padded voxel): overflow-safe, before
    /// anything of that size is allocated.
    pub fn check_connectivity(&self, connectivity: Connectivity) -> Result<(), InputError> {
        if connectivity.dims() != self.dims() {
            return Err(InputError::Connectivity { connectivity, dims: self.dims() });
        }
        self.check_size()?;
        let padded = (self.rows + 2) * (self.cols + 2) * if self.volume { self.depth + 2 } else { 1 };
        if padded > u32::MAX as usize / connectivity.edge_kinds() {
            return Err(InputError::TooLarge { pixels: self.pixels() });
        }
        Ok(())
    }

    /// Checks that a prediction of this shape and a target of shape `target` form a pair.
    pub fn check_pair(&self, target: Shape) -> Result<(), InputError> {
        if *self == target {
            Ok(())
        } else {
            Err(InputError::ShapeMismatch { pred: self.axes(), target: target.axes() })
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
