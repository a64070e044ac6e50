//! One image's filtration: its cells in filtration order, built from a single sort of the pixels.
//!
//! Primal side (components): nodes are pixels; an edge joins two neighbours and enters at the
//! larger of their values. Dual side (cycles, by Alexander duality): nodes are the top cells plus one
//! outside node, entered from the top; a dual edge is the cell between two of them.
//! - Connectivity 4 (V-construction): the dual nodes are the squares (max of a 2x2 block) and the
//!   dual edges are the primal edges themselves, so one edge list serves both sweeps.
//! - Connectivity 8 (T-construction): the dual nodes are the pixels and the dual edges join
//!   4-neighbours (and boundary pixels to the outside) at the smaller of their values.

use crate::grid::{Connectivity, Shape, Step, EIGHT_STEPS, FOUR_STEPS};
use crate::order::{sort_pixels, SortScratch};

/// Whether an edge enters at the larger (primal) or smaller (T-dual) endpoint value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeValue {
    Max,
    Min,
}

/// Reusable buffers for one image's filtration.
#[derive(Default)]
pub struct Filtration {
    pub shape: Shape,
    pub connectivity: Option<Connectivity>,
    /// Pixels in ascending `(value, index)` order.
    pub order: Vec<u32>,
    /// Primal edge keys in ascending `(value, key)` order.
    pub edges: Vec<u32>,
    /// T-construction only: dual edge keys in ascending `(value, key)` order (swept in reverse).
    dual_edges_eight: Vec<u32>,
    /// Values of the dual nodes, the outside node (`+inf`) last.
    pub dual_values: Vec<f64>,
    block: Vec<u32>,
    sort: SortScratch,
}


impl Filtration {
    /// Builds the filtration of `values` (already validated), reusing this buffer's allocations.
    pub fn build(&mut self, values: &[f64], shape: Shape, connectivity: Connectivity) {
        self.shape = shape;
        self.connectivity = Some(connectivity);
        sort_pixels(values, &mut self.order, &mut self.sort);
        match connectivity {
            Connectivity::Four => {
                sorted_edges(values, shape, &self.order, &FOUR_STEPS, EdgeValue::Max, &mut self.edges, &mut self.block);
                square_values(values, shape, &mut self.dual_values);
            }
            Connectivity::Eight => {
                sorted_edges(values, shape, &self.order, &EIGHT_STEPS, EdgeValue::Max, &mut self.edges, &mut self.block);
                sorted_edges(values, shape, &self.order, &FOUR_STEPS, EdgeValue::Min, &mut self.dual_edges_eight, &mut self.block);
                self.dual_values.clear();
                self.dual_values.extend_from_slice(values);
            }
        }
        self.dual_values.push(f64::INFINITY);
    }

    fn shape(&self) -> Shape {
        self.shape
    }

    fn conn(&self) -> Connectivity {
        self.connectivity.expect("filtration not built")
    }

    /// Dual edge keys in ascending order; the dual sweep walks them in reverse.
    pub fn dual_edges(&self) -> &[u32] {
        match self.conn() {
            Connectivity::Four => &self.edges,
            Connectivity::Eight => &self.dual_edges_eight,
        }
    }

    pub fn outside(&self) -> u32 {
        (self.dual_values.len() - 1) as u32
    }

    /// The two pixels an edge joins, the smaller index first.
    #[inline]
    pub fn edge_pixels(&self, key: u32) -> (u32, u32) {
        let shape = self.shape();
        let (p, step) = match self.conn() {
            Connectivity::Four => (key >> 1, FOUR_STEPS[(key & 1) as usize]),
            Connectivity::Eight => (key >> 2, EIGHT_STEPS[(key & 3) as usize]),
        };
        (p, p + step.offset(shape))
    }

    /// The pixel whose value an edge takes: the larger endpoint, the second one on a tie (as
    /// Betti-Matching-3D reports it).
    #[inline]
    pub fn edge_pixel(&self, values: &[f64], key: u32) -> u32 {
        let (a, b) = self.edge_pixels(key);
        if values[b as usize] >= values[a as usize] {
            b
        } else {
            a
        }
    }

    #[inline]
    pub fn edge_value(&self, values: &[f64], key: u32) -> f64 {
        let (a, b) = self.edge_pixels(key);
        values[a as usize].max(values[b as usize])
    }

    /// The two dual nodes a dual edge separates (the outside node where it leaves the grid).
    #[inline]
    pub fn dual_edge_nodes(&self, key: u32) -> (u32, u32) {
        let shape = self.shape();
        let outside = self.outside();
        match self.conn() {
            Connectivity::Four => {
                let (row, col) = shape.row_col(key >> 1);
                let (mrows, mcols) = (shape.rows - 1, shape.cols - 1);
                let square = |r: usize, c: usize| (r * mcols + c) as u32;
                if key & 1 == 0 {
                    // vertical edge between rows `row` and `row + 1`: squares left and right of it
                    let left = if col == 0 { outside } else { square(row, col - 1) };
                    let right = if col == mcols { outside } else { square(row, col) };
                    (left, right)
                } else {
                    let above = if row == 0 { outside } else { square(row - 1, col) };
                    let below = if row == mrows { outside } else { square(row, col) };
                    (above, below)
                }
            }
            Connectivity::Eight => {
                let n = shape.pixels() as u32;
                if key >= 2 * n {
                    (key - 2 * n, outside)
                } else {
                    let p = key >> 1;
                    (p, p + FOUR_STEPS[(key & 1) as usize].offset(shape))
                }
            }
        }
    }

