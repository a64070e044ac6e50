//! The cell geometry of a filtration: the neighbour stencils, which pixels an edge joins, which
//! dual nodes a dual edge separates, and the pixel that reports each cell (where a bar is born or
//! dies), with Betti-Matching-3D's tie rules.

use super::{Filtration, PADDING};
use crate::grid::Connectivity;

/// Whether an edge enters at the larger (primal) or smaller (T-dual) endpoint value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EdgeValue {
    Max,
    Min,
}

/// A neighbour graph on padded pixels: forward offsets per edge kind (key = kinds * anchor + kind
/// for the smaller-index endpoint `anchor`), and the kinds' backward order by ascending key.
pub(super) struct Stencil {
    pub(super) forward: [u32; 4],
    pub(super) kinds: u32,
    pub(super) backward_order: [usize; 4],
}

impl Stencil {
    /// Down, right: Betti-Matching-3D's edge types 0 and 1.
    pub(super) fn four(stride: u32) -> Self {
        Stencil { forward: [stride, 1, 0, 0], kinds: 2, backward_order: [0, 1, 0, 0] }
    }

    /// Down, right, down-right, down-left.
    pub(super) fn eight(stride: u32) -> Self {
        Stencil { forward: [stride, 1, stride + 1, stride - 1], kinds: 4, backward_order: [2, 0, 3, 1] }
    }
}

impl Filtration {
    /// The padded index of the pixel at `(row, col)`.
    #[inline]
    pub fn padded(&self, row: usize, col: usize) -> u32 {
        ((row + 1) * self.stride as usize + col + 1) as u32
    }

    /// The plain row-major index of a padded pixel.
    #[inline]
    pub fn pixel(&self, padded: u32) -> u32 {
        let (r, c) = (padded / self.stride, padded % self.stride);
        (r - 1) * self.shape.cols as u32 + (c - 1)
    }

    /// The two pixels an edge joins, the smaller index first.
    #[inline]
    pub fn edge_pixels(&self, key: u32) -> (u32, u32) {
        match self.conn() {
            Connectivity::Four => self.edge_pixels_in::<false>(key),
            Connectivity::Eight => self.edge_pixels_in::<true>(key),
        }
    }

    /// Whether this is a T-construction (connectivity 8): the sweeps pick their loop by it once.
    pub fn is_eight(&self) -> bool {
        self.conn() == Connectivity::Eight
    }

    /// [`Filtration::edge_pixels`] for a connectivity fixed at compile time (`EIGHT`).
    #[inline(always)]
    pub fn edge_pixels_in<const EIGHT: bool>(&self, key: u32) -> (u32, u32) {
        let s = self.stride;
        if EIGHT {
            let p = key >> 2;
            (p, p + [s, 1, s + 1, s - 1][(key & 3) as usize])
        } else {
            let p = key >> 1;
            (p, p + if key & 1 == 0 { s } else { 1 })
        }
    }

    /// The pixel whose value an edge takes: the larger endpoint, the second one on a tie (as
    /// Betti-Matching-3D reports it).
    #[inline]
    pub fn edge_pixel(&self, key: u32) -> u32 {
        let (a, b) = self.edge_pixels(key);
        if self.ranks[b as usize] >= self.ranks[a as usize] {
            b
        } else {
            a
        }
    }

    /// The two dual nodes a dual edge separates (nodes of the outside where it leaves the grid).
    #[inline]
    pub fn dual_edge_nodes(&self, key: u32) -> (u32, u32) {
        match self.conn() {
            Connectivity::Four => self.dual_edge_nodes_in::<false>(key),
            Connectivity::Eight => self.dual_edge_nodes_in::<true>(key),
        }
    }

    /// [`Filtration::dual_edge_nodes`] for a connectivity fixed at compile time (`EIGHT`).
    #[inline(always)]
    pub fn dual_edge_nodes_in<const EIGHT: bool>(&self, key: u32) -> (u32, u32) {
        let p = key >> 1;
        if EIGHT {
            (p, p + if key & 1 == 0 { self.stride } else { 1 })
        } else {
            // The squares whose top-left pixels are left/right of a vertical edge, above/below a
            // horizontal one.
            (p - if key & 1 == 0 { 1 } else { self.stride }, p)
        }
    }

    /// The pixel whose value a dual edge takes (where the cycle is born).
    #[inline]
    pub fn dual_edge_pixel(&self, key: u32) -> u32 {
        match self.conn() {
            Connectivity::Four => self.edge_pixel(key),
            Connectivity::Eight => {
                let (a, b) = self.dual_edge_nodes(key);
                if self.ranks[a as usize] <= self.ranks[b as usize] {
                    a
                } else {
                    b
                }
            }
        }
    }

    /// The pixel whose value a dual node (a top cell) takes: where a cycle dies. For squares the
    /// tie order is Betti-Matching-3D's: bottom-right, bottom-left, top-right, top-left.
    #[inline]
    pub fn dual_node_pixel(&self, node: u32) -> u32 {
        match self.conn() {
            Connectivity::Eight => node,
            Connectivity::Four => {
                let s = self.stride;
                let rank = self.dual_ranks[node as usize];
                [node + s + 1, node + s, node + 1, node]
                    .into_iter()
                    .find(|&p| self.ranks[p as usize] == rank)
                    .unwrap_or(node)
            }
        }
    }
}

/// Ranks of the squares (2x2 blocks) of the V-construction, by top-left padded index; `PADDING`
/// for any block that touches the padding.
pub(super) fn square_ranks(ranks: &[u32], stride: usize, out: &mut Vec<u32>) {
    let n = ranks.len();
    out.clear();
    out.reserve(n + 1);
    out.extend((0..n - stride - 1).map(|p| ranks[p].max(ranks[p + 1]).max(ranks[p + stride].max(ranks[p + stride + 1]))));
    out.resize(n, PADDING);
}
