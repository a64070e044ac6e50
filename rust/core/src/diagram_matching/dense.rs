//! The dense solver: the rectangular assignment with shared diagonal columns, Hungarian method.

use super::{diagonal_cost, point_cost, DiagramMatching, Point};

/// Buffers of the dense solver.
#[derive(Default)]
pub(super) struct DenseBuffers {
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
pub(super) fn dense_matching_with(ws: &mut DenseBuffers, pred: &[Point], target: &[Point]) -> DiagramMatching {
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
