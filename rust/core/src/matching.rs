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
//!
//! Each filtration's two sweeps run in turn (with connectivity 4 the dual sweep then walks only
//! the edges its component sweep found closing cycles, see [`cycle_sweep`]); the three
//! filtrations' sweeps are independent, and the matches are looked up once all have run.

use crate::error::InputError;
use crate::grid::{Connectivity, Shape};
use crate::filtration::{two_levels, Filtration};
use crate::persistence::{component_sweep, cycle_sweep, Barcode, PersistencePair};
use crate::batch::Stop;
use crate::filtration::{edge_key, edge_rank, Cells, Edge, STOP_CHECK_CELLS};
use crate::two_level::{self, TwoLevelWorkspace};
use crate::key_set::EdgeSink;
use crate::tie_order::{distance_key, refine, RefinedValues, Ties};
use crate::union_find::{Image, UnionFind};
use crate::volume_matching::{two_level_volume_counts, volume_matching, VolumeCounts, VolumeMatchWorkspace};

const NONE: u32 = u32::MAX;

/// The Betti matching of a prediction and a target, per homology dimension `0..dims`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matching {
    pub pred: Barcode,
    pub target: Barcode,
    /// Per dimension, matched bars as `(index into pred.pairs[d], index into target.pairs[d])`, in
    /// the order the comparison image's bars die.
    pub matched: Vec<Vec<(u32, u32)>>,
    /// Per dimension, indices into `pred.pairs[d]` of the bars without a partner, in barcode order.
    pub unmatched_pred: Vec<Vec<u32>>,
    pub unmatched_target: Vec<Vec<u32>>,
}

impl Matching {
    /// A matching of two empty barcodes in dimensions `0..dims`.
    pub fn empty(dims: usize) -> Self {
        Matching {
            pred: Barcode::empty(dims),
            target: Barcode::empty(dims),
            matched: vec![Vec::new(); dims],
            unmatched_pred: vec![Vec::new(); dims],
            unmatched_target: vec![Vec::new(); dims],
        }
    }

    /// The number of homology dimensions it covers.
    pub fn dims(&self) -> usize {
        self.matched.len()
    }

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
    refined: RefinedValues,
    pred_sweeps: InputSweeps,
    target_sweeps: InputSweeps,
    comparison_sweeps: ComparisonSweeps,
    volume: VolumeMatchWorkspace,
}

/// One input's sweeps, dimension 0 then 1: its finite bars, and where the comparison's bars find
/// them.
#[derive(Default)]
struct InputSweeps {
    uf: UnionFind,
    /// Per dimension, the finite bars in sweep order.
    bars: [Vec<PersistencePair>; 2],
    /// Index of the bar a node names: dimension 0 by the bar's younger root (a pixel), dimension
    /// 1 by the comparison's dual root its birth edge retires.
    bar_of: [Vec<u32>; 2],
    /// Buffer of the [`Image`] annotation: the comparison's roots under this input's dual merges.
    image: Vec<u64>,
    cycle_edges: Vec<Edge>,
    two_level: TwoLevelWorkspace,
}

/// The comparison's sweeps: per bar, the nodes that name the input bars it reaches.
#[derive(Default)]
pub(crate) struct ComparisonSweeps {
    pub(crate) uf: UnionFind,
    /// Buffers of the [`Image`] annotations: the inputs' roots under the comparison's merges.
    pred_image: Vec<u64>,
    target_image: Vec<u64>,
    cycle_edges: Vec<Edge>,
    /// Per finite bar of dimension 0, in death order: the roots its merge retires in the
    /// prediction's and in the target's ranking.
    pub(crate) component_roots: Vec<(u32, u32)>,
    /// Per finite bar of dimension 1, in sweep order: its retired dual root.
    cycle_roots: Vec<u32>,
    two_level: TwoLevelWorkspace,
}

