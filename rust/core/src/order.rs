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

/// Below this size a comparison sort beats the radix passes.
const RADIX_MIN: usize = 512;

/// Reusable buffers for [`sort_values`].
#[derive(Default)]
pub struct SortScratch {
    full: Vec<u64>,
    items: Vec<u64>,
    spare: Vec<u64>,
}

impl SortScratch {
    /// After [`sort_values`]: the order key ([`order_key`]) of each sorted id's value, by id
    /// (slots of other ids hold stale data).
    pub fn keys(&self) -> &[u64] {
        &self.full
    }
}

/// Sorts the pixels `ids[i]` (increasing, each `< ranks.len()`) by `(values[i], ids[i])`: writes
/// them in that order into `order`, and `ranks[ids[i]]` = the dense rank of `values[i]` (equal
/// values, equal ranks).
///
/// An LSD radix sort moves 8-byte items (32 bits of the order key beside the id) in at most three
/// passes, skipping digits on which all keys agree; runs that tie on those bits are then checked,
/// and sorted, on the full key.
pub fn sort_values(values: &[f64], ids: &[u32], order: &mut Vec<u32>, ranks: &mut [u32], scratch: &mut SortScratch) {
    let SortScratch { full, items, spare } = scratch;
    // Only the slots of `ids` are read later, and all of them are written here: no need to clear.
    if full.len() < ranks.len() {
        full.resize(ranks.len(), 0);
    }
    items.clear();
    let (mut any, mut all) = (0u64, !0u64);
    for (&v, &id) in values.iter().zip(ids) {
        let key = order_key(v);
        full[id as usize] = key;
        (any, all) = (any | key, all & key);
    }
    // Radix-sort on the 32 highest bits in which the keys differ: for float32 data, or values in
    // a narrow range, those are all the varying bits, and no tie needs settling afterwards.
    let varying = any ^ all;
    let top = 64 - varying.leading_zeros();
    let shift = top.saturating_sub(32);
    items.extend(ids.iter().map(|&id| ((full[id as usize] >> shift) << 32) | id as u64));
    let id_of = |item: u64| (item & 0xffff_ffff) as usize;
    if items.len() < RADIX_MIN {
        items.sort_unstable_by_key(|&it| (full[id_of(it)], it));
    } else {
        radix_sort_high(items, spare);
        settle_ties(items, full);
    }
    order.clear();
    order.reserve(items.len());
    let mut rank = 1u32;
    let mut previous = items.first().copied().unwrap_or(0);
    for &it in items.iter() {
        // Keys differ where their sorted bits do; only on equal sorted bits look further.
        if it >> 32 != previous >> 32 || full[id_of(it)] != full[id_of(previous)] {
            rank += 1;
        }
        previous = it;
        ranks[id_of(it)] = rank - 1;
        order.push(id_of(it) as u32);
    }
}

/// [`sort_values`] for values that are `low` or one other value (masks, as
/// [`crate::filtration::two_levels`] finds them): a stable partition, no sort.
pub fn partition_two_values(values: &[f64], ids: &[u32], low: f64, order: &mut Vec<u32>, ranks: &mut [u32]) {
    order.clear();
    order.reserve(ids.len());
    let pairs = || values.iter().zip(ids);
    order.extend(pairs().filter(|(&v, _)| v == low).map(|(_, &id)| id));
    order.extend(pairs().filter(|(&v, _)| v != low).map(|(_, &id)| id));
    for (&v, &id) in pairs() {
        ranks[id as usize] = u32::from(v != low);
    }
}

/// Within each run of items equal on their 32 sorted key bits, restores `(full key, id)` order.
fn settle_ties(items: &mut [u64], full: &[u64]) {
    let id_of = |item: u64| (item & 0xffff_ffff) as usize;
    let mut start = 0;
    while start < items.len() {
        let high = items[start] >> 32;
        let mut end = start + 1;
        while end < items.len() && items[end] >> 32 == high {
            end += 1;
        }
        let run = &mut items[start..end];
        // Ids are ascending within a run (the radix sort is stable), so the run is already in
        // order when its full keys do not decrease: always so for data with few distinct values.
        if run.len() > 1 && run.windows(2).any(|w| full[id_of(w[0])] > full[id_of(w[1])]) {
            run.sort_unstable_by_key(|&it| (full[id_of(it)], it));
        }
        start = end;
    }
}

const DIGIT_BITS: [u32; 3] = [11, 11, 10];
const BUCKETS: usize = 1 << 11;

