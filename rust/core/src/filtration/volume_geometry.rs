//! The cells of a volume's middle dimension: the squares (columns of the reduction) and the
//! edges (its rows) of each 3D construction, what each bounds, their values and the voxel that
//! reports each, as one trait the middle reduction is written against.
//!
//! - V-construction ([`V3`]): squares `3p + normal axis` with four real corners, value the max
//!   of theirs; rows are the primal edges `3p + axis` (value the max of the two endpoints).
//! - T-construction ([`T3`]): the T-complex of the voxels as closed unit cubes, a cell taking the
//!   min of the voxels it bounds (padding voxels count as `+inf`). Its squares are the walls
//!   `3p + axis` between voxel `p` and its neighbour along `axis` (the dual edges of the top
//!   sweep); its edges are `3p + kind`, the line shared by the four voxels `p + {0, oa, ob, oa +
//!   ob}` where `a < b` are the two axes the edge does not run along, kind 0/1/2 for the axis
//!   pairs (depth, rows), (depth, cols), (rows, cols), i.e. edges along cols, rows, depth. `p` is
//!   the smallest of the four voxels, which may be padding. A cell is reported by the first of
//!   its voxels (lowest index) attaining its value.

use super::{Cells, Filtration, PADDING, T3, V3};
use crate::key_set::KeySet;
use crate::union_find::UnionFind;

/// The middle dimension's geometry of a 3D construction, on padded indices (`stride`: padded
/// row length; `plane`: padded plane size). Square and row keys are both below three times the
/// padded voxel count.
pub trait VolumeGeometry: Cells {
    /// The rows of a square's boundary (some may be keys of no cell, never out of range).
    fn square_rows(square: u32, stride: u32, plane: u32) -> [u32; 4];

    /// The squares that have a row in their boundary (some may be keys of no cell, or touch the
    /// padding; never out of range for a row that is a cell).
    fn row_squares(row: u32, stride: u32, plane: u32) -> [u32; 4];

    /// [`VolumeGeometry::square_rows`] in ascending key order.
    #[inline]
    fn square_rows_ascending(square: u32, stride: u32, plane: u32) -> [u32; 4] {
        let mut rows = Self::square_rows(square, stride, plane);
        rows.sort_unstable();
        rows
    }

    /// [`VolumeGeometry::row_squares`] in ascending key order.
    #[inline]
    fn row_squares_ascending(row: u32, stride: u32, plane: u32) -> [u32; 4] {
        let mut squares = Self::row_squares(row, stride, plane);
        squares.sort_unstable();
        squares
    }

    /// A square's rank (`PADDING` if the key names no square).
    fn square_rank(ranks: &[u32], square: u32, stride: u32, plane: u32) -> u32;

    /// A row's rank (`PADDING` if the key names no row cell).
    fn row_rank(ranks: &[u32], row: u32, stride: u32, plane: u32) -> u32;

    /// The padded voxel that reports a row cell's value (where a loop is born).
    fn row_voxel(ranks: &[u32], row: u32, stride: u32, plane: u32) -> u32;

    /// The ranks of the three squares and of the three rows keyed at voxel `p` (keys `3p`,
    /// `3p + 1`, `3p + 2`), for a `p` that anchors middle cells (its cells stay in the grid).
    #[inline]
    fn cells_at(ranks: &[u32], p: u32, stride: u32, plane: u32) -> ([u32; 3], [u32; 3]) {
        let key = 3 * p;
        ([0, 1, 2].map(|i| Self::square_rank(ranks, key + i, stride, plane)), [0, 1, 2].map(|i| Self::row_rank(ranks, key + i, stride, plane)))
    }

    /// Where the rows are not the bottom sweep's edges ([`Cells::MIDDLE_ROWS_ARE_EDGES`] false),
    /// puts into `rows` (reset to the row keys) the rows that close cycles, in a union-find sweep
    /// of the complex's own vertices and rows in filtration order: the rows after compression.
    /// Does nothing otherwise (the bottom sweep found them).
    fn sweep_cycle_rows(_f: &Filtration, _uf: &mut UnionFind, _rows: &mut KeySet) {}
}

/// The two axes other than `axis`, ascending.
#[inline(always)]
fn other_axes(axis: u32) -> (u32, u32) {
    match axis {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    }
}

