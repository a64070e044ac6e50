//! The cell geometry of a filtration: the neighbour stencils, which pixels an edge joins, which
//! dual nodes a dual edge separates, and the pixel that reports each cell (where a bar is born or
//! dies), with Betti-Matching-3D's tie rules.

use super::{Filtration, PADDING};
use crate::grid::Connectivity;

/// A cubical construction of a fixed dimension, the one generic parameter of the sweeps: how keys
/// name edges and dual edges, and which cells they join. Zero-sized; each public call picks one
/// from the connectivity once ([`with_cells!`](crate::with_cells)), so the sweeps compile to one
/// loop per construction.
pub trait Cells: Copy + Send + Sync + 'static {
    /// Whether the dual sweep may walk only the edges the component sweep found closing cycles
    /// (the dual edges are the primal ones, as in a plane graph: see `cycle_sweep`).
    const DUAL_EDGES_ARE_PRIMAL: bool;

    /// Whether the rows of the middle reduction (a volume's dimension 1) are the primal edges,
    /// as in the V-construction: the reduction then needs the edges that the component sweep
    /// found closing cycles, as its rows after compression.
    const MIDDLE_ROWS_ARE_EDGES: bool;

    /// The two padded pixels an edge joins, the smaller index first (`stride`: the padded row
    /// length, `plane`: the padded plane size, used in 3D only).
    fn edge_pixels(key: u32, stride: u32, plane: u32) -> (u32, u32);

    /// The two dual nodes a dual edge separates (nodes of the outside where it leaves the grid).
    fn dual_edge_nodes(key: u32, stride: u32, plane: u32) -> (u32, u32);
}

/// 2D V-construction (connectivity 4): pixels are vertices; edges `2p + kind`, kinds down and
/// right; the dual nodes are the squares, keyed by their top-left pixel.
#[derive(Clone, Copy, Debug, Default)]
pub struct V2;

/// 2D T-construction (connectivity 8): pixels are top cells; edges `4p + kind`, kinds down,
/// right, down-right, down-left; the dual nodes are the pixels, dual edges `2p + kind` their
/// 4-neighbour faces.
#[derive(Clone, Copy, Debug, Default)]
pub struct T2;

impl Cells for V2 {
    const DUAL_EDGES_ARE_PRIMAL: bool = true;
    const MIDDLE_ROWS_ARE_EDGES: bool = false;

    #[inline(always)]
    fn edge_pixels(key: u32, stride: u32, _plane: u32) -> (u32, u32) {
        let p = key >> 1;
        (p, p + if key & 1 == 0 { stride } else { 1 })
    }

    #[inline(always)]
    fn dual_edge_nodes(key: u32, stride: u32, _plane: u32) -> (u32, u32) {
        // The squares whose top-left pixels are left/right of a vertical edge, above/below a
        // horizontal one.
        let p = key >> 1;
        (p - if key & 1 == 0 { 1 } else { stride }, p)
    }
}

impl Cells for T2 {
    const DUAL_EDGES_ARE_PRIMAL: bool = false;
    const MIDDLE_ROWS_ARE_EDGES: bool = false;

    #[inline(always)]
    fn edge_pixels(key: u32, stride: u32, _plane: u32) -> (u32, u32) {
        let p = key >> 2;
        (p, p + [stride, 1, stride + 1, stride - 1][(key & 3) as usize])
    }

    #[inline(always)]
    fn dual_edge_nodes(key: u32, stride: u32, _plane: u32) -> (u32, u32) {
        let p = key >> 1;
        (p, p + if key & 1 == 0 { stride } else { 1 })
    }
}

/// 3D V-construction (connectivity 6, Betti-Matching-3D's): voxels are vertices; edges
/// `3p + axis` (axis 0, 1, 2 = +depth, +row, +col, from the smaller corner `p`); the dual nodes
/// are the cubes, keyed by their smallest corner, and the dual edges are the squares
/// `3p + normal axis` (type 0 spans rows and cols, 1 depth and cols, 2 depth and rows): in
/// `(anchor, type)` order, which is the reference's `x<<44 | y<<24 | z<<4 | type` order.
#[derive(Clone, Copy, Debug, Default)]
pub struct V3;

impl V3 {
    /// The offset to the next voxel along `axis` (0 = depth, 1 = rows, 2 = cols).
    #[inline(always)]
    pub(crate) fn offset(axis: u32, stride: u32, plane: u32) -> u32 {
        match axis {
            0 => plane,
            1 => stride,
            _ => 1,
        }
    }
}

impl Cells for V3 {
    const DUAL_EDGES_ARE_PRIMAL: bool = false;
    const MIDDLE_ROWS_ARE_EDGES: bool = true;

