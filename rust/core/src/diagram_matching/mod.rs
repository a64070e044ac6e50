//! Optimal matching of two persistence diagrams with the diagonal (the matching behind the
//! 2-Wasserstein distance and the topological loss of Hu et al., NeurIPS 2019).
//!
//! Every point `x = (birth, death)` of one diagram is either matched to a point `y` of the other,
//! at cost `|x - y|²` (squared Euclidean), or sent to its projection onto the diagonal, at cost
//! `diag(x) = (death - birth)² / 2`. The matching minimises the total cost.
//!
//! The textbook formulation is an assignment problem on an `(n + m) × (n + m)` matrix: rows are
//! the pred points and the target points' diagonal copies, columns the target points and the
//! pred points' diagonal copies; a point takes a point of the other diagram or its own diagonal
//! copy, and two diagonal copies pair up at no cost. We solve it exactly on a sparse graph:
//!
//! - Only *candidate* pairs, `|x - y|² < diag(x) + diag(y)`, are ever needed: any other matched
//!   pair costs at least as much as sending both points to the diagonal. They are enumerated
//!   without looking at all pairs where they are few (the shorter point of a candidate pair lies
//!   within the longer one's persistence of it: a strip of births, searched in sorted order). On
//!   white-noise predictions they are not few, though: most bars are long enough that well over
//!   half of all pairs are candidates.
//! - So the graph starts from each point's few nearest candidates (and the diagonal edges: a
//!   diagonal copy of target `j` pairs with pred `i`'s copy for each pair `(i, j)` in the graph,
//!   which is what a matched pair leaves over), and is solved by successive shortest augmenting
//!   paths with potentials (Hungarian method, Dijkstra on the sparse graph, one search per row
//!   left unassigned by a greedy start).
//! - Then the potentials certify optimality (LP duality) if no candidate pair outside the graph
//!   has a negative reduced cost. Pairs that do join the graph, the rows they leave from lower
//!   their potentials (keeping every reduced cost non-negative) and give up their assignment,
//!   and the solve resumes from there (only the most violated pair per row joins in a round: all
//!   of them can be a large share of all pairs while the diagonal copies' potentials are still
//!   far apart). Each round is one pass over the candidate pairs (a few to a dozen rounds on
//!   noise); the result is exactly optimal for the whole problem.
//! - Where `r² (R + r)` is small (`r`, `R` the smaller and larger diagram's sizes) the dense
//!   Hungarian method of earlier versions is used instead: after the same reduction to candidate
//!   points, rows are the smaller diagram's points, columns the larger one's plus `r` shared
//!   diagonal columns. It is the faster one for a small target diagram, and the sparse one is
//!   slow on massive ties (hundreds of identical points, e.g. a speckled one-hot target), where
//!   many pricing rounds are needed to link the diagonal copies; a hub node for the diagonal
//!   (the `(n + 1) × (m + 1)` transport form) would remove that limit.
//!
//! Ties: the result is deterministic (a function of the two diagrams, independent of buffer
//! reuse or threads). Among equally cheap matchings the one returned is the one this procedure
//! reaches: nearest candidates rank by cost, then index; searches settle columns by distance,
//! then by column index (target points, then pred points' diagonal copies); rows are served in
//! index order; a pair that only ties with the two diagonal moves is never used (`<`, not `<=`).
//! Which optimal matching is returned may differ from the dense solver of earlier versions; the
//! cost does not.

mod candidates;
mod dense;
mod sparse;
#[cfg(test)]
mod tests;

use candidates::{CandidateSearch, Nearest};
use dense::{dense_matching_with, DenseBuffers};
use sparse::{Assignment, PairGraph};

/// A point of a persistence diagram.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub birth: f64,
    pub death: f64,
}

impl Point {
    pub fn new(birth: f64, death: f64) -> Self {
        Point { birth, death }
    }
}

/// The cost of matching `a` to `b`: squared Euclidean distance.
#[inline]
pub fn point_cost(a: Point, b: Point) -> f64 {
    let (db, dd) = (a.birth - b.birth, a.death - b.death);
    db * db + dd * dd
}

