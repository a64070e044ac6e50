//! Where the order of an image reduction's cells is free, and an order that makes it cheap.
//!
//! The image reduction of a matching has the comparison's squares as columns, in the
//! comparison's order, and an input's edges as rows, in the input's order. A matching asks it
//! only for the pivots of the comparison's bars of positive length, and only where the pivot
//! row is the birth of an input bar of positive length. Every pivot is read off the ranks of the
//! matrix's lower-left blocks (rows from one on, columns up to one), so:
//!
//! - *The comparison's lowest columns* (its squares of rank 0, all dying bars of length zero)
//!   may come in any order among themselves: the later columns see only their span. Where they
//!   cover much of the volume (a mask target's background: there `min(prediction, target)` is
//!   the target's 0) they come by key, while a likelihood ranks their rows finely, so most are
//!   no apparent pairs and their reductions are long. [`crate::middle::Middle::image`] puts them
//!   in the input's order, cleared for that order ([`lowest_clearing`]).
//! - *The input's top rows* (its edges of the top rank, births of bars of length zero only) may
//!   come in any order among themselves: the pivots in the other rows, and whether a column's
//!   pivot is a top row, do not change. Where they cover much of the volume (a mask target's
//!   foreground, where the comparison is the likelihood) they come by key against columns in
//!   the likelihood's order; they are put in the comparison's order instead, where the
//!   comparison's compression holds for them ([`top_by_comparison`]). Where, besides, the input
//!   is a mask whose lower voxels all take the comparison's lowest value, its image matrix is
//!   then the comparison's own matrix, so it is not reduced at all ([`image_is_comparisons`]).
//!
//! Both orders are used only where they pay: many cells, many distinct values to order them by.

use crate::filtration::{edge_key, Edge, Filtration, VolumeGeometry, PADDING};
use crate::key_set::KeySet;
use crate::union_find::UnionFind;

/// How an image matrix orders its cells where the order is free (see the module docs); the
/// default is the comparison's order for the columns and the input's for the rows.
#[derive(Clone, Copy, Default)]
pub(crate) struct ImageOrder<'a> {
    /// Where given, the comparison's lowest columns come in the input's order, and these of
    /// them are no columns ([`lowest_clearing`]).
    pub lowest_cleared: Option<&'a KeySet>,
    /// Where given, `(top, kept)`: the input's rows of rank `top` come in the comparison's
    /// order, and only those in `kept` (the comparison's rows) are rows ([`top_by_comparison`]).
    pub top_rows: Option<(u32, &'a KeySet)>,
}

/// Either order is taken only where its block (the voxels of the comparison's lowest value, of
/// the input's top value) is at least this part of the volume's voxels: below it the extra
/// passes would cost more than they save.
const BLOCK_SHARE: usize = 16;

/// ... and where the input gives their voxels at least this many distinct values: with fewer (a
/// mask's two), its order on them is by key in a few large parts, near enough to the
/// comparison's that the sweep costs about what it saves (measured at 128³: even at 8 values,
/// a gain at 16, a third of the image reduction at 256 and more).
const DISTINCT_VALUES: usize = 16;

/// Whether the image reduction of `c`'s columns against `f`'s rows gains from ordering `c`'s
/// lowest squares by `f`: many voxels take `c`'s lowest value, and `f` ranks them finely.
pub(crate) fn lowest_by_input(f: &Filtration, c: &Filtration) -> bool {
    let (cells, distinct) = count_distinct(c.ranks.iter().zip(&f.ranks).filter(|&(&c_rank, _)| c_rank == 0).map(|(_, &rank)| rank), f);
    cells * BLOCK_SHARE >= c.ranks.len() && distinct >= DISTINCT_VALUES
}

