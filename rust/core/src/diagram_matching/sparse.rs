//! The sparse solver: the square assignment of the textbook formulation on a graph of pairs.

use super::{diagonal_cost, point_cost, Point, NONE};

/// The pairs (pred point, target point) in the assignment graph, as sorted adjacency lists of
/// both sides.
#[derive(Default)]
pub(super) struct PairGraph {
    pairs: Vec<(u32, u32)>,
    merged: Vec<(u32, u32)>,
    pred_first: Vec<u32>,
    pred_partners: Vec<u32>,
    target_first: Vec<u32>,
    target_partners: Vec<u32>,
    by_target: Vec<(u32, u32)>,
}

impl PairGraph {
    pub(super) fn build(&mut self, n: usize, m: usize, sorted_pairs: &[(u32, u32)]) {
        self.pairs.clear();
        self.pairs.extend_from_slice(sorted_pairs);
        self.index(n, m);
    }

    /// Adds pairs (sorted, none already present).
    pub(super) fn add(&mut self, n: usize, m: usize, sorted_pairs: &[(u32, u32)]) {
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

    pub(super) fn has(&self, i: usize, j: usize) -> bool {
        self.partners_of_pred(i).binary_search(&(j as u32)).is_ok()
    }
}

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
pub(super) struct Assignment {
    pub(super) col_of_row: Vec<u32>,
    pub(super) row_of_col: Vec<u32>,
    pub(super) row_potential: Vec<f64>,
    pub(super) col_potential: Vec<f64>,
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
    pub(super) fn start(&mut self, graph: &PairGraph, pred: &[Point], target: &[Point]) {
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

    pub(super) fn augment_free_rows(&mut self, graph: &PairGraph, pred: &[Point], target: &[Point]) {
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
