//! The edges of a sorted image in filtration order, generated per pixel in the pixels' sorted
//! order, so that only edges of equal value need ordering among themselves.

use super::cells::{EdgeValue, Stencil};
use super::Edge;

/// Above this many edges in one run of equal values, order them by a bitmap scan, not a sort.
const BITMAP_MIN: usize = 1 << 12;

pub(super) struct EdgeBuilder<'a> {
    pub(super) ranks: &'a [u32],
    pub(super) order: &'a [u32],
    pub(super) block: &'a mut Vec<u32>,
    pub(super) bitmap: &'a mut Vec<u64>,
}

impl EdgeBuilder<'_> {
    /// Writes the edges of `stencil` into `out`, ascending by `(edge value, key)`.
    ///
    /// The edges are generated per pixel in the sorted pixel order: an edge enters with the
    /// endpoint that gives it its value (the later one for `Max`, the earlier one for `Min`), so
    /// only edges of equal value need ordering by key, within each run of equal pixel values. A
    /// lone pixel emits its edges already in key order.
    pub(super) fn build(&mut self, stencil: &Stencil, rule: EdgeValue, out: &mut Vec<Edge>) {
        match (stencil.kinds, rule) {
            (2, EdgeValue::Max) => self.build_with::<2, true>(stencil, out),
            (2, EdgeValue::Min) => self.build_with::<2, false>(stencil, out),
            (3, EdgeValue::Max) => self.build_with::<3, true>(stencil, out),
            (4, EdgeValue::Max) => self.build_with::<4, true>(stencil, out),
            (13, EdgeValue::Max) => self.build_with::<13, true>(stencil, out),
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
