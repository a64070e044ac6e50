//! Betti matching: the induced matching of two barcodes through their comparison image.
//!
//! With `c = min(f, g)` (the union of the sublevel sets), the inclusions give maps
//! `H(f) -> H(c) <- H(g)`. A bar of `f` maps to the bar of `c` that dies where its image bar dies;
//! two bars are matched when they reach the same bar of `c`.
//! - Dimension 0: one sweep over `c`'s edges advances three union-finds in lockstep, ranked by
//!   `c`, `f` and `g`; at each merge of `c` that ends a bar, the bars of `f` and `g` retired by the
//!   same merge (their younger roots) are matched if both exist.
//! - Dimension 1: each input's dual sweep also replays its merges in a union-find ranked by `c`;
//!   the `c`-root retired at a bar's birth edge names the bar of `c` it reaches, and `c`'s own dual
//!   sweep matches the bars that name the same root.

use crate::error::InputError;
use crate::grid::{Connectivity, Shape};
use crate::persistence::{component_sweep, cycle_sweep, Barcode, PersistencePair, Shadow, Workspace};
use crate::filtration::{edge_key, edge_rank};
use crate::union_find::UnionFind;

const NONE: u32 = u32::MAX;

/// The Betti matching of a prediction and a target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matching {
    pub pred: Barcode,
    pub target: Barcode,
    /// Per dimension, matched bars as `(index into pred.pairs[d], index into target.pairs[d])`, in
    /// the order the comparison image's bars die.
    pub matched: [Vec<(u32, u32)>; 2],
    /// Per dimension, indices into `pred.pairs[d]` of the bars without a partner, in barcode order.
    pub unmatched_pred: [Vec<u32>; 2],
    pub unmatched_target: [Vec<u32>; 2],
}

impl Matching {
    pub fn matched_pairs(&self, dim: usize) -> impl Iterator<Item = (PersistencePair, PersistencePair)> + '_ {
        self.matched[dim]
            .iter()
            .map(move |&(p, t)| (self.pred.pairs[dim][p as usize], self.target.pairs[dim][t as usize]))
    }
}

/// Buffers for one matching, reusable across a batch.
#[derive(Default)]
pub struct MatchWorkspace {
    pred: Workspace,
    target: Workspace,
    comparison: Workspace,
    comparison_values: Vec<f64>,
    uf_pred: UnionFind,
    uf_target: UnionFind,
    /// Node (pixel or dual node) -> index of the bar it names, per input.
    pred_bar_of: Vec<u32>,
    target_bar_of: Vec<u32>,
}

