//! The Betti matching of two volumes (3D, connectivity 6 or 26): dimensions 0 and 2 by the
//! union-find sweeps with image annotations, as in 2D; dimension 1 by image reductions. One
//! generic body serves both constructions ([`VolumeGeometry`]).
//!
//! Dimension 1 (Cohen-Steiner, Edelsbrunner, Harer, Morozov 2009; Betti-Matching-3D's rule): the
//! boundary matrix of the squares against the edges, reduced with its columns in the comparison's
//! order and its rows ranked by an input, has a pivot (row `e`, column `s`) exactly where the image
//! bar born at the input's edge `e` dies at the comparison's square `s`. So the input's bar born
//! at `e` reaches the comparison's bar that dies at `s` (when that bar has positive length); bars
//! of the two inputs that reach the same bar of the comparison are matched. Every pivot counts,
//! also one whose input value comes after its comparison value (the reference's rule; the strict
//! definition would drop it, see `tests/oracle_nd.py`).
//!
//! The shortcuts of the plain middle reduction hold in the image reductions too:
//! - *clearing* by the comparison's top sweep: whether a column reduces to zero depends only on
//!   the columns before it, not on the row order;
//! - *compression* by the input's bottom sweep: a reduced column is a cycle whose lowest edge (in
//!   the input's order) cannot be one whose boundary the input's earlier edges do not already
//!   span, so an edge that merges two of the input's components is never a pivot (the
//!   T-construction's rows, the T-complex's edges, get their own union-find sweep for this).
//!
//! Schedule: the three filtrations' sweeps (bottom and top) and the five reductions (each
//! filtration's own, and the two image reductions) are tasks that run as soon as what they read
//! is there, the ready one of highest priority first ([`crate::ready_tasks`]).

use crate::filtration::{edge_key, Edge, Filtration, VolumeCells, VolumeGeometry, PADDING};
use crate::key_set::KeySet;
use crate::image_order::{self, ImageOrder};
use crate::matching::{comparison_components, unmatched, ComparisonSweeps, Matching};
use crate::middle::{image_pairs, loop_bar, own_pairs, Middle, MiddleWorkspace};
use crate::persistence::{component_sweep_over, top_sweep, PersistencePair};
use crate::ready_tasks::run_by_priority;
use crate::reduction::ReductionWorkspace;
use crate::union_find::{Image, UnionFind};
use crate::volume_betti::lowest_level_euler_characteristic;

const NONE: u32 = u32::MAX;

/// Buffers for the matching of two volumes, reusable across a batch.
#[derive(Default)]
pub struct VolumeMatchWorkspace {
    pred: InputSweeps,
    target: InputSweeps,
    comparison: Comparison,
}

/// One input's sweeps and reductions.
#[derive(Default)]
struct InputSweeps {
    uf: UnionFind,
    cells: VolumeCells,
    /// Per dimension, the finite bars: 0 and 2 in sweep order, 1 in death order.
    bars: [Vec<PersistencePair>; 3],
    /// The bar of dimension 0 each younger root (a voxel) names.
    component_bar_of: BarIndex,
    /// The bar of dimension 2 that reaches the comparison's cube root its birth retires.
    cavity_bar_of: BarIndex,
    /// Buffer of the [`Image`] annotation: the comparison's roots under this input's dual merges.
    image: Vec<u64>,
    /// The edges of this input that close cycles (the rows), the squares its top sweep paired.
    positive_edges: KeySet,
    cleared: KeySet,
    middle: MiddleWorkspace,
    /// The bars of dimension 1 by birth edge key: `(key, bar index)`, ascending ([`Loops::Bars`]).
    loop_births: Vec<(u32, u32)>,
    /// [`Loops::TwoLevelBirths`]: the number of bars of dimension 1 (`β1` of the lower level), and
    /// whether there are two levels (a mask with one value has no bar of dimension 1).
    loop_count: u32,
    two_level: bool,
    image_others: Vec<Edge>,
    image_reduction: ReductionWorkspace,
    /// The image reduction's pivots of the comparison's columns that are not apparent pairs.
    image_pairs: Vec<(Edge, Edge)>,
    /// Whether the image reduction puts the comparison's lowest columns in this input's order
    /// ([`crate::image_order`]), and which of those it then leaves out.
    lowest_by_input: bool,
    lowest_cleared: KeySet,
    /// Whether the image matrix is the comparison's own, so that its pivots are the
    /// comparison's ([`image_order::image_is_comparisons`]): then it is not reduced.
    image_is_comparisons: bool,
}

