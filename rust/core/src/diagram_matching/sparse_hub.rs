//! The sparse solver of the hub form (see the module docs): shortest augmenting paths on a graph
//! of candidate pairs plus every row's hub edge, then pricing rounds that check the potentials
//! against every candidate pair and repair them where one is violated.
//!
//! Rows are the points of one diagram, columns those of the other, and the hub the row side's
//! diagonal: row `r` to column `c` costs `|x - y|² - diag(y)` (the column's diagonal cost is paid
//! up front, so that an unmatched column costs nothing), row `r` to the hub `diag(x)`. Every row
//! is assigned to a column or to the hub, a column takes at most one row, the hub any number.
//! As a flow: each row sends one unit, to a column or to the hub; each column takes one, from a
//! row or from the hub (its diagonal; a free column). Potentials `u` (rows), `v` (columns) and
//! `h` (the hub) certify optimality (LP duality) when every residual arc has a non-negative
//! reduced cost: `cost - u[r] - v[c]` for an edge, `diag(x) - u[r] - h` for a hub edge (both
//! zero where used), `h - v[c]` for the hub to a column it does not feed, `v[c] - h` for a free
//! column back to the hub. Successive shortest paths (Dijkstra on reduced costs, the Johnson
//! update of the settled nodes' potentials) keep that; a search from a free row ends at the
//! hub, through a row's hub edge or a free column, unless every free row is owed to a column
//! that a repair left waiting, then at the nearest waiting column (through the hub if need be).
//! Until the first repair `h = 0` and every free column is at 0, the classic hub form.

use super::{diagonal_cost, Point, NONE};

/// The row is assigned to the hub (in `col_of_row`); the column was reached from the hub (in
/// `reached_from`).
pub(super) const HUB: u32 = u32::MAX - 1;

/// The column lost its row to a repair and is owed one (in `row_of_col`); [`NONE`] there means
/// the column goes to its diagonal.
const WAITING: u32 = u32::MAX - 2;

/// How a search enters the hub: by a row's hub edge, or through a free column (whose diagonal
/// then takes the unit).
#[derive(Clone, Copy)]
enum HubEntry {
    Row(u32),
    Col(u32),
}

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

