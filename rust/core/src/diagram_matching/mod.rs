//! Optimal matching of two persistence diagrams with the diagonal (the matching behind the
//! 2-Wasserstein distance and the topological loss of Hu et al., NeurIPS 2019).
//!
//! Every point `x = (birth, death)` of one diagram is either matched to a point `y` of the other,
//! at cost `|x - y|²` (squared Euclidean), or sent to its projection onto the diagonal, at cost
//! `diag(x) = (death - birth)² / 2`. The matching minimises the total cost.
//!
//! The textbook formulation is an `(n + m) × (n + m)` assignment with one diagonal copy per
//! point; the transport form (GUDHI's and POT's) has `n + 1` sources and `m + 1` sinks, each
//! diagram's diagonal one hub node of capacity the other's size. We solve the hub form as an
//! assignment of *rows* (one diagram's points) to *columns* (the other's) or to a hub (the rows'
//! diagonal), which any number of rows may take: row `x` to column `y` costs `|x - y|² - diag(y)`,
//! row `x` to the hub `diag(x)`, and every column's `diag(y)` is paid up front (an unmatched
//! column costs nothing more; the columns' hub needs no node). Exactly:
//!
//! - Only *candidate* pairs, `|x - y|² < diag(x) + diag(y)`, are ever needed: any other matched
//!   pair costs at least as much as sending both points to the diagonal (and its reduced cost is
//!   non-negative under any potentials that are feasible for the hub edges). They are
//!   enumerated without looking at all pairs where they are few (the shorter point of a candidate
//!   pair lies within the longer one's persistence of it: a strip of births, searched in sorted
//!   order). A point without one goes to the diagonal. On white-noise predictions they are not
//!   few, though: well over half of all pairs are candidates.
//! - Small problems (`r² (R + 1)` small, `r`, `R` the smaller and larger number of points with a
//!   candidate, rows the smaller side) take the dense solver (`hub.rs`): shortest augmenting
//!   paths over all pairs, the Hungarian method in the Jonker–Volgenant form.
//! - Larger ones take the sparse solver (`sparse_hub.rs`): the graph starts from each point's
//!   few nearest candidates plus every row's hub edge, successive shortest augmenting paths
//!   (Dijkstra with potentials, one search per row left unassigned by a greedy start) solve it,
//!   and then the potentials certify optimality for the whole problem (LP duality) if no
//!   candidate pair outside the graph has a negative reduced cost. Where one does, the most
//!   violated pair of each row joins and the row is lowered to make it tight; a row that no
//!   longer fits where it is is freed, its column left waiting for a new row, and the solve
//!   resumes as a min-cost flow with the hub as a node: a search from a free row may also pass
//!   through the hub (taking over a column's diagonal, or moving a row off the hub) to a waiting
//!   column. No repair spreads beyond its row, so a round with few violations costs few searches.
//!   The pricing passes read the candidate pairs from a flat list kept by the first one (up to a
//!   million pairs; beyond that they are searched again); each round adds one pair at least, and
//!   the result is exactly optimal.
//!
//! Ties: the result is deterministic (a function of the two diagrams, independent of buffer
//! reuse or threads). Among equally cheap matchings the one returned is the one this procedure
//! reaches: nearest candidates rank by cost, then by index counted cyclically from the point's
//! own (the pricing rounds break ties among a row's violated pairs the same way: rows tied over
//! many identical points spread over them); searches settle columns by distance,
//! then by column index, the hub winning ties; rows are served in index order; rows are the pred
//! points unless the target has fewer points with a candidate; a pair that only ties with the
//! two diagonal moves is never used by the sparse solver (`<`, not `<=`). Which optimal matching
//! is returned may differ between the solvers and from earlier versions; the cost does not.

mod candidates;
mod hub;
mod sparse_hub;
#[cfg(test)]
mod tests;

use candidates::{CandidateSearch, Nearest};
use hub::DenseHub;
use sparse_hub::{SparseHub, HUB};

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
    nearest: Nearest,
    sparse: SparseHub,
    dense: DenseHub,
    /// Per side, whether each point has a candidate partner.
    active: [Vec<bool>; 2],
    /// The dense solver's rows and columns: indices into the diagrams, and the points.
    index: [Vec<u32>; 2],
    points: [Vec<Point>; 2],
    pairs: Vec<(u32, u32)>,
}

/// Up to this many steps of the dense solver (`r² (R + 1)`, `r`, `R` the smaller and larger
/// number of points with a candidate partner) it is used instead of the sparse one.
const DENSE_STEPS: f64 = 2e5;

/// How many nearest candidate partners of each point start the sparse solver's graph. The
/// optimal matching of noisy diagrams pairs almost every point with one of its nearest partners;
/// any pair it needs beyond those is found by the pricing check. Measured on white noise vs
/// white noise (matching alone, dimension 0, one thread, four seeds each): at 64² (830 points a
/// side) 16 and 32 neighbours take 28-57 and 31-48 ms; at 128² (3300 a side) 16 take 400-1560 ms
/// and 32 take 330-1040 ms (1-12 pricing rounds); 8 or fewer need many more rounds at both sizes.
/// Small diagrams (under [`FEW_POINTS`] a side) are best served by fewer: at 32² (210 points a
/// side) 8, 16 and 32 take 2.3-7, 3-5 and 6-6.7 ms for both dimensions.
const START_NEIGHBOURS: usize = 32;
const FEW_POINTS: usize = 300;
const FEW_NEIGHBOURS: usize = 16;

