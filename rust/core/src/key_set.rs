//! A set of cell keys as a bit set: which squares the top sweep paired, which edges close cycles.
//! One bit per key, where a list of the cells (`u64` each) would take 64.

use crate::filtration::{edge_key, Edge};

#[derive(Clone, Debug, Default)]
pub struct KeySet {
    bits: Vec<u64>,
}

impl KeySet {
    /// Empties the set and makes room for keys `0..n`.
    pub fn reset(&mut self, n: usize) {
        self.bits.clear();
        self.bits.resize(n.div_ceil(64), 0);
    }

    #[inline]
    pub fn insert(&mut self, key: u32) {
        self.bits[key as usize / 64] |= 1 << (key % 64);
    }

    #[inline]
    pub fn contains(&self, key: u32) -> bool {
        self.bits[key as usize / 64] >> (key % 64) & 1 == 1
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }
}

/// Where a sweep puts the edges it finds: a list (in sweep order) or a set.
pub trait EdgeSink {
    fn put(&mut self, edge: Edge);
}

impl EdgeSink for Vec<Edge> {
    #[inline]
    fn put(&mut self, edge: Edge) {
        self.push(edge);
    }
}

impl EdgeSink for KeySet {
    #[inline]
    fn put(&mut self, edge: Edge) {
        self.insert(edge_key(edge));
    }
}
