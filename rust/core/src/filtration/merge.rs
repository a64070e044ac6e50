//! The comparison image of a likelihood and a mask, `min(general, mask)`, built by merging the
//! likelihood's sorted order with the mask's two levels instead of sorting again.

use super::Filtration;
use crate::order::order_key;

impl Filtration {
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
}