/// The lowest columns: fills `cleared` with the lowest squares of `c` (rank 0 there) whose
/// boundary the lowest squares before them in `f`'s order span. Those create a cavity in the
/// filtration that has the lowest squares first (in `f`'s order) and every other cell after
/// them, so a top sweep of that filtration (Alexander duality) finds them: the other squares
/// first, in any order, then the lowest ones in descending order of `f`. `f_squares`: `f`'s
/// squares in its order (as its top sweep has them); `uf` is a buffer.
pub(crate) fn lowest_clearing<C: VolumeGeometry>(f: &Filtration, c: &Filtration, f_squares: &[Edge], uf: &mut UnionFind, cleared: &mut KeySet) {
    let keys = 3 * c.ranks.len();
    let (stride, plane) = (c.stride(), c.plane());
    let mut lowest = KeySet::default();
    lowest.reset(keys);
    cleared.reset(keys);
    f.reset_dual(uf);
    // The other squares in memory order (their order is free), where the union-find is local.
    let anchors = c.ranks.len().saturating_sub((plane + stride + 1) as usize) as u32;
    for p in 0..anchors {
        for (key, rank) in (3 * p..).zip(C::cells_at(&c.ranks, p, stride, plane).0) {
            match rank {
                0 => lowest.insert(key),
                PADDING => {}
                _ => {
                    let (a, b) = f.dual_edge_nodes_in::<C>(key);
                    uf.link_descending(a, b);
                }
            }
        }
    }
    for (k, &square) in f_squares.iter().rev().enumerate() {
        if k % crate::filtration::STOP_CHECK_CELLS == 0 && f.stopped() {
            return;
        }
        let key = edge_key(square);
        if lowest.contains(key) {
            let (a, b) = f.dual_edge_nodes_in::<C>(key);
            if uf.link_descending(a, b).is_some() {
                cleared.insert(key);
            }
        }
    }
}

/// The input's top rank, where the image reduction of `c`'s columns against `f`'s rows gains
/// from ordering `f`'s top rows by `c` and `c`'s own compression holds for that order; `None`
/// otherwise. It gains where many voxels take `f`'s top value and `c` gives them many values.
/// The compression holds where `c` orders every other edge of `f` before every top edge of `f`
/// (as where `f` is a mask target and the likelihood is above the mask's lower value: there
/// `c` is that value on the background): the rows before a top row are then the same in
/// either order, so the same top rows close cycles.
pub(crate) fn top_by_comparison<C: VolumeGeometry>(f: &Filtration, c: &Filtration) -> Option<u32> {
    if !C::MIDDLE_ROWS_ARE_EDGES {
        return None;
    }
    let top = f.ranks.iter().copied().filter(|&r| r != PADDING).max()?;
    let (cells, distinct) = count_distinct(f.ranks.iter().zip(&c.ranks).filter(|&(&rank, _)| rank == top).map(|(_, &c_rank)| c_rank), c);
    if cells * BLOCK_SHARE < f.ranks.len() || distinct < DISTINCT_VALUES {
        return None;
    }
    // Edges take the larger value of their voxels, so comparing the voxels is enough: every
    // other edge has only other voxels, every top edge a top voxel.
    let (mut last_other, mut first_top) = (0, PADDING);
    for (&rank, &c_rank) in f.ranks.iter().zip(&c.ranks) {
        match rank {
            PADDING => {}
            rank if rank == top => first_top = first_top.min(c_rank),
            _ => last_other = last_other.max(c_rank),
        }
    }
    (last_other < first_top).then_some(top)
}

/// Whether the image matrix of `c`'s columns against `f`'s rows, ordered with `f`'s top rank
/// `top` in `c`'s order ([`top_by_comparison`]) and `c`'s lowest columns in `c`'s order
/// (`!lowest_by_input`), is `c`'s own matrix (up to the names of the rows' values), so that
/// its pivots are `c`'s own: where `f` has two ranks (a mask) and `c` has its lowest rank on
/// all of `f`'s lower voxels. `f`'s lower rows are then `c`'s rank-0 rows (`top_by_comparison`
/// has `c` above that rank on `f`'s top voxels), both by key, with the same cycles closed
/// among them; its top rows are `c`'s other rows, in `c`'s order and compression.
pub(crate) fn image_is_comparisons(f: &Filtration, c: &Filtration, top: Option<u32>, lowest_by_input: bool) -> bool {
    top == Some(1) && !lowest_by_input && f.ranks.iter().zip(&c.ranks).all(|(&rank, &c_rank)| rank != 0 || c_rank == 0)
}

