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

use crate::grid::{Connectivity, Shape};
use crate::union_find::UnionFind;
use crate::order::{order_key, sort_values, SortScratch};

/// Whether an edge enters at the larger (primal) or smaller (T-dual) endpoint value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeValue {
    Max,
    Min,
}

/// A neighbour graph on padded pixels: forward offsets per edge kind (key = kinds * anchor + kind
/// for the smaller-index endpoint `anchor`), and the kinds' backward order by ascending key.
struct Stencil {
    forward: [u32; 4],
    kinds: u32,
    backward_order: [usize; 4],
}

impl Stencil {
    /// Down, right: Betti-Matching-3D's edge types 0 and 1.
    fn four(stride: u32) -> Self {
        Stencil { forward: [stride, 1, 0, 0], kinds: 2, backward_order: [0, 1, 0, 0] }
    }

    /// Down, right, down-right, down-left.
    fn eight(stride: u32) -> Self {
        Stencil { forward: [stride, 1, stride + 1, stride - 1], kinds: 4, backward_order: [2, 0, 3, 1] }
    }
}

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
    /// T-construction only: dual edges in ascending `(value, key)` order (swept in reverse).
    dual_edges_eight: Vec<Edge>,
    /// Ranks of the dual nodes by padded index (`PADDING` marks a node that is part of the
    /// outside), the outside node last.
    pub dual_ranks: Vec<u32>,
    padded_ids: Vec<u32>,
    block: Vec<u32>,
    bitmap: Vec<u64>,
    sort: SortScratch,
}

impl Filtration {
    /// Builds the filtration of `values` (already validated), reusing this buffer's allocations.
    pub fn build(&mut self, values: &[f64], shape: Shape, connectivity: Connectivity) {
        self.build_with_levels(values, shape, connectivity, two_levels(values));
    }

    /// [`Filtration::build`] when the caller already knows [`two_levels`]`(values)`.
    pub(crate) fn build_with_levels(&mut self, values: &[f64], shape: Shape, connectivity: Connectivity, levels: Option<(f64, f64)>) {
        self.reset(shape, connectivity);
        match levels {
            Some((low, _)) => self.build_two_level(values, low),
            None => self.build_sorted(values),
        }
    }

