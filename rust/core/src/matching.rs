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
use crate::filtration::Filtration;
use crate::persistence::{component_sweep, cycle_sweep, Barcode, PersistencePair};
use crate::filtration::{edge_key, edge_rank};
use crate::two_level::{self, TwoLevelWorkspace};
use crate::union_find::{Image, UnionFind};

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
    pred: Filtration,
    target: Filtration,
    comparison: Filtration,
    comparison_values: Vec<f64>,
    components: SweepBuffers,
    cycles: SweepBuffers,
}

/// What one dimension's matching sweeps need, so the two dimensions can run side by side.
#[derive(Default)]
struct SweepBuffers {
    pred: UnionFind,
    target: UnionFind,
    comparison: UnionFind,
    /// Buffers of the [`Image`] annotations (the inputs' roots under the comparison's merges,
    /// or the comparison's roots under an input's merges).
    pred_image: Vec<u64>,
    target_image: Vec<u64>,
    /// Node (pixel or dual node) -> index of the bar it names, per input.
    pred_bar_of: Vec<u32>,
    target_bar_of: Vec<u32>,
    two_level: TwoLevelWorkspace,
}

/// One dimension's result: both barcodes' finite bars and the matched pairs of indices.
#[derive(Default)]
struct DimensionMatch {
    pred: Vec<PersistencePair>,
    target: Vec<PersistencePair>,
    matched: Vec<(u32, u32)>,
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

/// As [`betti_matching`], reusing `ws`. The three filtrations, then the two dimensions, are
/// computed as parallel rayon tasks: inside a busy pool (a batch) they simply run in turn.
pub fn betti_matching_with(
    ws: &mut MatchWorkspace,
    pred: &[f64],
    target: &[f64],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<Matching, InputError> {
    ws.build(pred, target, shape, connectivity)?;
    let MatchWorkspace { pred: fp, target: ft, comparison: fc, components, cycles, .. } = ws;
    let (fp, ft, fc) = (&*fp, &*ft, &*fc);
    let (dim0, dim1) = rayon::join(|| match_components(fp, ft, fc, components), || match_cycles(fp, ft, fc, cycles));

    let mut m = Matching::default();
    for (d, dm) in [dim0, dim1].into_iter().enumerate() {
        m.unmatched_pred[d] = unmatched(dm.pred.len(), dm.matched.iter().map(|x| x.0));
        m.unmatched_target[d] = unmatched(dm.target.len(), dm.matched.iter().map(|x| x.1));
        m.pred.pairs[d] = dm.pred;
        m.target.pairs[d] = dm.target;
        m.matched[d] = dm.matched;
    }
    m.pred.essential[0].push(fp.pixel(fp.first_pixel()));
    m.target.essential[0].push(ft.pixel(ft.first_pixel()));
    Ok(m)
}

impl MatchWorkspace {
    /// Validates both inputs and builds the three filtrations (prediction, target, comparison).
    fn build(&mut self, pred: &[f64], target: &[f64], shape: Shape, connectivity: Connectivity) -> Result<(), InputError> {
        shape.validate(pred)?;
        shape.validate(target)?;
        let MatchWorkspace { pred: fp, target: ft, comparison: fc, comparison_values, .. } = self;
        comparison_values.clear();
        comparison_values.extend(pred.iter().zip(target).map(|(&a, &b)| a.min(b)));
        rayon::join(
            || fp.build(pred, shape, connectivity),
            || rayon::join(|| ft.build(target, shape, connectivity), || fc.build(comparison_values, shape, connectivity)),
        );
        Ok(())
    }
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

fn match_components(p: &Filtration, t: &Filtration, c: &Filtration, b: &mut SweepBuffers) -> DimensionMatch {
    if c.is_eight() {
        match_components_in::<true>(p, t, c, b)
    } else {
        match_components_in::<false>(p, t, c, b)
    }
}

#[inline(never)]
fn match_components_in<const EIGHT: bool>(p: &Filtration, t: &Filtration, c: &Filtration, b: &mut SweepBuffers) -> DimensionMatch {
    let mut out = DimensionMatch::default();
    let n = c.ranks.len();
    clear_map(&mut b.pred_bar_of, n);
    clear_map(&mut b.target_bar_of, n);
    for (f, uf, bars, bar_of) in [
        (p, &mut b.pred, &mut out.pred, &mut b.pred_bar_of),
        (t, &mut b.target, &mut out.target, &mut b.target_bar_of),
    ] {
        let on_bar = |younger, edge| record_bar(bars, bar_of, younger, f.component_bar(younger, edge));
        if f.is_two_level() {
            two_level::component_bars(f, &mut b.two_level, on_bar);
        } else {
            component_sweep(f, uf, on_bar);
        }
    }
    let uf_c = &mut b.comparison;
    let mut pred_image = Image::new(&p.ranks, std::mem::take(&mut b.pred_image));
    let mut target_image = Image::new(&t.ranks, std::mem::take(&mut b.target_image));
    // With a binary target the comparison's lowest level is the target's foreground: labelled.
    let skip = two_level::start_after_lowest_level(c, uf_c, &mut b.two_level, &mut [&mut pred_image, &mut target_image]);
    for &edge in &c.edges[skip..] {
        let (x, y) = c.edge_pixels_in::<EIGHT>(edge_key(edge));
        let Some((younger, elder)) = uf_c.link_ascending(x, y) else { continue };
        // The same merge retires a root in each input's ranking: the image of that input's bar.
        let pred_younger = pred_image.merge(younger, elder, true);
        let target_younger = target_image.merge(younger, elder, true);
        if uf_c.rank(younger) != edge_rank(edge) {
            let (pb, tb) = (b.pred_bar_of[pred_younger as usize], b.target_bar_of[target_younger as usize]);
            if pb != NONE && tb != NONE {
                out.matched.push((pb, tb));
            }
        }
    }
    b.pred_image = pred_image.into_buffer();
    b.target_image = target_image.into_buffer();
    out
}

#[inline(never)]
fn match_cycles(p: &Filtration, t: &Filtration, c: &Filtration, b: &mut SweepBuffers) -> DimensionMatch {
    let mut out = DimensionMatch::default();
    let n = c.dual_ranks.len();
    clear_map(&mut b.pred_bar_of, n);
    clear_map(&mut b.target_bar_of, n);
    for (f, uf, bars, bar_of) in [
        (p, &mut b.pred, &mut out.pred, &mut b.pred_bar_of),
        (t, &mut b.target, &mut out.target, &mut b.target_bar_of),
    ] {
        let mut image = Image::new(&c.dual_ranks, std::mem::take(&mut b.pred_image));
        let on_bar = |younger, edge, c_root| record_bar(bars, bar_of, c_root, f.cycle_bar(younger, edge));
        any_cycle_sweep(f, uf, &mut b.two_level, Some(&mut image), on_bar);
        b.pred_image = image.into_buffer();
    }
    // The comparison sweep: a bar of c is reached by the input bars recorded under its retired root.
    let (pred_bar_of, target_bar_of, matched) = (&b.pred_bar_of, &b.target_bar_of, &mut out.matched);
    any_cycle_sweep(c, &mut b.comparison, &mut b.two_level, None, |root, _, _| {
        let (pb, tb) = (pred_bar_of[root as usize], target_bar_of[root as usize]);
        if pb != NONE && tb != NONE {
            matched.push((pb, tb));
        }
    });
    out
}

/// The dual sweep, by labelling for a two-level filtration.
fn any_cycle_sweep(f: &Filtration, uf: &mut UnionFind, two: &mut TwoLevelWorkspace, image: Option<&mut Image>, on_bar: impl FnMut(u32, u32, u32)) {
    if f.is_two_level() {
        two_level::cycle_sweep(f, uf, two, image, on_bar);
    } else {
        cycle_sweep(f, uf, image, on_bar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn image(raw: &[u8], cols: usize, levels: u8) -> Option<(Vec<f64>, Shape)> {
        let rows = raw.len() / cols;
        (rows > 0).then(|| (raw[..rows * cols].iter().map(|&x| (x % levels) as f64).collect(), Shape::new(rows, cols)))
    }

    quickcheck! {
        fn an_image_matches_itself_completely(raw: Vec<u8>, cols: u8, levels: u8, eight: bool) -> bool {
            let Some((f, shape)) = image(&raw, 1 + cols as usize % 8, 2 + levels % 6) else { return true };
            let conn = if eight { Connectivity::Eight } else { Connectivity::Four };
            let m = betti_matching(&f, &f, shape, conn).unwrap();
            (0..2).all(|d| m.unmatched_pred[d].is_empty() && m.unmatched_target[d].is_empty()
                && m.matched_pairs(d).all(|(a, b)| a == b) && m.matched[d].len() == m.pred.pairs[d].len())
        }

        fn swapping_the_inputs_swaps_the_sides(raw: Vec<u8>, cols: u8, levels: u8, eight: bool) -> bool {
            let cols = 1 + cols as usize % 8;
            let half = raw.len() / 2;
            let (Some((f, shape)), Some((g, shape_g))) = (image(&raw[..half], cols, 2 + levels % 6), image(&raw[half..], cols, 2 + levels % 6)) else { return true };
            if shape != shape_g { return true; }
            let conn = if eight { Connectivity::Eight } else { Connectivity::Four };
            let (a, b) = (betti_matching(&f, &g, shape, conn).unwrap(), betti_matching(&g, &f, shape, conn).unwrap());
            (0..2).all(|d| {
                let mut ab: Vec<_> = a.matched_pairs(d).collect();
                let mut ba: Vec<_> = b.matched_pairs(d).map(|(x, y)| (y, x)).collect();
                ab.sort_by_key(|(x, y)| (x.birth, x.death, y.birth, y.death));
                ba.sort_by_key(|(x, y)| (x.birth, x.death, y.birth, y.death));
                ab == ba && a.pred.pairs[d] == b.target.pairs[d] && a.unmatched_pred[d] == b.unmatched_target[d]
            })
        }
    }

    #[test]
    fn ring_against_broken_ring() {
        // Sublevel masks: 0 = foreground. The prediction's ring is cut at its right side, so its
        // hole is missing (an unmatched target cycle) while the single component matches the
        // ring's (both are the essential class: no finite component bars at all).
        #[rustfmt::skip]
        let ring = [1., 1., 1., 1., 1.,
                    1., 0., 0., 0., 1.,
                    1., 0., 1., 0., 1.,
                    1., 0., 0., 0., 1.,
                    1., 1., 1., 1., 1.];
        let mut broken = ring;
        broken[13] = 1.0;
        let m = betti_matching(&broken, &ring, Shape::new(5, 5), Connectivity::Four).unwrap();
        assert_eq!((m.pred.pairs[0].len(), m.target.pairs[0].len()), (0, 0));
        assert_eq!((m.pred.pairs[1].len(), m.target.pairs[1].len()), (0, 1));
        assert_eq!(m.unmatched_target[1], vec![0]);
        assert_eq!(m.target.pairs[1][0], PersistencePair { birth: 18, death: 12 });
    }

    #[test]
    fn two_discs_against_one() {
        // Two 2x2 discs in the prediction, one of them in the target: the extra component of
        // the prediction is an unmatched finite bar; the shared disc is the essential class.
        let mut pred = vec![1.0; 36];
        let mut target = vec![1.0; 36];
        for p in [7, 8, 13, 14] {
            pred[p] = 0.0;
            target[p] = 0.0;
        }
        for p in [21, 22, 27, 28] {
            pred[p] = 0.0;
        }
        let m = betti_matching(&pred, &target, Shape::new(6, 6), Connectivity::Four).unwrap();
        assert_eq!(m.pred.pairs[0].len(), 1);
        assert_eq!(m.pred.pairs[0][0].birth, 21);
        assert_eq!((m.matched[0].len(), m.unmatched_pred[0].len()), (0, 1));
        assert_eq!((m.pred.essential[0].clone(), m.target.essential[0].clone()), (vec![7], vec![7]));
    }
}