    /// The pixel whose value a dual edge takes (where the cycle is born).
    #[inline]
    pub fn dual_edge_pixel(&self, values: &[f64], key: u32) -> u32 {
        match self.conn() {
            Connectivity::Four => self.edge_pixel(values, key),
            Connectivity::Eight => {
                let (a, b) = self.dual_edge_nodes(key);
                if b == self.outside() || values[a as usize] <= values[b as usize] {
                    a
                } else {
                    b
                }
            }
        }
    }

    #[inline]
    pub fn dual_edge_value(&self, values: &[f64], key: u32) -> f64 {
        match self.conn() {
            Connectivity::Four => self.edge_value(values, key),
            Connectivity::Eight => values[self.dual_edge_pixel(values, key) as usize],
        }
    }

    /// The pixel whose value a dual node (a top cell) takes: where a cycle dies. For squares the
    /// tie order is Betti-Matching-3D's: bottom-right, bottom-left, top-right, top-left.
    #[inline]
    pub fn dual_node_pixel(&self, values: &[f64], node: u32) -> u32 {
        match self.conn() {
            Connectivity::Eight => node,
            Connectivity::Four => {
                let shape = self.shape();
                let mcols = shape.cols - 1;
                let (r, c) = (node as usize / mcols, node as usize % mcols);
                let top_left = (r * shape.cols + c) as u32;
                let cols = shape.cols as u32;
                let v = self.dual_values[node as usize];
                [top_left + cols + 1, top_left + cols, top_left + 1, top_left]
                    .into_iter()
                    .find(|&p| values[p as usize] == v)
                    .unwrap_or(top_left)
            }
        }
    }
}

/// Values of the squares (2x2 blocks) of the V-construction.
fn square_values(values: &[f64], shape: Shape, out: &mut Vec<f64>) {
    out.clear();
    if shape.rows < 2 || shape.cols < 2 {
        return;
    }
    out.reserve(shape.squares() + 1);
    for r in 0..shape.rows - 1 {
        let top = &values[r * shape.cols..(r + 1) * shape.cols];
        let bottom = &values[(r + 1) * shape.cols..(r + 2) * shape.cols];
        out.extend((0..shape.cols - 1).map(|c| top[c].max(top[c + 1]).max(bottom[c].max(bottom[c + 1]))));
    }
}

/// Writes the edges of the neighbour graph given by `steps` into `out`, ascending by
/// `(edge value, key)`, where `key = steps.len() * p + kind` for the smaller endpoint `p`.
///
/// The edges are generated per pixel in the sorted pixel order: an edge enters with the endpoint
/// that gives it its value (the later one for `Max`, the earlier one for `Min`), so only edges of
/// equal value need ordering by key, within each run of equal pixel values. `Min` edges also
/// include one edge `2 * N + p` from each boundary pixel to the outside (the T-dual graph).
fn sorted_edges(
    values: &[f64],
    shape: Shape,
    order: &[u32],
    steps: &[Step],
    rule: EdgeValue,
    out: &mut Vec<u32>,
    block: &mut Vec<u32>,
) {
    out.clear();
    out.reserve(order.len() * steps.len());
    let kinds = steps.len() as u32;
    let n = shape.pixels() as u32;
    // Does a neighbour with value `w` give the edge the value `v` of the current pixel?
    let joins = |v: f64, w: f64| match rule {
        EdgeValue::Max => w <= v,
        EdgeValue::Min => w >= v,
    };
    let mut start = 0;
    while start < order.len() {
        let v = values[order[start] as usize];
        let mut end = start + 1;
        while end < order.len() && values[order[end] as usize] == v {
            end += 1;
        }
        block.clear();
        for &p in &order[start..end] {
            let (row, col) = shape.row_col(p);
            for (kind, step) in steps.iter().enumerate() {
                // `p` as the larger-index endpoint: a tie means the partner is in this run and
                // emits the edge itself as the smaller endpoint.
                if let Some(q) = step.backward(shape, row, col) {
                    let w = values[q as usize];
                    if joins(v, w) && w != v {
                        block.push(q * kinds + kind as u32);
                    }
                }
                if let Some(q) = step.forward(shape, row, col) {
                    if joins(v, values[q as usize]) {
                        block.push(p * kinds + kind as u32);
                    }
                }
            }
            if rule == EdgeValue::Min && (row == 0 || col == 0 || row + 1 == shape.rows || col + 1 == shape.cols) {
                block.push(2 * n + p);
            }
        }
        block.sort_unstable();
        out.extend_from_slice(block);
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every edge once, in `(value, key)` order, computed the slow way.
    fn brute_edges(values: &[f64], shape: Shape, steps: &[Step]) -> Vec<u32> {
        let mut edges = Vec::new();
        for p in 0..shape.pixels() as u32 {
            let (r, c) = shape.row_col(p);
            for (k, s) in steps.iter().enumerate() {
                if let Some(q) = s.forward(shape, r, c) {
                    let v = values[p as usize].max(values[q as usize]);
                    edges.push((v, p * steps.len() as u32 + k as u32));
                }
            }
        }
        edges.sort_by(|a, b| a.partial_cmp(b).unwrap());
        edges.into_iter().map(|(_, k)| k).collect()
    }

    quickcheck::quickcheck! {
        fn edges_come_in_value_then_key_order(raw: Vec<u8>, cols: u8) -> bool {
            let cols = 1 + cols as usize % 7;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let values: Vec<f64> = raw[..rows * cols].iter().map(|&x| (x % 5) as f64).collect();
            let shape = Shape::new(rows, cols);
            [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
                let mut f = Filtration::default();
                f.build(&values, shape, conn);
                let steps: &[Step] = if conn == Connectivity::Four { &FOUR_STEPS } else { &EIGHT_STEPS };
                f.edges == brute_edges(&values, shape, steps)
            })
        }
    }
}
