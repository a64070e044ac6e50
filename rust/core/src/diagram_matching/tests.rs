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
        dense_on_all_pairs(&mut Workspace::default(), pred, target),
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
fn repairs_that_leave_columns_waiting_keep_the_cost_optimal() {
    // Few starting neighbours force many pricing rounds; their repairs free rows and leave
    // columns waiting, and some searches must pass through the hub to reach one. Every solve is
    // checked against the dense oracle (and, in test builds, the flow invariants after each round).
    let (mut waiting_rows, mut through_hub) = (0, 0);
    for seed in 0..24u64 {
        let side = 12 + (seed as usize % 4) * 4;
        let pred = noise_diagrams(side, 1000 + seed);
        let target = noise_diagrams(side, 2000 + seed);
        for d in 0..2 {
            let want = dense::optimal_cost(&pred[d], &target[d]);
            for neighbours in [1, 2, 4] {
                let mut ws = Workspace::default();
                let got = matching_from_nearest(&mut ws, &pred[d], &target[d], neighbours);
                check_valid(&pred[d], &target[d], &got);
                assert!(close(got.cost, want), "{side}² seed {seed} dim {d} k {neighbours}: {} vs {want}", got.cost);
                waiting_rows += ws.sparse.stats[4];
                through_hub += ws.sparse.stats[5];
            }
        }
    }
    assert!(waiting_rows > 100 && through_hub > 10, "repairs {waiting_rows}, searches through the hub {through_hub}");
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

/// The sparse solver with `neighbours` starting partners, and its pricing rounds.
fn sparse_rounds(pred: &[Point], target: &[Point], neighbours: usize) -> (DiagramMatching, usize) {
    let mut ws = Workspace::default();
    let got = matching_from_nearest(&mut ws, pred, target, neighbours);
    (got, ws.sparse.stats[0])
}

#[test]
fn the_sparse_solver_matches_brute_force_from_one_neighbour() {
    // one starting partner a point: the pricing rounds find every other pair the optimum needs
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut priced = 0;
    for case in 0..600 {
        let (n, m) = (rng.below(5), rng.below(4));
        let grid = case % 2 == 0;
        let mut pred = rng.diagram(n, grid);
        let target = rng.diagram(m, grid);
        if case % 7 == 0 && n > 0 {
            pred[0] = Point::new(0.25, 0.25); // on the diagonal
        }
        let want = brute_force(&pred, &target);
        let (got, rounds) = sparse_rounds(&pred, &target, 1);
        check_valid(&pred, &target, &got);
        assert!(close(got.cost, want), "case {case}: {} vs {want}\n{pred:?}\n{target:?}", got.cost);
        priced += usize::from(rounds > 1);
        let dense = dense_on_all_pairs(&mut Workspace::default(), &pred, &target);
        check_valid(&pred, &target, &dense);
        assert!(close(dense.cost, want), "case {case}: dense {} vs {want}", dense.cost);
    }
    assert!(priced > 20, "only {priced} cases needed a pricing round: the test would not see that check");
}

#[test]
fn massive_ties_are_optimal_and_end() {
    // A one-hot speckle target (hundreds of identical points, and a few on the diagonal) against
    // a noisy prediction, and both sides tied: the graph's ties all point at the same few
    // partners, so the pricing rounds must link the rest.
    let [noise, _] = noise_diagrams(24, 7);
    let mut speckle = vec![Point::new(0.0, 1.0); 300];
    speckle.extend([Point::new(0.5, 0.5); 20]);
    let coarse: Vec<Point> = noise.iter().map(|p| Point::new((p.birth * 3.0).round() / 3.0, (p.death * 3.0).round() / 3.0)).collect();
    for (pred, target) in [(&noise, &speckle), (&speckle, &noise), (&coarse, &speckle), (&speckle, &speckle), (&coarse, &coarse)] {
        let want = dense::optimal_cost(pred, target);
        for neighbours in [1, 4, START_NEIGHBOURS] {
            let (got, rounds) = sparse_rounds(pred, target, neighbours);
            check_valid(pred, target, &got);
            assert!(close(got.cost, want), "{neighbours} neighbours: {} vs {want}", got.cost);
            assert!(rounds <= pred.len() * target.len() + 1);
        }
        let dense = dense_on_all_pairs(&mut Workspace::default(), pred, target);
        check_valid(pred, target, &dense);
        assert!(close(dense.cost, want));
        assert!(close(optimal_matching(pred, target).cost, want));
    }
}

#[test]
fn degenerate_diagrams_do_not_panic() {
    let same = vec![Point::new(0.3, 0.7); 50];
    let diagonal: Vec<Point> = (0..50).map(|k| Point::new(k as f64 / 50.0, k as f64 / 50.0)).collect();
    let huge = vec![Point::new(-1e150, 1e150), Point::new(0.0, 1e150), Point::new(1e150, 1e150)];
    let cases: [&[Point]; 4] = [&same, &diagonal, &huge, &[]];
    for pred in cases {
        for target in cases {
            for got in [sparse_rounds(pred, target, 1).0, optimal_matching(pred, target)] {
                check_valid(pred, target, &got);
            }
        }
    }
    let m = optimal_matching(&diagonal, &same);
    assert!(close(m.cost, 50.0 * diagonal_cost(same[0])) && m.matched.is_empty());
}

/// Timings of the sparse solver's parts on noise (`SIDES`, `KS`: comma-separated lists):
/// `cargo test --release profile -- --ignored --nocapture`.
#[test]
#[ignore]
fn profile() {
    let list = |name: &str, default: &str| -> Vec<usize> {
        std::env::var(name).unwrap_or(default.into()).split(',').map(|s| s.parse().unwrap()).collect()
    };
    for side in list("SIDES", "64,128") {
        let pred = noise_diagrams(side, 41);
        let target = noise_diagrams(side, 42);
        for d in 0..2 {
            for k in list("KS", "8,16,32") {
                let mut ws = Workspace::default();
                let reps = if side <= 64 { 5 } else { 1 };
                let (mut t_near, mut t_solve, mut cost) = (f64::INFINITY, f64::INFINITY, 0.0);
                for _ in 0..reps {
                    let t0 = std::time::Instant::now();
                    ws.search.build(&pred[d], &target[d]);
                    ws.nearest.collect(&mut ws.search, &pred[d], &target[d], k);
                    ws.nearest.active(pred[d].len(), target[d].len(), &mut ws.active);
                    let t1 = std::time::Instant::now();
                    cost = sparse_matching(&mut ws, &pred[d], &target[d]).cost;
                    let t2 = std::time::Instant::now();
                    t_near = t_near.min((t1 - t0).as_secs_f64() * 1e3);
                    t_solve = t_solve.min((t2 - t1).as_secs_f64() * 1e3);
                }
                eprintln!(
                    "{side}² dim {d} n={} m={} k={k}: nearest {t_near:.1} ms, solve {t_solve:.1} ms, cost {cost:.12}, stats {:?}",
                    pred[d].len(),
                    target[d].len(),
                    ws.sparse.stats
                );
            }
        }
    }
}