/// Stable LSD radix sort of `items` by their upper 32 bits.
fn radix_sort_high(items: &mut Vec<u64>, spare: &mut Vec<u64>) {
    let n = items.len();
    let mut counts = [[0u32; BUCKETS]; 3];
    let shifts = [32, 32 + DIGIT_BITS[0], 32 + DIGIT_BITS[0] + DIGIT_BITS[1]];
    for &it in items.iter() {
        for d in 0..3 {
            counts[d][((it >> shifts[d]) as usize) & (BUCKETS - 1)] += 1;
        }
    }
    spare.clear();
    spare.resize(n, 0);
    for d in 0..3 {
        if counts[d].iter().any(|&c| c as usize == n) {
            continue; // every key has the same digit here
        }
        let mut offsets = [0u32; BUCKETS];
        let mut sum = 0u32;
        for (o, &c) in offsets.iter_mut().zip(counts[d].iter()) {
            *o = sum;
            sum += c;
        }
        for &it in items.iter() {
            let b = ((it >> shifts[d]) as usize) & (BUCKETS - 1);
            // SAFETY: offsets[b] < n: the bucket's start plus how many of its items came before.
            unsafe { *spare.get_unchecked_mut(offsets[b] as usize) = it };
            offsets[b] += 1;
        }
        std::mem::swap(items, spare);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

/// Writes into `order` the pixel indices sorted by `(values[p], p)` ascending.
fn sort_pixels(values: &[f64], order: &mut Vec<u32>, scratch: &mut SortScratch) {
    let ids: Vec<u32> = (0..values.len() as u32).collect();
    let mut ranks = vec![0; values.len()];
    sort_values(values, &ids, order, &mut ranks, scratch);
}

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

    quickcheck! {
        fn values_equal_in_their_upper_bits_still_sort_exactly(raw: Vec<u8>) -> bool {
            // Differences of 1e-12 leave the upper 32 bits of the keys equal.
            let values: Vec<f64> = (0..600).map(|i| 0.5 + raw.get(i % raw.len().max(1)).copied().unwrap_or(0) as f64 * 1e-12 * if i % 3 == 0 { -1.0 } else { 1.0 }).collect();
            let mut order = Vec::new();
            sort_pixels(&values, &mut order, &mut SortScratch::default());
            order == reference_order(&values)
        }
    }

    quickcheck! {
        fn float32_data_and_narrow_ranges_sort_exactly(raw: Vec<u32>, offset: i16) -> bool {
            let values: Vec<f64> = (0..700)
                .map(|i| {
                    let x = raw.get(i % raw.len().max(1)).copied().unwrap_or(0);
                    let v = (x % 100_000) as f32 * 1e-5 + offset as f32;
                    if i % 2 == 0 { v as f64 } else { v as f64 + 1e-9 * (x % 7) as f64 }
                })
                .collect();
            let mut order = Vec::new();
            sort_pixels(&values, &mut order, &mut SortScratch::default());
            order == reference_order(&values)
        }
    }

    #[test]
    fn two_values_partition_as_the_sort_orders_them() {
        let mut rng = crate::test_rng::XorShift::new(0x21e7_e15e_ed00_0001);
        let levels = [[0.0, 1.0], [1.0, 0.0], [-0.0, 0.0], [0.5, 0.5], [-3.0, 2.5]];
        for case in 0..200 {
            let [a, b] = levels[case % levels.len()];
            let n = 1 + rng.below(3000) as usize;
            let values: Vec<f64> = (0..n).map(|_| if rng.below(3) == 0 { a } else { b }).collect();
            // Padded-style ids: increasing, with gaps.
            let ids: Vec<u32> = (0..n as u32).map(|i| 3 * i + 1).collect();
            let (mut want_order, mut want_ranks) = (Vec::new(), vec![u32::MAX; 3 * n + 2]);
            sort_values(&values, &ids, &mut want_order, &mut want_ranks, &mut SortScratch::default());
            let (low, _) = crate::filtration::two_levels(&values).expect("two values");
            let (mut order, mut ranks) = (Vec::new(), vec![u32::MAX; 3 * n + 2]);
            partition_two_values(&values, &ids, low, &mut order, &mut ranks);
            assert_eq!((order, ranks), (want_order, want_ranks), "case {case}");
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

/// `out` = the merge of two ascending slices, ascending (on equal elements `b`'s first).
pub fn merge_sorted_into<T: Copy + Ord>(a: &[T], b: &[T], out: &mut Vec<T>) {
    out.clear();
    out.reserve(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] < b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

#[cfg(test)]
mod merge_tests {
    quickcheck::quickcheck! {
        fn merging_equals_sorting_the_concatenation(a: Vec<u8>, b: Vec<u8>) -> bool {
            let (mut a, mut b) = (a, b);
            a.sort_unstable();
            b.sort_unstable();
            let mut out = vec![7];
            super::merge_sorted_into(&a, &b, &mut out);
            let mut want = [a, b].concat();
            want.sort_unstable();
            out == want
        }
    }
}