    /// Sets the geometry and fills the padded ranks with `PADDING`.
    fn reset(&mut self, shape: Shape, connectivity: Connectivity) {
        self.shape = shape;
        self.stride = (shape.cols + 2) as u32;
        self.connectivity = Some(connectivity);
        let stride = self.stride as usize;
        self.ranks.clear();
        self.ranks.resize(stride * (shape.rows + 2), PADDING);
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

    /// Builds the filtration of the pointwise minimum of two images without sorting: `general`
    /// must have been built by the sorting path and `mask` by the two-level path, from an image
    /// whose levels are `levels = (low, high)` (equal for a constant image), both with one shape
    /// and connectivity.
    ///
    /// Each pixel of `min(general, mask)` takes either the mask's value (where `general >= mask`):
    /// one of two constants, so those pixels are ordered by index within each level — or the
    /// general image's value (where `general < mask`): those pixels keep their order in
    /// `general.order`. Merging the two sorted sequences by `(value, index)` gives exactly the
    /// order and dense ranks a sort of the minimum would give (equal values tie and interleave
    /// by index in both).
    pub(crate) fn build_min_of(&mut self, general: &Filtration, mask: &Filtration, levels: (f64, f64)) {
        debug_assert!(general.shape == mask.shape && general.connectivity == mask.connectivity);
        debug_assert!(!general.order.is_empty() && mask.order.is_empty(), "built by the sorting and two-level paths");
        self.reset(general.shape, general.conn());
        let keys = general.sort.keys();
        let level_keys = [order_key(levels.0), order_key(levels.1)];
        // The mask's level at a pixel: its two-level rank (0 low, 1 high) picks the key.
        let mask_key = |p: u32| level_keys[mask.ranks[p as usize] as usize];

        // Pixels that take the mask's value, low level first, each level in index order.
        let (shape, stride) = (self.shape, self.stride as usize);
        let (low, high) = (&mut self.padded_ids, &mut self.block);
        low.clear();
        high.clear();
        for r in 0..shape.rows {
            let start = (r + 1) * stride + 1;
            for p in start as u32..(start + shape.cols) as u32 {
                if keys[p as usize] >= mask_key(p) {
                    if mask.ranks[p as usize] == 0 {
                        low.push(p);
                    } else {
                        high.push(p);
                    }
                }
            }
        }
        let split = low.len();
        low.extend_from_slice(high);
        let from_mask = &self.padded_ids[..];

        let (order, ranks) = (&mut self.order, &mut self.ranks);
        order.clear();
        order.reserve(shape.pixels());
        let mut rank = 0u32;
        let mut previous = None;
        let mut emit = |key: u64, p: u32| {
            if previous.is_some_and(|k| k != key) {
                rank += 1;
            }
            previous = Some(key);
            ranks[p as usize] = rank;
            order.push(p);
        };
        let mut next = 0; // the next pixel of `from_mask` to emit
        let from_mask_key = |i: usize| level_keys[(i >= split) as usize];
        for &p in &general.order {
            let key = keys[p as usize];
            if key >= mask_key(p) {
                continue; // takes the mask's value: emitted from `from_mask`
            }
            while next < from_mask.len() && (from_mask_key(next), from_mask[next]) < (key, p) {
                emit(from_mask_key(next), from_mask[next]);
                next += 1;
            }
            emit(key, p);
        }
        for (i, &p) in from_mask.iter().enumerate().skip(next) {
            emit(from_mask_key(i), p);
        }
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
                builder.build(&Stencil::four(self.stride), EdgeValue::Min, &mut self.dual_edges_eight);
            }
        }
        self.build_dual_ranks();
    }

    /// The fast path for images with at most two distinct values (masks): no sort. Every cell of
    /// the lower level precedes every cell of the upper one, and within a level the tie order is
    /// the index order, which a raster scan produces directly.
    fn build_two_level(&mut self, values: &[f64], low: f64) {
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
                raster_edges(ranks, &Stencil::four(self.stride), EdgeValue::Min, block, &mut self.dual_edges_eight);
            }
        }
        self.build_dual_ranks();
    }

    fn build_dual_ranks(&mut self) {
        match self.conn() {
            Connectivity::Four => square_ranks(&self.ranks, self.stride as usize, &mut self.dual_ranks),
            Connectivity::Eight => {
                self.dual_ranks.clear();
                self.dual_ranks.extend_from_slice(&self.ranks);
            }
        }
        self.dual_ranks.push(PADDING);
    }

    fn conn(&self) -> Connectivity {
        self.connectivity.expect("filtration not built")
    }

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

    /// The first pixel of the filtration: where the component that never dies is born.
    pub fn first_pixel(&self) -> u32 {
        self.first
    }

    /// Dual edges in ascending order; the dual sweep walks them in reverse.
    pub fn dual_edges(&self) -> &[Edge] {
        match self.conn() {
            Connectivity::Four => &self.edges,
            Connectivity::Eight => &self.dual_edges_eight,
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

    /// Whether this filtration has at most two values (it was built without a sort).
    pub fn is_two_level(&self) -> bool {
        self.order.is_empty()
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

/// Ranks of the squares (2x2 blocks) of the V-construction, by top-left padded index; `PADDING`
/// for any block that touches the padding.
fn square_ranks(ranks: &[u32], stride: usize, out: &mut Vec<u32>) {
    let n = ranks.len();
    out.clear();
    out.reserve(n + 1);
    out.extend((0..n - stride - 1).map(|p| ranks[p].max(ranks[p + 1]).max(ranks[p + stride].max(ranks[p + stride + 1]))));
    out.resize(n, PADDING);
}

/// Above this many edges in one run of equal values, order them by a bitmap scan, not a sort.
const BITMAP_MIN: usize = 1 << 12;

struct EdgeBuilder<'a> {
    ranks: &'a [u32],
    order: &'a [u32],
    block: &'a mut Vec<u32>,
    bitmap: &'a mut Vec<u64>,
}

impl EdgeBuilder<'_> {
    /// Writes the edges of `stencil` into `out`, ascending by `(edge value, key)`.
    ///
    /// The edges are generated per pixel in the sorted pixel order: an edge enters with the
    /// endpoint that gives it its value (the later one for `Max`, the earlier one for `Min`), so
    /// only edges of equal value need ordering by key, within each run of equal pixel values. A
    /// lone pixel emits its edges already in key order.
    fn build(&mut self, stencil: &Stencil, rule: EdgeValue, out: &mut Vec<Edge>) {
        match (stencil.kinds, rule) {
            (2, EdgeValue::Max) => self.build_with::<2, true>(stencil, out),
            (2, EdgeValue::Min) => self.build_with::<2, false>(stencil, out),
            (4, EdgeValue::Max) => self.build_with::<4, true>(stencil, out),
            _ => unreachable!("no such stencil"),
        }
    }

    /// [`EdgeBuilder::build`] for `KINDS` edge kinds and the `Max` (`MAX`) or `Min` rule.
    fn build_with<const KINDS: usize, const MAX: bool>(&mut self, stencil: &Stencil, out: &mut Vec<Edge>) {
        let rule = if MAX { EdgeValue::Max } else { EdgeValue::Min };
        let (ranks, order) = (self.ranks, self.order);
        let kinds = KINDS;
        out.clear();
        // Every edge has one anchor among the padded pixels: an upper bound, plus the slots a lone
        // pixel's speculative writes may use past the end.
        out.reserve(ranks.len() * kinds + 2 * KINDS);
        // Does a neighbour of rank `w` give the edge the rank `v` of the current pixel?
        let joins = |v: u32, w: u32| match rule {
            EdgeValue::Max => w <= v,
            EdgeValue::Min => w >= v,
        };
        let mut start = 0;
        while start < order.len() {
            let p = order[start];
            let v = ranks[p as usize];
            let mut end = start + 1;
            while end < order.len() && ranks[order[end] as usize] == v {
                end += 1;
            }
            let tag = (v as u64) << 32;
            if end - start == 1 {
                lone_pixel_edges::<KINDS, MAX>(ranks, stencil, p, v, out);
                start = end;
                continue;
            }
            self.block.clear();
            for &p in &order[start..end] {
                // `p` as the larger-index endpoint: on a tie the partner is in this run and emits
                // the edge itself as the smaller endpoint.
                for &kind in &stencil.backward_order[..kinds] {
                    let q = p - stencil.forward[kind];
                    let w = ranks[q as usize];
                    if joins(v, w) && w != v {
                        self.block.push(q * stencil.kinds + kind as u32);
                    }
                }
                for kind in 0..stencil.kinds {
                    if joins(v, ranks[(p + stencil.forward[kind as usize]) as usize]) {
                        self.block.push(p * stencil.kinds + kind);
                    }
                }
            }
            order_block(self.block, self.bitmap, ranks.len() * kinds, tag, out);
            start = end;
        }
    }
}

/// The edges a pixel of unique value brings in, appended in key order. No neighbour shares its
/// rank, so an edge joins exactly when the neighbour's rank is strictly earlier (`MAX`) or later
/// (`Min`); each candidate is written unconditionally and kept by advancing the length, which
/// avoids a hard-to-predict branch per neighbour.
#[inline(always)]
fn lone_pixel_edges<const KINDS: usize, const MAX: bool>(ranks: &[u32], stencil: &Stencil, p: u32, v: u32, out: &mut Vec<Edge>) {
    let tag = (v as u64) << 32;
    let joins = |w: u32| if MAX { w < v } else { w > v };
    let mut len = out.len();
    assert!(len + 2 * KINDS <= out.capacity());
    let slots = out.as_mut_ptr();
    let mut emit = |anchor: u32, kind: usize, neighbour: u32| {
        // SAFETY: `len < capacity` (asserted above for all 2 * KINDS candidates of this pixel).
        unsafe { slots.add(len).write(tag | (anchor * KINDS as u32 + kind as u32) as u64) };
        len += joins(ranks[neighbour as usize]) as usize;
    };
    // Backward candidates have smaller anchors than forward ones: key order is preserved.
    for &kind in &stencil.backward_order[..KINDS] {
        let q = p - stencil.forward[kind];
        emit(q, kind, q);
    }
    for kind in 0..KINDS {
        emit(p, kind, p + stencil.forward[kind]);
    }
    // SAFETY: every slot below `len` was written above or before this call.
    unsafe { out.set_len(len) };
}

/// Appends the keys of `block`, tagged with their rank, to `out` in ascending order.
fn order_block(block: &mut [u32], bitmap: &mut Vec<u64>, key_bound: usize, tag: u64, out: &mut Vec<Edge>) {
    if block.len() < BITMAP_MIN || block.len() < key_bound / 256 {
        block.sort_unstable();
        out.extend(block.iter().map(|&k| tag | k as u64));
        return;
    }
    bitmap.clear();
    bitmap.resize(key_bound.div_ceil(64), 0);
    for &k in block.iter() {
        bitmap[(k / 64) as usize] |= 1 << (k % 64);
    }
    for (w, &word) in bitmap.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            out.push(tag | (w as u64 * 64 + bits.trailing_zeros() as u64));
            bits &= bits - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every edge once as `(value, plain endpoints)`, in `(value, key)` order, the slow way.
    fn brute_edges(values: &[f64], shape: Shape, eight: bool) -> Vec<(u32, u32)> {
        let steps: &[(usize, isize)] = if eight { &[(1, 0), (0, 1), (1, 1), (1, -1)] } else { &[(1, 0), (0, 1)] };
        let mut edges = Vec::new();
        for r in 0..shape.rows {
            for c in 0..shape.cols {
                let p = r * shape.cols + c;
                for (k, &(dr, dc)) in steps.iter().enumerate() {
                    let (r2, c2) = (r + dr, c as isize + dc);
                    if r2 < shape.rows && c2 >= 0 && (c2 as usize) < shape.cols {
                        let q = r2 * shape.cols + c2 as usize;
                        edges.push((values[p].max(values[q]), p * steps.len() + k, (p as u32, q as u32)));
                    }
                }
            }
        }
        edges.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).unwrap());
        edges.into_iter().map(|e| e.2).collect()
    }

    fn check(values: &[f64], shape: Shape) -> bool {
        [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
            let mut f = Filtration::default();
            f.build(values, shape, conn);
            let got: Vec<(u32, u32)> = f
                .edges
                .iter()
                .map(|&e| {
                    let (a, b) = f.edge_pixels(edge_key(e));
                    (f.pixel(a), f.pixel(b))
                })
                .collect();
            got == brute_edges(values, shape, conn == Connectivity::Eight)
        })
    }

    quickcheck::quickcheck! {
        fn edges_come_in_value_then_key_order(raw: Vec<u8>, cols: u8) -> bool {
            let cols = 1 + cols as usize % 7;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let values: Vec<f64> = raw[..rows * cols].iter().map(|&x| (x % 5) as f64).collect();
            check(&values, Shape::new(rows, cols))
        }
    }

    /// The filtration of `values` by the sorting path, whatever the number of levels.
    fn sorted(values: &[f64], shape: Shape, conn: Connectivity) -> Filtration {
        let mut f = Filtration::default();
        f.reset(shape, conn);
        f.build_sorted(values);
        f
    }

    /// Everything the sweeps read (and the order, where both were sorted or merged).
    fn same_filtration(a: &Filtration, b: &Filtration) -> bool {
        a.ranks == b.ranks
            && a.edges == b.edges
            && a.dual_edges() == b.dual_edges()
            && a.dual_ranks == b.dual_ranks
            && a.first_pixel() == b.first_pixel()
    }

    /// The two-level fast path builds exactly what the sorting path builds.
    fn same_as_sorted(values: &[f64], shape: Shape) -> bool {
        [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
            let mut fast = Filtration::default();
            fast.build(values, shape, conn);
            same_filtration(&fast, &sorted(values, shape, conn))
        })
    }

    /// [`Filtration::build_min_of`] builds exactly what sorting the pointwise minimum builds.
    fn min_of_same_as_sorted(general: &[f64], mask: &[f64], shape: Shape) -> bool {
        let Some(levels) = two_levels(mask) else { return true };
        let minimum: Vec<f64> = general.iter().zip(mask).map(|(&g, &m)| g.min(m)).collect();
        [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
            let g = sorted(general, shape, conn);
            let mut m = Filtration::default();
            m.build_with_levels(mask, shape, conn, Some(levels));
            let mut merged = Filtration::default();
            merged.build_min_of(&g, &m, levels);
            let slow = sorted(&minimum, shape, conn);
            same_filtration(&merged, &slow) && merged.order == slow.order
        })
    }

    quickcheck::quickcheck! {
        fn the_minimum_with_a_mask_needs_no_sort(raw: Vec<(i8, bool)>, cols: u8, low: i8, high: i8, spread: bool, scale: u8) -> bool {
            let cols = 1 + cols as usize % 9;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let raw = &raw[..rows * cols];
            // Few distinct values (many ties, values equal to a level, some outside both) or,
            // scaled down, spread ones; the mask's levels in either order, or one level only.
            let scale = 1 + scale % 4;
            let general: Vec<f64> = raw.iter().map(|&(x, _)| if spread { x as f64 / scale as f64 } else { (x % 7) as f64 }).collect();
            let mask: Vec<f64> = raw.iter().map(|&(_, m)| if m { high as f64 % 9.0 } else { low as f64 % 9.0 }).collect();
            min_of_same_as_sorted(&general, &mask, Shape::new(rows, cols))
        }

        fn the_minimum_of_a_likelihood_and_a_one_hot_target_needs_no_sort(raw: Vec<(u16, bool)>, cols: u8) -> bool {
            // The loss's case: `1 - p` against `1 - onehot`, with probabilities 0 and 1 included.
            let cols = 1 + cols as usize % 12;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let raw = &raw[..rows * cols];
            let general: Vec<f64> = raw.iter().map(|&(x, _)| 1.0 - (x % 1001) as f64 / 1000.0).collect();
            let mask: Vec<f64> = raw.iter().map(|&(_, m)| if m { 0.0 } else { 1.0 }).collect();
            min_of_same_as_sorted(&general, &mask, Shape::new(rows, cols))
        }
    }

    #[test]
    fn the_minimum_with_a_mask_on_large_images_needs_no_sort() {
        // Large enough for the radix sort and the bitmap-ordered runs; -0.0 ties with 0.0.
        let shape = Shape::new(70, 90);
        let mut rng = crate::test_rng::XorShift::new(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.next_u64();
        let general: Vec<f64> = (0..shape.pixels())
            .map(|_| match next() % 7 {
                0 => -0.0,
                k => [0.0, 1.0, 0.25, 2.0, -1.0, 0.5][k as usize - 1] + (next() % 3) as f64 * 1e-13,
            })
            .collect();
        let mask: Vec<f64> = (0..shape.pixels()).map(|_| [0.0, -0.0, 1.0, 1.0, 1.0][next() as usize % 5]).collect();
        assert!(min_of_same_as_sorted(&general, &mask, shape));
        let smooth: Vec<f64> = (0..shape.pixels()).map(|i| ((i % 90) as f64 * 0.07).sin() * ((i / 90) as f64 * 0.05).cos()).collect();
        assert!(min_of_same_as_sorted(&smooth, &mask, shape));
    }

    quickcheck::quickcheck! {
        fn two_level_images_take_the_fast_path_exactly(raw: Vec<bool>, cols: u8, low: i8, high: i8) -> bool {
            let cols = 1 + cols as usize % 9;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let values: Vec<f64> = raw[..rows * cols].iter().map(|&x| if x { high as f64 } else { low as f64 }).collect();
            same_as_sorted(&values, Shape::new(rows, cols))
        }
    }

    #[test]
    fn large_tied_runs_use_the_bitmap_and_stay_ordered() {
        let shape = Shape::new(90, 110);
        let values: Vec<f64> = (0..shape.pixels()).map(|i| ((i * 7919) % 13 < 6) as u8 as f64 + (i % 2) as f64).collect();
        assert!(check(&values, shape));
        let mask: Vec<f64> = values.iter().map(|&v| (v > 0.5) as u8 as f64).collect();
        assert!(same_as_sorted(&mask, shape));
    }
}
