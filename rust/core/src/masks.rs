//! Binary masks: the counts behind the Betti matching error and the Betti number error.
//!
//! A mask is filtered as the superlevel set of its indicator (foreground enters first), i.e. the
//! sublevel filtration of `1 - mask`: every foreground component but the oldest is a finite bar
//! of dimension 0, every hole a finite bar of dimension 1, all born at 0 and dying at 1.

use crate::error::InputError;
use crate::grid::{Connectivity, Shape};
use crate::filtration::{edge_key, edge_rank, Filtration};
use crate::matching::MatchWorkspace;
use crate::union_find::UnionFind;

/// What the metrics need from the matching of two masks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskCounts {
    /// Finite bars without a partner, per dimension.
    pub unmatched_pred: [u32; 2],
    pub unmatched_target: [u32; 2],
    /// Finite bars per dimension (dim 0: components but the oldest; dim 1: holes).
    pub finite_pred: [u32; 2],
    pub finite_target: [u32; 2],
    pub pred_nonempty: bool,
    pub target_nonempty: bool,
}

/// Reusable buffers for [`mask_counts_with`].
#[derive(Default)]
pub struct MaskWorkspace {
    matching: MatchWorkspace,
    pred: Vec<f64>,
    target: Vec<f64>,
    uf: UnionFind,
    sides: Vec<u8>,
}

fn indicator_sublevel(mask: &[bool], out: &mut Vec<f64>) {
    out.clear();
    out.extend(mask.iter().map(|&m| if m { 0.0 } else { 1.0 }));
}

const PRED: u8 = 1;
const TARGET: u8 = 2;

/// Counts of the matching of two masks. Dimension 1 runs the general matching's cycle sweeps on
/// the two-level filtrations. Dimension 0 needs less than the general sweeps: a comparison bar
/// (a merge at level 1 of two sets that both hold foreground) is matched exactly when both merged
/// sets hold prediction foreground and both hold target foreground — the roots the inputs retire
/// there are then the first pixels of input components, which are bars. So one sweep over the
/// comparison's edges that carries two flags per set gives the matched count, in the comparison's
/// exact edge order (on which the count depends), and plain labellings give the bar counts.
pub fn mask_counts_with(
    ws: &mut MaskWorkspace,
    pred: &[bool],
    target: &[bool],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<MaskCounts, InputError> {
    indicator_sublevel(pred, &mut ws.pred);
    indicator_sublevel(target, &mut ws.target);
    ws.matching.build(&ws.pred, &ws.target, shape, connectivity)?;
    let (cycles_pred, cycles_target, cycles_matched) = ws.matching.cycle_counts();
    let c = ws.matching.comparison();

    let components_pred = components(pred, shape, connectivity, &mut ws.uf);
    let components_target = components(target, shape, connectivity, &mut ws.uf);
    // Every component but the oldest is a finite bar.
    let (finite_pred0, finite_target0) = (components_pred.saturating_sub(1), components_target.saturating_sub(1));

    ws.sides.clear();
    ws.sides.resize(c.ranks.len(), 0);
    let stride = shape.cols + 2;
    for (r, (row_p, row_t)) in pred.chunks_exact(shape.cols).zip(target.chunks_exact(shape.cols)).enumerate() {
        let start = (r + 1) * stride + 1;
        for (k, (&p, &t)) in row_p.iter().zip(row_t).enumerate() {
            ws.sides[start + k] = (p as u8 * PRED) | (t as u8 * TARGET);
        }
    }
    let matched0 = matched_components(c, &mut ws.uf, &mut ws.sides);

    Ok(MaskCounts {
        unmatched_pred: [finite_pred0 - matched0, (cycles_pred - cycles_matched) as u32],
        unmatched_target: [finite_target0 - matched0, (cycles_target - cycles_matched) as u32],
        finite_pred: [finite_pred0, cycles_pred as u32],
        finite_target: [finite_target0, cycles_target as u32],
        pred_nonempty: components_pred > 0,
        target_nonempty: components_target > 0,
    })
}

/// Merges at level 1 of the comparison whose two sets both hold foreground of both masks.
fn matched_components(c: &Filtration, uf: &mut UnionFind, sides: &mut [u8]) -> u32 {
    c.reset_primal(uf);
    let mut matched = 0;
    for &edge in &c.edges {
        let (a, b) = c.edge_pixels(edge_key(edge));
        if let Some((younger, elder)) = uf.link_ascending(a, b) {
            let (sy, se) = (sides[younger as usize], sides[elder as usize]);
            // Level 0 merges join foreground to foreground: no bar dies there.
            matched += (edge_rank(edge) != 0 && sy == PRED | TARGET && se == PRED | TARGET) as u32;
            sides[elder as usize] = sy | se;
        }
    }
    matched
}

/// Number of foreground components (4- or 8-connected), by a raster-scan union-find.
fn components(mask: &[bool], shape: Shape, connectivity: Connectivity, uf: &mut UnionFind) -> u32 {
    let cols = shape.cols;
    uf.reset_singletons(mask.len());
    let mut count = 0u32;
    for (p, &fg) in mask.iter().enumerate() {
        if !fg {
            continue;
        }
        count += 1;
        let (r, c) = (p / cols, p % cols);
        let mut join = |q: usize| {
            if mask[q] && uf.link_ascending(p as u32, q as u32).is_some() {
                count -= 1;
            }
        };
        if c > 0 {
            join(p - 1);
        }
        if r > 0 {
            join(p - cols);
            if connectivity == Connectivity::Eight {
                if c > 0 {
                    join(p - cols - 1);
                }
                if c + 1 < cols {
                    join(p - cols + 1);
                }
            }
        }
    }
    count
}

pub fn mask_counts(pred: &[bool], target: &[bool], shape: Shape, connectivity: Connectivity) -> Result<MaskCounts, InputError> {
    mask_counts_with(&mut MaskWorkspace::default(), pred, target, shape, connectivity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::betti_matching;

    /// The counts the general matching gives for the same masks.
    fn general(pred: &[bool], target: &[bool], shape: Shape, conn: Connectivity) -> MaskCounts {
        let sub = |m: &[bool]| m.iter().map(|&x| if x { 0.0 } else { 1.0 }).collect::<Vec<f64>>();
        let m = betti_matching(&sub(pred), &sub(target), shape, conn).unwrap();
        MaskCounts {
            unmatched_pred: [0, 1].map(|d| m.unmatched_pred[d].len() as u32),
            unmatched_target: [0, 1].map(|d| m.unmatched_target[d].len() as u32),
            finite_pred: [0, 1].map(|d| m.pred.pairs[d].len() as u32),
            finite_target: [0, 1].map(|d| m.target.pairs[d].len() as u32),
            pred_nonempty: pred.iter().any(|&x| x),
            target_nonempty: target.iter().any(|&x| x),
        }
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