impl VolumeGeometry for V3 {
    #[inline]
    fn square_rows(square: u32, stride: u32, plane: u32) -> [u32; 4] {
        let (p, normal) = (square / 3, square % 3);
        // The square spans axes a < b, with offsets oa > ob.
        let (a, b) = other_axes(normal);
        let (oa, ob) = (V3::offset(a, stride, plane), V3::offset(b, stride, plane));
        [3 * p + a, 3 * (p + ob) + a, 3 * p + b, 3 * (p + oa) + b]
    }

    #[inline]
    fn row_squares(edge: u32, stride: u32, plane: u32) -> [u32; 4] {
        let (q, axis) = (edge / 3, edge % 3);
        // The other two axes, each spanning a square with the edge's axis; normal = the third.
        let (b, c) = other_axes(axis);
        let (nb, nc) = (3 - axis - b, 3 - axis - c);
        [3 * q + nb, 3 * (q - V3::offset(b, stride, plane)) + nb, 3 * q + nc, 3 * (q - V3::offset(c, stride, plane)) + nc]
    }

    #[inline]
    fn square_rows_ascending(square: u32, stride: u32, plane: u32) -> [u32; 4] {
        // Offsets oa > ob >= 1 and a < b <= 2 put 3p + a < 3p + b < 3(p + ob) + a < 3(p + oa) + b.
        let [low_a, ob_a, low_b, oa_b] = V3::square_rows(square, stride, plane);
        [low_a, low_b, ob_a, oa_b]
    }

    #[inline]
    fn row_squares_ascending(edge: u32, stride: u32, plane: u32) -> [u32; 4] {
        // With b < c (offsets ob > oc >= 1, normals nb > nc): 3(q - ob) + nb < 3(q - oc) + nc
        // < 3q + nc < 3q + nb.
        let [q_b, back_b, q_c, back_c] = V3::row_squares(edge, stride, plane);
        [back_b, back_c, q_c, q_b]
    }

    #[inline]
    fn square_rank(ranks: &[u32], square: u32, stride: u32, plane: u32) -> u32 {
        let (p, normal) = ((square / 3) as usize, square % 3);
        let (a, b) = other_axes(normal);
        let (oa, ob) = (V3::offset(a, stride, plane) as usize, V3::offset(b, stride, plane) as usize);
        ranks[p].max(ranks[p + oa]).max(ranks[p + ob]).max(ranks[p + oa + ob])
    }

    #[inline]
    fn row_rank(ranks: &[u32], edge: u32, stride: u32, plane: u32) -> u32 {
        let (a, b) = V3::edge_pixels(edge, stride, plane);
        ranks[a as usize].max(ranks[b as usize])
    }

    /// The seven voxels of the cube at `p` that its cells at `p` touch, each read once.
    #[inline(always)]
    fn cells_at(ranks: &[u32], p: u32, stride: u32, plane: u32) -> ([u32; 3], [u32; 3]) {
        let (p, s, z) = (p as usize, stride as usize, plane as usize);
        let at = |offset: usize| ranks[p + offset];
        let (r, rz, rs, r1) = (at(0), at(z), at(s), at(1));
        let (rzs, rz1, rs1) = (at(z + s), at(z + 1), at(s + 1));
        // Square `3p + normal` spans the other two axes; row `3p + axis` runs along `axis`.
        ([r.max(rs).max(r1).max(rs1), r.max(rz).max(r1).max(rz1), r.max(rz).max(rs).max(rzs)], [r.max(rz), r.max(rs), r.max(r1)])
    }

    #[inline]
    fn row_voxel(ranks: &[u32], edge: u32, stride: u32, plane: u32) -> u32 {
        let (a, b) = V3::edge_pixels(edge, stride, plane);
        if ranks[b as usize] >= ranks[a as usize] {
            b
        } else {
            a
        }
    }
}

impl T3 {
    /// The axes pair (a, b), a < b, that a T-edge of `kind` is bounded across (kind 0: depth and
    /// rows, 1: depth and cols, 2: rows and cols).
    #[inline(always)]
    fn edge_axes(kind: u32) -> (u32, u32) {
        match kind {
            0 => (0, 1),
            1 => (0, 2),
            _ => (1, 2),
        }
    }

    /// The kind of the T-edge bounded across axes `a < b`.
    #[inline(always)]
    fn edge_kind(a: u32, b: u32) -> u32 {
        a + b - 1
    }

