//! The two-level path (masks): with at most two values, every cell of the lower level precedes
//! every cell of the upper one and ties go by index, so a raster scan gives the filtration order
//! without a sort.

use super::cells::{EdgeValue, Stencil};
use super::{Edge, Filtration};
use crate::grid::{Connectivity, Shape};

impl Filtration {
    /// The fast path for images with at most two distinct values (masks): no sort. Every cell of
    /// the lower level precedes every cell of the upper one, and within a level the tie order is
    /// the index order, which a raster scan produces directly.
    pub(super) fn build_two_level(&mut self, values: &[f64], low: f64) {
        let (shape, stride) = (self.shape, self.stride as usize);
        self.order.clear();
        self.first = u32::MAX;
        for (r, row) in values.chunks_exact(shape.cols).enumerate() {
            let start = (r + 1) * stride + 1;
            for (c, &v) in row.iter().enumerate() {
                let rank = (v != low) as u32;
                self.ranks[start + c] = rank;
                if rank == 0 && self.first == u32::MAX {
                    self.first = (start + c) as u32;
                }
            }
        }
        let conn = self.conn();
        let (ranks, block) = (&self.ranks, &mut self.block);
        match conn {
            Connectivity::Four => raster_edges_max::<2>(ranks, shape, &Stencil::four(self.stride), block, &mut self.edges),
            Connectivity::Eight => {
                raster_edges_max::<4>(ranks, shape, &Stencil::eight(self.stride), block, &mut self.edges);
                raster_edges(ranks, &Stencil::four(self.stride), EdgeValue::Min, block, &mut self.dual_edge_list);
            }
            Connectivity::Six | Connectivity::TwentySix => unreachable!("volumes are built by build_volume"),
        }
        self.build_dual_ranks();
    }
}

/// [`raster_edges`] for the `Max` rule with `KINDS` edge kinds (the stencil's). An edge with a
/// padding end takes the padding's rank, so only real anchor pixels are scanned; each candidate
/// is written to both outputs and kept by advancing the length of the one its rank selects, which
/// avoids a branch per edge.
fn raster_edges_max<const KINDS: usize>(ranks: &[u32], shape: Shape, stencil: &Stencil, upper: &mut Vec<u32>, out: &mut Vec<Edge>) {
    debug_assert_eq!(stencil.kinds as usize, KINDS);
    let stride = shape.cols + 2;
    let bound = shape.pixels() * KINDS;
    out.clear();
    upper.clear();
    out.reserve(bound);
    upper.reserve(bound);
    let (lower_slots, upper_slots) = (&mut out.spare_capacity_mut()[..bound], &mut upper.spare_capacity_mut()[..bound]);
    let (mut lower_len, mut upper_len) = (0, 0);
    for r in 0..shape.rows {
        let start = (r + 1) * stride + 1;
        for p in start..start + shape.cols {
            let rp = ranks[p];
            for (kind, &off) in stencil.forward[..KINDS].iter().enumerate() {
                let rank = rp.max(ranks[p + off as usize]);
                let key = (p * KINDS + kind) as u32;
                // At most `bound` candidates are kept in either output: the slots exist.
                lower_slots[lower_len].write(key as u64);
                upper_slots[upper_len].write(key);
                lower_len += (rank == 0) as usize;
                upper_len += (rank == 1) as usize;
            }
        }
    }
    // SAFETY: the first `lower_len` / `upper_len` slots were written above.
    unsafe {
        out.set_len(lower_len);
        upper.set_len(upper_len);
    }
    out.extend(upper.iter().map(|&k| (1u64 << 32) | k as u64));
}

/// Edges of a two-level image (ranks 0 and 1, padding `PADDING`) in filtration order: all edges
/// of rank 0 in key order, then all of rank 1 — a raster scan over every anchor pixel.
fn raster_edges(ranks: &[u32], stencil: &Stencil, rule: EdgeValue, upper: &mut Vec<u32>, out: &mut Vec<Edge>) {
    out.clear();
    upper.clear();
    let kinds = stencil.kinds as usize;
    let n = ranks.len();
    for (p, &rp) in ranks.iter().enumerate() {
        for (kind, &off) in stencil.forward[..kinds].iter().enumerate() {
            let q = p + off as usize;
            if q >= n {
                continue;
            }
            let rq = ranks[q];
            let rank = match rule {
                EdgeValue::Max => rp.max(rq),
                EdgeValue::Min => rp.min(rq),
            };
            let key = (p * kinds + kind) as u32;
            match rank {
                0 => out.push(key as u64),
                1 => upper.push(key),
                _ => {}
            }
        }
    }
    out.extend(upper.iter().map(|&k| (1u64 << 32) | k as u64));
}