/// The comparison's sweeps and its own reduction.
#[derive(Default)]
struct Comparison {
    sweeps: ComparisonSweeps,
    cells: VolumeCells,
    /// Per finite bar of dimension 2, in sweep order: its retired cube root.
    cavity_roots: Vec<u32>,
    positive_edges: KeySet,
    cleared: KeySet,
    middle: MiddleWorkspace,
    /// Its bars of dimension 1 as `(death square, birth edge)`, in death order.
    loop_pairs: Vec<(Edge, Edge)>,
    /// Per input (prediction, target): the top rank whose rows the image reduction puts in
    /// the comparison's order, if any ([`crate::image_order`]).
    top_ranks: [Option<u32>; 2],
}

/// How the image matrix of an input's rows orders its cells ([`crate::image_order`]):
/// `top_rank` is the comparison's entry for that input, `c_rows` the comparison's rows.
fn image_order<'a>(lowest_by_input: bool, lowest_cleared: &'a KeySet, top_rank: Option<u32>, c_rows: &'a KeySet) -> ImageOrder<'a> {
    ImageOrder { lowest_cleared: lowest_by_input.then_some(lowest_cleared), top_rows: top_rank.map(|top| (top, c_rows)) }
}

/// Which bar each of a few nodes names: `(node, bar index)` sorted by node, in place of a map
/// over every voxel (two such maps per input were 35 MB at 128³, alive through the whole
/// matching). A node names at most one bar: a younger root retires once, and a comparison root
/// an input's merge retires leaves the annotation for good.
#[derive(Default)]
struct BarIndex {
    entries: Vec<(u32, u32)>,
}

impl BarIndex {
    fn clear(&mut self) {
        self.entries.clear();
    }

    fn record(&mut self, bars: &mut Vec<PersistencePair>, node: u32, bar: PersistencePair) {
        self.entries.push((node, bars.len() as u32));
        bars.push(bar);
    }

    /// Sorts the entries by node: call after the last [`BarIndex::record`], before lookups.
    fn seal(&mut self) {
        self.entries.sort_unstable();
        debug_assert!(self.entries.windows(2).all(|w| w[0].0 < w[1].0), "a node names one bar");
    }

    fn get(&self, node: u32) -> Option<u32> {
        self.entries.binary_search_by_key(&node, |&(n, _)| n).ok().map(|i| self.entries[i].1)
    }
}

/// The pairs of input bars named by `nodes` (per comparison bar, in its order: the node naming
/// the prediction's bar, the node naming the target's), where both name one.
fn matched_by(nodes: impl Iterator<Item = (u32, u32)>, pred: &BarIndex, target: &BarIndex) -> Vec<(u32, u32)> {
    nodes.filter_map(|(p, t)| Some((pred.get(p)?, target.get(t)?))).collect()
}

/// What the inputs' own middle reductions must give.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loops {
    /// Every bar of dimension 1, birth and death.
    Bars,
    /// Only how many bars there are and which rows are births, for masks (values 0 and 1, the
    /// foreground 0, so that an input's lower level lies in the comparison's): no reduction.
    /// The bars are `β1` of the lower level, `β0 + β2 - χ` with `β0` and `β2` from the sweeps;
    /// a pivot of an image reduction at a column of the comparison's upper level is the birth
    /// of a bar exactly when its row is of the input's lower level: its reduced column is then
    /// a cycle of the lower level, not a boundary there (the lower level's squares are earlier
    /// columns, so the column would have reduced to zero), whose lowest row no square of the
    /// lower level pairs (an earlier column would have that pivot).
    TwoLevelBirths,
}

