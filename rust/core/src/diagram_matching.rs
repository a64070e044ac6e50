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

/// `|death - birth|`: a point `y` with `persistence(y) <= persistence(x)` can only be a candidate
/// partner of `x` within that distance of it.
#[inline]
fn persistence(p: Point) -> f64 {
    (p.death - p.birth).abs()
}

/// The points of one diagram sorted by birth (ties by index), for strip queries.
#[derive(Default)]
struct BirthIndex {
    order: Vec<u32>,
    births: Vec<f64>,
}

impl BirthIndex {
    fn build(&mut self, points: &[Point]) {
        self.order.clear();
        self.order.extend(0..points.len() as u32);
        self.order.sort_unstable_by(|&a, &b| points[a as usize].birth.total_cmp(&points[b as usize].birth).then(a.cmp(&b)));
        self.births.clear();
        self.births.extend(self.order.iter().map(|&i| points[i as usize].birth));
    }

    /// Indices of the points whose birth lies within `reach` of `birth` (a superset of them, in
    /// fact: the strip is widened by a relative 1e-9 so that rounding in the costs never hides a
    /// candidate).
    fn near(&self, birth: f64, reach: f64) -> impl Iterator<Item = usize> + '_ {
        let reach = reach + reach * 1e-9;
        let (lo, hi) = (birth - reach, birth + reach);
        let first = self.births.partition_point(|&b| b < lo);
        self.births[first..].iter().zip(&self.order[first..]).take_while(move |(&b, _)| b <= hi).map(|(_, &i)| i as usize)
    }
}

/// Finds the candidate pairs without looking at every pair where they are few: for a candidate
/// pair, `|x - y|² < diag(x) + diag(y) <= persistence(longer)²`, so the shorter point lies in the
/// strip of births that wide around the longer one. Each pair is looked up from its longer point
/// (ties: from the pred side), so it is found once.
#[derive(Default)]
struct CandidateSearch {
    pred_index: BirthIndex,
    target_index: BirthIndex,
}

impl CandidateSearch {
    fn build(&mut self, pred: &[Point], target: &[Point]) {
        self.pred_index.build(pred);
        self.target_index.build(target);
    }

    /// Calls `f(pred index, target index, |x - y|²)` for every candidate pair, in a fixed order.
    fn for_each_candidate(&self, pred: &[Point], target: &[Point], mut f: impl FnMut(usize, usize, f64)) {
        for (i, &x) in pred.iter().enumerate() {
            let reach = persistence(x);
            for j in self.target_index.near(x.birth, reach) {
                let y = target[j];
                if persistence(y) <= reach && is_candidate(x, y) {
                    f(i, j, point_cost(x, y));
                }
            }
        }
        for (j, &y) in target.iter().enumerate() {
            let reach = persistence(y);
            for i in self.pred_index.near(y.birth, reach) {
                let x = pred[i];
                if persistence(x) < reach && is_candidate(x, y) {
                    f(i, j, point_cost(x, y));
                }
            }
        }
    }
}

/// The `k` nearest candidate partners of every point of both diagrams.
#[derive(Default)]
struct Nearest {
    k: usize,
    /// `k` slots per point (pred points, then target points), each `(cost, partner)` ascending;
    /// unused slots hold `(inf, NONE)`.
    slots: Vec<(f64, u32)>,
    pairs: Vec<(u32, u32)>,
}

impl Nearest {
    fn collect(&mut self, search: &CandidateSearch, pred: &[Point], target: &[Point], k: usize) {
        let n = pred.len();
        self.k = k;
        self.slots.clear();
        self.slots.resize((n + target.len()) * k, (f64::INFINITY, NONE));
        let slots = &mut self.slots;
        let mut offer = |point: usize, cost: f64, partner: usize| {
            let list = &mut slots[point * k..(point + 1) * k];
            // (cost, partner) order: ties go to the lower index, whatever the search order
            if (cost, partner as u32) < list[k - 1] {
                let at = list.partition_point(|&e| e < (cost, partner as u32));
                list.copy_within(at..k - 1, at + 1);
                list[at] = (cost, partner as u32);
            }
        };
        search.for_each_candidate(pred, target, |i, j, cost| {
            offer(i, cost, j);
            offer(n + j, cost, i);
        });
        self.pairs.clear();
        for (point, list) in self.slots.chunks(k.max(1)).enumerate() {
            for &(_, partner) in list.iter().take_while(|e| e.1 != NONE) {
                self.pairs.push(if point < n { (point as u32, partner) } else { (partner, (point - n) as u32) });
            }
        }
        self.pairs.sort_unstable();
        self.pairs.dedup();
    }

    fn pairs(&self) -> &[(u32, u32)] {
        &self.pairs
    }
}