    #[inline(always)]
    fn edge_pixels(key: u32, stride: u32, plane: u32) -> (u32, u32) {
        let p = key / 3;
        (p, p + V3::offset(key % 3, stride, plane))
    }

    #[inline(always)]
    fn dual_edge_nodes(key: u32, stride: u32, plane: u32) -> (u32, u32) {
        // The cubes on either side of the square along its normal axis.
        let p = key / 3;
        (p - V3::offset(key % 3, stride, plane), p)
    }
}

/// 3D T-construction (connectivity 26): voxels are top cells. Dimension 0 walks the graph of
/// the 26 neighbours (edges `13p + kind`, entering at the larger voxel value, as the 2D
/// T-construction's 8 neighbours); the dual nodes are the voxels, the dual edges their walls
/// `3p + axis` (the wall between `p` and its neighbour along `axis`, padding voxels included, so
/// that a wall on the border joins the outside), entering at the smaller voxel value. The middle
/// dimension reduces the walls against the T-complex's edges (see `volume_geometry`).
///
/// The 13 kinds, each the forward offset to the larger-index neighbour, ordered by how many axes
/// they step along, then lexicographically descending in (depth, row, col) steps: `+x, +y, +z`,
/// `(1,1,0), (1,0,1), (1,0,-1), (1,-1,0), (0,1,1), (0,1,-1)`, `(1,1,1), (1,1,-1), (1,-1,1),
/// (1,-1,-1)` (the 2D T-construction's down, right, down-right, down-left, generalised, so that
/// a volume one voxel thick orders its cells as its slice does).
#[derive(Clone, Copy, Debug, Default)]
pub struct T3;

impl T3 {
    /// The forward offsets of the 13 edge kinds.
    #[inline(always)]
    pub(crate) fn forward(stride: u32, plane: u32) -> [u32; 13] {
        let (z, s) = (plane, stride);
        [z, s, 1, z + s, z + 1, z - 1, z - s, s + 1, s - 1, z + s + 1, z + s - 1, z - s + 1, z - s - 1]
    }
}

impl Cells for T3 {
    const DUAL_EDGES_ARE_PRIMAL: bool = false;
    const MIDDLE_ROWS_ARE_EDGES: bool = false;

    #[inline(always)]
    fn edge_pixels(key: u32, stride: u32, plane: u32) -> (u32, u32) {
        let p = key / 13;
        (p, p + T3::forward(stride, plane)[(key % 13) as usize])
    }

    #[inline(always)]
    fn dual_edge_nodes(key: u32, stride: u32, plane: u32) -> (u32, u32) {
        let p = key / 3;
        (p, p + V3::offset(key % 3, stride, plane))
    }
}

/// Runs `$body` with the type `$cells` bound to the [`Cells`] of `$connectivity`.
#[macro_export]
#[doc(hidden)]
macro_rules! with_cells {
    ($connectivity:expr, $cells:ident => $body:expr) => {
        match $connectivity {
            $crate::grid::Connectivity::Four => {
                type $cells = $crate::filtration::V2;
                $body
            }
            $crate::grid::Connectivity::Eight => {
                type $cells = $crate::filtration::T2;
                $body
            }
            $crate::grid::Connectivity::Six => {
                type $cells = $crate::filtration::V3;
                $body
            }
            $crate::grid::Connectivity::TwentySix => {
                type $cells = $crate::filtration::T3;
                $body
            }
        }
    };
}

/// Runs `$body` with the type `$cells` bound to the 3D [`Cells`] of `$connectivity` (which
/// implement [`VolumeGeometry`](crate::filtration::VolumeGeometry)); a 2D connectivity is a bug.
#[macro_export]
#[doc(hidden)]
macro_rules! with_volume_cells {
    ($connectivity:expr, $cells:ident => $body:expr) => {
        match $connectivity {
            $crate::grid::Connectivity::Six => {
                type $cells = $crate::filtration::V3;
                $body
            }
            $crate::grid::Connectivity::TwentySix => {
                type $cells = $crate::filtration::T3;
                $body
            }
            other => unreachable!("{other:?} is not a 3D connectivity"),
        }
    };
}

/// Whether an edge enters at the larger (primal) or smaller (T-dual) endpoint value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EdgeValue {
    Max,
    Min,
}

/// A neighbour graph on padded pixels: forward offsets per edge kind (key = kinds * anchor + kind
/// for the smaller-index endpoint `anchor`), and the kinds' backward order by ascending key.
pub(super) struct Stencil {
    pub(super) forward: [u32; 13],
    pub(super) kinds: u32,
    pub(super) backward_order: [usize; 13],
}

impl Stencil {
    /// Down, right: Betti-Matching-3D's edge types 0 and 1.
    pub(super) fn four(stride: u32) -> Self {
        Stencil::new(&[stride, 1])
    }