/// Per dimension, the finite bars of each input and how many of them the matching pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VolumeCounts {
    pub finite_pred: Vec<u32>,
    pub finite_target: Vec<u32>,
    pub matched: Vec<u32>,
}

/// The matching of the volumes filtered by `p` (prediction) and `t` (target), with `c` their
/// comparison (built by `Filtration::build_volume_ranks`: the sweeps build their cell lists).
pub(crate) fn volume_matching(ws: &mut VolumeMatchWorkspace, p: &mut Filtration, t: &mut Filtration, c: &mut Filtration) -> Matching {
    let matched = crate::with_volume_cells!(c.connectivity(), C => matched_bars::<C>(ws, p, t, c, Loops::Bars));
    let Some(matched) = matched else { return Matching::empty(3) };
    let (p, t) = (&*p, &*t);
    let VolumeMatchWorkspace { pred, target, .. } = ws;
    let mut m = Matching::empty(3);
    for (d, matched) in matched.into_iter().enumerate() {
        m.pred.pairs[d] = std::mem::take(&mut pred.bars[d]);
        m.target.pairs[d] = std::mem::take(&mut target.bars[d]);
        m.unmatched_pred[d] = unmatched(m.pred.pairs[d].len(), matched.iter().map(|x| x.0));
        m.unmatched_target[d] = unmatched(m.target.pairs[d].len(), matched.iter().map(|x| x.1));
        m.matched[d] = matched;
    }
    m.pred.essential[0].push(p.pixel(p.first_pixel()));
    m.target.essential[0].push(t.pixel(t.first_pixel()));
    m
}

/// The bar counts of the matching of two two-level filtrations (masks): the same bars and the
/// same matched pairs as [`volume_matching`], without the deaths of the inputs' loops. `None`
/// if the caller stopped the sweeps.
pub(crate) fn two_level_volume_counts(
    ws: &mut VolumeMatchWorkspace,
    p: &mut Filtration,
    t: &mut Filtration,
    c: &mut Filtration,
) -> Option<VolumeCounts> {
    crate::with_volume_cells!(c.connectivity(), C => two_level_counts::<C>(ws, p, t, c))
}

fn two_level_counts<C: VolumeGeometry>(ws: &mut VolumeMatchWorkspace, p: &mut Filtration, t: &mut Filtration, c: &mut Filtration) -> Option<VolumeCounts> {
    let matched = matched_bars::<C>(ws, p, t, c, Loops::TwoLevelBirths)?;
    let finite = |s: &InputSweeps| vec![s.bars[0].len() as u32, s.loop_count, s.bars[2].len() as u32];
    Some(VolumeCounts {
        finite_pred: finite(&ws.pred),
        finite_target: finite(&ws.target),
        matched: matched.iter().map(|m| m.len() as u32).collect(),
    })
}

