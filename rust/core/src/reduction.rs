//! Column reduction of a boundary matrix over Z/2: the *middle* sweep of the engine (dimension 1
//! of a 3D volume), where union-find does not apply.
//!
//! One function, [`reduce`], serves every reduction of a matching: a filtration's own (columns and
//! rows in its order) and the image reductions (columns in the comparison's order, rows ranked by
//! an input). The matrix is given implicitly by [`BoundaryMatrix`]: columns `0..n` in column
//! order, each column's boundary as row ranks (ascending = the row order). The caller applies
//! *clearing* (columns known to reduce to zero are not columns at all) and *compression* (rows
//! that can never be pivots are left out of every boundary) by what it hands over; both keep every
//! pivot (Bauer, Kerber, Reininghaus, "Clear and compress", 2014).
//!
//! A column is reduced by adding (XOR) the reduced column of the earlier column that owns its
//! pivot, until its pivot (largest row) is owned by none. Two shortcuts, both exact:
//! - *apparent pairs*: when a column's pivot row has this column as its oldest coface, no earlier
//!   column contains that row, so the column is already reduced. It is recorded without being
//!   stored: when a later column needs it, its boundary is computed again.
//! - only the columns that needed work are stored, flat in one arena (`u32` rows), with one
//!   offset per stored column; there are no per-cell maps.

/// A boundary matrix, column by column.
pub trait BoundaryMatrix {
    /// The number of columns.
    fn columns(&self) -> u32;

    /// The number of rows (row ranks lie in `0..rows`).
    fn rows(&self) -> u32;

    /// Replaces `out` with column `column`'s rows, ascending.
    fn boundary(&self, column: u32, out: &mut Vec<u32>);

    /// The earliest column whose boundary holds `row`, if the matrix can say cheaply (it enables
    /// the apparent-pair shortcut); `None` otherwise.
    fn oldest_column_of(&self, _row: u32) -> Option<u32> {
        None
    }

    /// Whether the caller wants the reduction to give up (the result is then incomplete).
    fn stopped(&self) -> bool {
        false
    }
}

const NONE: u32 = u32::MAX;

/// What a reduction found: for each column that did not reduce to zero, its pivot row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pivots {
    /// `(column, pivot row)` in column order.
    pub pairs: Vec<(u32, u32)>,
    /// Columns that reduced to zero (none, when clearing removed every such column).
    pub zero_columns: Vec<u32>,
    /// How many columns the apparent-pair shortcut settled.
    pub apparent: u32,
}

/// Reusable buffers for [`reduce`].
#[derive(Default)]
pub struct ReductionWorkspace {
    owner: Vec<u32>,
    /// Per column: where its stored reduced column starts in `arena`, `NONE` if not stored.
    stored_at: Vec<u32>,
    arena: Vec<u32>,
    stored_len: Vec<u32>,
    working: Vec<u32>,
    addend: Vec<u32>,
    merged: Vec<u32>,
}

/// Reduces `matrix` (see the module docs): the pivot of every column that does not reduce to zero.
pub fn reduce<M: BoundaryMatrix>(matrix: &M, ws: &mut ReductionWorkspace) -> Pivots {
    let (columns, rows) = (matrix.columns(), matrix.rows());
    ws.owner.clear();
    ws.owner.resize(rows as usize, NONE);
    ws.stored_at.clear();
    ws.stored_at.resize(columns as usize, NONE);
    ws.stored_len.clear();
    ws.stored_len.resize(columns as usize, 0);
    ws.arena.clear();
    let mut out = Pivots::default();
    for column in 0..columns {
        if column % 4096 == 0 && matrix.stopped() {
            break;
        }
        matrix.boundary(column, &mut ws.working);
        debug_assert!(ws.working.windows(2).all(|w| w[0] < w[1]), "boundary rows must ascend");
        if let Some(&pivot) = ws.working.last() {
            if matrix.oldest_column_of(pivot) == Some(column) {
                debug_assert_eq!(ws.owner[pivot as usize], NONE);
                ws.owner[pivot as usize] = column;
                out.pairs.push((column, pivot));
                out.apparent += 1;
                continue;
            }
        }
        match reduce_column(matrix, ws) {
            Some(pivot) => {
                ws.owner[pivot as usize] = column;
                ws.stored_at[column as usize] = ws.arena.len() as u32;
                ws.stored_len[column as usize] = ws.working.len() as u32;
                ws.arena.extend_from_slice(&ws.working);
                out.pairs.push((column, pivot));
            }
            None => out.zero_columns.push(column),
        }
    }
    out
}

/// Reduces `ws.working` against the columns that own its pivots; its final pivot, if any.
fn reduce_column<M: BoundaryMatrix>(matrix: &M, ws: &mut ReductionWorkspace) -> Option<u32> {
    loop {
        let pivot = *ws.working.last()?;
        let earlier = ws.owner[pivot as usize];
        if earlier == NONE {
            return Some(pivot);
        }
        let at = ws.stored_at[earlier as usize];
        let addend: &[u32] = if at == NONE {
            matrix.boundary(earlier, &mut ws.addend);
            &ws.addend
        } else {
            &ws.arena[at as usize..(at + ws.stored_len[earlier as usize]) as usize]
        };
        symmetric_difference(&ws.working, addend, &mut ws.merged);
        std::mem::swap(&mut ws.working, &mut ws.merged);
    }
}

