//! Tie orders: which of several cells of equal value enters the filtration first.
//!
//! - [`Ties::Index`] (the default, Betti-Matching-3D's): by the cell's packed index. In a binary
//!   mask every component is born at the same value, so whichever object comes first in raster
//!   order becomes the elder one (the essential class), and a speck in the corner can be matched
//!   in place of the real object.
//! - [`Ties::Distance`]: by a secondary key first, then by index. The key is the signed squared
//!   distance to the boundary of the comparison's binarization: inside its foreground the deepest
//!   pixels come first (thick objects are elder, specks die first), outside it the pixels closest
//!   to the foreground come first (components merge across their narrowest gaps first).
//!
//! Values stay what they are: a bar is still dropped when its birth and death *values* are equal
//! (the filtrations carry the value levels beside the refined ranks, see
//! `Filtration::same_level`), so barcodes as multisets of values do not change.
//!
//! The key is one function of the pixel, shared by the prediction, the target and the
//! comparison. That is what keeps the induced matching defined: with `c = min(f, g)` pixelwise,
//! the refined values `(f, key)` and `(g, key)` compared lexicographically have the pixelwise
//! minimum `(c, key)`, so at every step of the refined total order each input's sublevel set is
//! still inside the comparison's. A key per image would break this nesting.

use crate::distance_transform::{squared_distance_to, FAR};
use crate::grid::Shape;
use crate::order::order_key;

/// How cells of equal value are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ties {
    /// By packed index (Betti-Matching-3D's order).
    #[default]
    Index,
    /// By the signed distance to the comparison's binarized boundary, then by index.
    Distance,
}

/// The secondary key of each pixel (row-major) for [`Ties::Distance`], from the comparison's
/// sublevel values: the comparison is binarized halfway between its lowest and highest value
/// (the low side is the foreground: it enters first); a foreground pixel gets minus its squared
/// distance to the nearest background pixel, a background pixel its squared distance to the
/// nearest foreground pixel. A constant comparison has no background: every key is 0.
pub fn distance_key(comparison: &[f64], shape: Shape) -> Vec<i64> {
    let (low, high) = comparison.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let middle = low + (high - low) / 2.0;
    let foreground: Vec<bool> = comparison.iter().map(|&v| v <= middle).collect();
    if foreground.iter().all(|&f| f) {
        return vec![0; comparison.len()];
    }
    let background: Vec<bool> = foreground.iter().map(|&f| !f).collect();
    let to_foreground = squared_distance_to(&foreground, shape);
    let to_background = squared_distance_to(&background, shape);
    foreground
        .iter()
        .zip(to_foreground.iter().zip(&to_background))
        .map(|(&inside, (&out_d, &in_d))| {
            let d = if inside { in_d } else { out_d };
            debug_assert_ne!(d, FAR);
            if inside {
                -(d as i64)
            } else {
                d as i64
            }
        })
        .collect()
}

/// Reusable buffers for [`refine`].
#[derive(Default)]
pub struct RefinedValues {
    /// The refined prediction, target and comparison: dense ranks of `(value, key)` over both
    /// inputs together, as values (exact: ranks stay far below 2^53).
    pub pred: Vec<f64>,
    pub target: Vec<f64>,
    pub comparison: Vec<f64>,
    items: Vec<u128>,
}

/// Fills `out` with the refined values of `pred` and `target` (sublevel, row-major) under the
/// shared `key`: one joint ranking, so that the refined comparison is the pixelwise minimum of
/// the refined inputs, exactly as the unrefined one is.
pub fn refine(pred: &[f64], target: &[f64], key: &[i64], out: &mut RefinedValues) {
    let n = pred.len();
    debug_assert!(target.len() == n && key.len() == n && 2 * n <= u32::MAX as usize);
    let key_rank = dense_ranks(key);
    let RefinedValues { pred: rp, target: rt, comparison: rc, items } = out;
    items.clear();
    for (side, values) in [pred, target].into_iter().enumerate() {
        let offset = side * n;
        items.extend(values.iter().zip(&key_rank).enumerate().map(|(i, (&v, &k))| {
            (order_key(v) as u128) << 64 | (k as u128) << 32 | (offset + i) as u128
        }));
    }
    items.sort_unstable();
    rp.clear();
    rp.resize(n, 0.0);
    rt.clear();
    rt.resize(n, 0.0);
    let mut rank = 0u64;
    let mut previous = None;
    for &item in items.iter() {
        let class = item >> 32;
        if previous.is_some_and(|p| p != class) {
            rank += 1;
        }
        previous = Some(class);
        let id = (item & 0xffff_ffff) as usize;
        if id < n {
            rp[id] = rank as f64;
        } else {
            rt[id - n] = rank as f64;
        }
    }
    *items = Vec::new();
    rc.clear();
    rc.extend(rp.iter().zip(rt.iter()).map(|(&a, &b)| a.min(b)));
}

/// The dense rank of each entry among the distinct values of `keys`.
fn dense_ranks(keys: &[i64]) -> Vec<u32> {
    let mut distinct = keys.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    keys.iter().map(|k| distinct.binary_search(k).expect("a key of the list") as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    #[test]
    fn key_orders_deep_foreground_first_and_near_background_first() {
        // One row: background, a 3-pixel object, background, background.
        let c = [0.0, -1.0, -1.0, -1.0, 0.0, 0.0];
        assert_eq!(distance_key(&c, Shape::new(1, 6)), vec![1, -1, -4, -1, 1, 4]);
        assert_eq!(distance_key(&[0.5; 4], Shape::new(2, 2)), vec![0; 4]);
    }

    /// The refined order refines each input's value order, and the refined comparison's order is
    /// the joint refinement of the comparison's values: the sublevel sets nest at every step.
    #[test]
    fn refinement_refines_values_and_keeps_the_nesting() {
        let mut rng = XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut out = RefinedValues::default();
        for _ in 0..300 {
            let shape = Shape::new(1 + rng.below(7) as usize, 1 + rng.below(7) as usize);
            let levels = 1 + rng.below(4);
            let draw = |rng: &mut XorShift| (0..shape.pixels()).map(|_| rng.below(levels) as f64 / 2.0).collect::<Vec<_>>();
            let (f, g) = (draw(&mut rng), draw(&mut rng));
            let c: Vec<f64> = f.iter().zip(&g).map(|(a, b)| a.min(*b)).collect();
            let key = distance_key(&c, shape);
            refine(&f, &g, &key, &mut out);
            let refined = [(&f, &out.pred), (&g, &out.target), (&c, &out.comparison)];
            for (values, ranks) in refined {
                for i in 0..values.len() {
                    for j in 0..values.len() {
                        let expected = (values[i], key[i]).partial_cmp(&(values[j], key[j])).unwrap();
                        assert_eq!(ranks[i].partial_cmp(&ranks[j]).unwrap(), expected);
                    }
                }
            }
            // Nesting: a pixel is in the comparison's refined sublevel set whenever it is in an input's.
            for i in 0..f.len() {
                for t in out.pred.iter().chain(&out.target) {
                    if out.pred[i] <= *t || out.target[i] <= *t {
                        assert!(out.comparison[i] <= *t);
                    }
                }
            }
        }
    }
}