/// The sweeps and reductions of a matching; per dimension, the matched pairs of bar indices
/// (`None` if the caller stopped the sweeps).
///
/// The eight tasks run as soon as what they read is there, by priority ([`Task::priority`]):
/// a filtration's own reduction right after its sweeps, an input's image reduction once its
/// sweeps and the comparison's are done. On two threads this keeps both busy through the
/// sequential parts of the reductions, where fixed phases (three sweeps, then five reductions)
/// left one waiting (128³ likelihood against mask: 1.00 s then, 0.93 s now).
fn matched_bars<C: VolumeGeometry>(
    ws: &mut VolumeMatchWorkspace,
    p: &mut Filtration,
    t: &mut Filtration,
    c: &mut Filtration,
    loops: Loops,
) -> Option<[Vec<(u32, u32)>; 3]> {
    let VolumeMatchWorkspace { pred, target, comparison } = ws;
    let [p_order, t_order, c_order] = [&mut *p, &mut *t, &mut *c].map(|f| f.take_voxel_order());
    let (p, t, c) = (&*p, &*t, &*c);
    {
        let meetings = [Meeting::new(PRED), Meeting::new(TARGET)];
        let sweeps = vec![
            Task::Sweep { input: PRED, sweeps: &mut *pred, order: p_order },
            Task::Sweep { input: TARGET, sweeps: &mut *target, order: t_order },
            Task::SweepComparison { comparison: &mut *comparison, order: c_order },
        ];
        run_by_priority(sweeps, |task, ready| match task {
            Task::Sweep { input, sweeps, order } => {
                let f = [p, t][input];
                sweep_input::<C>(f, c, sweeps, order);
                let (own, image) = sweeps.reductions(f);
                ready.push(Task::Own { input, own });
                ready.extend(meetings[input].bring_input(image));
            }
            Task::SweepComparison { comparison, order } => {
                sweep_comparison::<C>(p, t, c, comparison, order);
                let Comparison { middle, loop_pairs, cleared, positive_edges, top_ranks, .. } = comparison;
                let (cleared, rows): (&KeySet, &KeySet) = (cleared, positive_edges);
                for (meeting, &top_rank) in meetings.iter().zip(top_ranks.iter()) {
                    ready.extend(meeting.bring_comparison(ComparisonColumns { cleared, rows, top_rank }));
                }
                ready.push(Task::OwnComparison { middle, loop_pairs, cleared, rows });
            }
            Task::Own { input, own } => own.run::<C>([p, t][input], loops),
            Task::OwnComparison { middle: MiddleWorkspace { others, reduction }, loop_pairs, cleared, rows } => {
                *loop_pairs = own_pairs(Middle::<C>::own(c, cleared, Some(rows), PADDING), others, reduction);
            }
            Task::Image { input: _, image, columns } => image.run::<C>(c, columns),
        });
    }
    if c.stopped() {
        return None;
    }
    Some([
        matched_by(comparison.sweeps.component_roots.iter().copied(), &pred.component_bar_of, &target.component_bar_of),
        matched_loops::<C>(p, t, c, comparison, pred, target, loops),
        matched_by(comparison.cavity_roots.iter().map(|&root| (root, root)), &pred.cavity_bar_of, &target.cavity_bar_of),
    ])
}

/// Indices of the inputs, as in `[p, t]`.
const PRED: usize = 0;
const TARGET: usize = 1;

/// A task of a matching, with what it reads and writes.
enum Task<'a> {
    Sweep { input: usize, sweeps: &'a mut InputSweeps, order: Vec<u32> },
    SweepComparison { comparison: &'a mut Comparison, order: Vec<u32> },
    Own { input: usize, own: OwnReduction<'a> },
    OwnComparison { middle: &'a mut MiddleWorkspace, loop_pairs: &'a mut Vec<(Edge, Edge)>, cleared: &'a KeySet, rows: &'a KeySet },
    Image { input: usize, image: ImageReduction<'a>, columns: ComparisonColumns<'a> },
}

impl Task<'_> {
    /// Which ready task a free thread takes first (the greatest). The prediction's sweeps start
    /// the longest chain (its image reduction needs them); the target's come before the
    /// comparison's, whose top sweep would otherwise run beside the prediction's and add the
    /// two peaks of memory. Image reductions, which wait for two sweeps, go before the own
    /// reductions, which were ready earlier.
    fn priority(&self) -> u8 {
        match self {
            Task::Sweep { input, .. } => 8 - 2 * *input as u8,
            Task::SweepComparison { .. } => 7,
            Task::Image { input, .. } => 5 - *input as u8,
            Task::OwnComparison { .. } => 3,
            Task::Own { input, .. } => 2 - *input as u8,
        }
    }
}

impl PartialEq for Task<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.priority() == other.priority()
    }
}

impl Eq for Task<'_> {}

