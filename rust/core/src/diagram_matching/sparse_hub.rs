//! The sparse solver of the hub form (see the module docs): shortest augmenting paths on a graph
//! of candidate pairs plus every row's hub edge, then pricing rounds that check the potentials
//! against every candidate pair and repair them where one is violated.
//!
//! Rows are the points of one diagram, columns those of the other, and the hub the row side's
//! diagonal: row `r` to column `c` costs `|x - y|² - diag(y)` (the column's diagonal cost is paid
//! up front, so that an unmatched column costs nothing), row `r` to the hub `diag(x)`. Every row
//! is assigned to a column or to the hub, a column takes at most one row, the hub any number.
//! Potentials `u` (rows) and `v` (columns, the hub's is 0) certify optimality (LP duality) when
//! every reduced cost `cost - u[r] - v[c]` is non-negative, assigned edges are tight, `v <= 0`,
//! and free columns have `v = 0`. Successive shortest paths keep all of that: a search from a
//! free row ends at the first free column or the hub it reaches (all at potential 0), and only
//! the columns it settled before that get lower potentials.

use super::{diagonal_cost, Point, NONE};

/// The row is assigned to the hub (in `col_of_row`).
pub(super) const HUB: u32 = u32::MAX - 1;

/// A column reached by the search, at `dist` (min-heap order; ties: the lower column).
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

/// The hub cost of a point: a point with a non-finite diagonal cost has no candidate pair, so
/// the hub is its only edge and the value does not matter to the solver (the result reports the
/// true cost).
#[inline]
pub(super) fn hub_cost(p: Point) -> f64 {
    Some(diagonal_cost(p)).filter(|c| c.is_finite()).unwrap_or(0.0)
}

/// The graph (rows' sorted adjacency with reduced-form costs, and the columns' adjacency), the
/// assignment, the potentials and the search buffers.
#[derive(Default)]
pub(super) struct SparseHub {
    /// Edges as sorted (row, col) pairs; `edge_cost[k]` belongs to `pairs[k]`.
    pairs: Vec<(u32, u32)>,
    merged: Vec<(u32, u32)>,
    row_first: Vec<u32>,
    edge_col: Vec<u32>,
    edge_cost: Vec<f64>,
    col_first: Vec<u32>,
    /// For each column, the edges (indices into `edge_col`) that reach it.
    col_edges: Vec<u32>,
    col_fill: Vec<u32>,
    hub: Vec<f64>,
    pub(super) col_of_row: Vec<u32>,
    pub(super) row_of_col: Vec<u32>,
    u: Vec<f64>,
    v: Vec<f64>,
    dist: Vec<f64>,
    reached_from: Vec<u32>,
    seen_in: Vec<u32>,
    settled_in: Vec<u32>,
    searches: u32,
    settled: Vec<u32>,
    heap: std::collections::BinaryHeap<Reached>,
    worst: Vec<(f64, u32)>,
    new_pairs: Vec<(u32, u32)>,
    lowered: Vec<(u32, f64)>,
    /// (pricing rounds, searches, columns settled, edges added, rows freed by the repairs)
    pub(super) stats: [usize; 5],
}

impl SparseHub {
    /// The optimal assignment of `rows` to `cols` and the hub, starting from the (row, col)
    /// `pairs` (sorted, candidates only) and completed by pricing against every candidate pair:
    /// `for_each_candidate(f)` must call `f(row, col, |x - y|²)` for each of them.
    pub(super) fn solve(
        &mut self,
        rows: &[Point],
        cols: &[Point],
        pairs: &[(u32, u32)],
        mut for_each_candidate: impl FnMut(&mut dyn FnMut(usize, usize, f64)),
    ) {
        self.pairs.clear();
        self.pairs.extend_from_slice(pairs);
        self.index(rows, cols);
        self.start(rows.len(), cols.len());
        // Reduced costs of edges in the graph may be a hair negative after rounding; a violation
        // has to be larger than that to count.
        let scale = rows.iter().chain(cols).map(|&p| hub_cost(p)).fold(1.0, f64::max);
        let tolerance = 1e-12 * scale;
        self.stats = [0; 5];
        loop {
            self.stats[0] += 1;
            for _ in 0..2 {
                self.reduce_free_rows();
            }
            self.augment_free_rows();
            if !self.price(rows, cols, tolerance, &mut for_each_candidate) {
                break;
            }
        }
    }