/// An optimal matching of `pred` with `target`, reusing `ws`'s buffers. The result is a function
/// of the two diagrams alone (not of `ws`'s history).
pub fn optimal_matching_with(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> DiagramMatching {
    let steps = |a: usize, b: usize| {
        let (r, big) = (a.min(b) as f64, a.max(b) as f64);
        r * r * (big + 1.0)
    };
    if steps(pred.len(), target.len()) <= DENSE_STEPS {
        return dense_on_all_pairs(ws, pred, target);
    }
    ws.search.build(pred, target);
    let neighbours = if pred.len().max(target.len()) < FEW_POINTS { FEW_NEIGHBOURS } else { START_NEIGHBOURS };
    ws.nearest.collect(&mut ws.search, pred, target, neighbours);
    ws.nearest.active(pred.len(), target.len(), &mut ws.active);
    let count = |a: &[bool]| a.iter().filter(|&&x| x).count();
    if steps(count(&ws.active[0]), count(&ws.active[1])) <= DENSE_STEPS {
        return dense_matching(ws, pred, target);
    }
    sparse_matching(ws, pred, target)
}

/// The dense solver, after the reduction to points with a candidate partner found by looking at
/// every pair (small problems).
fn dense_on_all_pairs(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> DiagramMatching {
    for (side, len) in [(0, pred.len()), (1, target.len())] {
        ws.active[side].clear();
        ws.active[side].resize(len, false);
    }
    for (i, &x) in pred.iter().enumerate() {
        for (j, &y) in target.iter().enumerate() {
            if is_candidate(x, y) {
                ws.active[0][i] = true;
                ws.active[1][j] = true;
            }
        }
    }
    dense_matching(ws, pred, target)
}

/// The sparse solver whatever the size, its graph starting from `neighbours` nearest candidates
/// of each point (any number >= 1 gives the same cost; tests use few, so that the pricing rounds
/// do the work).
#[cfg(test)]
fn matching_from_nearest(ws: &mut Workspace, pred: &[Point], target: &[Point], neighbours: usize) -> DiagramMatching {
    ws.search.build(pred, target);
    ws.nearest.collect(&mut ws.search, pred, target, neighbours.max(1));
    ws.nearest.active(pred.len(), target.len(), &mut ws.active);
    sparse_matching(ws, pred, target)
}

/// The dense solver on the points marked active in `ws.active` (the others go to the diagonal).
fn dense_matching(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> DiagramMatching {
    let sides = [pred, target];
    for (side, points) in sides.iter().enumerate() {
        ws.index[side].clear();
        ws.index[side].extend((0..points.len() as u32).filter(|&i| ws.active[side][i as usize]));
        ws.points[side].clear();
        ws.points[side].extend(ws.index[side].iter().map(|&i| points[i as usize]));
    }
    // Rows: the smaller side (pred on a tie).
    let rows = usize::from(ws.points[1].len() < ws.points[0].len());
    let cols = 1 - rows;
    ws.dense.solve(&ws.points[rows], &ws.points[cols]);
    ws.pairs.clear();
    for (r, &c) in ws.dense.col_of_row.iter().enumerate() {
        if c != HUB {
            let (a, b) = (ws.index[rows][r], ws.index[cols][c as usize]);
            ws.pairs.push(if rows == 0 { (a, b) } else { (b, a) });
        }
    }
    result(&mut ws.pairs, pred, target)
}

/// The sparse solver from the nearest candidate pairs, on all points (those without a candidate
/// have no edge but the hub's).
fn sparse_matching(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> DiagramMatching {
    let count = |a: &[bool]| a.iter().filter(|&&x| x).count();
    let swapped = count(&ws.active[1]) < count(&ws.active[0]);
    let (rows, cols) = if swapped { (target, pred) } else { (pred, target) };
    ws.pairs.clear();
    ws.pairs.extend(ws.nearest.pairs().iter().map(|&(i, j)| if swapped { (j, i) } else { (i, j) }));
    if swapped {
        ws.pairs.sort_unstable();
    }
    let search = &mut ws.search;
    ws.sparse.solve(rows, cols, &ws.pairs, |f| {
        if swapped {
            search.for_each_candidate(pred, target, |i, j, cost| f(j, i, cost));
        } else {
            search.for_each_candidate(pred, target, f);
        }
    });
    ws.pairs.clear();
    for (r, &c) in ws.sparse.col_of_row.iter().enumerate() {
        if c != HUB {
            ws.pairs.push(if swapped { (c, r as u32) } else { (r as u32, c) });
        }
    }
    result(&mut ws.pairs, pred, target)
}

/// The matching of the matched `(pred, target)` pairs (any order; sorted here), every other
/// point on the diagonal, and its cost.
fn result(pairs: &mut [(u32, u32)], pred: &[Point], target: &[Point]) -> DiagramMatching {
    pairs.sort_unstable();
    let mut out = DiagramMatching { matched: pairs.to_vec(), ..Default::default() };
    let (mut pred_taken, mut target_taken) = (vec![false; pred.len()], vec![false; target.len()]);
    let mut total = 0.0;
    for &(i, j) in pairs.iter() {
        pred_taken[i as usize] = true;
        target_taken[j as usize] = true;
        total += point_cost(pred[i as usize], target[j as usize]);
    }
    for (i, &taken) in pred_taken.iter().enumerate() {
        if !taken {
            total += diagonal_cost(pred[i]);
            out.unmatched_pred.push(i as u32);
        }
    }
    for (j, &taken) in target_taken.iter().enumerate() {
        if !taken {
            total += diagonal_cost(target[j]);
            out.unmatched_target.push(j as u32);
        }
    }
    out.cost = total;
    out
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