    /// Down, right, down-right, down-left.
    pub(super) fn eight(stride: u32) -> Self {
        Stencil::new(&[stride, 1, stride + 1, stride - 1])
    }

    /// 3D: deeper, down, right (Betti-Matching-3D's edge types 0, 1, 2).
    pub(super) fn six(stride: u32, plane: u32) -> Self {
        Stencil::new(&[plane, stride, 1])
    }

    /// 3D, the 26 neighbours: the [`T3`] kinds.
    pub(super) fn twenty_six(stride: u32, plane: u32) -> Self {
        Stencil::new(&T3::forward(stride, plane))
    }

    /// The stencil of these forward offsets (distinct). A pixel's backward neighbours
    /// `p - forward[kind]` anchor keys that ascend as the offsets descend.
    fn new(offsets: &[u32]) -> Self {
        let mut forward = [0; 13];
        forward[..offsets.len()].copy_from_slice(offsets);
        let mut backward_order = [0; 13];
        let mut kinds: Vec<usize> = (0..offsets.len()).collect();
        kinds.sort_by_key(|&k| std::cmp::Reverse(offsets[k]));
        backward_order[..offsets.len()].copy_from_slice(&kinds);
        Stencil { forward, kinds: offsets.len() as u32, backward_order }
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
        if self.shape.dims() == 3 {
            let (x, rest) = (padded / self.plane, padded % self.plane);
            let (y, z) = (rest / self.stride, rest % self.stride);
            return ((x - 1) * self.shape.rows as u32 + (y - 1)) * self.shape.cols as u32 + (z - 1);
        }
        let (r, c) = (padded / self.stride, padded % self.stride);
        (r - 1) * self.shape.cols as u32 + (c - 1)
    }

    /// The two pixels an edge joins, the smaller index first.
    #[inline]
    pub fn edge_pixels(&self, key: u32) -> (u32, u32) {
        crate::with_cells!(self.conn(), C => self.edge_pixels_in::<C>(key))
    }

    /// The padded plane size: the offset to the voxel one deeper (3D).
    pub fn plane(&self) -> u32 {
        self.plane
    }

    /// The connectivity it was built for.
    pub fn connectivity(&self) -> Connectivity {
        self.conn()
    }

    /// Whether the dual edges are the primal edges ([`Cells::DUAL_EDGES_ARE_PRIMAL`]).
    pub fn dual_edges_are_primal(&self) -> bool {
        crate::with_cells!(self.conn(), C => C::DUAL_EDGES_ARE_PRIMAL)
    }

    /// [`Filtration::edge_pixels`] for cells fixed at compile time.
    #[inline(always)]
    pub fn edge_pixels_in<C: Cells>(&self, key: u32) -> (u32, u32) {
        C::edge_pixels(key, self.stride, self.plane)
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
        crate::with_cells!(self.conn(), C => self.dual_edge_nodes_in::<C>(key))
    }

    /// [`Filtration::dual_edge_nodes`] for cells fixed at compile time.
    #[inline(always)]
    pub fn dual_edge_nodes_in<C: Cells>(&self, key: u32) -> (u32, u32) {
        C::dual_edge_nodes(key, self.stride, self.plane)
    }

    /// The pixel whose value a dual edge takes (where the cycle is born).
    #[inline]
    pub fn dual_edge_pixel(&self, key: u32) -> u32 {
        match self.conn() {
            Connectivity::Four => self.edge_pixel(key),
            Connectivity::Six => {
                // A square: its corners in descending index order, the first at its value.
                let (p, normal) = (key / 3, key % 3);
                let (s, z) = (self.stride, self.plane);
                let (a, b) = match normal {
                    0 => (s, 1),
                    1 => (z, 1),
                    _ => (z, s),
                };
                let rank = self.ranks[p as usize].max(self.ranks[(p + a) as usize]).max(self.ranks[(p + b) as usize]).max(self.ranks[(p + a + b) as usize]);
                [p + a + b, p + a, p + b, p].into_iter().find(|&q| self.ranks[q as usize] == rank).unwrap_or(p)
            }
            Connectivity::Eight | Connectivity::TwentySix => {
                // A wall: the first of its two pixels at its (min) value.
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
            Connectivity::Eight | Connectivity::TwentySix => node,
            Connectivity::Six => {
                // A cube: its corners in ascending index order, the first at its value.
                let (s, z) = (self.stride, self.plane);
                let rank = self.dual_ranks[node as usize];
                [0, 1, s, s + 1, z, z + 1, z + s, z + s + 1]
                    .into_iter()
                    .map(|o| node + o)
                    .find(|&p| self.ranks[p as usize] == rank)
                    .unwrap_or(node)
            }
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