impl PartialOrd for Task<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Task<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority().cmp(&other.priority())
    }
}

/// Where an input's image reduction waits for its two halves: the input's side (after its
/// sweeps) and the comparison's (after its sweeps). The second to come makes it ready.
struct Meeting<'a> {
    input: usize,
    halves: std::sync::Mutex<(Option<ImageReduction<'a>>, Option<ComparisonColumns<'a>>)>,
}

impl<'a> Meeting<'a> {
    fn new(input: usize) -> Self {
        Meeting { input, halves: Default::default() }
    }

    fn bring_input(&self, image: ImageReduction<'a>) -> Option<Task<'a>> {
        let mut halves = self.halves.lock().unwrap_or_else(|e| e.into_inner());
        match halves.1 {
            Some(columns) => Some(Task::Image { input: self.input, image, columns }),
            None => {
                halves.0 = Some(image);
                None
            }
        }
    }

    fn bring_comparison(&self, columns: ComparisonColumns<'a>) -> Option<Task<'a>> {
        let mut halves = self.halves.lock().unwrap_or_else(|e| e.into_inner());
        match halves.0.take() {
            Some(image) => Some(Task::Image { input: self.input, image, columns }),
            None => {
                halves.1 = Some(columns);
                None
            }
        }
    }
}

/// What an image reduction reads of the comparison's sweeps: its clearing and its rows, and the
/// top rank whose rows follow its order for this input ([`crate::image_order`]).
#[derive(Clone, Copy)]
struct ComparisonColumns<'a> {
    cleared: &'a KeySet,
    rows: &'a KeySet,
    top_rank: Option<u32>,
}

/// An input's bottom and top sweeps (dimension 2 annotated with the comparison's roots), each
/// over a cell list that lives only while it runs (as does `order`, the input's voxel order).
fn sweep_input<C: VolumeGeometry>(f: &Filtration, c: &Filtration, s: &mut InputSweeps, order: Vec<u32>) {
    let InputSweeps { uf, cells, bars, component_bar_of, cavity_bar_of, image, positive_edges, cleared, lowest_by_input, lowest_cleared, .. } = s;
    let [components, _, cavities] = bars;
    components.clear();
    component_bar_of.clear();
    positive_edges.reset(if C::MIDDLE_ROWS_ARE_EDGES { 3 * f.ranks.len() } else { 0 });
    f.volume_edges(&order, cells);
    let rows = C::MIDDLE_ROWS_ARE_EDGES.then_some(&mut *positive_edges);
    component_sweep_over(f, &cells.edges, uf, rows, |younger, edge| {
        component_bar_of.record(components, younger, f.component_bar(younger, edge))
    });
    component_bar_of.seal();
    reuse_for_squares(cells, f);
    cavities.clear();
    cavity_bar_of.clear();
    f.volume_squares(&order, cells);
    drop(order);
    *lowest_by_input = image_order::lowest_by_input(f, c);
    let squares = &cells.squares;
    rayon::join(
        || {
            let mut annotation = Image::new(&c.dual_ranks, std::mem::take(image));
            top_sweep::<C>(f, squares, uf, Some(&mut annotation), cleared, |younger, square, c_root| {
                cavity_bar_of.record(cavities, c_root, f.cycle_bar(younger, square))
            });
            cavity_bar_of.seal();
        },
        || {
            if *lowest_by_input {
                image_order::lowest_clearing::<C>(f, c, squares, &mut UnionFind::default(), lowest_cleared);
            }
        },
    );
    cells.squares = Vec::new();
    C::sweep_cycle_rows(f, uf, positive_edges);
    *uf = UnionFind::default();
}

/// Hands the edge list's memory to the square list that comes next (pages already mapped, so
/// the kernel need not clear new ones), where it is not much larger than that list (the
/// V-construction's three edges per voxel against three squares; not the 26-neighbour graph's
/// thirteen against three walls, whose edge list would stay alive at four times the size).
fn reuse_for_squares(cells: &mut VolumeCells, f: &Filtration) {
    let edges = std::mem::take(&mut cells.edges);
    if edges.capacity() <= 3 * f.ranks.len() {
        cells.squares = edges;
    }
}

/// The comparison's bottom sweep (with the inputs' rankings as images) and its top sweep
/// (`order` as for [`sweep_input`]).
fn sweep_comparison<C: VolumeGeometry>(p: &Filtration, t: &Filtration, c: &Filtration, s: &mut Comparison, order: Vec<u32>) {
    let Comparison { sweeps, cells, cavity_roots, positive_edges, cleared, top_ranks, .. } = s;
    *top_ranks = [p, t].map(|f| image_order::top_by_comparison::<C>(f, c));
    // Filled only where the rows are the primal edges (`comparison_components` puts none else).
    positive_edges.reset(if C::MIDDLE_ROWS_ARE_EDGES { 3 * c.ranks.len() } else { 0 });
    c.volume_edges(&order, cells);
    comparison_components::<C, _>(p, t, c, &cells.edges, sweeps, positive_edges);
    // Two annotations of 8 bytes per voxel, alive at the peak of the top sweeps otherwise.
    sweeps.release_images();
    reuse_for_squares(cells, c);
    cavity_roots.clear();
    c.volume_squares(&order, cells);
    drop(order);
    top_sweep::<C>(c, &cells.squares, &mut sweeps.uf, None, cleared, |root, _, _| cavity_roots.push(root));
    cells.squares = Vec::new();
    C::sweep_cycle_rows(c, &mut sweeps.uf, positive_edges);
    sweeps.release();
}

impl InputSweeps {
    /// The parts of these sweeps that the input's own reduction and its image reduction read
    /// and write, apart (both read the rows).
    fn reductions<'a>(&'a mut self, f: &'a Filtration) -> (OwnReduction<'a>, ImageReduction<'a>) {
        let InputSweeps { bars, middle, loop_births, loop_count, two_level, image_others, image_reduction, image_pairs, cleared, positive_edges, lowest_by_input, lowest_cleared, image_is_comparisons, .. } = self;
        let rows: &'a KeySet = positive_edges;
        let [components, loop_bars, cavities] = bars;
        let betti_0_2 = (components.len() + 1 + cavities.len()) as i64;
        (
            OwnReduction { bars: loop_bars, middle, loop_births, loop_count, two_level, betti_0_2, cleared, rows },
            ImageReduction { f, rows, lowest_by_input: *lowest_by_input, lowest_cleared, is_comparisons: image_is_comparisons, others: image_others, reduction: image_reduction, pairs: image_pairs },
        )
    }
}