/// The Betti matching of `pred` and `target` (sublevel values, row-major, same `shape`).
pub fn betti_matching(
    pred: &[f64],
    target: &[f64],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<Matching, InputError> {
    betti_matching_with(&mut MatchWorkspace::default(), pred, target, shape, connectivity, Ties::Index)
}

/// As [`betti_matching`], reusing `ws`. The filtrations, then each filtration's sweeps, are
/// computed as parallel rayon tasks: inside a busy pool (a batch) they simply run in turn.
pub fn betti_matching_with(
    ws: &mut MatchWorkspace,
    pred: &[f64],
    target: &[f64],
    shape: Shape,
    connectivity: Connectivity,
    ties: Ties,
) -> Result<Matching, InputError> {
    match ties {
        Ties::Index => ws.build(pred, target, shape, connectivity)?,
        Ties::Distance => ws.build_distance_tied(pred, target, shape, connectivity)?,
    }
    if shape.dims() == 3 {
        return Ok(volume_matching(&mut ws.volume, &mut ws.pred, &mut ws.target, &mut ws.comparison));
    }
    let MatchWorkspace { pred: fp, target: ft, comparison: fc, pred_sweeps: ps, target_sweeps: ts, comparison_sweeps: cs, .. } =
        ws;
    let (fp, ft, fc) = (&*fp, &*ft, &*fc);
    rayon::join(
        || sweep_input(fp, fc, ps),
        || rayon::join(|| sweep_input(ft, fc, ts), || sweep_comparison(fp, ft, fc, cs)),
    );
    let matched = [
        matched(cs.component_roots.iter().copied(), &ps.bar_of[0], &ts.bar_of[0]),
        matched(cs.cycle_roots.iter().map(|&root| (root, root)), &ps.bar_of[1], &ts.bar_of[1]),
    ];

    let mut m = Matching::empty(shape.dims());
    for (d, matched) in matched.into_iter().enumerate() {
        m.pred.pairs[d] = std::mem::take(&mut ps.bars[d]);
        m.target.pairs[d] = std::mem::take(&mut ts.bars[d]);
        m.unmatched_pred[d] = unmatched(m.pred.pairs[d].len(), matched.iter().map(|x| x.0));
        m.unmatched_target[d] = unmatched(m.target.pairs[d].len(), matched.iter().map(|x| x.1));
        m.matched[d] = matched;
    }
    m.pred.essential[0].push(fp.pixel(fp.first_pixel()));
    m.target.essential[0].push(ft.pixel(ft.first_pixel()));
    Ok(m)
}

/// The bar counts of the matching of two volumes with two levels each (masks as values): see
/// [`crate::volume_matching::two_level_volume_counts`]. `None` if a stop flag cut it short.
pub(crate) fn two_level_volume_counts_with(
    ws: &mut MatchWorkspace,
    pred: &[f64],
    target: &[f64],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<Option<VolumeCounts>, InputError> {
    ws.build(pred, target, shape, connectivity)?;
    Ok(two_level_volume_counts(&mut ws.volume, &mut ws.pred, &mut ws.target, &mut ws.comparison))
}

impl MatchWorkspace {
    /// Lets `stop` cut the sweeps of the next matchings short (their results are then unusable).
    pub fn watch(&mut self, stop: &Stop) {
        for f in [&mut self.pred, &mut self.target, &mut self.comparison] {
            f.watch(stop);
        }
    }

    /// Validates both inputs and builds the three filtrations (prediction, target, comparison).
    ///
    /// When one input has two levels (a binary target) and the other does not (a likelihood
    /// map), the comparison's order is merged from the general input's sorted order and the
    /// mask's levels ([`Filtration::build_min_of`]) instead of sorting the comparison again.
    fn build(&mut self, pred: &[f64], target: &[f64], shape: Shape, connectivity: Connectivity) -> Result<(), InputError> {
        shape.validate(pred)?;
        shape.validate(target)?;
        shape.check_connectivity(connectivity)?;
        let MatchWorkspace { pred: fp, target: ft, comparison: fc, .. } = self;
        if shape.dims() == 3 {
            self.build_volume_ranks(pred, target, shape, connectivity);
            return Ok(());
        }
        match (two_levels(pred), two_levels(target)) {
            (None, Some(levels)) => {
                rayon::join(
                    || fp.build_with_levels(pred, shape, connectivity, None),
                    || ft.build_with_levels(target, shape, connectivity, Some(levels)),
                );
                fc.build_min_of(fp, ft, levels);
            }
            (Some(levels), None) => {
                rayon::join(
                    || fp.build_with_levels(pred, shape, connectivity, Some(levels)),
                    || ft.build_with_levels(target, shape, connectivity, None),
                );
                fc.build_min_of(ft, fp, levels);
            }
            _ => self.build_sorting_comparison(pred, target, shape, connectivity),
        }
        Ok(())
    }

    /// [`MatchWorkspace::build`] under [`Ties::Distance`]: the three filtrations built by sorts of
    /// the refined values (never the two-level shortcuts, whose order is the index order), each
    /// told which of its ranks are one value.
    fn build_distance_tied(&mut self, pred: &[f64], target: &[f64], shape: Shape, connectivity: Connectivity) -> Result<(), InputError> {
        shape.validate(pred)?;
        shape.validate(target)?;
        shape.check_connectivity(connectivity)?;
        let MatchWorkspace { pred: fp, target: ft, comparison: fc, comparison_values, refined, .. } = self;
        comparison_values.clear();
        comparison_values.extend(pred.iter().zip(target).map(|(&a, &b)| a.min(b)));
        refine(pred, target, &distance_key(comparison_values, shape), refined);
        let build = |f: &mut Filtration, values: &[f64], original: &[f64]| {
            if shape.dims() == 3 {
                f.build_volume_ranks(values, shape, connectivity);
            } else {
                f.build_with_levels(values, shape, connectivity, None);
            }
            f.set_levels(original);
        };
        let RefinedValues { pred: rp, target: rt, comparison: rc, .. } = &*refined;
        let comparison_values = &*comparison_values;
        rayon::join(
            || build(fp, rp, pred),
            || rayon::join(|| build(ft, rt, target), || build(fc, rc, comparison_values)),
        );
        if shape.dims() == 3 {
            // A volume's buffers are large and the cell lists still to come need the memory.
            self.comparison_values = Vec::new();
            self.refined = RefinedValues::default();
        }
        Ok(())
    }

    /// The ranks of the three volumes, the comparison's by its own sort; the cell lists are
    /// built by the sweeps (see `volume_matching`).
    fn build_volume_ranks(&mut self, pred: &[f64], target: &[f64], shape: Shape, connectivity: Connectivity) {
        let MatchWorkspace { pred: fp, target: ft, comparison: fc, comparison_values, .. } = self;
        comparison_values.clear();
        comparison_values.extend(pred.iter().zip(target).map(|(&a, &b)| a.min(b)));
        rayon::join(
            || fp.build_volume_ranks(pred, shape, connectivity),
            || {
                rayon::join(
                    || ft.build_volume_ranks(target, shape, connectivity),
                    || fc.build_volume_ranks(comparison_values, shape, connectivity),
                )
            },
        );
        *comparison_values = Vec::new();
    }

    /// The three filtrations, the comparison's by its own sort (inputs already validated).
    fn build_sorting_comparison(&mut self, pred: &[f64], target: &[f64], shape: Shape, connectivity: Connectivity) {
        let MatchWorkspace { pred: fp, target: ft, comparison: fc, comparison_values, .. } = self;
        comparison_values.clear();
        comparison_values.extend(pred.iter().zip(target).map(|(&a, &b)| a.min(b)));
        rayon::join(
            || fp.build(pred, shape, connectivity),
            || rayon::join(|| ft.build(target, shape, connectivity), || fc.build(comparison_values, shape, connectivity)),
        );
    }
}

pub(crate) fn unmatched(n: usize, matched: impl Iterator<Item = u32>) -> Vec<u32> {
    let mut is_matched = vec![false; n];
    for i in matched {
        is_matched[i as usize] = true;
    }
    (0..n as u32).filter(|&i| !is_matched[i as usize]).collect()
}

impl ComparisonSweeps {
    /// Gives back the memory of the union-find and the image annotations (a volume's are large).
    pub(crate) fn release(&mut self) {
        self.uf = UnionFind::default();
        self.release_images();
    }

    /// Gives back the memory of the image annotations, which only the bottom sweep reads.
    pub(crate) fn release_images(&mut self) {
        self.pred_image = Vec::new();
        self.target_image = Vec::new();
    }
}

/// Appends `pair` to `bars` and remembers its index under `key`.
pub(crate) fn record_bar(bars: &mut Vec<PersistencePair>, bar_of: &mut [u32], key: u32, pair: PersistencePair) {
    bar_of[key as usize] = bars.len() as u32;
    bars.push(pair);
}

pub(crate) fn clear_map(map: &mut Vec<u32>, n: usize) {
    map.clear();
    map.resize(n, NONE);
}

/// The pairs of input bars named by `nodes` (per comparison bar, in its order: the node naming
/// the prediction's bar, the node naming the target's), where both name one.
pub(crate) fn matched(nodes: impl Iterator<Item = (u32, u32)>, pred_bar_of: &[u32], target_bar_of: &[u32]) -> Vec<(u32, u32)> {
    nodes
        .map(|(p, t)| (pred_bar_of[p as usize], target_bar_of[t as usize]))
        .filter(|&(pb, tb)| pb != NONE && tb != NONE)
        .collect()
}

/// The edges a dual sweep of `f` must walk after its component sweep collected `cycle_edges`.
fn dual_edges_after<'a>(f: &'a Filtration, cycle_edges: &'a [Edge]) -> &'a [Edge] {
    if f.dual_edges_are_primal() {
        cycle_edges
    } else {
        f.dual_edges()
    }
}

/// An input's bars in both dimensions; dimension 1 annotated with the comparison's roots.
fn sweep_input(f: &Filtration, c: &Filtration, s: &mut InputSweeps) {
    if f.is_two_level() {
        return sweep_two_level_input(f, c, s);
    }
    let InputSweeps { uf, bars, bar_of, cycle_edges, .. } = s;
    bars[0].clear();
    clear_map(&mut bar_of[0], f.ranks.len());
    cycle_edges.clear();
    // A T-construction sweeps its own dual edges: nothing to collect.
    let collect = f.dual_edges_are_primal().then_some(&mut *cycle_edges);
    let (bars0, bar_of0) = (&mut bars[0], &mut bar_of[0]);
    component_sweep(f, uf, collect, |younger, edge| record_bar(bars0, bar_of0, younger, f.component_bar(younger, edge)));
    let cycle_edges = std::mem::take(&mut s.cycle_edges);
    input_cycles(f, c, s, dual_edges_after(f, &cycle_edges));
    s.cycle_edges = cycle_edges;
}

/// [`sweep_input`] for a binary input: the same bars, found mostly by labelling.
fn sweep_two_level_input(f: &Filtration, c: &Filtration, s: &mut InputSweeps) {
    let InputSweeps { uf, bars, bar_of, image, two_level, .. } = s;
    let [bars0, bars1] = bars;
    let [bar_of0, bar_of1] = bar_of;
    bars0.clear();
    clear_map(bar_of0, f.ranks.len());
    two_level::component_bars(f, two_level, |younger, edge| record_bar(bars0, bar_of0, younger, f.component_bar(younger, edge)));
    bars1.clear();
    clear_map(bar_of1, c.dual_ranks.len());
    let mut annotation = Image::new(&c.dual_ranks, std::mem::take(image));
    two_level::cycle_sweep(f, uf, two_level, Some(&mut annotation), |younger, edge, c_root| {
        record_bar(bars1, bar_of1, c_root, f.cycle_bar(younger, edge))
    });
    *image = annotation.into_buffer();
}

/// An input's dimension-1 bars, each recorded under the comparison's dual root its birth edge
/// retires.
fn input_cycles(f: &Filtration, c: &Filtration, s: &mut InputSweeps, dual_edges: &[Edge]) {
    let InputSweeps { uf, bars, bar_of, image, .. } = s;
    bars[1].clear();
    clear_map(&mut bar_of[1], c.dual_ranks.len());
    let (bars1, bar_of1) = (&mut bars[1], &mut bar_of[1]);
    let mut annotation = Image::new(&c.dual_ranks, std::mem::take(image));
    cycle_sweep(f, uf, dual_edges, Some(&mut annotation), |younger, edge, c_root| {
        record_bar(bars1, bar_of1, c_root, f.cycle_bar(younger, edge))
    });
    *image = annotation.into_buffer();
}

/// The comparison's sweeps: per finite bar, the nodes naming the input bars it reaches.
fn sweep_comparison(p: &Filtration, t: &Filtration, c: &Filtration, s: &mut ComparisonSweeps) {
    s.cycle_edges.clear();
    let mut cycle_edges = std::mem::take(&mut s.cycle_edges);
    crate::with_cells!(c.connectivity(), C => comparison_components::<C, _>(p, t, c, &c.edges, s, &mut cycle_edges));
    comparison_cycles(c, s, dual_edges_after(c, &cycle_edges));
    s.cycle_edges = cycle_edges;
}

/// Dimension 0 of the comparison, with the inputs' rankings as images: at each merge that ends
/// a bar, the roots the same merge retires in the inputs' rankings (the images of their bars).
/// With connectivity 4 and in 3D, puts the edges that close cycles into `cycle_edges`.
#[inline(never)]
pub(crate) fn comparison_components<C: Cells, S: EdgeSink>(
    p: &Filtration,
    t: &Filtration,
    c: &Filtration,
    edges: &[Edge],
    s: &mut ComparisonSweeps,
    cycle_edges: &mut S,
) {
    let ComparisonSweeps { uf, pred_image, target_image, component_roots, .. } = s;
    component_roots.clear();
    c.reset_primal(uf);
    let mut pred_image = Image::new(&p.ranks, std::mem::take(pred_image));
    let mut target_image = Image::new(&t.ranks, std::mem::take(target_image));
    for chunk in edges.chunks(STOP_CHECK_CELLS) {
        if c.stopped() {
            break;
        }
        for &edge in chunk {
            let (x, y) = c.edge_pixels_in::<C>(edge_key(edge));
            let Some((younger, elder)) = uf.link_ascending(x, y) else {
                if C::DUAL_EDGES_ARE_PRIMAL || C::MIDDLE_ROWS_ARE_EDGES {
                    cycle_edges.put(edge);
                }
                continue;
            };
            // The same merge retires a root in each input's ranking: the image of that input's bar.
            let pred_younger = pred_image.merge(younger, elder, true);
            let target_younger = target_image.merge(younger, elder, true);
            if !c.same_level(uf.rank(younger), edge_rank(edge)) {
                component_roots.push((pred_younger, target_younger));
            }
        }
    }
    s.pred_image = pred_image.into_buffer();
    s.target_image = target_image.into_buffer();
}

/// Dimension 1 of the comparison: the dual root each finite bar retires.
fn comparison_cycles(c: &Filtration, s: &mut ComparisonSweeps, dual_edges: &[Edge]) {
    let ComparisonSweeps { uf, cycle_roots, two_level, .. } = s;
    cycle_roots.clear();
    if c.is_two_level() {
        two_level::cycle_sweep(c, uf, two_level, None, |root, _, _| cycle_roots.push(root));
    } else {
        cycle_sweep(c, uf, dual_edges, None, |root, _, _| cycle_roots.push(root));
    }
}

/// The matching computed the plain way, as an oracle for the shortcuts: the comparison built
/// from its own values, every sweep over all its edges, merges found by `link_*`.
#[cfg(test)]
pub(crate) fn plain_matching(pred: &[f64], target: &[f64], shape: Shape, conn: Connectivity) -> Matching {
    let comparison: Vec<f64> = pred.iter().zip(target).map(|(&a, &b)| a.min(b)).collect();
    let [p, t, c] = [pred, target, &comparison[..]].map(|values| {
        let mut f = Filtration::default();
        f.build(values, shape, conn);
        f
    });
    let mut m = Matching::empty(shape.dims());
    // Dimension 0.
    let mut bar_of = [vec![NONE; c.ranks.len()], vec![NONE; c.ranks.len()]];
    let [pred_bar_of, target_bar_of] = &mut bar_of;
    for (f, bars, bar_of) in [(&p, &mut m.pred, pred_bar_of), (&t, &mut m.target, target_bar_of)] {
        let mut uf = UnionFind::default();
        f.reset_primal(&mut uf);
        for &edge in &f.edges {
            let (a, b) = f.edge_pixels(edge_key(edge));
            if let Some((younger, _)) = uf.link_ascending(a, b) {
                if !f.same_level(uf.rank(younger), edge_rank(edge)) {
                    record_bar(&mut bars.pairs[0], bar_of, younger, f.component_bar(younger, edge_key(edge)));
                }
            }
        }
    }
    let mut uf = UnionFind::default();
    c.reset_primal(&mut uf);
    let (mut pred_image, mut target_image) = (Image::new(&p.ranks, Vec::new()), Image::new(&t.ranks, Vec::new()));
    for &edge in &c.edges {
        let (a, b) = c.edge_pixels(edge_key(edge));
        let Some((younger, elder)) = uf.link_ascending(a, b) else { continue };
        let (pb, tb) = (pred_image.merge(younger, elder, true), target_image.merge(younger, elder, true));
        if !c.same_level(uf.rank(younger), edge_rank(edge)) {
            m.matched[0].extend(matched([(pb, tb)].into_iter(), &bar_of[0], &bar_of[1]));
        }
    }
    // Dimension 1.
    let mut bar_of = [vec![NONE; c.dual_ranks.len()], vec![NONE; c.dual_ranks.len()]];
    let [pred_bar_of, target_bar_of] = &mut bar_of;
    for (f, bars, bar_of) in [(&p, &mut m.pred, pred_bar_of), (&t, &mut m.target, target_bar_of)] {
        let mut uf = UnionFind::default();
        f.reset_dual(&mut uf);
        let mut image = Image::new(&c.dual_ranks, Vec::new());
        for &edge in f.dual_edges().iter().rev() {
            let (a, b) = f.dual_edge_nodes(edge_key(edge));
            let Some((younger, elder)) = uf.link_descending(a, b) else { continue };
            let c_root = image.merge(younger, elder, false);
            if !f.same_level(uf.rank(younger), edge_rank(edge)) {
                record_bar(&mut bars.pairs[1], bar_of, c_root, f.cycle_bar(younger, edge_key(edge)));
            }
        }
    }
    let mut uf = UnionFind::default();
    c.reset_dual(&mut uf);
    for &edge in c.dual_edges().iter().rev() {
        let (a, b) = c.dual_edge_nodes(edge_key(edge));
        let Some((younger, _)) = uf.link_descending(a, b) else { continue };
        if !c.same_level(uf.rank(younger), edge_rank(edge)) {
            m.matched[1].extend(matched([(younger, younger)].into_iter(), &bar_of[0], &bar_of[1]));
        }
    }
    for d in 0..m.dims() {
        m.unmatched_pred[d] = unmatched(m.pred.pairs[d].len(), m.matched[d].iter().map(|x| x.0));
        m.unmatched_target[d] = unmatched(m.target.pairs[d].len(), m.matched[d].iter().map(|x| x.1));
    }
    m.pred.essential[0].push(p.pixel(p.first_pixel()));
    m.target.essential[0].push(t.pixel(t.first_pixel()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::quickcheck;

    fn image(raw: &[u8], cols: usize, levels: u8) -> Option<(Vec<f64>, Shape)> {
        let rows = raw.len() / cols;
        (rows > 0).then(|| (raw[..rows * cols].iter().map(|&x| (x % levels) as f64).collect(), Shape::new(rows, cols)))
    }

    /// The fast paths (the comparison merged rather than sorted, dual sweeps over the cycle
    /// edges only, root-free attachments) against the plain matching, both ways round.
    fn same_as_plain(f: &[f64], g: &[f64], shape: Shape) -> bool {
        let mut ws = MatchWorkspace::default();
        [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
            [(f, g), (g, f)].into_iter().all(|(a, b)| {
                betti_matching_with(&mut ws, a, b, shape, conn, Ties::Index).unwrap() == plain_matching(a, b, shape, conn)
            })
        })
    }

    quickcheck! {
        fn likelihoods_against_masks_match_as_the_plain_way(raw: Vec<(u8, bool)>, cols: u8, levels: u8, low: i8, high: i8) -> bool {
            let cols = 1 + cols as usize % 10;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let raw = &raw[..rows * cols];
            // Ties, values on and beyond the mask's levels; masks with one level or two.
            let general: Vec<f64> = raw.iter().map(|&(x, _)| (x % (3 + levels % 12)) as f64 - 2.0).collect();
            let mask: Vec<f64> = raw.iter().map(|&(_, m)| (if m { high } else { low } % 6) as f64).collect();
            same_as_plain(&general, &mask, Shape::new(rows, cols))
        }

        fn the_loss_case_matches_as_the_plain_way(raw: Vec<(u16, bool)>, cols: u8) -> bool {
            // `1 - p` against `1 - onehot`, probabilities 0 and 1 included.
            let cols = 1 + cols as usize % 12;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let raw = &raw[..rows * cols];
            let general: Vec<f64> = raw.iter().map(|&(x, _)| 1.0 - (x % 101) as f64 / 100.0).collect();
            let mask: Vec<f64> = raw.iter().map(|&(_, m)| if m { 0.0 } else { 1.0 }).collect();
            same_as_plain(&general, &mask, Shape::new(rows, cols))
        }

        fn any_two_images_match_as_the_plain_way(raw: Vec<(u8, u8)>, cols: u8, levels: u8) -> bool {
            let cols = 1 + cols as usize % 10;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let raw = &raw[..rows * cols];
            let levels = 2 + levels % 8;
            let f: Vec<f64> = raw.iter().map(|&(x, _)| (x % levels) as f64).collect();
            let g: Vec<f64> = raw.iter().map(|&(_, y)| (y % levels) as f64).collect();
            same_as_plain(&f, &g, Shape::new(rows, cols))
        }
    }

    #[test]
    fn large_loss_like_pairs_match_as_the_plain_way() {
        // Big enough for the radix sort and long tied runs; smooth values with float32 rounding.
        let shape = Shape::new(61, 83);
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        for round in 0..4 {
            let (fr, fc) = (0.05 + 0.1 * round as f64, 0.08 + 0.03 * round as f64);
            let likelihood: Vec<f64> = (0..shape.pixels())
                .map(|i| {
                    let (r, c) = shape.row_col(i as u32);
                    let p = 0.5 + 0.45 * ((r as f64 * fr).sin() * (c as f64 * fc).cos()) + (next() % 100) as f64 * 1e-3;
                    (1.0f32 - p.clamp(0.0, 1.0) as f32) as f64
                })
                .collect();
            let onehot: Vec<f64> = likelihood.iter().map(|&v| if v < 0.4 || next() % 50 == 0 { 0.0 } else { 1.0 }).collect();
            assert!(same_as_plain(&likelihood, &onehot, shape), "round {round}");
        }
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