    /// The CSR adjacency of rows and of columns from `pairs`.
    fn index(&mut self, rows: &[Point], cols: &[Point]) {
        let (n, m) = (rows.len(), cols.len());
        self.row_first.clear();
        self.row_first.resize(n + 1, 0);
        self.col_first.clear();
        self.col_first.resize(m + 1, 0);
        for &(r, c) in &self.pairs {
            self.row_first[r as usize + 1] += 1;
            self.col_first[c as usize + 1] += 1;
        }
        for k in 0..n {
            self.row_first[k + 1] += self.row_first[k];
        }
        for k in 0..m {
            self.col_first[k + 1] += self.col_first[k];
        }
        self.edge_col.clear();
        self.edge_cost.clear();
        for &(r, c) in &self.pairs {
            let (x, y) = (rows[r as usize], cols[c as usize]);
            self.edge_col.push(c);
            self.edge_cost.push(super::point_cost(x, y) - diagonal_cost(y));
        }
        self.col_fill.clear();
        self.col_fill.extend_from_slice(&self.col_first[..m]);
        self.col_edges.clear();
        self.col_edges.resize(self.pairs.len(), 0);
        for (k, &(_, c)) in self.pairs.iter().enumerate() {
            let at = &mut self.col_fill[c as usize];
            self.col_edges[*at as usize] = k as u32;
            *at += 1;
        }
        self.hub.clear();
        self.hub.extend(rows.iter().map(|&p| hub_cost(p)));
    }

    #[inline]
    fn edges(&self, row: usize) -> std::ops::Range<usize> {
        self.row_first[row] as usize..self.row_first[row + 1] as usize
    }

    /// Potentials `v = 0`, each row's `u` its cheapest edge; every row whose cheapest edge (the
    /// hub on ties with it, else the lowest column) is the hub or a free column takes it.
    fn start(&mut self, n: usize, m: usize) {
        let reset = |v: &mut Vec<u32>, len: usize, value: u32| {
            v.clear();
            v.resize(len, value);
        };
        reset(&mut self.col_of_row, n, NONE);
        reset(&mut self.row_of_col, m, NONE);
        reset(&mut self.reached_from, m, NONE);
        reset(&mut self.seen_in, m, 0);
        reset(&mut self.settled_in, m, 0);
        self.searches = 0;
        self.dist.clear();
        self.dist.resize(m, 0.0);
        self.v.clear();
        self.v.resize(m, 0.0);
        self.u.clear();
        for row in 0..n {
            let mut best = (self.hub[row], HUB);
            for e in self.edges(row) {
                if (self.edge_cost[e], self.edge_col[e]) < best {
                    best = (self.edge_cost[e], self.edge_col[e]);
                }
            }
            self.u.push(best.0);
            if best.1 == HUB {
                self.col_of_row[row] = HUB;
            } else if self.row_of_col[best.1 as usize] == NONE {
                self.row_of_col[best.1 as usize] = row as u32;
                self.col_of_row[row] = best.1;
            }
        }
    }

    /// Augmenting row reduction (Jonker and Volgenant's auction-like pass): each free row takes
    /// its best column at a price that makes it indifferent between that and its second best
    /// (the column's potential drops by the difference), displacing the column's row, which
    /// continues the same way while the price strictly dropped (up to a bound) and otherwise waits
    /// for the next pass. The columns that move keep an owner, so free columns stay at 0, and
    /// every reduced cost stays non-negative; the search below finishes what this leaves free.
    fn reduce_free_rows(&mut self) {
        let n = self.col_of_row.len();
        let mut steps = 0usize;
        for start in 0..n {
            if self.col_of_row[start] != NONE {
                continue;
            }
            let mut row = start;
            loop {
                let (first, second) = self.best_two(row);
                let dropped = first.0 < second.0;
                let (mut value, mut col) = first;
                if col != HUB && dropped {
                    self.v[col as usize] -= second.0 - first.0;
                    value = second.0;
                } else if col != HUB && self.row_of_col[col as usize] != NONE {
                    // a tie: the second best may be the hub or free
                    let free = second.1 == HUB || self.row_of_col[second.1 as usize] == NONE;
                    if free {
                        col = second.1;
                    }
                }
                self.u[row] = value;
                self.col_of_row[row] = col;
                if col == HUB {
                    break;
                }
                let owner = self.row_of_col[col as usize];
                self.row_of_col[col as usize] = row as u32;
                if owner == NONE {
                    break;
                }
                self.col_of_row[owner as usize] = NONE;
                steps += 1;
                if !dropped || steps > 4 * n {
                    break;
                }
                row = owner as usize;
            }
        }
    }

