//! Binary masks: the counts behind the Betti matching error and the Betti number error, by
//! labelling alone.
//!
//! A mask is filtered as the superlevel set of its indicator (foreground enters first), i.e. the
//! sublevel filtration of `1 - mask`: every foreground component but the oldest is a finite bar
//! of dimension 0, every hole a finite bar of dimension 1, all born at 0 and dying at 1. With two
//! levels, the union-find sweeps of the general matching (same edge order, same tie-breaking)
//! collapse into statements about components, which these functions evaluate:
//!
//! - Dimension 0. The comparison `c` is the union of the foregrounds. Its sweep at level 1 visits
//!   the edges in raster key order, so the set holding the current edge's first pixel is always
//!   the one set that has grown from the first pixel: every merge at level 1 joins that set with a
//!   component of the union it has not touched yet (or a lone background pixel). A merge is a
//!   matched bar exactly when both sides hold foreground of both masks, so the matched count is
//!   the number of such "mixed" components absorbed after the growing set became mixed: all mixed
//!   components, less one if a mixed component is what made it mixed. Components are absorbed in
//!   the order of the first edge that reaches them from the background: for a component whose
//!   first pixel lies below row 1 that is the order of first pixels; the others are reached from
//!   row 0 and go by that row's edges.
//! - Dimension 1. Each input's dual sweep at level 0 grows the outside the same way and absorbs
//!   each hole (a background component off the border) whole; the hole's bar reaches the
//!   comparison's hole that owns the hole's last pixel of comparison background. A comparison
//!   hole is matched when it owns that pixel for a hole of each input: the matched count is the
//!   number of pixels that are such a "last pixel" for both inputs.
//!
//! Connectivity 4 means 4-connected foreground and 8-connected background; 8 the converse.

use crate::bitplane::{any_in, last_in, runs_of, BitPlane};
use crate::error::InputError;
use crate::grid::{Connectivity, Shape};
use crate::matching::{betti_matching_with, two_level_volume_counts_with, MatchWorkspace, Matching};
use crate::tie_order::Ties;
use crate::run_components::{OrderScratch, RunComponents};

/// What the metrics need from the matching of two masks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaskCounts {
    /// Finite bars without a partner, per dimension.
    pub unmatched_pred: Vec<u32>,
    pub unmatched_target: Vec<u32>,
    /// Finite bars per dimension (dim 0: components but the oldest; dim 1: holes).
    pub finite_pred: Vec<u32>,
    pub finite_target: Vec<u32>,
    pub pred_nonempty: bool,
    pub target_nonempty: bool,
}

/// Reusable buffers for [`mask_counts_with`].
#[derive(Default)]
pub struct MaskWorkspace {
    pred: BitPlane,
    target: BitPlane,
    pred_background: BitPlane,
    target_background: BitPlane,
    union: BitPlane,
    components: RunComponents,
    /// Per run (read at roots): a component's sides, or whether a hole touches the border.
    flags: Vec<u8>,
    /// Per run (read at roots): a hole's last pixel of comparison background.
    last: Vec<u32>,
    marks_pred: Vec<u32>,
    marks_target: Vec<u32>,
    order: OrderScratch,
    /// Volumes: the masks as two-level values, and the general matching's buffers.
    values: [Vec<f64>; 2],
    matching: MatchWorkspace,
}

const PRED: u8 = 1;
const TARGET: u8 = 2;
const MIXED: u8 = PRED | TARGET;
const NONE: u32 = u32::MAX;

