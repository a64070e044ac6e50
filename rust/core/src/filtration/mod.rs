//! One image's filtration: its cells in filtration order, built from a single sort of the pixels.
//!
//! Primal side (components): nodes are pixels; an edge joins two neighbours and enters at the
//! larger of their values. Dual side (cycles, by Alexander duality): nodes are the top cells plus one
//! outside node, entered from the top; a dual edge is the cell between two of them.
//! - Connectivity 4 (V-construction): the dual nodes are the squares (max of a 2x2 block) and the
//!   dual edges are the primal edges themselves, so one edge list serves both sweeps.
//! - Connectivity 8 (T-construction): the dual nodes are the pixels and the dual edges join
//!   4-neighbours (a boundary pixel also to the outside) at the smaller of their values.
//!
//! Internally the image is padded with a border of `+inf` pixels, and every cell is named by a
//! *padded* index: neighbours are fixed offsets (no division, no bounds checks), a padding pixel
//! never joins a primal edge, and every dual node touching the padding is the outside node. Padded
//! indices are monotone in the plain row-major ones, so every tie-break order is unchanged; pixels
//! are translated back with [`Filtration::pixel`] only when a bar is reported.
//!
//! After the sort, values are replaced by their dense ranks (`u32`, padding `u32::MAX`): equal
//! values get equal ranks, so every comparison and tie is the same, at half the memory traffic.
//! Edges are stored as `rank << 32 | key`, so the sweeps read an edge's value with its key.
//!
//! Submodules: `cells` (stencils, cell geometry, reporting pixels), `edges` (the edges of a
//! sorted image), `raster` (the two-level path for masks), `merge` (the comparison of a likelihood
//! and a mask without a sort).

mod cells;
mod edges;
mod merge;
mod raster;
mod volume;
mod volume_geometry;
#[cfg(test)]
mod tests;

use crate::batch::Stop;
use crate::grid::{Connectivity, Shape};
use crate::order::{sort_values, SortScratch};
use crate::union_find::UnionFind;
use cells::{square_ranks, EdgeValue, Stencil};
pub use cells::{Cells, T2, T3, V2, V3};
pub use volume_geometry::VolumeGeometry;
pub use volume::VolumeCells;
use edges::EdgeBuilder;

/// Rank of the padding and of the outside node: later than every pixel.
pub const PADDING: u32 = u32::MAX;

/// An edge of the filtration: `rank << 32 | key`; ascending `u64` order is filtration order.
pub type Edge = u64;

#[inline]
pub fn edge_key(e: Edge) -> u32 {
    e as u32
}

#[inline]
pub fn edge_rank(e: Edge) -> u32 {
    (e >> 32) as u32
}

/// Reusable buffers for one image's filtration.
#[derive(Default)]
pub struct Filtration {
    shape: Shape,
    stride: u32,
    /// The padded plane size (`stride * (rows + 2)`): the offset to the voxel one deeper (3D).
    plane: u32,
    connectivity: Option<Connectivity>,
    /// Dense value ranks of the padded pixels (`PADDING` on the border), row-major with
    /// `stride = cols + 2`.
    pub ranks: Vec<u32>,
    /// Real pixels (padded indices) in ascending `(value, index)` order (empty for two-level
    /// images, which need no sort).
    pub order: Vec<u32>,
    /// The first pixel of the filtration (padded index).
    first: u32,
    /// Primal edges in ascending `(value, key)` order.
    pub edges: Vec<Edge>,
    /// Dual edges in ascending `(value, key)` order (swept in reverse), where they are not the
    /// primal edges: the T-construction's, and the squares of a 3D V-construction.
    dual_edge_list: Vec<Edge>,
    /// Ranks of the dual nodes by padded index (`PADDING` marks a node that is part of the
    /// outside), the outside node last.
    pub dual_ranks: Vec<u32>,
    /// Under a refined tie order ([`crate::tie_order`]): per rank, the dense rank of the value
    /// it refines, so that a bar is dropped when its values are equal, not only its ranks. Empty
    /// when the ranks are the value ranks.
    levels: Vec<u32>,
    /// Raised when the caller wants the sweeps over this filtration to give up early.
    stop: Stop,
    padded_ids: Vec<u32>,
    block: Vec<u32>,
    bitmap: Vec<u64>,
    sort: SortScratch,
}