/// The cost of sending `a` to the diagonal: squared distance to its orthogonal projection.
#[inline]
pub fn diagonal_cost(a: Point) -> f64 {
    let l = a.death - a.birth;
    0.5 * l * l
}

/// An optimal matching of two diagrams `(pred, target)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiagramMatching {
    /// `(index into pred, index into target)`, sorted by pred index.
    pub matched: Vec<(u32, u32)>,
    /// Indices of the points sent to the diagonal, ascending.
    pub unmatched_pred: Vec<u32>,
    pub unmatched_target: Vec<u32>,
    /// The total cost of the matching.
    pub cost: f64,
}

/// An optimal matching of `pred` with `target` (see the module docs for the costs).
pub fn optimal_matching(pred: &[Point], target: &[Point]) -> DiagramMatching {
    let mut ws = Workspace::default();
    optimal_matching_with(&mut ws, pred, target)
}

/// Buffers of the solver, reusable across calls.
#[derive(Default)]
pub struct Workspace {
    search: CandidateSearch,
    graph: PairGraph,
    nearest: Nearest,
    new_pairs: Vec<(u32, u32)>,
    worst: Vec<(f64, u32, u32)>,
    lowered: Vec<bool>,
    assignment: Assignment,
    dense: DenseBuffers,
}

/// Below this many steps of the dense solver (`r² (R + r)`, `r`, `R` the smaller and larger
/// diagram's sizes; about 0.3 s) it is used instead of the sparse one when the diagrams are
/// tie-heavy (below [`SMALL_DENSE_STEPS`] always). It takes microseconds with
/// a small target diagram (the usual training case), and the sparse one is weak on massive ties:
/// a one-hot speckle target (300 identical points) against a 48² softmax map took the sparse
/// solver 2 s a channel, as its pricing rounds connect only one more diagonal copy per row and
/// round (a known limit; see the module docs).
const DENSE_STEPS: f64 = 3e8;

/// How many nearest candidate partners of each point start the graph. The optimal matching of
/// noisy diagrams pairs almost every point with one of its nearest partners; any pair it needs
/// beyond those is found by the pricing check. Measured on 128² noise vs noise: 6 neighbours take
/// 25 pricing rounds and 11 s, 12 take 6 s, 24 take 13 rounds and 3 s.
const START_NEIGHBOURS: usize = 24;