/// The Betti matching of `pred` and `target` (sublevel values, row-major, same `shape`).
pub fn betti_matching(
    pred: &[f64],
    target: &[f64],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<Matching, InputError> {
    betti_matching_with(&mut MatchWorkspace::default(), pred, target, shape, connectivity)
}

pub fn betti_matching_with(
    ws: &mut MatchWorkspace,
    pred: &[f64],
    target: &[f64],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<Matching, InputError> {
    shape.validate(pred)?;
    shape.validate(target)?;
    ws.comparison_values.clear();
    ws.comparison_values.extend(pred.iter().zip(target).map(|(&a, &b)| a.min(b)));
    ws.pred.filtration.build(pred, shape, connectivity);
    ws.target.filtration.build(target, shape, connectivity);
    ws.comparison.filtration.build(&ws.comparison_values, shape, connectivity);

    let mut m = Matching::default();
    match_components(ws, &mut m);
    match_cycles(ws, &mut m);
    for (bars, f) in [(&mut m.pred, &ws.pred.filtration), (&mut m.target, &ws.target.filtration)] {
        bars.essential[0].push(f.pixel(f.first_pixel()));
    }
    for d in 0..2 {
        m.unmatched_pred[d] = unmatched(m.pred.pairs[d].len(), m.matched[d].iter().map(|x| x.0));
        m.unmatched_target[d] = unmatched(m.target.pairs[d].len(), m.matched[d].iter().map(|x| x.1));
    }
    Ok(m)
}

fn unmatched(n: usize, matched: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut is_matched = vec![false; n];
    for i in matched {
        is_matched[i as usize] = true;
    }
    (0..n as u32).filter(|&i| !is_matched[i as usize]).collect()
}

/// Appends `pair` to `bars` and remembers its index under `key`.
fn record_bar(bars: &mut Vec<PersistencePair>, bar_of: &mut [u32], key: u32, pair: PersistencePair) {
    bar_of[key as usize] = bars.len() as u32;
    bars.push(pair);
}

fn clear_map(map: &mut Vec<u32>, n: usize) {
    map.clear();
    map.resize(n, NONE);
}

#[inline(never)]
fn match_components(ws: &mut MatchWorkspace, m: &mut Matching) {
    let n = ws.comparison.filtration.ranks.len();
    clear_map(&mut ws.pred_bar_of, n);
    clear_map(&mut ws.target_bar_of, n);
    for (side, bars, bar_of) in [
        (&mut ws.pred, &mut m.pred.pairs[0], &mut ws.pred_bar_of),
        (&mut ws.target, &mut m.target.pairs[0], &mut ws.target_bar_of),
    ] {
        let f = &side.filtration;
        component_sweep(f, &mut side.uf, |younger, edge| record_bar(bars, bar_of, younger, f.component_bar(younger, edge)));
    }
    let (c, p, t) = (&ws.comparison.filtration, &ws.pred.filtration, &ws.target.filtration);
    let (uf_c, uf_p, uf_t) = (&mut ws.comparison.uf, &mut ws.uf_pred, &mut ws.uf_target);
    c.reset_primal(uf_c);
    p.reset_primal(uf_p);
    t.reset_primal(uf_t);
    for &edge in &c.edges {
        let (a, b) = c.edge_pixels(edge_key(edge));
        let Some(younger) = uf_c.link_ascending(a, b) else { continue };
        // The same merge retires a root in each input's ranking: the image of that input's bar.
        let pred_younger = uf_p.link_ascending(a, b).expect("inputs split no less than the comparison");
        let target_younger = uf_t.link_ascending(a, b).expect("inputs split no less than the comparison");
        if uf_c.rank(younger) != edge_rank(edge) {
            let (pb, tb) = (ws.pred_bar_of[pred_younger as usize], ws.target_bar_of[target_younger as usize]);
            if pb != NONE && tb != NONE {
                m.matched[0].push((pb, tb));
            }
        }
    }
}

#[inline(never)]
fn match_cycles(ws: &mut MatchWorkspace, m: &mut Matching) {
    let c = &ws.comparison.filtration;
    let n = c.dual_ranks.len();
    clear_map(&mut ws.pred_bar_of, n);
    clear_map(&mut ws.target_bar_of, n);
    for (side, bars, bar_of) in [
        (&mut ws.pred, &mut m.pred.pairs[1], &mut ws.pred_bar_of),
        (&mut ws.target, &mut m.target.pairs[1], &mut ws.target_bar_of),
    ] {
        let f = &side.filtration;
        let shadow = Shadow { uf: &mut ws.comparison.uf, filtration: c };
        cycle_sweep(f, &mut side.uf, Some(shadow), |younger, edge, c_root| {
            record_bar(bars, bar_of, c_root, f.cycle_bar(younger, edge))
        });
    }
    // The comparison sweep: a bar of c is reached by the input bars recorded under its retired root.
    let (pred_bar_of, target_bar_of) = (&ws.pred_bar_of, &ws.target_bar_of);
    let matched = &mut m.matched[1];
    cycle_sweep(c, &mut ws.uf_pred, None, |root, _, _| {
        let (pb, tb) = (pred_bar_of[root as usize], target_bar_of[root as usize]);
        if pb != NONE && tb != NONE {
            matched.push((pb, tb));
        }
    });
}
