//! The one sort per image: pixels in ascending `(value, index)` order.

/// Maps an `f64` to a `u64` whose unsigned order is the float order (finite inputs; `-0.0` and
/// `0.0` map to the same key so they tie, as they compare equal).
#[inline]
pub fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits(); // `+ 0.0` turns -0.0 into +0.0
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

const DIGIT_BITS: u32 = 11;
const BUCKETS: usize = 1 << DIGIT_BITS;
const DIGITS: usize = (64 + DIGIT_BITS as usize - 1) / DIGIT_BITS as usize;
/// Below this size a comparison sort beats the radix passes.
const RADIX_MIN: usize = 512;

/// Reusable buffers for the sorts.
#[derive(Default)]
pub struct SortScratch {
    keyed: Vec<(u64, u32)>,
    spare: Vec<(u64, u32)>,
}

/// Writes into `order` the pixel indices sorted by `(values[p], p)` ascending.
pub fn sort_pixels(values: &[f64], order: &mut Vec<u32>, scratch: &mut SortScratch) {
    sort_by_value(values.iter().enumerate().map(|(i, &v)| (v, i as u32)), order, scratch);
}

/// Writes into `order` the ids of `items` (given in ascending id order) sorted by `(value, id)`.
///
/// LSD radix sort on order-preserving keys; digits on which all keys agree are skipped, so inputs
/// with few distinct values (masks, `f32` data widened to `f64`) take fewer passes.
pub fn sort_by_value(items: impl Iterator<Item = (f64, u32)>, order: &mut Vec<u32>, scratch: &mut SortScratch) {
    let keyed = &mut scratch.keyed;
    keyed.clear();
    keyed.extend(items.map(|(v, i)| (order_key(v), i)));
    if keyed.len() < RADIX_MIN {
        keyed.sort_unstable();
    } else {
        radix_sort(keyed, &mut scratch.spare);
    }
    order.clear();
    order.extend(keyed.iter().map(|&(_, i)| i));
}

/// After [`sort_by_value`]: writes `ranks[id]` = the dense rank of the id's value (equal values,
/// equal ranks; rank order = value order).
pub fn dense_ranks(scratch: &SortScratch, ranks: &mut [u32]) {
    let mut rank = 0u32;
    let mut previous = None;
    for &(key, id) in &scratch.keyed {
        if previous.is_some_and(|p| p != key) {
            rank += 1;
        }
        previous = Some(key);
        ranks[id as usize] = rank;
    }
}

fn radix_sort(keyed: &mut Vec<(u64, u32)>, spare: &mut Vec<(u64, u32)>) {
    let n = keyed.len();
    let mut counts = vec![[0u32; BUCKETS]; DIGITS];
    for &(k, _) in keyed.iter() {
        for (d, count) in counts.iter_mut().enumerate() {
            count[((k >> (d as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    spare.clear();
    spare.resize(n, (0, 0));
    for (d, count) in counts.iter().enumerate() {
        if count.iter().any(|&c| c as usize == n) {
            continue; // every key has the same digit here
        }
        let mut offsets = [0u32; BUCKETS];
        let mut sum = 0u32;
        for (o, &c) in offsets.iter_mut().zip(count.iter()) {
            *o = sum;
            sum += c;
        }
        let shift = d as u32 * DIGIT_BITS;
        for &item in keyed.iter() {
            let b = ((item.0 >> shift) as usize) & (BUCKETS - 1);
            spare[offsets[b] as usize] = item;
            offsets[b] += 1;
        }
        std::mem::swap(keyed, spare);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn reference_order(values: &[f64]) -> Vec<u32> {
        let mut idx: Vec<u32> = (0..values.len() as u32).collect();
        idx.sort_by(|&a, &b| {
            values[a as usize].partial_cmp(&values[b as usize]).unwrap().then(a.cmp(&b))
        });
        idx
    }

    quickcheck! {
        fn radix_order_equals_comparison_sort(raw: Vec<i16>, scale: u8, repeat: u8) -> bool {
            // Repeat the input so that the radix path (>= RADIX_MIN pixels) is exercised too.
            let reps = 1 + repeat as usize % 40;
            let values: Vec<f64> = (0..reps)
                .flat_map(|_| raw.iter().map(|&x| x as f64 / (1.0 + scale as f64)))
                .collect();
            let mut order = Vec::new();
            sort_pixels(&values, &mut order, &mut SortScratch::default());
            order == reference_order(&values)
        }
    }

    #[test]
    fn keys_order_negative_zero_and_extremes() {
        let vals = [-1e300, -1.0, -0.0, 0.0, 1e-300, 1.0, 1e300];
        let keys: Vec<u64> = vals.iter().map(|&v| order_key(v)).collect();
        assert_eq!(keys[2], keys[3]);
        for w in [0, 1, 3, 4, 5] {
            assert!(keys[w] < keys[w + 1], "{w}");
        }
    }
}