    /// The best and second best (reduced value, column) of `row` over its edges and the hub
    /// (`HUB`); ties go to the lower column, the hub last.
    #[inline]
    fn best_two(&self, row: usize) -> ((f64, u32), (f64, u32)) {
        let mut first = (self.hub[row], HUB);
        let mut second = (f64::INFINITY, NONE);
        for e in self.edges(row) {
            let c = self.edge_col[e];
            let value = (self.edge_cost[e] - self.v[c as usize], c);
            if value < first {
                second = first;
                first = value;
            } else if value < second {
                second = value;
            }
        }
        (first, second)
    }

    fn augment_free_rows(&mut self) {
        for row in 0..self.col_of_row.len() {
            if self.col_of_row[row] == NONE {
                self.augment_from(row);
            }
        }
    }

    /// Offers `row`'s columns to the search at `base` plus their reduced costs; returns the
    /// distance at which it reaches the hub.
    #[inline]
    fn relax(&mut self, row: usize, base: f64) -> f64 {
        let (search, u) = (self.searches, self.u[row]);
        for e in self.edges(row) {
            let col = self.edge_col[e] as usize;
            if self.settled_in[col] == search {
                continue;
            }
            // Rounding can make a reduced cost a hair negative; Dijkstra needs it non-negative.
            let d = base + (self.edge_cost[e] - u - self.v[col]).max(0.0);
            if self.seen_in[col] != search || d < self.dist[col] {
                self.seen_in[col] = search;
                self.dist[col] = d;
                self.reached_from[col] = row as u32;
                self.heap.push(Reached { dist: d, col: col as u32 });
            }
        }
        base + (self.hub[row] - u).max(0.0)
    }

    /// One Dijkstra search from the free `start` row over the alternating graph (row to column by
    /// an edge, column to row by the assignment) to the nearest free column or the hub (the hub
    /// on a tie), then the potential update that keeps every reduced cost non-negative and the
    /// assignment tight, then the flip along the path.
    fn augment_from(&mut self, start: usize) {
        self.searches += 1;
        self.stats[1] += 1;
        let search = self.searches;
        self.heap.clear();
        self.settled.clear();
        let mut hub = (self.relax(start, 0.0), start);
        let (end, length) = loop {
            let top = match self.heap.peek() {
                Some(&top) if top.dist < hub.0 => top,
                _ => break (HUB, hub.0),
            };
            self.heap.pop();
            let col = top.col as usize;
            if self.settled_in[col] == search || top.dist > self.dist[col] {
                continue; // an outdated entry
            }
            self.settled_in[col] = search;
            let owner = self.row_of_col[col];
            if owner == NONE {
                break (col as u32, top.dist);
            }
            self.settled.push(col as u32);
            self.stats[2] += 1;
            let at_hub = self.relax(owner as usize, top.dist);
            if at_hub < hub.0 {
                hub = (at_hub, owner as usize);
            }
        };
        self.u[start] += length;
        for &col in &self.settled {
            let col = col as usize;
            let slack = length - self.dist[col];
            self.v[col] -= slack;
            self.u[self.row_of_col[col] as usize] += slack;
        }
        let (mut col, mut row) = if end == HUB { (HUB, hub.1) } else { (end, self.reached_from[end as usize] as usize) };
        loop {
            let previous = self.col_of_row[row];
            self.col_of_row[row] = col;
            if col != HUB {
                self.row_of_col[col as usize] = row as u32;
            }
            if row == start {
                break;
            }
            col = previous;
            row = self.reached_from[col as usize] as usize;
        }
    }

