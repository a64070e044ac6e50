//! Optimal matching of two persistence diagrams with the diagonal (the matching behind the
//! 2-Wasserstein distance and the topological loss of Hu et al., NeurIPS 2019).
//!
//! Every point `x = (birth, death)` of one diagram is either matched to a point `y` of the other,
//! at cost `|x - y|²` (squared Euclidean), or sent to its projection onto the diagonal, at cost
//! `(death - birth)² / 2`. The matching minimises the total cost.
//!
//! The textbook formulation is an assignment problem on an `(n + m) × (n + m)` matrix (each
//! diagram padded with the other's diagonal projections). We solve the equivalent rectangular
//! problem on `r × (R + r)`, `r = min(n, m)`, `R = max(n, m)`: rows are the points of the smaller
//! diagram; a row either takes a point `x` of the larger diagram at cost `|x - y|² - diag(x)` (the
//! saving over sending `x` to the diagonal) or one of `r` diagonal columns at cost `diag(y)`; the
//! total is that assignment's cost plus the sum of `diag(x)` over the larger diagram. It is solved
//! exactly by the shortest augmenting path method with potentials (Hungarian algorithm,
//! `O(r² (R + r))`), which is cheap in the usual training case where the target diagram is small.
//! Before that, points that cannot gain from any partner (`|x - y|² >= diag(x) + diag(y)` for all
//! `y`) are sent to the diagonal: an exact reduction that removes most short noise bars.

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

/// Buffers of the assignment solver, reusable across calls.
#[derive(Default)]
pub struct Workspace {
    u: Vec<f64>,
    v: Vec<f64>,
    min_v: Vec<f64>,
    way: Vec<usize>,
    owner: Vec<usize>,
    used: Vec<bool>,
}

pub fn optimal_matching_with(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> DiagramMatching {
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
fn solve(ws: &mut Workspace, pred: &[Point], target: &[Point]) -> (Vec<(u32, u32)>, Vec<u32>, Vec<u32>) {
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
fn assign(ws: &mut Workspace, rows: usize, cols: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<usize> {
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
            // the assignment alone, without the reduction to candidate points
            let (matched, up, ut) = solve(&mut Workspace::default(), &pred, &target);
            let cost: f64 = matched.iter().map(|&(i, j)| point_cost(pred[i as usize], target[j as usize])).sum::<f64>()
                + up.iter().map(|&i| diagonal_cost(pred[i as usize])).sum::<f64>()
                + ut.iter().map(|&j| diagonal_cost(target[j as usize])).sum::<f64>();
            assert_eq!(matched.len() + up.len(), pred.len());
            assert_eq!(matched.len() + ut.len(), target.len());
            assert!((cost - want).abs() < 1e-9, "case {case}: unreduced {cost} vs {want}");
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
}