/// How many ranks of `f` there are, and how many distinct ones (counted up to
/// [`DISTINCT_VALUES`]).
fn count_distinct(ranks: impl Iterator<Item = u32>, f: &Filtration) -> (usize, usize) {
    let mut seen = KeySet::default();
    seen.reset(f.ranks.iter().filter(|&&r| r != PADDING).max().map_or(0, |&r| r as usize + 1));
    let (mut cells, mut distinct) = (0usize, 0usize);
    for rank in ranks {
        cells += 1;
        if distinct < DISTINCT_VALUES && !seen.contains(rank) {
            seen.insert(rank);
            distinct += 1;
        }
    }
    (cells, distinct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filtration::{T3, V3};
    use crate::grid::{Connectivity, Shape};
    use crate::matching::betti_matching;
    use crate::matching_oracle_t3_tests::t_construction;
    use crate::matching_oracle_tests::{assert_layer_agrees, boundaries, engine, oracle, v_complex};
    use crate::test_rng::XorShift;

    /// A tie-free likelihood in (0, 1), or with `zeros`, exact zeros at a few voxels (where a
    /// mask's foreground meets them, the comparison's order no longer puts the top rows last).
    fn likelihood(rng: &mut XorShift, n: usize, zeros: bool) -> Vec<f64> {
        let mut v: Vec<f64> = (0..n).map(|i| (i + 1) as f64 / (n + 1) as f64).collect();
        for i in (1..n).rev() {
            v.swap(i, rng.below(i as u64 + 1) as usize);
        }
        if zeros {
            for _ in 0..1 + n / 20 {
                v[rng.below(n as u64) as usize] = 0.0;
            }
        }
        v
    }

    fn mask(rng: &mut XorShift, n: usize) -> Vec<f64> {
        let density = 1 + rng.below(3);
        (0..n).map(|_| (rng.below(4) < density) as u64 as f64).collect()
    }

    fn filtration(values: &[f64], shape: Shape, connectivity: Connectivity) -> Filtration {
        let mut f = Filtration::default();
        f.build_volume_ranks(values, shape, connectivity);
        f
    }

    /// Likelihoods against masks (either side), where the free orders are taken: the matching
    /// equals the one by definition, and both orders were taken in many cases.
    #[test]
    fn the_free_orders_keep_the_matching() {
        let mut rng = XorShift::new(0x10e5_7f0e);
        for connectivity in [Connectivity::Six, Connectivity::TwentySix] {
            // `comparisons`: the cases with the top rows in the comparison's order whose image
            // matrix is not, and is, the comparison's own.
            let (mut lowest, mut top, mut comparisons, cases) = (0, 0, [0, 0], 240);
            for case in 0..cases {
                let side = |rng: &mut XorShift| 3 + rng.below(4) as usize;
                let shape = [side(&mut rng), side(&mut rng), side(&mut rng)];
                let n = shape.iter().product();
                let (mut l, m) = (likelihood(&mut rng, n, case % 5 == 4), mask(&mut rng, n));
                if case % 5 == 3 {
                    // Below 0 on the mask's lower voxels, above on its upper ones: the comparison
                    // still has the mask's top rows last, but orders its lower rows itself.
                    for (x, &upper) in l.iter_mut().zip(&m) {
                        *x = if upper == 1.0 { 0.1 + 0.8 * *x } else { *x - 1.0 };
                    }
                }
                let (f, g) = if case % 2 == 0 { (l, m) } else { (m, l) };
                let volume = Shape::volume(shape[0], shape[1], shape[2]);
                let c: Vec<f64> = f.iter().zip(&g).map(|(&a, &b)| a.min(b)).collect();
                let (fp, ft) = (filtration(&f, volume, connectivity), filtration(&g, volume, connectivity));
                let fc = filtration(&c, volume, connectivity);
                for x in [&fp, &ft] {
                    let by_input = lowest_by_input(x, &fc);
                    let top_rank = match connectivity {
                        Connectivity::Six => top_by_comparison::<V3>(x, &fc),
                        _ => top_by_comparison::<T3>(x, &fc),
                    };
                    lowest += by_input as usize;
                    top += top_rank.is_some() as usize;
                    let same = image_is_comparisons(x, &fc, top_rank, by_input);
                    comparisons[same as usize] += top_rank.is_some() as usize;
                }
                let m = betti_matching(&f, &g, volume, connectivity).unwrap();
                let want = match connectivity {
                    Connectivity::Six => oracle(&f, &g, &boundaries(&v_complex(shape[0], shape[1], shape[2]))),
                    _ => oracle(&f, &g, &t_construction(shape).boundaries),
                };
                let got = engine(&m, &f, &g);
                for d in 0..3 {
                    assert_layer_agrees(&got[d], &want[d], true, &format!("{connectivity:?} case {case}, shape {shape:?}, dim {d} (pred {f:?}, target {g:?})"));
                }
            }
            assert!(lowest > cases / 2, "{connectivity:?}: the lowest columns in the input's order ({lowest} of {cases} cases)");
            match connectivity {
                Connectivity::Six => {
                    assert!(top > cases / 2, "the top rows in the comparison's order ({top} of {cases} cases)");
                    assert!(comparisons.iter().all(|&n| n > cases / 20), "the image matrix that is and is not the comparison's ({comparisons:?})");
                }
                _ => assert_eq!(top, 0, "the T-construction's rows keep their order"),
            }
        }
    }
}