/// The graph (rows' sorted adjacency with reduced-form costs), the assignment, the potentials and the search buffers.
#[derive(Default)]
pub(super) struct SparseHub {
    /// Edges as sorted (row, col) pairs; `edge_cost[k]` belongs to `pairs[k]`.
    pairs: Vec<(u32, u32)>,
    merged: Vec<(u32, u32)>,
    row_first: Vec<u32>,
    edge_col: Vec<u32>,
    edge_cost: Vec<f64>,
    hub: Vec<f64>,
    pub(super) col_of_row: Vec<u32>,
    pub(super) row_of_col: Vec<u32>,
    u: Vec<f64>,
    v: Vec<f64>,
    /// The hub's potential (0 until a search settles it).
    h: f64,
    /// Columns that lost their row to a repair and wait for a new one ([`WAITING`]).
    waiting: usize,
    dist: Vec<f64>,
    reached_from: Vec<u32>,
    seen_in: Vec<u32>,
    settled_in: Vec<u32>,
    searches: u32,
    settled: Vec<u32>,
    heap: std::collections::BinaryHeap<Reached>,
    worst: Vec<(f64, u32)>,
    new_pairs: Vec<(u32, u32)>,
    /// (pricing rounds, searches, columns settled, edges added, rows freed by the repairs,
    /// searches that passed through the hub to a waiting column)
    pub(super) stats: [usize; 6],
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
        self.stats = [0; 6];
        loop {
            self.stats[0] += 1;
            if self.stats[0] == 1 {
                // (the auction-like passes assume the starting state: the hub and every column
                // without a row at potential 0, no column waiting)
                for _ in 0..2 {
                    self.reduce_free_rows();
                }
            }
            self.augment_free_rows();
            #[cfg(test)]
            self.check_invariants();
            if !self.price(rows, cols, tolerance, &mut for_each_candidate) {
                break;
            }
        }
    }

    /// The CSR adjacency of the rows from `pairs`, with the edges' costs.
    fn index(&mut self, rows: &[Point], cols: &[Point]) {
        let n = rows.len();
        self.row_first.clear();
        self.row_first.resize(n + 1, 0);
        for &(r, _) in &self.pairs {
            self.row_first[r as usize + 1] += 1;
        }
        for k in 0..n {
            self.row_first[k + 1] += self.row_first[k];
        }
        self.edge_col.clear();
        self.edge_cost.clear();
        for &(r, c) in &self.pairs {
            let (x, y) = (rows[r as usize], cols[c as usize]);
            self.edge_col.push(c);
            self.edge_cost.push(super::point_cost(x, y) - diagonal_cost(y));
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
        self.h = 0.0;
        self.waiting = 0;
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
        let mut free = self.col_of_row.iter().filter(|&&c| c == NONE).count();
        for row in 0..self.col_of_row.len() {
            if self.col_of_row[row] == NONE {
                // The hub may absorb this row's unit unless every free row is owed to a waiting column.
                self.augment_from(row, free > self.waiting);
                free -= 1;
            }
        }
        debug_assert_eq!(self.waiting, 0);
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
            self.offer(col, d, row as u32);
        }
        base + (self.hub[row] - u - self.h).max(0.0)
    }

    #[inline]
    fn offer(&mut self, col: usize, d: f64, from: u32) {
        if self.seen_in[col] != self.searches || d < self.dist[col] {
            self.seen_in[col] = self.searches;
            self.dist[col] = d;
            self.reached_from[col] = from;
            self.heap.push(Reached { dist: d, col: col as u32 });
        }
    }

    /// The hub, settled at `base`, offers every column it does not feed (it can take over a
    /// column's diagonal, whose row then moves on) and the columns of the rows it holds (a row
    /// on the hub can leave it for one of its columns).
    fn relax_from_hub(&mut self, base: f64) {
        for col in 0..self.row_of_col.len() {
            if self.row_of_col[col] != NONE && self.settled_in[col] != self.searches {
                let d = base + (self.h - self.v[col]).max(0.0);
                self.offer(col, d, HUB);
            }
        }
        for row in 0..self.col_of_row.len() {
            if self.col_of_row[row] == HUB {
                self.relax(row, base);
            }
        }
    }

    /// One Dijkstra search from the free `start` row over the residual graph of the flow form:
    /// row to column by an edge, column to its row by the assignment, row to the hub by its hub
    /// edge, a free column to the hub (its diagonal takes the unit), the hub to any other column.
    /// It ends at the hub (the hub winning ties) if `hub_open`, else at the nearest waiting
    /// column. Then the potential update that keeps every reduced cost non-negative and the
    /// assignment tight, then the flip along the path.
    fn augment_from(&mut self, start: usize, hub_open: bool) {
        self.searches += 1;
        self.stats[1] += 1;
        let search = self.searches;
        self.heap.clear();
        self.settled.clear();
        // The best way into the hub so far, by a row's hub edge or through a free column.
        let mut hub = (self.relax(start, 0.0), HubEntry::Row(start as u32));
        let mut hub_settled_at: Option<f64> = None;
        let (end, length) = loop {
            let top = self.heap.peek().copied();
            if hub_settled_at.is_none() && top.is_none_or(|t| hub.0 <= t.dist) {
                if hub_open {
                    break (HUB, hub.0);
                }
                hub_settled_at = Some(hub.0);
                self.stats[5] += 1;
                self.relax_from_hub(hub.0);
                continue;
            }
            let Some(top) = top else {
                debug_assert!(false, "a waiting column is always reachable through the hub");
                break (HUB, hub.0);
            };
            self.heap.pop();
            let col = top.col as usize;
            if self.settled_in[col] == search || top.dist > self.dist[col] {
                continue; // an outdated entry
            }
            self.settled_in[col] = search;
            match self.row_of_col[col] {
                WAITING => break (col as u32, top.dist),
                NONE => {
                    self.settled.push(col as u32);
                    let at_hub = top.dist + (self.v[col] - self.h).max(0.0);
                    if hub_settled_at.is_none() && at_hub < hub.0 {
                        hub = (at_hub, HubEntry::Col(col as u32));
                    }
                }
                owner => {
                    self.settled.push(col as u32);
                    self.stats[2] += 1;
                    let at_hub = self.relax(owner as usize, top.dist);
                    if hub_settled_at.is_none() && at_hub < hub.0 {
                        hub = (at_hub, HubEntry::Row(owner));
                    }
                }
            }
        };
        self.u[start] += length;
        for &col in &self.settled {
            let col = col as usize;
            let slack = length - self.dist[col];
            self.v[col] -= slack;
            let owner = self.row_of_col[col];
            if owner != NONE {
                self.u[owner as usize] += slack;
            }
        }
        if let Some(at) = hub_settled_at {
            let slack = length - at;
            self.h -= slack;
            for row in 0..self.col_of_row.len() {
                if self.col_of_row[row] == HUB {
                    self.u[row] += slack;
                }
            }
        }
        if end != HUB {
            self.waiting -= 1;
        }
        // The flip, from the end back to `start`: each column (or the hub) on the path takes the
        // row it was reached from; a column reached from the hub is fed by it (no row), and the
        // path goes on from where it entered the hub.
        let into_hub = |s: &Self| match hub.1 {
            HubEntry::Row(r) => (HUB, r),
            HubEntry::Col(c) => (c, s.reached_from[c as usize]),
        };
        let (mut col, mut row) = if end == HUB { into_hub(self) } else { (end, self.reached_from[end as usize]) };
        loop {
            if row == HUB {
                self.row_of_col[col as usize] = NONE;
                (col, row) = into_hub(self);
                continue;
            }
            let previous = self.col_of_row[row as usize];
            self.col_of_row[row as usize] = col;
            if col != HUB {
                self.row_of_col[col as usize] = row;
            }
            if row as usize == start {
                break;
            }
            (col, row) = if previous == HUB { into_hub(self) } else { (previous, self.reached_from[previous as usize]) };
        }
    }

    /// The optimality check: no candidate pair may have a negative reduced cost (pairs that are
    /// no candidates never do: see the module docs). The most violated pair of each row joins
    /// the graph and its row is lowered to make it tight; a row that no longer fits where it is
    /// is freed, and its column waits for a new row (or goes to its diagonal, if its potential
    /// allows). Returns whether any pair was added (each round adds one at least, so the rounds
    /// end).
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
        crate::order::merge_sorted_into(&self.pairs, &self.new_pairs, &mut self.merged);
        std::mem::swap(&mut self.pairs, &mut self.merged);
        self.index(rows, cols);
        for k in 0..self.new_pairs.len() {
            let (r, c) = self.new_pairs[k];
            let r = r as usize;
            let e = self.find(r, c).expect("a new pair is in the graph");
            let tight = self.edge_cost[e] - self.v[c as usize];
            if tight >= self.u[r] {
                continue;
            }
            self.u[r] = tight;
            self.stats[4] += 1;
            let old = self.col_of_row[r];
            self.col_of_row[r] = NONE;
            if old != HUB && old != NONE {
                let old = old as usize;
                // An owned column's potential is at most the hub's; at the hub's it may go to
                // its diagonal at once.
                if self.v[old] >= self.h {
                    self.row_of_col[old] = NONE;
                } else {
                    self.row_of_col[old] = WAITING;
                    self.waiting += 1;
                }
            }
        }
        true
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let scale = self.hub.iter().chain(&self.u).chain(&self.v).fold(1.0f64, |a, &b| a.max(b.abs()));
        let eps = 1e-9 * scale;
        for r in 0..self.col_of_row.len() {
            let c = self.col_of_row[r];
            assert!(c != NONE, "row {r} free");
            let hub_red = self.hub[r] - self.u[r] - self.h;
            assert!(hub_red > -eps, "row {r} hub reduced {hub_red}");
            if c == HUB {
                assert!(hub_red < eps, "row {r} on hub not tight {hub_red}");
            }
            for e in self.edges(r) {
                let col = self.edge_col[e] as usize;
                let red = self.edge_cost[e] - self.u[r] - self.v[col];
                assert!(red > -eps, "edge {r}-{col} reduced {red}");
                if col as u32 == c {
                    assert!(red < eps, "assigned {r}-{col} not tight {red}");
                }
            }
        }
        for c in 0..self.row_of_col.len() {
            match self.row_of_col[c] {
                NONE => assert!(self.v[c] >= self.h - eps, "free col {c} v {} h {}", self.v[c], self.h),
                WAITING => panic!("col {c} waiting"),
                r => {
                    assert_eq!(self.col_of_row[r as usize], c as u32);
                    assert!(self.v[c] <= self.h + eps, "owned col {c} v {} h {}", self.v[c], self.h);
                }
            }
        }
    }

    fn find(&self, r: usize, c: u32) -> Option<usize> {
        let range = self.edges(r);
        let start = range.start;
        self.edge_col[range].binary_search(&c).ok().map(|k| start + k)
    }

}