/// An optimal matching of `pred` with `target`, reusing `ws`'s buffers. The result is a function
/// of the two diagrams alone (not of `ws`'s history).
pub fn optimal_matching_with(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> DiagramMatching {
    let (r, big) = (pred.len().min(target.len()) as f64, pred.len().max(target.len()) as f64);
    let steps = r * r * (big + r);
    if steps <= SMALL_DENSE_STEPS || (steps <= DENSE_STEPS && (tie_heavy(pred) || tie_heavy(target))) {
        return dense_matching_with(&mut ws.dense, pred, target);
    }
    matching_from_nearest(ws, pred, target, START_NEIGHBOURS)
}

/// Below this many dense steps the dense solver is the faster one whatever the diagrams.
/// Measured on noise-vs-noise HuTopoLoss (forward + backward, one 2D image):
/// at 16² (about 2e5 steps) dense 1.7 ms, sparse 2.2 ms; at 32² (2e7 steps) dense 28 ms,
/// sparse 11 ms.
const SMALL_DENSE_STEPS: f64 = 2e6;

/// Whether a tenth or more of the points repeat another: the sparse solver's weak case.
fn tie_heavy(points: &[Point]) -> bool {
    let mut keys: Vec<(u64, u64)> = points.iter().map(|p| (p.birth.to_bits(), p.death.to_bits())).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len() * 10 < points.len() * 9
}

/// The optimal matching, starting from the `neighbours` nearest candidates of each point (any
/// number >= 1 gives the same cost; tests use few, so that the pricing rounds do the work).
fn matching_from_nearest(ws: &mut Workspace, pred: &[Point], target: &[Point], neighbours: usize) -> DiagramMatching {
    let (n, m) = (pred.len(), target.len());
    ws.search.build(pred, target);
    ws.nearest.collect(&ws.search, pred, target, neighbours.max(1));
    ws.graph.build(n, m, ws.nearest.pairs());
    ws.assignment.start(&ws.graph, pred, target);
    loop {
        ws.assignment.augment_free_rows(&ws.graph, pred, target);
        if !price(ws, pred, target) {
            break;
        }
    }

    let mut out = DiagramMatching::default();
    for i in 0..n {
        let c = ws.assignment.col_of_row[i] as usize;
        if c < m {
            out.matched.push((i as u32, c as u32));
        } else {
            out.unmatched_pred.push(i as u32);
        }
    }
    for j in 0..m {
        if ws.assignment.row_of_col[j] as usize >= n {
            out.unmatched_target.push(j as u32);
        }
    }
    out.cost = out.matched.iter().map(|&(i, j)| point_cost(pred[i as usize], target[j as usize])).sum::<f64>()
        + out.unmatched_pred.iter().map(|&i| diagonal_cost(pred[i as usize])).sum::<f64>()
        + out.unmatched_target.iter().map(|&j| diagonal_cost(target[j as usize])).sum::<f64>();
    out
}

/// The optimality check: the assignment is optimal for the whole problem once no candidate pair
/// outside the graph has a negative reduced cost (LP duality: the potentials are then feasible
/// for every edge). Pairs that have one join the graph, the rows they start from get potentials
/// that keep every reduced cost non-negative, and those rows give up their (no longer tight)
/// assignment. Returns whether any pair was added.
fn price(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> bool {
    let (n, m) = (pred.len(), target.len());
    let Workspace { search, graph, new_pairs, lowered, worst, assignment: a, .. } = ws;
    // Reduced costs of edges already in the graph may be a hair negative after rounding; a
    // violation has to be larger than that to count.
    let scale = pred.iter().chain(target).map(|&p| diagonal_cost(p)).fold(1.0, f64::max);
    let tolerance = 1e-12 * scale;
    // The most violated pair of each row joins (all of them at once can be a large share of all
    // pairs while the potentials of the diagonal copies are still far apart).
    worst.clear();
    worst.resize(n + m, (-tolerance, NONE, NONE));
    search.for_each_candidate(pred, target, |i, j, cost| {
        let point_edge = cost - a.row_potential[i] - a.col_potential[j];
        let diagonal_edge = -a.row_potential[n + j] - a.col_potential[m + i];
        for (row, reduced) in [(i, point_edge), (n + j, diagonal_edge)] {
            if (reduced, i as u32, j as u32) < worst[row] && !graph.has(i, j) {
                worst[row] = (reduced, i as u32, j as u32);
            }
        }
    });
    new_pairs.clear();
    new_pairs.extend(worst.iter().filter(|w| w.1 != NONE).map(|w| (w.1, w.2)));
    if new_pairs.is_empty() {
        return false;
    }
    new_pairs.sort_unstable();
    new_pairs.dedup();
    lowered.clear();
    lowered.resize(n + m, false);
    for &(i, j) in new_pairs.iter() {
        let (i, j) = (i as usize, j as usize);
        for (row, col, cost) in [(i, j, point_cost(pred[i], target[j])), (n + j, m + i, 0.0)] {
            let feasible = cost - a.col_potential[col];
            if feasible < a.row_potential[row] {
                a.row_potential[row] = feasible;
                lowered[row] = true;
            }
        }
    }
    for (row, &was_lowered) in lowered.iter().enumerate() {
        if was_lowered && a.col_of_row[row] != NONE {
            a.row_of_col[a.col_of_row[row] as usize] = NONE;
            a.col_of_row[row] = NONE;
        }
    }
    graph.add(n, m, new_pairs);
    true
}

/// Whether matching `x` with `y` beats sending both to the diagonal. Only such pairs can appear in
/// an optimal matching: replacing any other matched pair by two diagonal moves costs no more.
/// Non-finite costs never qualify (such points simply go to the diagonal).
#[inline]
fn is_candidate(x: Point, y: Point) -> bool {
    let (c, dx, dy) = (point_cost(x, y), diagonal_cost(x), diagonal_cost(y));
    c.is_finite() && dx.is_finite() && dy.is_finite() && c < dx + dy
}

const NONE: u32 = u32::MAX;
