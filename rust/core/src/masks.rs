//! Binary masks: the counts behind the Betti matching error and the Betti number error.
//!
//! A mask is filtered as the superlevel set of its indicator (foreground enters first), i.e. the
//! sublevel filtration of `1 - mask`: every foreground component but the oldest is a finite bar
//! of dimension 0, every hole a finite bar of dimension 1, all born at 0 and dying at 1.

use crate::error::InputError;
use crate::grid::{Connectivity, Shape};
use crate::matching::{betti_matching_with, MatchWorkspace};

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
}

fn indicator_sublevel(mask: &[bool], out: &mut Vec<f64>) {
    out.clear();
    out.extend(mask.iter().map(|&m| if m { 0.0 } else { 1.0 }));
}

pub fn mask_counts_with(
    ws: &mut MaskWorkspace,
    pred: &[bool],
    target: &[bool],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<MaskCounts, InputError> {
    indicator_sublevel(pred, &mut ws.pred);
    indicator_sublevel(target, &mut ws.target);
    let m = betti_matching_with(&mut ws.matching, &ws.pred, &ws.target, shape, connectivity)?;
    let mut c = MaskCounts {
        pred_nonempty: pred.iter().any(|&x| x),
        target_nonempty: target.iter().any(|&x| x),
        ..Default::default()
    };
    for d in 0..2 {
        c.unmatched_pred[d] = m.unmatched_pred[d].len() as u32;
        c.unmatched_target[d] = m.unmatched_target[d].len() as u32;
        c.finite_pred[d] = m.pred.pairs[d].len() as u32;
        c.finite_target[d] = m.target.pairs[d].len() as u32;
    }
    Ok(c)
}

pub fn mask_counts(pred: &[bool], target: &[bool], shape: Shape, connectivity: Connectivity) -> Result<MaskCounts, InputError> {
    mask_counts_with(&mut MaskWorkspace::default(), pred, target, shape, connectivity)
}