/// The pairs (pred point, target point) in the assignment graph, as sorted adjacency lists of
/// both sides.
#[derive(Default)]
struct PairGraph {
    pairs: Vec<(u32, u32)>,
    merged: Vec<(u32, u32)>,
    pred_first: Vec<u32>,
    pred_partners: Vec<u32>,
    target_first: Vec<u32>,
    target_partners: Vec<u32>,
    by_target: Vec<(u32, u32)>,
}

impl PairGraph {
    fn build(&mut self, n: usize, m: usize, sorted_pairs: &[(u32, u32)]) {
        self.pairs.clear();
        self.pairs.extend_from_slice(sorted_pairs);
        self.index(n, m);
    }

    /// Adds pairs (sorted, none already present).
    fn add(&mut self, n: usize, m: usize, sorted_pairs: &[(u32, u32)]) {
        self.merged.clear();
        let (mut a, mut b) = (self.pairs.iter().peekable(), sorted_pairs.iter().peekable());
        while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
            if x < y {
                self.merged.push(x);
                a.next();
            } else {
                self.merged.push(y);
                b.next();
            }
        }
        self.merged.extend(a);
        self.merged.extend(b);
        std::mem::swap(&mut self.pairs, &mut self.merged);
        self.index(n, m);
    }

    fn index(&mut self, n: usize, m: usize) {
        fn adjacency(len: usize, pairs: &[(u32, u32)], first: &mut Vec<u32>, partners: &mut Vec<u32>) {
            first.clear();
            first.resize(len + 1, 0);
            for &(a, _) in pairs {
                first[a as usize + 1] += 1;
            }
            for k in 0..len {
                first[k + 1] += first[k];
            }
            partners.clear();
            partners.extend(pairs.iter().map(|&(_, b)| b));
        }
        adjacency(n, &self.pairs, &mut self.pred_first, &mut self.pred_partners);
        self.by_target.clear();
        self.by_target.extend(self.pairs.iter().map(|&(i, j)| (j, i)));
        self.by_target.sort_unstable();
        adjacency(m, &self.by_target, &mut self.target_first, &mut self.target_partners);
    }

    fn partners_of_pred(&self, i: usize) -> &[u32] {
        &self.pred_partners[self.pred_first[i] as usize..self.pred_first[i + 1] as usize]
    }

    fn partners_of_target(&self, j: usize) -> &[u32] {
        &self.target_partners[self.target_first[j] as usize..self.target_first[j + 1] as usize]
    }

    fn has(&self, i: usize, j: usize) -> bool {
        self.partners_of_pred(i).binary_search(&(j as u32)).is_ok()
    }
}

const NONE: u32 = u32::MAX;

/// A column reached by the shortest-path search, at `dist` (min-heap order; ties: lower column).
#[derive(Clone, Copy, PartialEq)]
struct Reached {
    dist: f64,
    col: u32,
}

impl Eq for Reached {}

impl Ord for Reached {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.dist.total_cmp(&self.dist).then(other.col.cmp(&self.col))
    }
}

