//! The dense solver of the hub form (see the module docs): rows are one diagram's points,
//! columns the other's plus one hub column for the row side's diagonal, which any number of rows
//! may take; all pairs are edges. Shortest augmenting paths with potentials over all columns
//! (Kuhn–Munkres in the Jonker–Volgenant form, `O(rows² · (cols + 1))` at most), a search ending
//! at the first free column or the hub.

use super::sparse_hub::{hub_cost, HUB};
use super::{diagonal_cost, point_cost, Point};

/// Buffers of the dense solver.
#[derive(Default)]
pub(super) struct DenseHub {
    cost: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    min_v: Vec<f64>,
    way: Vec<u32>,
    owner: Vec<u32>,
    used: Vec<bool>,
    /// The result: the column of each row, or [`HUB`].
    pub(super) col_of_row: Vec<u32>,
}

impl DenseHub {
    /// The optimal assignment of `rows` to `cols` and the hub (row to column: `|x - y|² -
    /// diag(y)`, row to hub: `diag(x)`); the result is in `col_of_row`.
    pub(super) fn solve(&mut self, rows: &[Point], cols: &[Point]) {
        let (r, m) = (rows.len(), cols.len());
        // Columns 1..=m are the points, m + 1 the hub; column 0 is the virtual start column.
        let width = m + 2;
        let hub = m + 1;
        self.cost.clear();
        for &x in rows {
            self.cost.extend(cols.iter().map(|&y| point_cost(x, y) - diagonal_cost(y)));
            self.cost.push(hub_cost(x));
        }
        self.u.clear();
        self.u.resize(r + 1, 0.0);
        self.v.clear();
        self.v.resize(width, 0.0);
        self.owner.clear();
        self.owner.resize(width, 0);
        self.way.clear();
        self.way.resize(width, 0);
        for i in 1..=r {
            self.owner[0] = i as u32;
            let mut j0 = 0usize;
            self.min_v.clear();
            self.min_v.resize(width, f64::INFINITY);
            self.used.clear();
            self.used.resize(width, false);
            loop {
                self.used[j0] = true;
                let i0 = self.owner[j0] as usize;
                let row = &self.cost[(i0 - 1) * (m + 1)..i0 * (m + 1)];
                let ui = self.u[i0];
                let (mut delta, mut j1) = (f64::INFINITY, 0usize);
                for j in 1..width {
                    if self.used[j] {
                        continue;
                    }
                    let reduced = row[j - 1] - ui - self.v[j];
                    if reduced < self.min_v[j] {
                        self.min_v[j] = reduced;
                        self.way[j] = j0 as u32;
                    }
                    if self.min_v[j] < delta {
                        delta = self.min_v[j];
                        j1 = j;
                    }
                }
                debug_assert!(j1 != 0, "the hub column is never used");
                for j in 0..width {
                    if self.used[j] {
                        let owner = self.owner[j] as usize;
                        self.u[owner] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.min_v[j] -= delta;
                    }
                }
                j0 = j1;
                if j0 == hub || self.owner[j0] == 0 {
                    break;
                }
            }
            // Augment along the alternating path back to the virtual column (the hub keeps no
            // owner: it stays free for the next rows).
            loop {
                let j1 = self.way[j0] as usize;
                if j0 != hub {
                    self.owner[j0] = self.owner[j1];
                }
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
        self.col_of_row.clear();
        self.col_of_row.resize(r, HUB);
        for j in 1..=m {
            if self.owner[j] != 0 {
                self.col_of_row[self.owner[j] as usize - 1] = (j - 1) as u32;
            }
        }
    }
}