/// How many cells a sweep handles between two looks at the stop flag.
pub(crate) const STOP_CHECK_CELLS: usize = 1 << 16;

impl Filtration {
    /// Lets `stop` cut the sweeps over this filtration short (their results are then unusable).
    pub fn watch(&mut self, stop: &Stop) {
        self.stop = stop.clone();
    }

    /// Whether the sweeps should give up.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.is_requested()
    }

    /// Builds the filtration of `values` (already validated), reusing this buffer's allocations.
    pub fn build(&mut self, values: &[f64], shape: Shape, connectivity: Connectivity) {
        self.build_with_levels(values, shape, connectivity, two_levels(values));
    }

    /// [`Filtration::build`] when the caller already knows [`two_levels`]`(values)`.
    pub(crate) fn build_with_levels(&mut self, values: &[f64], shape: Shape, connectivity: Connectivity, levels: Option<(f64, f64)>) {
        self.reset(shape, connectivity);
        if shape.dims() == 3 {
            return self.build_volume(values);
        }
        match levels {
            Some((low, _)) => self.build_two_level(values, low),
            None => self.build_sorted(values),
        }
    }

    /// Sets the geometry and fills the padded ranks with `PADDING`.
    fn reset(&mut self, shape: Shape, connectivity: Connectivity) {
        debug_assert_eq!(shape.dims(), connectivity.dims());
        self.shape = shape;
        self.stride = (shape.cols + 2) as u32;
        self.plane = self.stride * (shape.rows + 2) as u32;
        self.connectivity = Some(connectivity);
        self.levels.clear();
        let padded = if shape.dims() == 3 { self.plane as usize * (shape.depth + 2) } else { self.plane as usize };
        self.ranks.clear();
        self.ranks.resize(padded, PADDING);
    }

    /// The general path: one sort of the pixels, then edges generated per pixel.
    fn build_sorted(&mut self, values: &[f64]) {
        let (shape, stride) = (self.shape, self.stride as usize);
        self.padded_ids.clear();
        self.padded_ids.extend((0..shape.rows).flat_map(|r| {
            let start = (r + 1) * stride + 1;
            (start..start + shape.cols).map(|p| p as u32)
        }));
        sort_values(values, &self.padded_ids, &mut self.order, &mut self.ranks, &mut self.sort);
        self.finish_sorted();
    }

    /// After `order` and `ranks` are set: the first pixel, the edges and the dual ranks.
    fn finish_sorted(&mut self) {
        self.first = self.order[0];
        let conn = self.conn();
        let mut builder = EdgeBuilder { ranks: &self.ranks, order: &self.order, block: &mut self.block, bitmap: &mut self.bitmap };
        match conn {
            Connectivity::Four => builder.build(&Stencil::four(self.stride), EdgeValue::Max, &mut self.edges),
            Connectivity::Eight => {
                builder.build(&Stencil::eight(self.stride), EdgeValue::Max, &mut self.edges);
                builder.build(&Stencil::four(self.stride), EdgeValue::Min, &mut self.dual_edge_list);
            }
            Connectivity::Six | Connectivity::TwentySix => unreachable!("volumes are built by build_volume"),
        }
        self.build_dual_ranks();
    }

    fn build_dual_ranks(&mut self) {
        match self.conn() {
            Connectivity::Four => square_ranks(&self.ranks, self.stride as usize, &mut self.dual_ranks),
            Connectivity::Eight | Connectivity::TwentySix => {
                self.dual_ranks.clear();
                self.dual_ranks.extend_from_slice(&self.ranks);
            }
            Connectivity::Six => volume::cube_ranks(&self.ranks, self.stride as usize, self.plane as usize, &mut self.dual_ranks),
        }
        self.dual_ranks.push(PADDING);
    }

    /// Records that this filtration was built from refined values: `values` (row-major, what
    /// they refine) decide which ranks are one value. Call after building.
    pub(crate) fn set_levels(&mut self, values: &[f64]) {
        debug_assert!(!self.order.is_empty(), "a refined filtration is built by a sort");
        let top = self.order.last().map_or(0, |&p| self.ranks[p as usize] as usize + 1);
        self.levels.clear();
        self.levels.resize(top, 0);
        let mut level = 0u32;
        let mut previous = values[self.pixel(self.order[0]) as usize];
        for &p in &self.order {
            let value = values[self.pixel(p) as usize];
            if value != previous {
                debug_assert!(value > previous, "the refined order refines the values");
                level += 1;
                previous = value;
            }
            self.levels[self.ranks[p as usize] as usize] = level;
        }
    }

    /// Whether ranks `a` and `b` stand for one value: a bar from one to the other has length zero.
    #[inline]
    pub(crate) fn same_level(&self, a: u32, b: u32) -> bool {
        a == b || (!self.levels.is_empty() && a != PADDING && b != PADDING && self.levels[a as usize] == self.levels[b as usize])
    }

    fn conn(&self) -> Connectivity {
        self.connectivity.expect("filtration not built")
    }

    /// The first pixel of the filtration: where the component that never dies is born.
    pub fn first_pixel(&self) -> u32 {
        self.first
    }

    /// Dual edges in ascending order; the dual sweep walks them in reverse.
    pub fn dual_edges(&self) -> &[Edge] {
        match self.conn() {
            Connectivity::Four => &self.edges,
            Connectivity::Eight | Connectivity::Six | Connectivity::TwentySix => &self.dual_edge_list,
        }
    }

    pub fn outside(&self) -> u32 {
        (self.dual_ranks.len() - 1) as u32
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Row length of the padded grid (`cols + 2`): the offset to the pixel below.
    pub fn stride(&self) -> u32 {
        self.stride
    }

    /// Whether this filtration has at most two values (it was built without a sort; only images
    /// are: a volume's empty voxel order means its sweeps took it, [`Filtration::take_voxel_order`]).
    pub fn is_two_level(&self) -> bool {
        self.order.is_empty() && self.shape.dims() == 2
    }

    /// Hands a volume's voxel order to its sweeps, which build their cell lists from it and let
    /// it go: nothing after them reads it (9 MB per filtration at 128³, alive at the matching's
    /// peaks), while the other filtrations' sweeps still read this one.
    pub(crate) fn take_voxel_order(&mut self) -> Vec<u32> {
        debug_assert_eq!(self.shape.dims(), 3);
        std::mem::take(&mut self.order)
    }

    /// Primal union-find start: every pixel alone, ranked by value.
    pub fn reset_primal(&self, uf: &mut UnionFind) {
        uf.reset(&self.ranks);
    }

    /// Dual union-find start: every node alone, ranked by value, except that all nodes of the
    /// outside start as one.
    pub fn reset_dual(&self, uf: &mut UnionFind) {
        let outside = self.outside();
        let parents = self.dual_ranks.iter().enumerate().map(|(i, &r)| if r == PADDING { outside } else { i as u32 });
        uf.reset_with(&self.dual_ranks, parents);
    }
}

/// The image's `(lower, upper)` values if it has at most two distinct ones (equal for a constant
/// image).
pub(crate) fn two_levels(values: &[f64]) -> Option<(f64, f64)> {
    let first = values[0];
    let mut other = None;
    for &v in values {
        if v != first {
            match other {
                None => other = Some(v),
                Some(o) if o != v => return None,
                _ => {}
            }
        }
    }
    let other = other.unwrap_or(first);
    Some((first.min(other), first.max(other)))
}

