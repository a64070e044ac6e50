//! The *middle* sweep: dimension 1 of a 3D volume (V-construction), by reduction of the boundary
//! matrix of the squares against the edges (see [`crate::reduction`]).
//!
//! The two union-find sweeps run first and shrink the problem. *Clearing*: a square that the top
//! (dual) sweep pairs with a cube creates a cavity, so its column would reduce to zero; it is not
//! a column. *Compression*: an edge that the bottom sweep pairs with a vertex (it merges two
//! components) is never a pivot of a square; it is not a row. The columns are the remaining
//! squares in filtration order, the rows the remaining ("positive") edges in filtration order.

use crate::filtration::{edge_key, edge_rank, Edge, Filtration};
use crate::persistence::PersistencePair;
use crate::reduction::{reduce, BoundaryMatrix, ReductionWorkspace};

const NONE: u32 = u32::MAX;

/// Buffers of the middle sweep, reusable across images.
#[derive(Default)]
pub struct MiddleWorkspace {
    row_of_edge: Vec<u32>,
    columns: Vec<Edge>,
    reduction: ReductionWorkspace,
}

/// The squares (columns) and positive edges (rows) of one filtration.
struct SquaresAgainstEdges<'a> {
    f: &'a Filtration,
    columns: &'a [Edge],
    rows: u32,
    row_of_edge: &'a [u32],
}

impl SquaresAgainstEdges<'_> {
    /// The four edges of a square `3p + normal`, as edge keys `3q + axis`.
    fn edges_of(&self, square: u32) -> [u32; 4] {
        let (p, normal) = (square / 3, square % 3);
        let (stride, plane) = (self.f.stride(), self.f.plane());
        // The square spans axes a < b: their offsets oa > ob.
        let ((a, oa), (b, ob)) = match normal {
            0 => ((1, stride), (2, 1)),
            1 => ((0, plane), (2, 1)),
            _ => ((0, plane), (1, stride)),
        };
        [3 * p + a, 3 * (p + ob) + a, 3 * p + b, 3 * (p + oa) + b]
    }
}

impl BoundaryMatrix for SquaresAgainstEdges<'_> {
    fn columns(&self) -> u32 {
        self.columns.len() as u32
    }

    fn rows(&self) -> u32 {
        self.rows
    }

    fn boundary(&self, column: u32, out: &mut Vec<u32>) {
        out.clear();
        let square = edge_key(self.columns[column as usize]);
        out.extend(self.edges_of(square).into_iter().map(|e| self.row_of_edge[e as usize]).filter(|&r| r != NONE));
        out.sort_unstable();
    }

    fn stopped(&self) -> bool {
        self.f.stopped()
    }
}

/// The finite bars of dimension 1 of `f` (a volume), in ascending order of their death squares.
/// `positive_edges`: the edges the bottom sweep found joining no two components, in sweep order;
/// `cleared(square key)`: whether the top sweep paired that square.
pub(crate) fn middle_bars(
    f: &Filtration,
    ws: &mut MiddleWorkspace,
    positive_edges: &[Edge],
    cleared: impl Fn(u32) -> bool,
) -> Vec<PersistencePair> {
    let MiddleWorkspace { row_of_edge, columns, reduction } = ws;
    row_of_edge.clear();
    row_of_edge.resize(3 * f.ranks.len(), NONE);
    for (row, &edge) in positive_edges.iter().enumerate() {
        row_of_edge[edge_key(edge) as usize] = row as u32;
    }
    columns.clear();
    columns.extend(f.dual_edges().iter().copied().filter(|&square| !cleared(edge_key(square))));
    let matrix = SquaresAgainstEdges { f, columns, rows: positive_edges.len() as u32, row_of_edge };
    let pivots = reduce(&matrix, reduction);
    pivots
        .pairs
        .iter()
        .filter_map(|&(column, row)| {
            let (square, edge) = (columns[column as usize], positive_edges[row as usize]);
            (edge_rank(edge) != edge_rank(square)).then(|| PersistencePair {
                birth: f.pixel(f.edge_pixel(edge_key(edge))),
                death: f.pixel(f.dual_edge_pixel(edge_key(square))),
            })
        })
        .collect()
}