    /// The optimality check: no candidate pair may have a negative reduced cost (pairs that are
    /// no candidates never do: see the module docs). The most violated pair of each row joins
    /// the graph and the potentials are repaired (below) so that every edge of the graph is
    /// feasible again, assigned edges tight and free columns at 0. Returns whether any pair was
    /// added (each round adds one at least, so the rounds end).
    fn price(
        &mut self,
        rows: &[Point],
        cols: &[Point],
        tolerance: f64,
        for_each_candidate: &mut impl FnMut(&mut dyn FnMut(usize, usize, f64)),
    ) -> bool {
        let (n, m) = (self.col_of_row.len(), cols.len());
        self.worst.clear();
        self.worst.resize(n, (-tolerance, NONE));
        {
            let SparseHub { worst, u, v, row_first, edge_col, .. } = &mut *self;
            // (an edge of the graph never counts: its reduced cost is only ever a rounding error
            // below 0, and it must not hide a true violation of its row)
            let in_graph = |r: usize, c: u32| edge_col[row_first[r] as usize..row_first[r + 1] as usize].binary_search(&c).is_ok();
            for_each_candidate(&mut |r, c, cost| {
                let reduced = cost - diagonal_cost(cols[c]) - u[r] - v[c];
                // Ties go to the first column from the row's own index on (cyclically), so that
                // rows tied over many identical columns do not all pick the same one.
                let turn = ((c + m - r % m) % m) as u32;
                if (reduced, turn) < worst[r] && !in_graph(r, c as u32) {
                    worst[r] = (reduced, turn);
                }
            });
        }
        self.new_pairs.clear();
        for (r, &(_, turn)) in self.worst.iter().enumerate() {
            if turn != NONE {
                self.new_pairs.push((r as u32, ((turn as usize + r) % m) as u32));
            }
        }
        if self.new_pairs.is_empty() {
            return false;
        }
        self.stats[3] += self.new_pairs.len();
        // The new edges join the graph first (the cascade needs the columns' full adjacency).
        crate::order::merge_sorted_into(&self.pairs, &self.new_pairs, &mut self.merged);
        std::mem::swap(&mut self.pairs, &mut self.merged);
        self.index(rows, cols);
        // Repair: each new edge's row is lowered to make it feasible; a row on a column keeps it
        // (tight) as the column's potential rises by as much, which may make other rows' edges to
        // that column infeasible, repaired the same way in turn (potentials only move down for
        // rows and up for columns, so it settles). A column may not rise above 0 (the free
        // columns' level): its row is then freed instead, as is a row on the hub. Past a bound on
        // the steps every column goes straight to 0, which ends the repair after at most one
        // raise per column.
        self.lowered.clear();
        for k in 0..self.new_pairs.len() {
            let (r, c) = self.new_pairs[k];
            let e = self.find(r as usize, c).expect("a new pair is in the graph");
            self.lowered.push((r, self.edge_cost[e] - self.v[c as usize]));
        }
        let limit = 8 * (n + self.pairs.len());
        let mut steps = 0usize;
        while let Some((r, to)) = self.lowered.pop() {
            let r = r as usize;
            if to >= self.u[r] {
                continue;
            }
            steps += 1;
            let drop = self.u[r] - to;
            self.u[r] = to;
            let c = self.col_of_row[r];
            if c == NONE {
                continue;
            }
            if c == HUB {
                self.col_of_row[r] = NONE;
                self.stats[4] += 1;
                continue;
            }
            let c = c as usize;
            let mut raised = self.v[c] + drop;
            if raised >= 0.0 || steps > limit {
                raised = 0.0;
                self.col_of_row[r] = NONE;
                self.row_of_col[c] = NONE;
                self.stats[4] += 1;
            }
            if raised <= self.v[c] {
                continue;
            }
            self.v[c] = raised;
            for k in self.col_first[c] as usize..self.col_first[c + 1] as usize {
                let e = self.col_edges[k] as usize;
                let other = self.pairs[e].0 as usize;
                let feasible = self.edge_cost[e] - raised;
                if feasible < self.u[other] {
                    self.lowered.push((other as u32, feasible));
                }
            }
        }
        true
    }

    fn find(&self, r: usize, c: u32) -> Option<usize> {
        let range = self.edges(r);
        let start = range.start;
        self.edge_col[range].binary_search(&c).ok().map(|k| start + k)
    }

}