/// An input's own middle reduction: its bars of dimension 1 (or only their births).
struct OwnReduction<'a> {
    bars: &'a mut Vec<PersistencePair>,
    middle: &'a mut MiddleWorkspace,
    loop_births: &'a mut Vec<(u32, u32)>,
    loop_count: &'a mut u32,
    two_level: &'a mut bool,
    /// `β0 + β2` of the lower level (from the sweeps: the finite bars and the essential one).
    betti_0_2: i64,
    cleared: &'a KeySet,
    rows: &'a KeySet,
}

impl OwnReduction<'_> {
    fn run<C: VolumeGeometry>(self, f: &Filtration, loops: Loops) {
        let OwnReduction { bars, middle: MiddleWorkspace { others, reduction }, loop_births, loop_count, two_level, betti_0_2, cleared, rows } = self;
        loop_births.clear();
        match loops {
            Loops::Bars => {
                let own = own_pairs(Middle::<C>::own(f, cleared, Some(rows), PADDING), others, reduction);
                *bars = own.iter().map(|&(square, edge)| loop_bar::<C>(f, square, edge)).collect();
                loop_births.extend(own.iter().enumerate().map(|(i, &(_, edge))| (edge_key(edge), i as u32)));
                loop_births.sort_unstable();
            }
            Loops::TwoLevelBirths => {
                bars.clear();
                *two_level = f.ranks.contains(&1);
                *loop_count = if *two_level {
                    let chi = lowest_level_euler_characteristic::<C>(&f.ranks, f.stride(), f.plane());
                    let loops = betti_0_2 - chi;
                    debug_assert!(loops >= 0, "β1 = β0 + β2 - χ cannot be negative");
                    loops.max(0) as u32
                } else {
                    0
                };
            }
        }
    }
}

