//! The filtration of a 3D volume: one sort of the voxels, then the edges and the dual edges in
//! `(value, key)` order, and the dual nodes' ranks. Connectivity 6 (V-construction): the edges
//! join 6-neighbours, the dual edges are the squares, the dual nodes the cubes. Connectivity 26
//! (T-construction): the edges join 26-neighbours, the dual edges are the voxels' walls, the
//! dual nodes the voxels.
//!
//! The edges come in order from [`EdgeBuilder`], the squares from a two-level counting sort of
//! their ranks ([`cells_by_rank`]).

use super::cells::{EdgeValue, Stencil};
use super::edges::EdgeBuilder;
use super::{two_levels, Edge, Filtration, VolumeGeometry, PADDING};
use crate::grid::{Connectivity, Shape};
use crate::order::{partition_two_values, sort_values, SortScratch};

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
    /// included (the barcode path; the two lists as parallel tasks).
    pub(super) fn build_volume(&mut self, values: &[f64]) {
        self.rank_volume(values);
        let mut edges = VolumeCells { edges: std::mem::take(&mut self.edges), ..Default::default() };
        let mut squares = VolumeCells { squares: std::mem::take(&mut self.dual_edge_list), ..Default::default() };
        let this = &*self;
        rayon::join(|| this.volume_edges(&this.order, &mut edges), || this.volume_squares(&this.order, &mut squares));
        self.edges = edges.edges;
        self.dual_edge_list = squares.squares;
    }

    /// The ranks of a volume's voxels and cubes without the cell lists: the matching builds
    /// those per sweep ([`Filtration::volume_edges`], [`Filtration::volume_squares`]).
    pub(crate) fn build_volume_ranks(&mut self, values: &[f64], shape: Shape, connectivity: Connectivity) {
        self.reset(shape, connectivity);
        self.rank_volume(values);
        self.edges = Vec::new();
        self.dual_edge_list = Vec::new();
    }

    /// One sort of the voxels (a partition for two values): their ranks and order, the first
    /// voxel, the cubes' ranks. The sort's buffers are let go (three times the voxels' size), as
    /// volumes are large.
    fn rank_volume(&mut self, values: &[f64]) {
        let (shape, stride, plane) = (self.shape, self.stride as usize, self.plane as usize);
        self.padded_ids.clear();
        for x in 0..shape.depth {
            for y in 0..shape.rows {
                let start = (x + 1) * plane + (y + 1) * stride + 1;
                self.padded_ids.extend((start..start + shape.cols).map(|p| p as u32));
            }
        }
        // Masks (two values) need no sort: a partition gives the same order and ranks.
        match two_levels(values) {
            Some((low, _)) => partition_two_values(values, &self.padded_ids, low, &mut self.order, &mut self.ranks),
            None => {
                sort_values(values, &self.padded_ids, &mut self.order, &mut self.ranks, &mut self.sort);
                self.sort = SortScratch::default();
            }
        }
        self.padded_ids = Vec::new();
        self.first = self.order[0];
        self.build_dual_ranks();
    }

    /// The edges in filtration order, into `cells.edges`; `order` is this filtration's voxel
    /// order (its own, or what [`Filtration::take_voxel_order`] gave).
    pub(crate) fn volume_edges(&self, order: &[u32], cells: &mut VolumeCells) {
        let mut builder = EdgeBuilder { ranks: &self.ranks, order, block: &mut cells.block, bitmap: &mut cells.bitmap };
        let stencil = match self.conn() {
            Connectivity::TwentySix => Stencil::twenty_six(self.stride, self.plane),
            _ => Stencil::six(self.stride, self.plane),
        };
        builder.build(&stencil, EdgeValue::Max, &mut cells.edges);
        cells.block = Vec::new();
        cells.bitmap = Vec::new();
    }

    /// The dual edges (squares, or walls) in filtration order, into `cells.squares` (`order` as
    /// for [`Filtration::volume_edges`]).
    pub(crate) fn volume_squares(&self, order: &[u32], cells: &mut VolumeCells) {
        crate::with_volume_cells!(self.conn(), C => squares::<C>(&self.ranks, order, self.stride, self.plane, &mut cells.squares));
    }
}