impl PartialOrd for Reached {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The square assignment of the textbook formulation on the graph's pairs. Rows: pred points
/// `0..n`, then the target points' diagonal copies `n..n + m`; columns: target points `0..m`, then
/// the pred points' diagonal copies `m..m + n`. Edges: pred `i` to target `j` (a pair of the
/// graph, cost `|x - y|²`) and to its own diagonal copy (`diag(x)`); target `j`'s diagonal copy to
/// target `j` (`diag(y)`) and, for every pair `(i, j)` of the graph, to pred `i`'s diagonal copy
/// (cost 0: the two diagonal copies left over by a matched pair pair up). Solved by successive
/// shortest augmenting paths with potentials, which may start from any dual feasible potentials
/// with tight assigned edges: in a square problem every perfect matching's cost differs from its
/// total reduced cost by the same constant, so a search may end at any free column.
#[derive(Default)]
struct Assignment {
    col_of_row: Vec<u32>,
    row_of_col: Vec<u32>,
    row_potential: Vec<f64>,
    col_potential: Vec<f64>,
    dist: Vec<f64>,
    /// The row whose edge gave the column its current `dist`.
    reached_from: Vec<u32>,
    /// The search (numbered from 1) that last set `dist`, and the one that last settled the column.
    seen_in: Vec<u32>,
    settled_in: Vec<u32>,
    searches: u32,
    settled: Vec<u32>,
    heap: std::collections::BinaryHeap<Reached>,
}

/// Calls `f(col, cost)` for each edge of `row` (see [`Assignment`]).
#[inline]
fn for_each_edge(graph: &PairGraph, pred: &[Point], target: &[Point], row: usize, mut f: impl FnMut(usize, f64)) {
    let (n, m) = (pred.len(), target.len());
    // A point with a non-finite diagonal cost has no candidate pair, so its diagonal edge is its
    // only one and its cost does not matter to the solver (the result reports the true cost).
    let diagonal = |p: Point| Some(diagonal_cost(p)).filter(|c| c.is_finite()).unwrap_or(0.0);
    if row < n {
        let x = pred[row];
        for &j in graph.partners_of_pred(row) {
            f(j as usize, point_cost(x, target[j as usize]));
        }
        f(m + row, diagonal(x));
    } else {
        let j = row - n;
        f(j, diagonal(target[j]));
        for &i in graph.partners_of_target(j) {
            f(m + i as usize, 0.0);
        }
    }
}

impl Assignment {
    /// Dual feasible potentials (columns 0, each row its cheapest edge) and, greedily, every row
    /// whose cheapest column (the lowest such index) is still free takes it.
    fn start(&mut self, graph: &PairGraph, pred: &[Point], target: &[Point]) {
        let size = pred.len() + target.len();
        let reset = |v: &mut Vec<u32>, value: u32| {
            v.clear();
            v.resize(size, value);
        };
        reset(&mut self.col_of_row, NONE);
        reset(&mut self.row_of_col, NONE);
        reset(&mut self.reached_from, NONE);
        reset(&mut self.seen_in, 0);
        reset(&mut self.settled_in, 0);
        self.searches = 0;
        self.dist.clear();
        self.dist.resize(size, 0.0);
        self.col_potential.clear();
        self.col_potential.resize(size, 0.0);
        self.row_potential.clear();
        for row in 0..size {
            let mut best = (f64::INFINITY, NONE);
            for_each_edge(graph, pred, target, row, |col, cost| {
                if (cost, col as u32) < best {
                    best = (cost, col as u32);
                }
            });
            self.row_potential.push(best.0);
            if self.row_of_col[best.1 as usize] == NONE {
                self.row_of_col[best.1 as usize] = row as u32;
                self.col_of_row[row] = best.1;
            }
        }
    }

    fn augment_free_rows(&mut self, graph: &PairGraph, pred: &[Point], target: &[Point]) {
        for row in 0..self.col_of_row.len() {
            if self.col_of_row[row] == NONE {
                self.augment_from(row, graph, pred, target);
            }
        }
    }

    /// Offers the columns of `row` to the search at distance `base` plus their reduced costs.
    fn relax(&mut self, row: usize, base: f64, graph: &PairGraph, pred: &[Point], target: &[Point]) {
        let (search, u) = (self.searches, self.row_potential[row]);
        let Assignment { col_potential, dist, reached_from, seen_in, settled_in, heap, .. } = self;
        for_each_edge(graph, pred, target, row, |col, cost| {
            if settled_in[col] == search {
                return;
            }
            // Rounding can make a reduced cost a hair negative; Dijkstra needs it non-negative.
            let d = base + (cost - u - col_potential[col]).max(0.0);
            if seen_in[col] != search || d < dist[col] {
                seen_in[col] = search;
                dist[col] = d;
                reached_from[col] = row as u32;
                heap.push(Reached { dist: d, col: col as u32 });
            }
        });
    }

