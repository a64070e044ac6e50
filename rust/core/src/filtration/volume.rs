//! The filtration of a 3D volume (connectivity 6, V-construction): one sort of the voxels, then
//! the edges and the squares (the dual edges) in `(value, key)` order, and the cubes' ranks (the
//! dual nodes).
//!
//! This first version orders the edges and squares by a plain sort of `rank << 32 | key`; the 2D
//! path's per-pixel generation (only ties need ordering) is the way to make it faster.

use super::cells::{EdgeValue, Stencil};
use super::edges::EdgeBuilder;
use super::{Edge, Filtration, PADDING};
use crate::order::{sort_values, SortScratch};

/// The cell lists a volume's sweeps walk, in filtration order: built by the sweep's owner from
/// the filtration's ranks and dropped after the sweep, so that at most one list per filtration
/// (24 bytes per voxel) is alive at a time.
#[derive(Default)]
pub struct VolumeCells {
    pub edges: Vec<Edge>,
    pub squares: Vec<Edge>,
    block: Vec<u32>,
    bitmap: Vec<u64>,
}

impl Filtration {
    /// Builds the filtration of a volume (`self.reset` done, values validated), its cell lists
    /// included (the barcode path).
    pub(super) fn build_volume(&mut self, values: &[f64]) {
        self.rank_volume(values);
        let mut cells = VolumeCells { edges: std::mem::take(&mut self.edges), squares: std::mem::take(&mut self.dual_edge_list), ..Default::default() };
        self.volume_edges(&mut cells);
        self.volume_squares(&mut cells);
        self.edges = cells.edges;
        self.dual_edge_list = cells.squares;
    }

    /// The ranks of a volume's voxels and cubes without the cell lists: the matching builds
    /// those per sweep ([`Filtration::volume_edges`], [`Filtration::volume_squares`]).
    pub(crate) fn build_volume_ranks(&mut self, values: &[f64], shape: crate::grid::Shape) {
        self.reset(shape, crate::grid::Connectivity::Six);
        self.rank_volume(values);
        self.edges = Vec::new();
        self.dual_edge_list = Vec::new();
    }

    /// One sort of the voxels: their ranks and order, the first voxel, the cubes' ranks. The
    /// sort's buffers are let go (three times the voxels' size), as volumes are large.
    fn rank_volume(&mut self, values: &[f64]) {
        let (shape, stride, plane) = (self.shape, self.stride as usize, self.plane as usize);
        self.padded_ids.clear();
        for x in 0..shape.depth {
            for y in 0..shape.rows {
                let start = (x + 1) * plane + (y + 1) * stride + 1;
                self.padded_ids.extend((start..start + shape.cols).map(|p| p as u32));
            }
        }
        sort_values(values, &self.padded_ids, &mut self.order, &mut self.ranks, &mut self.sort);
        self.sort = SortScratch::default();
        self.padded_ids = Vec::new();
        self.first = self.order[0];
        self.build_dual_ranks();
    }

    /// The edges in filtration order, into `cells.edges`.
    pub(crate) fn volume_edges(&self, cells: &mut VolumeCells) {
        let mut builder = EdgeBuilder { ranks: &self.ranks, order: &self.order, block: &mut cells.block, bitmap: &mut cells.bitmap };
        builder.build(&Stencil::six(self.stride, self.plane), EdgeValue::Max, &mut cells.edges);
        cells.block = Vec::new();
        cells.bitmap = Vec::new();
    }

    /// The squares (the dual edges) in filtration order, into `cells.squares`.
    pub(crate) fn volume_squares(&self, cells: &mut VolumeCells) {
        squares(&self.ranks, &self.order, self.stride, self.plane, &mut cells.squares);
    }
}

/// The squares with four real corners, as `rank << 32 | key` in ascending order (key `3p + normal
/// axis`, `p` the smallest corner; rank the largest corner rank). A counting sort by rank: the
/// ranks are dense and the squares are met in key order, so one count and one scatter pass give
/// `(rank, key)` order, three to four times faster than sorting the list.
fn squares(ranks: &[u32], voxels: &[u32], stride: u32, plane: u32, out: &mut Vec<Edge>) {
    out.clear();
    let Some(top) = voxels.iter().map(|&p| ranks[p as usize]).max() else { return };
    let (stride, plane) = (stride as usize, plane as usize);
    let rank_of = |p: usize, normal: usize| {
        let (a, b) = [(stride, 1), (plane, 1), (plane, stride)][normal];
        ranks[p].max(ranks[p + a]).max(ranks[p + b]).max(ranks[p + a + b])
    };
    // The real voxels in raster order are the anchors in key order: those ranked below PADDING
    // whose whole 2x2x2 block lies inside the padded grid.
    let anchors = || (0..ranks.len().saturating_sub(plane + stride + 1)).filter(|&p| ranks[p] != PADDING);
    let mut starts = vec![0usize; top as usize + 2];
    for p in anchors() {
        for normal in 0..3 {
            let rank = rank_of(p, normal);
            if rank != PADDING {
                starts[rank as usize + 1] += 1;
            }
        }
    }
    for r in 1..starts.len() {
        starts[r] += starts[r - 1];
    }
    out.resize(starts[starts.len() - 1], 0);
    for p in anchors() {
        for normal in 0..3 {
            let rank = rank_of(p, normal);
            if rank != PADDING {
                let slot = &mut starts[rank as usize];
                out[*slot] = (rank as u64) << 32 | (3 * p + normal) as u64;
                *slot += 1;
            }
        }
    }
    debug_assert!(out.windows(2).all(|w| w[0] < w[1]));
}

/// Ranks of the cubes (2×2×2 blocks) by smallest corner; `PADDING` for any block that touches the
/// padding (the caller appends the outside node).
pub(super) fn cube_ranks(ranks: &[u32], stride: usize, plane: usize, out: &mut Vec<u32>) {
    let n = ranks.len();
    out.clear();
    out.resize(n, PADDING);
    let square = |q: usize| ranks[q].max(ranks[q + 1]).max(ranks[q + stride]).max(ranks[q + stride + 1]);
    for (p, cube) in out.iter_mut().enumerate().take(n.saturating_sub(plane + stride + 1)) {
        *cube = square(p).max(square(p + plane));
    }
}