/// An input's image reduction against the comparison's columns.
struct ImageReduction<'a> {
    f: &'a Filtration,
    rows: &'a KeySet,
    lowest_by_input: bool,
    lowest_cleared: &'a KeySet,
    is_comparisons: &'a mut bool,
    others: &'a mut Vec<Edge>,
    reduction: &'a mut ReductionWorkspace,
    pairs: &'a mut Vec<(Edge, Edge)>,
}

impl ImageReduction<'_> {
    fn run<C: VolumeGeometry>(self, c: &Filtration, columns: ComparisonColumns<'_>) {
        let ComparisonColumns { cleared, rows: c_rows, top_rank } = columns;
        *self.is_comparisons = image_order::image_is_comparisons(self.f, c, top_rank, self.lowest_by_input);
        if *self.is_comparisons {
            return self.pairs.clear();
        }
        let order = image_order(self.lowest_by_input, self.lowest_cleared, top_rank, c_rows);
        let image = Middle::<C>::image(c, cleared, self.f, Some(self.rows), order);
        *self.pairs = image_pairs(image, self.others, self.reduction);
    }
}

/// The matched bars of dimension 1: per bar of the comparison (its death square, a column of
/// the image reductions), the inputs' bars born at the pivots the image reductions give it
/// (the comparison's own pivot, where an image matrix is the comparison's own).
fn matched_loops<C: VolumeGeometry>(
    p: &Filtration,
    t: &Filtration,
    c: &Filtration,
    comparison: &Comparison,
    pred: &InputSweeps,
    target: &InputSweeps,
    loops: Loops,
) -> Vec<(u32, u32)> {
    let pivot = |f: &Filtration, s: &InputSweeps, top_rank, (column, c_pivot): (Edge, Edge)| {
        if s.image_is_comparisons {
            return Some(c_pivot);
        }
        let order = image_order(s.lowest_by_input, &s.lowest_cleared, top_rank, &comparison.positive_edges);
        let image = Middle::<C>::image(c, &comparison.cleared, f, Some(&s.positive_edges), order);
        let column = image.column_of(column)?;
        match s.image_pairs.binary_search_by_key(&column, |&(c, _)| c) {
            Ok(i) => Some(s.image_pairs[i].1),
            Err(_) => image.apparent_pivot(column),
        }
    };
    // A bar's index ([`Loops::Bars`]), or the key of its birth row ([`Loops::TwoLevelBirths`]).
    let bar_at = |f: &Filtration, s: &InputSweeps, top_rank, column: (Edge, Edge)| {
        let pivot = pivot(f, s, top_rank, column);
        match loops {
            Loops::Bars => pivot
                .and_then(|row| s.loop_births.binary_search_by_key(&edge_key(row), |&(key, _)| key).ok())
                .map_or(NONE, |i| s.loop_births[i].1),
            // The row's own rank: where the image matrix is the comparison's, the pivot is ranked
            // by the comparison.
            Loops::TwoLevelBirths => pivot
                .map(edge_key)
                .filter(|&row| s.two_level && C::row_rank(&f.ranks, row, f.stride(), f.plane()) == 0)
                .unwrap_or(NONE),
        }
    };
    comparison
        .loop_pairs
        .iter()
        .map(|&pair| (bar_at(p, pred, comparison.top_ranks[0], pair), bar_at(t, target, comparison.top_ranks[1], pair)))
        .filter(|&(p, t)| p != NONE && t != NONE)
        .collect()
}