/// The squares of the middle dimension ([`VolumeGeometry`]: V squares with four real corners,
/// or T walls with a real voxel), as `rank << 32 | key` in ascending order.
fn squares<C: VolumeGeometry>(ranks: &[u32], voxels: &[u32], stride: u32, plane: u32, out: &mut Vec<Edge>) {
    out.clear();
    let Some(top) = voxels.iter().map(|&p| ranks[p as usize]).max() else { return };
    // Past these anchors a square would leave the padded grid; before them every key is in range.
    let anchors = ranks.len().saturating_sub((plane + stride + 1) as usize) as u32;
    cells_by_rank(anchors, top, |p| C::cells_at(ranks, p, stride, plane).0, out);
}

/// The keys `0..3 * anchors` whose rank is not `PADDING` (ranks at most `top`), as
/// `rank << 32 | key` ascending, into `out`; `ranks_at(p)` gives the ranks of keys `3p`,
/// `3p + 1`, `3p + 2` (the cells anchored at voxel `p`, whose voxels it reads once). A counting sort in two levels: the keys are met in
/// order, so a stable scatter by the high bits of the rank, then a stable counting sort of each
/// bucket by the low bits, give `(rank, key)` order. One scatter by the whole rank would write
/// to millions of places at random (the volume's size apart); the buckets are few enough for
/// the scatter's write positions to stay in cache, and each is small enough to sort in cache.
pub(super) fn cells_by_rank(anchors: u32, top: u32, ranks_at: impl Fn(u32) -> [u32; 3], out: &mut Vec<Edge>) {
    let bits = u32::BITS - top.leading_zeros();
    let low_bits = bits / 2;
    let buckets = (top >> low_bits) as usize + 1;
    // `u32` counts (there are at most `keys` cells).
    let mut starts = vec![0u32; buckets + 1];
    for p in 0..anchors {
        for rank in ranks_at(p) {
            if rank != PADDING {
                starts[(rank >> low_bits) as usize + 1] += 1;
            }
        }
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    out.clear();
    out.resize(starts[buckets] as usize, 0);
    let mut next = starts[..buckets].to_vec();
    for p in 0..anchors {
        for (key, rank) in (3 * p..).zip(ranks_at(p)) {
            if rank != PADDING {
                let slot = &mut next[(rank >> low_bits) as usize];
                out[*slot as usize] = (rank as u64) << 32 | key as u64;
                *slot += 1;
            }
        }
    }
    if low_bits > 0 {
        let mut counts = vec![0u32; (1 << low_bits) + 1];
        let mut scratch = Vec::new();
        for b in 0..buckets {
            sort_bucket_by_low_rank(&mut out[starts[b] as usize..starts[b + 1] as usize], low_bits, &mut counts, &mut scratch);
        }
    }
    debug_assert!(out.windows(2).all(|w| w[0] < w[1]));
}

/// Stable counting sort of `cells` (`rank << 32 | key`, keys ascending, ranks sharing their
/// high bits) by the low `low_bits` bits of the rank.
fn sort_bucket_by_low_rank(cells: &mut [Edge], low_bits: u32, counts: &mut [u32], scratch: &mut Vec<Edge>) {
    if cells.len() < 2 {
        return;
    }
    let low = |cell: Edge| ((cell >> 32) as usize) & ((1 << low_bits) - 1);
    counts.fill(0);
    for &cell in cells.iter() {
        counts[low(cell) + 1] += 1;
    }
    for r in 1..counts.len() {
        counts[r] += counts[r - 1];
    }
    scratch.clear();
    scratch.resize(cells.len(), 0);
    for &cell in cells.iter() {
        let slot = &mut counts[low(cell)];
        scratch[*slot as usize] = cell;
        *slot += 1;
    }
    cells.copy_from_slice(scratch);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    #[test]
    fn cells_by_rank_is_the_sorted_list() {
        let mut rng = XorShift::new(0x0dd5_eed5_1234_9876);
        let mut out = Vec::new();
        for case in 0..300u64 {
            let keys = 3 * rng.below(1700) as u32;
            // Few ranks (masks), many ranks, ranks sparse in a wide range.
            let top = [0, 1, 2, 7, 1000, 1 << 20, u32::MAX - 1][(case % 7) as usize];
            let ranks: Vec<u32> = (0..keys).map(|_| if rng.below(5) == 0 { PADDING } else { rng.below(top as u64 + 1) as u32 }).collect();
            cells_by_rank(keys / 3, top, |p| [0, 1, 2].map(|i| ranks[3 * p as usize + i]), &mut out);
            let mut want: Vec<Edge> = (0..keys).filter(|&k| ranks[k as usize] != PADDING).map(|k| (ranks[k as usize] as u64) << 32 | k as u64).collect();
            want.sort_unstable();
            assert_eq!(out, want, "case {case}, top {top}");
        }
    }
}