    /// One Dijkstra search from the free `start` row over the alternating graph (row to column by
    /// an edge, column to row by the assignment) to the nearest free column, then the potential
    /// update that keeps every reduced cost non-negative and the assignment tight, then the flip
    /// along the path. The start row's own diagonal column is always an edge, and some column is
    /// free while a row is, so the search ends.
    fn augment_from(&mut self, start: usize, graph: &PairGraph, pred: &[Point], target: &[Point]) {
        self.searches += 1;
        let search = self.searches;
        self.heap.clear();
        self.settled.clear();
        self.relax(start, 0.0, graph, pred, target);
        let (end, length) = loop {
            let Reached { dist, col } = self.heap.pop().expect("a free column is reachable from a free row");
            let col = col as usize;
            if self.settled_in[col] == search || dist > self.dist[col] {
                continue; // an outdated entry
            }
            self.settled_in[col] = search;
            let owner = self.row_of_col[col];
            if owner == NONE {
                break (col, dist);
            }
            self.settled.push(col as u32);
            self.relax(owner as usize, dist, graph, pred, target);
        };
        self.row_potential[start] += length;
        for &col in &self.settled {
            let col = col as usize;
            let slack = length - self.dist[col];
            self.col_potential[col] -= slack;
            self.row_potential[self.row_of_col[col] as usize] += slack;
        }
        let mut col = end;
        loop {
            let row = self.reached_from[col] as usize;
            let previous = self.col_of_row[row];
            self.col_of_row[row] = col as u32;
            self.row_of_col[col] = row as u32;
            if row == start {
                break;
            }
            col = previous as usize;
        }
    }
}

/// Buffers of the dense solver.
#[derive(Default)]
struct DenseBuffers {
    u: Vec<f64>,
    v: Vec<f64>,
    min_v: Vec<f64>,
    way: Vec<usize>,
    owner: Vec<usize>,
    used: Vec<bool>,
}

/// The dense solver of earlier versions (still the fastest where one diagram is small, the training
/// case): candidate points only, then the rectangular assignment on
/// `r × (R + r)`, `r = min(n, m)`: rows are the smaller diagram's points, columns the larger one's
/// points plus `r` shared diagonal columns, solved by the `O(r² (R + r))` Hungarian method.
fn dense_matching_with(ws: &mut DenseBuffers, pred: &[Point], target: &[Point]) -> DiagramMatching {
    // Only pairs with |x - y|² < diag(x) + diag(y) can beat sending both to the diagonal, so some
    // optimal matching uses only such edges: points without one go to the diagonal, and the
    // assignment is solved among the others (an exact reduction; typically it removes the many
    // short noise bars of a prediction).
    let (mut pred_active, mut target_active) = (vec![false; pred.len()], vec![false; target.len()]);
    for (i, &x) in pred.iter().enumerate() {
        let dx = diagonal_cost(x);
        for (j, &y) in target.iter().enumerate() {
            if point_cost(x, y) < dx + diagonal_cost(y) {
                pred_active[i] = true;
                target_active[j] = true;
            }
        }
    }
    let pred_idx: Vec<u32> = (0..pred.len() as u32).filter(|&i| pred_active[i as usize]).collect();
    let target_idx: Vec<u32> = (0..target.len() as u32).filter(|&j| target_active[j as usize]).collect();
    let p: Vec<Point> = pred_idx.iter().map(|&i| pred[i as usize]).collect();
    let t: Vec<Point> = target_idx.iter().map(|&j| target[j as usize]).collect();
    let (matched, _, _) = solve(ws, &p, &t);

    let mut out = DiagramMatching::default();
    let (mut pred_taken, mut target_taken) = (vec![false; pred.len()], vec![false; target.len()]);
    let mut total = 0.0;
    for (a, b) in matched {
        let (i, j) = (pred_idx[a as usize], target_idx[b as usize]);
        pred_taken[i as usize] = true;
        target_taken[j as usize] = true;
        total += point_cost(pred[i as usize], target[j as usize]);
        out.matched.push((i, j));
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
    out.matched.sort_unstable();
    out.cost = total;
    out
}

/// The optimal matching of two diagrams by the rectangular assignment of the module docs:
/// (matched (pred, target) index pairs, unmatched pred, unmatched target).
fn solve(ws: &mut DenseBuffers, pred: &[Point], target: &[Point]) -> (Vec<(u32, u32)>, Vec<u32>, Vec<u32>) {
    // Rows: the smaller diagram.
    let swapped = pred.len() < target.len();
    let (large, small) = if swapped { (target, pred) } else { (pred, target) };
    let (r, big) = (small.len(), large.len());
    let cols = big + r;
    let cost = |row: usize, col: usize| -> f64 {
        let y = small[row];
        if col < big {
            point_cost(large[col], y) - diagonal_cost(large[col])
        } else {
            diagonal_cost(y)
        }
    };
    let col_of_row = assign(ws, r, cols, cost);
    let mut large_taken = vec![false; big];
    let mut small_unmatched = Vec::new();
    let mut matched = Vec::with_capacity(r);
    for (row, &col) in col_of_row.iter().enumerate() {
        if col < big {
            large_taken[col] = true;
            matched.push((col as u32, row as u32));
        } else {
            small_unmatched.push(row as u32);
        }
    }
    let large_unmatched: Vec<u32> = (0..big as u32).filter(|&i| !large_taken[i as usize]).collect();
    if swapped {
        (matched.into_iter().map(|(l, s)| (s, l)).collect(), small_unmatched, large_unmatched)
    } else {
        (matched, large_unmatched, small_unmatched)
    }
}

/// Minimum-cost assignment of `rows` rows to distinct columns out of `cols >= rows`; returns the
/// column of each row. Shortest augmenting paths with row/column potentials (Kuhn–Munkres in the
/// Jonker–Volgenant form): one Dijkstra-like pass over the columns per row.
fn assign(ws: &mut DenseBuffers, rows: usize, cols: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    debug_assert!(rows <= cols);
    if rows == 0 {
        return Vec::new();
    }
    // 1-based arrays; column 0 is the virtual start column, owner[j] = row (1-based) or 0.
    let n = cols + 1;
    ws.u.clear();
    ws.u.resize(rows + 1, 0.0);
    ws.v.clear();
    ws.v.resize(n, 0.0);
    ws.owner.clear();
    ws.owner.resize(n, 0);
    ws.way.clear();
    ws.way.resize(n, 0);
    for i in 1..=rows {
        ws.owner[0] = i;
        let mut j0 = 0usize;
        ws.min_v.clear();
        ws.min_v.resize(n, f64::INFINITY);
        ws.used.clear();
        ws.used.resize(n, false);
        loop {
            ws.used[j0] = true;
            let i0 = ws.owner[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..n {
                if ws.used[j] {
                    continue;
                }
                let reduced = cost(i0 - 1, j - 1) - ws.u[i0] - ws.v[j];
                if reduced < ws.min_v[j] {
                    ws.min_v[j] = reduced;
                    ws.way[j] = j0;
                }
                if ws.min_v[j] < delta {
                    delta = ws.min_v[j];
                    j1 = j;
                }
            }
            debug_assert!(j1 != 0, "an unused column always exists while rows <= cols");
            for j in 0..n {
                if ws.used[j] {
                    let row = ws.owner[j];
                    ws.u[row] += delta;
                    ws.v[j] -= delta;
                } else {
                    ws.min_v[j] -= delta;
                }
            }
            j0 = j1;
            if ws.owner[j0] == 0 {
                break;
            }
        }
        // Augment along the alternating path back to the virtual column.
        loop {
            let j1 = ws.way[j0];
            ws.owner[j0] = ws.owner[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut col_of_row = vec![0usize; rows];
    for j in 1..n {
        if ws.owner[j] != 0 {
            col_of_row[ws.owner[j] - 1] = j - 1;
        }
    }
    col_of_row
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{quickcheck, TestResult};

    /// Optimal cost by brute force over all permutations of the square (n + m) formulation: pred
    /// points and target's diagonal copies on one side, target points and pred's diagonal copies
    /// on the other.
    fn brute_force(pred: &[Point], target: &[Point]) -> f64 {
        let (n, m) = (pred.len(), target.len());
        let size = n + m;
        let cost = |i: usize, j: usize| -> f64 {
            match (i < n, j < m) {
                (true, true) => point_cost(pred[i], target[j]),
                (true, false) => {
                    if j - m == i {
                        diagonal_cost(pred[i])
                    } else {
                        f64::INFINITY
                    }
                }
                (false, true) => {
                    if i - n == j {
                        diagonal_cost(target[j])
                    } else {
                        f64::INFINITY
                    }
                }
                (false, false) => 0.0,
            }
        };
        let mut perm: Vec<usize> = (0..size).collect();
        let mut best = f64::INFINITY;
        permute(&mut perm, 0, &mut |p| {
            let c: f64 = p.iter().enumerate().map(|(i, &j)| cost(i, j)).sum();
            if c < best {
                best = c;
            }
        });
        best
    }

    fn permute(p: &mut Vec<usize>, k: usize, visit: &mut impl FnMut(&[usize])) {
        if k == p.len() {
            visit(p);
            return;
        }
        for i in k..p.len() {
            p.swap(k, i);
            permute(p, k + 1, visit);
            p.swap(k, i);
        }
    }

    /// Checks that `m` is a valid matching of the diagrams and that its cost is what it says.
    fn check_valid(pred: &[Point], target: &[Point], m: &DiagramMatching) {
        let mut seen_p = vec![0; pred.len()];
        let mut seen_t = vec![0; target.len()];
        let mut cost = 0.0;
        for &(i, j) in &m.matched {
            seen_p[i as usize] += 1;
            seen_t[j as usize] += 1;
            cost += point_cost(pred[i as usize], target[j as usize]);
        }
        for &i in &m.unmatched_pred {
            seen_p[i as usize] += 1;
            cost += diagonal_cost(pred[i as usize]);
        }
        for &j in &m.unmatched_target {
            seen_t[j as usize] += 1;
            cost += diagonal_cost(target[j as usize]);
        }
        assert!(seen_p.iter().all(|&c| c == 1), "{m:?}");
        assert!(seen_t.iter().all(|&c| c == 1), "{m:?}");
        assert!((cost - m.cost).abs() < 1e-9, "{cost} vs {}", m.cost);
    }

    /// Small deterministic generator (xorshift) so the tests need no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() * n as f64) as usize
        }
        fn diagram(&mut self, len: usize, grid: bool) -> Vec<Point> {
            (0..len)
                .map(|_| {
                    let (mut a, mut b) = (self.next(), self.next());
                    if grid {
                        // coarse values: many ties
                        a = (a * 4.0).floor() / 4.0;
                        b = (b * 4.0).floor() / 4.0;
                    }
                    Point::new(a.min(b), a.max(b))
                })
                .collect()
        }
    }

    #[test]
    fn matches_brute_force_on_small_diagrams() {
        let mut rng = Rng(0x9e3779b97f4a7c15);
        for case in 0..600 {
            let (n, m) = (rng.below(5), rng.below(5));
            let grid = case % 3 == 0;
            let pred = rng.diagram(n, grid);
            let target = rng.diagram(m, grid);
            let got = optimal_matching(&pred, &target);
            check_valid(&pred, &target, &got);
            let want = brute_force(&pred, &target);
            assert!((got.cost - want).abs() < 1e-9, "case {case}: {} vs {want}\n{pred:?}\n{target:?}", got.cost);
            // the oracle itself, so that the larger comparisons below rest on something checked
            let dense = dense::optimal_cost(&pred, &target);
            assert!((dense - want).abs() < 1e-9, "case {case}: dense {dense} vs {want}");
        }
    }

    #[test]
    fn symmetric_in_its_arguments() {
        let mut rng = Rng(12345);
        for _ in 0..200 {
            let (n, m) = (rng.below(30), rng.below(30));
            let pred = rng.diagram(n, false);
            let target = rng.diagram(m, false);
            let a = optimal_matching(&pred, &target);
            let b = optimal_matching(&target, &pred);
            check_valid(&pred, &target, &a);
            assert!((a.cost - b.cost).abs() < 1e-9);
        }
    }

    #[test]
    fn empty_and_identical_diagrams() {
        let d = vec![Point::new(0.0, 1.0), Point::new(0.2, 0.5)];
        let m = optimal_matching(&d, &[]);
        assert!(m.matched.is_empty());
        assert_eq!(m.unmatched_pred, vec![0, 1]);
        assert!((m.cost - (0.5 + 0.5 * 0.09)).abs() < 1e-12);
        let m = optimal_matching(&[], &d);
        assert_eq!(m.unmatched_target, vec![0, 1]);
        let m = optimal_matching(&d, &d);
        assert_eq!(m.matched, vec![(0, 0), (1, 1)]);
        assert_eq!(m.cost, 0.0);
        assert_eq!(optimal_matching(&[], &[]), DiagramMatching::default());
    }

    #[test]
    fn prefers_the_diagonal_for_short_bars() {
        // A short pred bar far from the target point goes to the diagonal; the long one matches.
        let pred = [Point::new(0.45, 0.55), Point::new(0.1, 0.9)];
        let target = [Point::new(0.0, 1.0)];
        let m = optimal_matching(&pred, &target);
        assert_eq!(m.matched, vec![(1, 0)]);
        assert_eq!(m.unmatched_pred, vec![0]);
        assert!((m.cost - (0.02 + 0.5 * 0.01)).abs() < 1e-12);
    }

    /// The dense rectangular assignment of earlier versions, kept as an oracle: rows are the
    /// smaller diagram's points, columns the larger one's points plus `rows` shared diagonal
    /// columns, all pairs allowed, solved by the O(r² (R + r)) Hungarian method.
    mod dense {
        use super::super::{diagonal_cost, point_cost, Point};

        pub fn optimal_cost(pred: &[Point], target: &[Point]) -> f64 {
            let (large, small) = if pred.len() < target.len() { (target, pred) } else { (pred, target) };
            let (rows, big) = (small.len(), large.len());
            let cost = |row: usize, col: usize| -> f64 {
                if col < big {
                    point_cost(large[col], small[row]) - diagonal_cost(large[col])
                } else {
                    diagonal_cost(small[row])
                }
            };
            let n = big + rows + 1;
            let (mut u, mut v) = (vec![0.0; rows + 1], vec![0.0; n]);
            let (mut owner, mut way) = (vec![0usize; n], vec![0usize; n]);
            for i in 1..=rows {
                owner[0] = i;
                let mut j0 = 0;
                let (mut min_v, mut used) = (vec![f64::INFINITY; n], vec![false; n]);
                loop {
                    used[j0] = true;
                    let i0 = owner[j0];
                    let (mut delta, mut j1) = (f64::INFINITY, 0);
                    for j in 1..n {
                        if !used[j] {
                            let reduced = cost(i0 - 1, j - 1) - u[i0] - v[j];
                            if reduced < min_v[j] {
                                min_v[j] = reduced;
                                way[j] = j0;
                            }
                            if min_v[j] < delta {
                                delta = min_v[j];
                                j1 = j;
                            }
                        }
                    }
                    for j in 0..n {
                        if used[j] {
                            u[owner[j]] += delta;
                            v[j] -= delta;
                        } else {
                            min_v[j] -= delta;
                        }
                    }
                    j0 = j1;
                    if owner[j0] == 0 {
                        break;
                    }
                }
                loop {
                    let j1 = way[j0];
                    owner[j0] = owner[j1];
                    j0 = j1;
                    if j0 == 0 {
                        break;
                    }
                }
            }
            let mut total: f64 = large.iter().map(|&x| diagonal_cost(x)).sum();
            for j in 1..n {
                if owner[j] != 0 {
                    total += cost(owner[j] - 1, j - 1);
                }
            }
            total
        }
    }


    /// The dense path (what `optimal_matching` picks for these small inputs) and the sparse one.
    fn both_solvers(pred: &[Point], target: &[Point]) -> [DiagramMatching; 2] {
        [
            dense_matching_with(&mut DenseBuffers::default(), pred, target),
            matching_from_nearest(&mut Workspace::default(), pred, target, START_NEIGHBOURS),
        ]
    }

    /// A diagram on a grid of `levels` values in [0, 1]: coarse grids give many ties, repeated
    /// points and points on the diagonal.
    fn grid_diagram(raw: &[(u8, u8)], levels: u8) -> Vec<Point> {
        let levels = 2 + levels % 24;
        let value = |a: u8| f64::from(a % levels) / f64::from(levels - 1);
        raw.iter().map(|&(a, b)| Point::new(value(a).min(value(b)), value(a).max(value(b)))).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    quickcheck! {
        fn small_grids_match_brute_force(p: Vec<(u8, u8)>, t: Vec<(u8, u8)>, levels: u8) -> bool {
            let (pred, target) = (grid_diagram(&p[..p.len().min(4)], levels), grid_diagram(&t[..t.len().min(3)], levels));
            let want = brute_force(&pred, &target);
            both_solvers(&pred, &target).iter().all(|got| {
                check_valid(&pred, &target, got);
                close(got.cost, want)
            })
        }

        fn grids_match_the_dense_oracle(p: Vec<(u8, u8)>, t: Vec<(u8, u8)>, levels: u8) -> bool {
            let (pred, target) = (grid_diagram(&p, levels), grid_diagram(&t, levels));
            let want = dense::optimal_cost(&pred, &target);
            both_solvers(&pred, &target).iter().all(|got| {
                check_valid(&pred, &target, got);
                close(got.cost, want)
            })
        }

        fn few_starting_neighbours_leave_the_cost_optimal(p: Vec<(u8, u8)>, t: Vec<(u16, u16)>, levels: u8, k: u8) -> bool {
            let pred = grid_diagram(&p, levels);
            let target: Vec<Point> =
                t.iter().map(|&(a, b)| Point::new(f64::from(a.min(b)) / 65535.0, f64::from(a.max(b)) / 65535.0)).collect();
            let got = matching_from_nearest(&mut Workspace::default(), &pred, &target, 1 + usize::from(k % 3));
            check_valid(&pred, &target, &got);
            close(got.cost, dense::optimal_cost(&pred, &target))
        }

        fn fine_values_match_the_dense_oracle(p: Vec<(u16, u16)>, t: Vec<(u16, u16)>) -> bool {
            let value = |a: u16| f64::from(a) / 65535.0;
            let diagram = |raw: &[(u16, u16)]| -> Vec<Point> {
                raw.iter().map(|&(a, b)| Point::new(value(a).min(value(b)), value(a).max(value(b)))).collect()
            };
            let (pred, target) = (diagram(&p), diagram(&t));
            let want = dense::optimal_cost(&pred, &target);
            both_solvers(&pred, &target).iter().all(|got| {
                check_valid(&pred, &target, got);
                close(got.cost, want)
            })
        }

        fn identical_diagrams_cost_nothing(p: Vec<(u8, u8)>, levels: u8) -> bool {
            let d = grid_diagram(&p, levels);
            // points on the diagonal may go there (at no cost); every other point finds a twin
            both_solvers(&d, &d).iter().all(|got| {
                check_valid(&d, &d, got);
                got.cost == 0.0 && got.unmatched_pred.iter().all(|&i| diagonal_cost(d[i as usize]) == 0.0)
            })
        }

        fn an_empty_side_sends_everything_to_the_diagonal(p: Vec<(u8, u8)>, levels: u8) -> bool {
            let d = grid_diagram(&p, levels);
            let all: Vec<u32> = (0..d.len() as u32).collect();
            let total: f64 = d.iter().map(|&x| diagonal_cost(x)).sum();
            let a = optimal_matching(&d, &[]);
            let b = optimal_matching(&[], &d);
            a.matched.is_empty() && a.unmatched_pred == all && a.unmatched_target.is_empty() && close(a.cost, total)
                && b.matched.is_empty() && b.unmatched_target == all && b.unmatched_pred.is_empty() && close(b.cost, total)
        }

        fn swapping_the_sides_keeps_the_cost(p: Vec<(u8, u8)>, t: Vec<(u8, u8)>, levels: u8) -> bool {
            let (pred, target) = (grid_diagram(&p, levels), grid_diagram(&t, levels));
            close(optimal_matching(&pred, &target).cost, optimal_matching(&target, &pred).cost)
        }

        fn the_strip_search_finds_every_candidate_pair(p: Vec<(u8, u8)>, t: Vec<(u16, u16)>, levels: u8) -> TestResult {
            let rows = grid_diagram(&p, levels);
            let cols: Vec<Point> =
                t.iter().map(|&(a, b)| Point::new(f64::from(a.min(b)) / 65535.0, f64::from(a.max(b)) / 65535.0)).collect();
            let mut search = CandidateSearch::default();
            search.build(&rows, &cols);
            let mut found = Vec::new();
            search.for_each_candidate(&rows, &cols, |i, j, cost| found.push((i as u32, j as u32, cost)));
            found.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let mut want = Vec::new();
            for (r, &x) in rows.iter().enumerate() {
                for (c, &y) in cols.iter().enumerate() {
                    if is_candidate(x, y) {
                        want.push((r as u32, c as u32, point_cost(x, y)));
                    }
                }
            }
            TestResult::from_bool(found == want)
        }

        fn a_reused_workspace_changes_nothing(p: Vec<(u8, u8)>, t: Vec<(u8, u8)>, other: Vec<(u8, u8)>, levels: u8) -> bool {
            let (pred, target, other) = (grid_diagram(&p, levels), grid_diagram(&t, levels), grid_diagram(&other, levels));
            let fresh = matching_from_nearest(&mut Workspace::default(), &pred, &target, 2);
            let mut ws = Workspace::default();
            matching_from_nearest(&mut ws, &other, &pred, 2);
            matching_from_nearest(&mut ws, &target, &other, 2);
            matching_from_nearest(&mut ws, &pred, &target, 2) == fresh
        }
    }

    /// Diagrams of white-noise images: hundreds of points, most of them near the diagonal.
    fn noise_diagrams(side: usize, seed: u64) -> [Vec<Point>; 2] {
        let shape = crate::Shape::new(side, side);
        let mut rng = crate::test_rng::XorShift::new(seed);
        let values: Vec<f64> = (0..side * side).map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).collect();
        let bars = crate::persistence::barcode(&values, shape, crate::Connectivity::Four).unwrap();
        [0, 1].map(|d| {
            bars.pairs[d].iter().map(|p| Point::new(values[p.birth as usize], values[p.death as usize])).collect()
        })
    }

    #[test]
    fn noise_diagrams_match_the_dense_oracle() {
        for (side, seed) in [(24, 1), (32, 2), (32, 3)] {
            let pred = noise_diagrams(side, seed);
            let target = noise_diagrams(side, seed + 100);
            for d in 0..2 {
                let got = matching_from_nearest(&mut Workspace::default(), &pred[d], &target[d], START_NEIGHBOURS);
                check_valid(&pred[d], &target[d], &got);
                let want = dense::optimal_cost(&pred[d], &target[d]);
                assert!(close(got.cost, want), "{side}² dim {d}: {} vs {want}", got.cost);
                for neighbours in [1, 3] {
                    let few = matching_from_nearest(&mut Workspace::default(), &pred[d], &target[d], neighbours);
                    check_valid(&pred[d], &target[d], &few);
                    assert!(close(few.cost, want), "{side}² dim {d}, {neighbours} neighbours: {} vs {want}", few.cost);
                }
                // and deterministic
                let again = matching_from_nearest(&mut Workspace::default(), &pred[d], &target[d], START_NEIGHBOURS);
                assert_eq!(again, got);
                assert!(close(optimal_matching(&pred[d], &target[d]).cost, want));
            }
        }
    }

    #[test]
    fn non_finite_points_go_to_the_diagonal_without_a_panic() {
        let pred = [Point::new(0.0, f64::INFINITY), Point::new(0.0, 1.0), Point::new(f64::NAN, 0.5)];
        let target = [Point::new(0.0, 1.0), Point::new(f64::NEG_INFINITY, 2.0)];
        for m in both_solvers(&pred, &target) {
            assert_eq!(m.matched, vec![(1, 0)]);
            assert_eq!(m.unmatched_pred, vec![0, 2]);
            assert_eq!(m.unmatched_target, vec![1]);
        }
    }
}