/// `out` = the rows in exactly one of `a` and `b` (both ascending), ascending.
fn symmetric_difference(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    out.clear();
    out.reserve(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    /// An explicit sparse matrix; `apparent` enables the shortcut from precomputed oldest columns.
    struct Explicit {
        columns: Vec<Vec<u32>>,
        rows: u32,
        oldest: Option<Vec<u32>>,
    }

    impl BoundaryMatrix for Explicit {
        fn columns(&self) -> u32 {
            self.columns.len() as u32
        }
        fn rows(&self) -> u32 {
            self.rows
        }
        fn boundary(&self, column: u32, out: &mut Vec<u32>) {
            out.clear();
            out.extend_from_slice(&self.columns[column as usize]);
        }
        fn oldest_column_of(&self, row: u32) -> Option<u32> {
            self.oldest.as_ref().and_then(|o| (o[row as usize] != NONE).then_some(o[row as usize]))
        }
    }

    impl Explicit {
        fn with_apparent(mut self) -> Self {
            let mut oldest = vec![NONE; self.rows as usize];
            for (c, col) in self.columns.iter().enumerate() {
                for &r in col {
                    if oldest[r as usize] == NONE {
                        oldest[r as usize] = c as u32;
                    }
                }
            }
            self.oldest = Some(oldest);
            self
        }
    }

    /// Gaussian elimination on dense bit rows, the textbook way: the oracle.
    fn dense_pivots(columns: &[Vec<u32>], rows: u32) -> (Vec<(u32, u32)>, Vec<u32>) {
        let mut reduced: Vec<Vec<bool>> = Vec::new();
        let mut owner = vec![usize::MAX; rows as usize];
        let (mut pairs, mut zeros) = (Vec::new(), Vec::new());
        for (c, col) in columns.iter().enumerate() {
            let mut bits = vec![false; rows as usize];
            for &r in col {
                bits[r as usize] = true;
            }
            loop {
                match bits.iter().rposition(|&b| b) {
                    None => {
                        zeros.push(c as u32);
                        break;
                    }
                    Some(p) if owner[p] == usize::MAX => {
                        owner[p] = reduced.len();
                        pairs.push((c as u32, p as u32));
                        break;
                    }
                    Some(p) => {
                        for (x, &y) in bits.iter_mut().zip(&reduced[owner[p]]) {
                            *x ^= y;
                        }
                    }
                }
            }
            reduced.push(bits);
        }
        (pairs, zeros)
    }

    fn random_matrix(rng: &mut XorShift, columns: usize, rows: u32, per_column: u32) -> Vec<Vec<u32>> {
        (0..columns)
            .map(|_| {
                let mut col: Vec<u32> = (0..1 + rng.below(per_column as u64) as u32).map(|_| rng.below(rows as u64) as u32).collect();
                col.sort_unstable();
                col.dedup();
                col
            })
            .collect()
    }

    #[test]
    fn pivots_equal_dense_elimination() {
        let mut rng = XorShift::new(0x51ed_2701_c0ff_ee11);
        let mut ws = ReductionWorkspace::default();
        for case in 0..400 {
            let rows = 1 + rng.below(40) as u32;
            let columns = rng.below(60) as usize;
            let per_column = 1 + (case % 5) as u32;
            let m = Explicit { columns: random_matrix(&mut rng, columns, rows, per_column), rows, oldest: None };
            let (pairs, zeros) = dense_pivots(&m.columns, rows);
            let got = reduce(&m, &mut ws);
            assert_eq!((got.pairs.clone(), got.zero_columns.clone()), (pairs.clone(), zeros.clone()), "case {case}");
            assert_eq!(got.apparent, 0);
            let with_shortcut = reduce(&m.with_apparent(), &mut ws);
            assert_eq!((with_shortcut.pairs, with_shortcut.zero_columns), (pairs, zeros), "case {case} (apparent)");
        }
    }

    #[test]
    fn the_apparent_shortcut_settles_columns_that_own_their_pivot_first() {
        // Column 0 = {0, 2}: row 2's oldest column is 0, so it is apparent. Column 1 = {1, 2}
        // needs one addition ({0, 1}, pivot 1). Column 2 = {0, 1} then reduces to zero.
        let m = Explicit { columns: vec![vec![0, 2], vec![1, 2], vec![0, 1]], rows: 3, oldest: None }.with_apparent();
        let got = reduce(&m, &mut ReductionWorkspace::default());
        assert_eq!(got.pairs, vec![(0, 2), (1, 1)]);
        assert_eq!(got.zero_columns, vec![2]);
        assert_eq!(got.apparent, 1);
    }

    #[test]
    fn empty_matrices_and_columns() {
        let mut ws = ReductionWorkspace::default();
        let none = Explicit { columns: vec![], rows: 0, oldest: None };
        assert_eq!(reduce(&none, &mut ws), Pivots::default());
        let empty_columns = Explicit { columns: vec![vec![], vec![3]], rows: 4, oldest: None };
        let got = reduce(&empty_columns, &mut ws);
        assert_eq!((got.pairs, got.zero_columns), (vec![(1, 3)], vec![0]));
    }

    quickcheck::quickcheck! {
        fn symmetric_difference_is_the_xor_of_sets(a: Vec<u16>, b: Vec<u16>) -> bool {
            let norm = |v: Vec<u16>| { let mut v: Vec<u32> = v.into_iter().map(u32::from).collect(); v.sort_unstable(); v.dedup(); v };
            let (a, b) = (norm(a), norm(b));
            let mut out = Vec::new();
            symmetric_difference(&a, &b, &mut out);
            let want: Vec<u32> = a.iter().filter(|x| !b.contains(x)).chain(b.iter().filter(|x| !a.contains(x))).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            out == want
        }
    }
}