    /// The four voxels around a T-edge, ascending.
    #[inline(always)]
    fn edge_voxels(edge: u32, stride: u32, plane: u32) -> [u32; 4] {
        let (q, (a, b)) = (edge / 3, T3::edge_axes(edge % 3));
        let (oa, ob) = (V3::offset(a, stride, plane), V3::offset(b, stride, plane));
        [q, q + ob, q + oa, q + oa + ob]
    }
}

impl T3 {
    /// The T-edges anchored below `anchors`, as `rank << 32 | key` ascending.
    fn edges_in_order(ranks: &[u32], stride: u32, plane: u32, anchors: usize) -> Vec<u64> {
        let top = ranks.iter().copied().filter(|&r| r != PADDING).max().unwrap_or(0);
        let mut out = Vec::new();
        super::volume::cells_by_rank(anchors as u32, top, |p| [0, 1, 2].map(|kind| T3::row_rank(ranks, 3 * p + kind, stride, plane)), &mut out);
        out
    }
}

impl VolumeGeometry for T3 {
    #[inline]
    fn square_rows(wall: u32, stride: u32, plane: u32) -> [u32; 4] {
        let (p, axis) = (wall / 3, wall % 3);
        // The wall's edges run along its two other axes b < c; each is bounded across `axis`
        // and the remaining one, on the lower or the upper side of `p`.
        let (b, c) = other_axes(axis);
        let (ob, oc) = (V3::offset(b, stride, plane), V3::offset(c, stride, plane));
        let across = |x: u32, y: u32| T3::edge_kind(x.min(y), x.max(y));
        let (along_b, along_c) = (across(axis, c), across(axis, b));
        [3 * p + along_b, 3 * (p - oc) + along_b, 3 * p + along_c, 3 * (p - ob) + along_c]
    }

    #[inline]
    fn row_squares(edge: u32, stride: u32, plane: u32) -> [u32; 4] {
        let (q, (a, b)) = (edge / 3, T3::edge_axes(edge % 3));
        let (oa, ob) = (V3::offset(a, stride, plane), V3::offset(b, stride, plane));
        // Walls crossing `a` from the voxels q and q + ob; walls crossing `b` from q and q + oa.
        [3 * q + a, 3 * (q + ob) + a, 3 * q + b, 3 * (q + oa) + b]
    }

    #[inline]
    fn square_rank(ranks: &[u32], wall: u32, stride: u32, plane: u32) -> u32 {
        let (a, b) = T3::dual_edge_nodes(wall, stride, plane);
        ranks[a as usize].min(ranks[b as usize])
    }

    #[inline]
    fn row_rank(ranks: &[u32], edge: u32, stride: u32, plane: u32) -> u32 {
        T3::edge_voxels(edge, stride, plane).into_iter().map(|v| ranks[v as usize]).min().unwrap_or(PADDING)
    }

    fn sweep_cycle_rows(f: &Filtration, uf: &mut UnionFind, rows: &mut KeySet) {
        let (ranks, stride, plane) = (&f.ranks, f.stride(), f.plane());
        let anchors = ranks.len().saturating_sub((plane + stride + 1) as usize);
        let edges = T3::edges_in_order(ranks, stride, plane, anchors);
        // A T-vertex is keyed by the smallest of the 2x2x2 voxels around it; an edge bounded
        // across axes a, b runs along the third, d, from the vertex at q - od to the one at q.
        uf.reset_singletons(anchors);
        rows.reset(3 * ranks.len());
        for (k, &edge) in edges.iter().enumerate() {
            if k % super::STOP_CHECK_CELLS == 0 && f.stopped() {
                return;
            }
            let key = edge as u32;
            let (q, (a, b)) = (key / 3, T3::edge_axes(key % 3));
            let (lower, upper) = (uf.find(q - V3::offset(3 - a - b, stride, plane)), uf.find(q));
            if lower == upper {
                rows.insert(key);
            } else {
                uf.union_ascending(lower, upper);
            }
        }
    }

    #[inline]
    fn row_voxel(ranks: &[u32], edge: u32, stride: u32, plane: u32) -> u32 {
        let voxels = T3::edge_voxels(edge, stride, plane);
        let rank = T3::row_rank(ranks, edge, stride, plane);
        voxels.into_iter().find(|&v| ranks[v as usize] == rank).unwrap_or(voxels[0])
    }
}