pub fn mask_counts_with(
    ws: &mut MaskWorkspace,
    pred: &[bool],
    target: &[bool],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<MaskCounts, InputError> {
    shape.check_len(pred.len())?;
    shape.check_len(target.len())?;
    shape.check_connectivity(connectivity)?;
    ws.pred.pack(pred, shape);
    ws.target.pack(target, shape);
    if shape.dims() == 3 {
        return volume_counts(ws, shape, connectivity);
    }
    Ok(counts(ws, connectivity))
}

/// [`mask_counts_with`] for masks already packed (the bindings pack straight from numpy).
pub fn packed_mask_counts_with(
    ws: &mut MaskWorkspace,
    pred: &BitPlane,
    target: &BitPlane,
    connectivity: Connectivity,
) -> Result<MaskCounts, InputError> {
    let shape = pred.shape();
    shape.check_pair(target.shape())?;
    shape.check_len(shape.pixels())?;
    shape.check_connectivity(connectivity)?;
    ws.pred.clone_from(pred);
    ws.target.clone_from(target);
    if shape.dims() == 3 {
        return volume_counts(ws, shape, connectivity);
    }
    Ok(counts(ws, connectivity))
}

impl MaskWorkspace {
    /// Lets `stop` cut the general matching of volumes short (its result is then unusable).
    pub fn watch(&mut self, stop: &crate::batch::Stop) {
        self.matching.watch(stop);
    }
}

/// [`packed_mask_counts_with`] under a tie order: [`Ties::Index`] is the labelling path above;
/// [`Ties::Distance`] orders the equal values of the masks by the distance key, which labelling
/// cannot follow, so the counts are read off the general matching of the masks' two-level values
/// (images and volumes alike).
pub fn tied_mask_counts_with(
    ws: &mut MaskWorkspace,
    pred: &BitPlane,
    target: &BitPlane,
    connectivity: Connectivity,
    ties: Ties,
) -> Result<MaskCounts, InputError> {
    if ties == Ties::Index {
        return packed_mask_counts_with(ws, pred, target, connectivity);
    }
    let shape = pred.shape();
    shape.check_pair(target.shape())?;
    shape.check_len(shape.pixels())?;
    shape.check_connectivity(connectivity)?;
    let [pred_values, target_values] = &mut ws.values;
    pred.sublevel_values(pred_values);
    target.sublevel_values(target_values);
    let m = betti_matching_with(&mut ws.matching, pred_values, target_values, shape, connectivity, ties)?;
    Ok(counts_of_matching(&m, pred.any(), target.any()))
}

/// What the metrics need, read off a full matching of two masks' two-level values.
fn counts_of_matching(m: &Matching, pred_nonempty: bool, target_nonempty: bool) -> MaskCounts {
    let lengths = |lists: &[Vec<u32>]| lists.iter().map(|l| l.len() as u32).collect();
    MaskCounts {
        unmatched_pred: lengths(&m.unmatched_pred),
        unmatched_target: lengths(&m.unmatched_target),
        finite_pred: m.pred.pairs.iter().map(|p| p.len() as u32).collect(),
        finite_target: m.target.pairs.iter().map(|p| p.len() as u32).collect(),
        pred_nonempty,
        target_nonempty,
    }
}

/// The counts of two volumes packed in `ws.pred` and `ws.target`, from the general matching of
/// their two-level filtrations (no labelling shortcut in 3D yet: the counts are the general
/// algorithm's by construction, tie order included; only the deaths of the inputs' loops, which
/// no count needs, are not computed).
fn volume_counts(ws: &mut MaskWorkspace, shape: Shape, connectivity: Connectivity) -> Result<MaskCounts, InputError> {
    let [pred_values, target_values] = &mut ws.values;
    ws.pred.sublevel_values(pred_values);
    ws.target.sublevel_values(target_values);
    let counts = two_level_volume_counts_with(&mut ws.matching, pred_values, target_values, shape, connectivity)?
        .unwrap_or_default();
    let unmatched = |finite: &[u32]| finite.iter().zip(&counts.matched).map(|(f, m)| f - m).collect();
    Ok(MaskCounts {
        unmatched_pred: unmatched(&counts.finite_pred),
        unmatched_target: unmatched(&counts.finite_target),
        finite_pred: counts.finite_pred.clone(),
        finite_target: counts.finite_target.clone(),
        pred_nonempty: ws.pred.any(),
        target_nonempty: ws.target.any(),
    })
}

/// The counts of the masks packed in `ws.pred` and `ws.target`.
fn counts(ws: &mut MaskWorkspace, connectivity: Connectivity) -> MaskCounts {
    ws.pred_background.complement(&ws.pred);
    ws.target_background.complement(&ws.target);
    ws.union.combine(&ws.pred, &ws.target, |a, b| a | b);
    let diagonal = connectivity == Connectivity::Eight;

    let holes_pred = holes(ws, Side::Pred, !diagonal);
    let holes_target = holes(ws, Side::Target, !diagonal);
    // Betti numbers of the masks: components = Euler characteristic + holes.
    let components_pred = (euler_characteristic(&ws.pred, diagonal) + holes_pred as i64) as u32;
    let components_target = (euler_characteristic(&ws.target, diagonal) + holes_target as i64) as u32;
    let matched1 = common_count(&mut ws.marks_pred, &mut ws.marks_target);
    let matched0 = matched_components(ws, diagonal);

    // Every component but the oldest is a finite bar.
    let (finite_pred0, finite_target0) = (components_pred.saturating_sub(1), components_target.saturating_sub(1));
    MaskCounts {
        unmatched_pred: vec![finite_pred0 - matched0, holes_pred - matched1],
        unmatched_target: vec![finite_target0 - matched0, holes_target - matched1],
        finite_pred: vec![finite_pred0, holes_pred],
        finite_target: vec![finite_target0, holes_target],
        pred_nonempty: components_pred > 0,
        target_nonempty: components_target > 0,
    }
}

#[derive(Clone, Copy)]
enum Side {
    Pred,
    Target,
}

/// The Euler characteristic of a mask's cubical complex, from run counts per row. Connectivity 4
/// (V-construction: pixels are vertices): `V - E + F` telescopes to the runs of each row minus the
/// runs of the AND of each two consecutive rows. Connectivity 8 (T-construction: pixels are
/// closed squares): the runs of the OR of each two consecutive rows (rows outside the image
/// empty) minus the runs of each row.
fn euler_characteristic(plane: &BitPlane, diagonal: bool) -> i64 {
    let rows = plane.shape().rows;
    let runs = |a: &[u64], b: &[u64], op: fn(u64, u64) -> u64| runs_of(a, b, op) as i64;
    let own: i64 = (0..rows).map(|r| runs(plane.row(r), plane.row(r), |a, _| a)).sum();
    if diagonal {
        let stacked: i64 = (1..rows).map(|r| runs(plane.row(r - 1), plane.row(r), |a, b| a | b)).sum();
        let (first, last) = (plane.row(0), plane.row(rows - 1));
        stacked + runs(first, first, |a, _| a) + runs(last, last, |a, _| a) - own
    } else {
        own - (1..rows).map(|r| runs(plane.row(r - 1), plane.row(r), |a, b| a & b)).sum::<i64>()
    }
}

/// Counts the holes of one side (background components off the border, `diagonal` for the
/// background's connectivity) and collects each hole's last pixel of comparison background, the
/// pixel its bar reaches in the comparison.
fn holes(ws: &mut MaskWorkspace, side: Side, diagonal: bool) -> u32 {
    let (background, other_background, marks) = match side {
        Side::Pred => (&ws.pred_background, &ws.target_background, &mut ws.marks_pred),
        Side::Target => (&ws.target_background, &ws.pred_background, &mut ws.marks_target),
    };
    let shape = background.shape();
    let rc = &mut ws.components;
    rc.label(background, diagonal);
    let (runs, root) = (&rc.runs, &rc.root);
    let (border, last) = (&mut ws.flags, &mut ws.last);
    border.clear();
    border.resize(runs.len(), 0);
    for r in 0..shape.rows {
        let edge_row = r == 0 || r + 1 == shape.rows;
        for k in runs.of_row(r) {
            border[root[k] as usize] |= (edge_row || runs.start[k] == 0 || runs.end[k] as usize == shape.cols) as u8;
        }
    }
    // Only holes need their last pixel of comparison background; most runs belong to the outside.
    last.clear();
    last.resize(runs.len(), NONE);
    for r in 1..shape.rows.saturating_sub(1) {
        let row_start = (r * shape.cols) as u32;
        for k in runs.of_row(r) {
            let owner = root[k] as usize;
            if border[owner] != 0 {
                continue;
            }
            // Runs come in raster order: the latest one with comparison background has the last pixel.
            if let Some(c) = last_in(other_background.row(r), runs.start[k], runs.end[k]) {
                last[owner] = row_start + c;
            }
        }
    }
    marks.clear();
    let mut count = 0;
    for k in 0..runs.len() {
        if root[k] as usize == k && border[k] == 0 {
            count += 1;
            if last[k] != NONE {
                marks.push(last[k]);
            }
        }
    }
    count
}

/// How many values two lists of distinct values share.
fn common_count(a: &mut [u32], b: &mut [u32]) -> u32 {
    a.sort_unstable();
    b.sort_unstable();
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Matched bars of dimension 0: the union's mixed components, less one if the growing set of the
/// comparison's level-1 sweep turns mixed by absorbing a mixed component (or starts as one).
fn matched_components(ws: &mut MaskWorkspace, diagonal: bool) -> u32 {
    let shape = ws.union.shape();
    let rc = &mut ws.components;
    rc.label(&ws.union, diagonal);
    let (runs, root) = (&rc.runs, &rc.root);
    let sides = &mut ws.flags;
    sides.clear();
    sides.resize(runs.len(), 0);
    for r in 0..shape.rows {
        for k in runs.of_row(r) {
            let (start, end) = (runs.start[k], runs.end[k]);
            let side = (any_in(ws.pred.row(r), start, end) as u8 * PRED) | (any_in(ws.target.row(r), start, end) as u8 * TARGET);
            sides[root[k] as usize] |= side;
        }
    }
    let mixed = (0..runs.len()).filter(|&k| root[k] as usize == k && sides[k] == MIXED).count() as u32;
    if mixed == 0 {
        return 0;
    }
    let mut grown = 0u8;
    let mut absorbed_mixed = None;
    rc.sweep_order(&ws.union, diagonal, &mut ws.order, |component, _| {
        let side = sides[component as usize];
        if grown | side == MIXED && grown != MIXED {
            absorbed_mixed = Some((side == MIXED) as u32);
            return true;
        }
        grown |= side;
        false
    });
    mixed - absorbed_mixed.expect("a mixed component exists, so the growing set turns mixed")
}

pub fn mask_counts(pred: &[bool], target: &[bool], shape: Shape, connectivity: Connectivity) -> Result<MaskCounts, InputError> {
    mask_counts_with(&mut MaskWorkspace::default(), pred, target, shape, connectivity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::plain_matching;

    /// The counts of the plain matching (sorted comparison, union-find over every edge) of the same masks.
    fn general(pred: &[bool], target: &[bool], shape: Shape, conn: Connectivity) -> MaskCounts {
        counts_of(&plain_matching(&sublevel(pred), &sublevel(target), shape, conn), pred, target)
    }

    fn sublevel(mask: &[bool]) -> Vec<f64> {
        mask.iter().map(|&x| if x { 0.0 } else { 1.0 }).collect()
    }

    fn counts_of(m: &Matching, pred: &[bool], target: &[bool]) -> MaskCounts {
        counts_of_matching(m, pred.iter().any(|&x| x), target.iter().any(|&x| x))
    }

    /// The counts of the full matching of two volumes (bars with deaths) of the same masks.
    fn full_volume_matching(pred: &[bool], target: &[bool], shape: Shape, conn: Connectivity) -> MaskCounts {
        let m = crate::matching::betti_matching(&sublevel(pred), &sublevel(target), shape, conn).unwrap();
        counts_of(&m, pred, target)
    }

    /// A random box, solid or hollow (for cavities and tunnels), written into `mask`.
    fn draw_box(mask: &mut [bool], dims: [usize; 3], next: &mut impl FnMut(u64) -> u64) {
        let lo: Vec<usize> = dims.iter().map(|&d| next(d as u64) as usize).collect();
        let hi: Vec<usize> = lo.iter().zip(&dims).map(|(&l, &d)| (l + 2 + next(4) as usize).min(d)).collect();
        let hollow = next(2) == 0;
        for z in lo[0]..hi[0] {
            for y in lo[1]..hi[1] {
                for x in lo[2]..hi[2] {
                    let inside = z > lo[0] && z + 1 < hi[0] && y > lo[1] && y + 1 < hi[1] && x > lo[2] && x + 1 < hi[2];
                    mask[(z * dims[1] + y) * dims[2] + x] = !(hollow && inside);
                }
            }
        }
    }

    /// The volume counts skip the inputs' loop deaths: the same counts as the full matching,
    /// on speckle of every density with boxes and shells (the full matching equals the oracle).
    #[test]
    fn volume_mask_counts_equal_the_full_matching() {
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: u64| rng.below(n);
        let mut loops = 0;
        for case in 0..1000 {
            let dims = [1 + next(7) as usize, 1 + next(7) as usize, 1 + next(9) as usize];
            let shape = Shape::volume(dims[0], dims[1], dims[2]);
            let density = next(9);
            let mut masks = [vec![false; shape.pixels()], vec![false; shape.pixels()]];
            for mask in &mut masks {
                for x in mask.iter_mut() {
                    *x = next(8) < density;
                }
                for _ in 0..next(3) {
                    draw_box(mask, dims, &mut next);
                }
            }
            let (p, t) = (&masks[0], &masks[1]);
            for conn in [Connectivity::Six, Connectivity::TwentySix] {
                let want = full_volume_matching(p, t, shape, conn);
                loops += want.finite_pred[1] + want.finite_target[1];
                assert_eq!(mask_counts(p, t, shape, conn).unwrap(), want, "case {case} {dims:?} {conn:?}");
            }
        }
        assert!(loops > 500, "tunnels must occur ({loops})");
    }

    quickcheck::quickcheck! {
        fn mask_counts_equal_the_general_matching(raw: Vec<u8>, cols: u8, density: u8, eight: bool) -> bool {
            let cols = 1 + cols as usize % 9;
            let rows = raw.len() / (2 * cols);
            if rows == 0 { return true; }
            let cut = 1 + density % 5;
            let pred: Vec<bool> = raw[..rows * cols].iter().map(|&x| x % 6 < cut).collect();
            let target: Vec<bool> = raw[rows * cols..2 * rows * cols].iter().map(|&x| x % 6 < cut).collect();
            let (shape, conn) = (Shape::new(rows, cols), if eight { Connectivity::Eight } else { Connectivity::Four });
            mask_counts(&pred, &target, shape, conn).unwrap() == general(&pred, &target, shape, conn)
        }
    }

    /// Masks wider than a word, with clusters and speckle, from a fixed-seed generator.
    #[test]
    fn wide_and_clustered_masks_equal_the_general_matching() {
        let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: u64| rng.below(n);
        for case in 0..300 {
            let shape = Shape::new(1 + next(24) as usize, 1 + next(150) as usize);
            let mut masks = [vec![false; shape.pixels()], vec![false; shape.pixels()]];
            for mask in &mut masks {
                // Rectangles of random sizes plus speckle; the density varies per case.
                for _ in 0..next(12) {
                    let (r0, c0) = (next(shape.rows as u64) as usize, next(shape.cols as u64) as usize);
                    let (h, w) = (1 + next(6) as usize, 1 + next(40) as usize);
                    for r in r0..(r0 + h).min(shape.rows) {
                        for c in c0..(c0 + w).min(shape.cols) {
                            mask[r * shape.cols + c] = next(8) != 0;
                        }
                    }
                }
                let speckle = next(4);
                for x in mask.iter_mut() {
                    *x ^= next(16) < speckle;
                }
            }
            for conn in [Connectivity::Four, Connectivity::Eight] {
                let (p, t) = (&masks[0], &masks[1]);
                assert_eq!(mask_counts(p, t, shape, conn).unwrap(), general(p, t, shape, conn), "case {case} {conn:?}");
            }
        }
    }

    /// The distance order changes which bars pair up, never how many bars each mask has (its Betti
    /// numbers); a mask against itself matches every bar in either order; the index order through
    /// this entry point is the labelling path.
    #[test]
    fn distance_tied_counts_keep_the_betti_numbers() {
        let mut rng = crate::test_rng::XorShift::new(0x51f1_5eed_0ddb_a11);
        let mut next = move |n: u64| rng.below(n);
        let mut ws = MaskWorkspace::default();
        let mut differing = 0;
        for case in 0..400 {
            let volume = case % 2 == 1;
            let shape = if volume {
                Shape::volume(1 + next(5) as usize, 1 + next(6) as usize, 1 + next(7) as usize)
            } else {
                Shape::new(1 + next(12) as usize, 1 + next(70) as usize)
            };
            let density = 1 + next(7);
            let masks: Vec<BitPlane> = (0..2)
                .map(|_| {
                    let m: Vec<bool> = (0..shape.pixels()).map(|_| next(8) < density).collect();
                    let mut plane = BitPlane::default();
                    plane.pack(&m, shape);
                    plane
                })
                .collect();
            let conns: &[Connectivity] =
                if volume { &[Connectivity::Six, Connectivity::TwentySix] } else { &[Connectivity::Four, Connectivity::Eight] };
            for &conn in conns {
                let index = tied_mask_counts_with(&mut ws, &masks[0], &masks[1], conn, Ties::Index).unwrap();
                assert_eq!(index, packed_mask_counts_with(&mut ws, &masks[0], &masks[1], conn).unwrap());
                let distance = tied_mask_counts_with(&mut ws, &masks[0], &masks[1], conn, Ties::Distance).unwrap();
                assert_eq!((&distance.finite_pred, &distance.finite_target), (&index.finite_pred, &index.finite_target), "case {case}");
                assert_eq!((distance.pred_nonempty, distance.target_nonempty), (index.pred_nonempty, index.target_nonempty));
                differing += usize::from(distance != index);
                let own = tied_mask_counts_with(&mut ws, &masks[0], &masks[0], conn, Ties::Distance).unwrap();
                assert!(own.unmatched_pred.iter().chain(&own.unmatched_target).all(|&n| n == 0), "case {case}");
            }
        }
        assert!(differing > 0, "the two orders must disagree somewhere");
    }

    #[test]
    fn packed_masks_count_alike_and_need_one_shape() {
        let shape = Shape::new(5, 70);
        let pred: Vec<bool> = (0..shape.pixels()).map(|i| (i * 7919) % 5 < 2).collect();
        let target: Vec<bool> = (0..shape.pixels()).map(|i| (i * 104729) % 3 == 0).collect();
        let pack = |m: &[bool], s: Shape| {
            let mut plane = BitPlane::default();
            plane.pack(m, s);
            plane
        };
        let mut ws = MaskWorkspace::default();
        for conn in [Connectivity::Four, Connectivity::Eight] {
            let packed = packed_mask_counts_with(&mut ws, &pack(&pred, shape), &pack(&target, shape), conn);
            assert_eq!(packed.unwrap(), mask_counts(&pred, &target, shape, conn).unwrap());
        }
        let other = pack(&pred, Shape::new(70, 5));
        let err = packed_mask_counts_with(&mut ws, &other, &pack(&target, shape), Connectivity::Four);
        assert_eq!(err, Err(InputError::ShapeMismatch { pred: vec![70, 5], target: vec![5, 70] }));
        let empty = pack(&[], Shape::new(0, 4));
        assert_eq!(packed_mask_counts_with(&mut ws, &empty, &empty, Connectivity::Four), Err(InputError::Empty));
    }

    #[test]
    fn bad_shapes_are_errors() {
        let m = vec![true; 6];
        assert_eq!(mask_counts(&m, &m, Shape::new(0, 6), Connectivity::Four), Err(InputError::Empty));
        assert!(matches!(mask_counts(&m, &m[..5], Shape::new(2, 3), Connectivity::Four), Err(InputError::LengthMismatch { .. })));
    }

    #[test]
    fn empty_and_full_masks() {
        let shape = Shape::new(4, 5);
        let (empty, full) = (vec![false; 20], vec![true; 20]);
        let mut dots = vec![false; 20];
        dots[0] = true;
        dots[12] = true;
        for conn in [Connectivity::Four, Connectivity::Eight] {
            for (p, t) in [(&empty, &dots), (&dots, &empty), (&full, &dots), (&empty, &empty), (&full, &full), (&dots, &dots)] {
                assert_eq!(mask_counts(p, t, shape, conn).unwrap(), general(p, t, shape, conn), "{conn:?}");
            }
        }
    }
}
