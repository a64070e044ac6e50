//! Column reduction of a boundary matrix over Z/2: the *middle* sweep of the engine (dimension 1
//! of a 3D volume), where union-find does not apply.
//!
//! One function, [`reduce`], serves every reduction of a matching: a filtration's own (columns and
//! rows in its order) and the image reductions (columns in the comparison's order, rows ranked by
//! an input). The matrix is given implicitly by [`BoundaryMatrix`]: columns and rows are `u64`
//! values compared in their order, each column's boundary its rows ascending. The caller applies
//! *clearing* (columns known to reduce to zero are not columns at all) and *compression* (rows
//! that can never be pivots are left out of every boundary) by what it hands over; both keep every
//! pivot (Bauer, Kerber, Reininghaus, "Clear and compress", 2014).
//!
//! A column is reduced by adding (XOR) the reduced column of the earlier column that owns its
//! pivot, until its pivot (largest row) is owned by none. Two shortcuts, both exact:
//! - *apparent pairs*: when a column's pivot row has this column as its oldest coface, no earlier
//!   column contains that row, so the column is already reduced. The caller settles those
//!   beforehand and hands over only the others; when a reduction meets a pivot such a column
//!   owns, its boundary is computed again. The caller may enter those owners in the pivot map
//!   beforehand ([`ReductionWorkspace::set_apparent_owners`]: then a pivot that owns nothing
//!   there is final at once); otherwise [`BoundaryMatrix::apparent_owner`] is asked.
//! - a column that is reduced as it is (its pivot owned by none) is stored by its handle
//!   ([`BoundaryMatrix::handle`]) where it has one, like an apparent column;
//! - only the columns that needed work are stored, flat in one arena (each behind its length),
//!   found by their pivot in a flat map over the row slots ([`BoundaryMatrix::row_slot`]): one
//!   `u32` per row, allocated per reduction and given back after it.

/// A boundary matrix, column by column. Columns and rows are named by `u64` values whose order
/// is the column order and the row order.
pub trait BoundaryMatrix {
    /// Replaces `out` with the rows of `column`, ascending.
    fn boundary(&self, column: u64, out: &mut Vec<u64>);

    /// The column that owns `row` as an apparent pair, among the columns the caller settled
    /// without reducing them (see the module docs); `None` if there is none. Not asked where
    /// the caller entered the owners ([`ReductionWorkspace::set_apparent_owners`]).
    fn apparent_owner(&self, _row: u64) -> Option<u64> {
        None
    }

    /// Replaces `out` with the rows, ascending, of the column whose handle is `handle` (an
    /// apparent column the caller entered as [`apparent_entry`], or one [`BoundaryMatrix::handle`]
    /// named).
    fn apparent_boundary(&self, _handle: u32, _out: &mut Vec<u64>) {
        unreachable!("no column has a handle")
    }

    /// A handle below `2^31` for `column`, by which [`BoundaryMatrix::apparent_boundary`] gives
    /// its boundary again; `None` if it has none. A column that is reduced as it is (no
    /// addition) is then stored as its handle, not copied into the arena.
    fn handle(&self, _column: u64) -> Option<u32> {
        None
    }

    /// A hint that `column`'s boundary will be needed soon (a matrix whose boundaries are read
    /// from memory far apart can start those reads now).
    fn prefetch(&self, _column: u64) {}

    /// Whether the caller wants the reduction to give up (the result is then incomplete).
    fn stopped(&self) -> bool {
        false
    }

    /// How many row slots there are: every row has one below this ([`BoundaryMatrix::row_slot`]).
    fn row_slots(&self) -> usize;

    /// The slot of `row`: distinct rows have distinct slots, all below
    /// [`BoundaryMatrix::row_slots`] (a cell's key, say).
    fn row_slot(&self, row: u64) -> usize;
}

/// The tag of an entry of the pivot map that names an apparent column (its handle below); the
/// other entries are 0 (no owner) or 1 + an offset into the arena.
const APPARENT: u32 = 1 << 31;

/// The pivot map entry of the apparent column `handle` (below `2^31`), for
/// [`ReductionWorkspace::set_apparent_owners`].
#[inline]
pub fn apparent_entry(handle: u32) -> u32 {
    debug_assert!(handle < APPARENT);
    APPARENT | handle
}

/// How many columns ahead [`reduce`] announces with [`BoundaryMatrix::prefetch`].
const PREFETCH_AHEAD: usize = 8;

/// What a reduction found: for each column that did not reduce to zero, its pivot row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pivots {
    /// `(column, pivot row)` in column order.
    pub pairs: Vec<(u64, u64)>,
    /// Columns that reduced to zero (none, when clearing removed every such column).
    pub zero_columns: Vec<u64>,
}

/// Reusable buffers for [`reduce`].
#[derive(Default)]
pub struct ReductionWorkspace {
    /// Per row slot: 0, or 1 + where the reduced column that owns the row as its pivot starts in
    /// `arena`, or [`apparent_entry`] of the apparent column that owns it. Allocated zeroed per
    /// reduction (only the pages it touches cost) and given back.
    owner: Vec<u32>,
    /// The reduced columns, each as its length followed by its rows (given back after each
    /// reduction).
    arena: Vec<u64>,
    working: Vec<u64>,
    addend: Vec<u64>,
    merged: Vec<u64>,
    /// The pivot map with the apparent owners entered, for the next reduction only.
    apparent_owners: Option<Vec<u32>>,
}

impl ReductionWorkspace {
    /// Enters, for the next [`reduce`] only, the columns settled as apparent pairs in its pivot
    /// map: per row slot ([`BoundaryMatrix::row_slot`], `row_slots` entries), 0 or the
    /// [`apparent_entry`] of the apparent column that owns the row. A pivot row that owns
    /// nothing there is then final at once; without this, [`BoundaryMatrix::apparent_owner`]
    /// is asked for every such row.
    pub fn set_apparent_owners(&mut self, owners: Vec<u32>) {
        self.apparent_owners = Some(owners);
    }
}

/// Reduces the `columns` of `matrix` (in column order; the apparent pairs are left out by the
/// caller): the pivot of every one that does not reduce to zero.
pub fn reduce<M: BoundaryMatrix>(matrix: &M, columns: &[u64], ws: &mut ReductionWorkspace) -> Pivots {
    let entered = ws.apparent_owners.is_some();
    ws.owner = match ws.apparent_owners.take() {
        Some(owners) => {
            assert_eq!(owners.len(), matrix.row_slots(), "one apparent owner entry per row slot");
            owners
        }
        None => vec![0; matrix.row_slots()],
    };
    ws.arena.clear();
    let mut out = Pivots::default();
    for (i, &column) in columns.iter().enumerate() {
        if i % 4096 == 0 && matrix.stopped() {
            break;
        }
        if let Some(&ahead) = columns.get(i + PREFETCH_AHEAD) {
            matrix.prefetch(ahead);
        }
        matrix.boundary(column, &mut ws.working);
        debug_assert!(ws.working.windows(2).all(|w| w[0] < w[1]), "boundary rows must ascend");
        match reduce_column(matrix, ws, entered) {
            (Some(pivot), false) if matrix.handle(column).is_some() => {
                let handle = matrix.handle(column).unwrap_or_default();
                ws.owner[matrix.row_slot(pivot)] = apparent_entry(handle);
                out.pairs.push((column, pivot));
            }
            (Some(pivot), _) => {
                let start = u32::try_from(ws.arena.len() + 1).ok().filter(|&s| s < APPARENT).expect("the reduced columns fit in 31-bit offsets");
                ws.owner[matrix.row_slot(pivot)] = start;
                ws.arena.push(ws.working.len() as u64);
                ws.arena.extend_from_slice(&ws.working);
                out.pairs.push((column, pivot));
            }
            (None, _) => out.zero_columns.push(column),
        }
    }
    // The map and the arena are given back: at 128³ they are tens of MB per reduction, and a
    // matching runs five of them.
    ws.owner = Vec::new();
    ws.arena = Vec::new();
    out
}

/// Reduces `ws.working` against the columns that own its pivots; its final pivot, if any, and
/// whether anything was added. `entered`: the apparent owners are in the pivot map.
fn reduce_column<M: BoundaryMatrix>(matrix: &M, ws: &mut ReductionWorkspace, entered: bool) -> (Option<u64>, bool) {
    let mut added = false;
    loop {
        let Some(&pivot) = ws.working.last() else { return (None, added) };
        let addend: &[u64] = match ws.owner[matrix.row_slot(pivot)] {
            0 if entered => return (Some(pivot), added),
            0 => match matrix.apparent_owner(pivot) {
                Some(owner) => {
                    matrix.boundary(owner, &mut ws.addend);
                    &ws.addend
                }
                None => return (Some(pivot), added),
            },
            entry if entry & APPARENT != 0 => {
                matrix.apparent_boundary(entry & !APPARENT, &mut ws.addend);
                &ws.addend
            }
            start => {
                let start = start as usize;
                let len = ws.arena[start - 1] as usize;
                &ws.arena[start..start + len]
            }
        };
        add_into(&mut ws.working, addend, &mut ws.merged);
        // The owner's pivot is this row, so the sum no longer has it: were an owner wrong, the
        // loop would add it forever.
        assert!(ws.working.last().is_none_or(|&row| row < pivot), "a pivot's owner must end at that row");
        added = true;
    }
}

/// `working` += `addend` over Z/2 (both ascending): only the rows of `working` from the first
/// one not below `addend`'s first on can change, so only that tail is merged (through
/// `scratch`); an addend of a few rows near the pivot of a long column costs only those rows.
fn add_into(working: &mut Vec<u64>, addend: &[u64], scratch: &mut Vec<u64>) {
    let Some(&low) = addend.first() else { return };
    let keep = working.partition_point(|&row| row < low);
    symmetric_difference(&working[keep..], addend, scratch);
    working.truncate(keep);
    working.extend_from_slice(scratch);
}

/// `out` = the rows in exactly one of `a` and `b` (both ascending), ascending.
fn symmetric_difference(a: &[u64], b: &[u64], out: &mut Vec<u64>) {
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

    /// An explicit sparse matrix (columns `0..n`); with `apparent`, the columns that are
    /// apparent pairs (their pivot's oldest column) are settled the way the caller does it.
    struct Explicit {
        columns: Vec<Vec<u64>>,
        rows: u64,
        apparent: Option<Vec<Option<u64>>>,
        /// Whether the columns have handles (their indices).
        handles: bool,
    }

    impl BoundaryMatrix for Explicit {
        fn boundary(&self, column: u64, out: &mut Vec<u64>) {
            out.clear();
            out.extend_from_slice(&self.columns[column as usize]);
        }
        fn apparent_owner(&self, row: u64) -> Option<u64> {
            self.apparent.as_ref().and_then(|a| a[row as usize])
        }
        fn apparent_boundary(&self, handle: u32, out: &mut Vec<u64>) {
            self.boundary(handle as u64, out);
        }
        fn handle(&self, column: u64) -> Option<u32> {
            self.handles.then_some(column as u32)
        }
        fn row_slots(&self) -> usize {
            self.rows as usize
        }
        fn row_slot(&self, row: u64) -> usize {
            row as usize
        }
    }

    impl Explicit {
        /// The apparent pairs `(column, pivot)`, and the other columns.
        fn with_apparent(mut self) -> (Self, Vec<(u64, u64)>, Vec<u64>) {
            let mut oldest = vec![None; self.rows as usize];
            for (c, col) in self.columns.iter().enumerate() {
                for &r in col {
                    oldest[r as usize].get_or_insert(c as u64);
                }
            }
            let mut owner = vec![None; self.rows as usize];
            let (mut apparent, mut others) = (Vec::new(), Vec::new());
            for (c, col) in self.columns.iter().enumerate() {
                match col.last() {
                    Some(&p) if oldest[p as usize] == Some(c as u64) => {
                        owner[p as usize] = Some(c as u64);
                        apparent.push((c as u64, p));
                    }
                    _ => others.push(c as u64),
                }
            }
            self.apparent = Some(owner);
            (self, apparent, others)
        }

        fn all_columns(&self) -> Vec<u64> {
            (0..self.columns.len() as u64).collect()
        }
    }

    /// Gaussian elimination on dense bit rows, the textbook way: the oracle.
    fn dense_pivots(columns: &[Vec<u64>], rows: u64) -> (Vec<(u64, u64)>, Vec<u64>) {
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
                        zeros.push(c as u64);
                        break;
                    }
                    Some(p) if owner[p] == usize::MAX => {
                        owner[p] = reduced.len();
                        pairs.push((c as u64, p as u64));
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

    fn random_matrix(rng: &mut XorShift, columns: usize, rows: u64, per_column: u64) -> Vec<Vec<u64>> {
        (0..columns)
            .map(|_| {
                let mut col: Vec<u64> = (0..1 + rng.below(per_column)).map(|_| rng.below(rows)).collect();
                col.sort_unstable();
                col.dedup();
                col
            })
            .collect()
    }

    /// The pivot map entries of the apparent pairs, for [`ReductionWorkspace::set_apparent_owners`].
    fn marks(apparent: &[(u64, u64)], rows: u64) -> Vec<u32> {
        let mut owners = vec![0; rows as usize];
        for &(column, row) in apparent {
            owners[row as usize] = apparent_entry(column as u32);
        }
        owners
    }

    #[test]
    fn pivots_equal_dense_elimination() {
        let mut rng = XorShift::new(0x51ed_2701_c0ff_ee11);
        let mut ws = ReductionWorkspace::default();
        let mut settled = 0;
        for case in 0..400 {
            let rows = 1 + rng.below(40);
            let columns = rng.below(60) as usize;
            let per_column = 1 + (case % 5) as u64;
            let mut m = Explicit { columns: random_matrix(&mut rng, columns, rows, per_column), rows, apparent: None, handles: false };
            let (pairs, zeros) = dense_pivots(&m.columns, rows);
            for handles in [false, true] {
                m.handles = handles;
                let got = reduce(&m, &m.all_columns(), &mut ws);
                assert_eq!((got.pairs, got.zero_columns), (pairs.clone(), zeros.clone()), "case {case} (handles {handles})");
            }
            let (mut m, apparent, others) = m.with_apparent();
            settled += apparent.len();
            for (marked, handles) in [(false, false), (true, false), (false, true), (true, true)] {
                m.handles = handles;
                if marked {
                    ws.set_apparent_owners(marks(&apparent, rows));
                }
                let mut with_shortcut = reduce(&m, &others, &mut ws);
                with_shortcut.pairs.extend(apparent.iter().copied());
                with_shortcut.pairs.sort_unstable();
                assert_eq!((with_shortcut.pairs, with_shortcut.zero_columns), (pairs.clone(), zeros.clone()), "case {case} (apparent, marked {marked}, handles {handles})");
            }
        }
        assert!(settled > 1000, "the shortcut must be exercised ({settled} columns)");
    }

    #[test]
    fn a_pivot_owned_by_an_apparent_column_is_added_from_its_boundary() {
        // Column 0 = {0, 2}: row 2's oldest column is 0, so it is apparent. Column 1 = {1, 2}
        // needs one addition ({0, 1}, pivot 1). Column 2 = {0, 1} then reduces to zero.
        let m = Explicit { columns: vec![vec![0, 2], vec![1, 2], vec![0, 1]], rows: 3, apparent: None, handles: false };
        let (m, apparent, others) = m.with_apparent();
        assert_eq!(apparent, vec![(0, 2)]);
        let got = reduce(&m, &others, &mut ReductionWorkspace::default());
        assert_eq!(got.pairs, vec![(1, 1)]);
        assert_eq!(got.zero_columns, vec![2]);
        let mut ws = ReductionWorkspace::default();
        ws.set_apparent_owners(marks(&apparent, 3));
        let got = reduce(&m, &others, &mut ws);
        assert_eq!((got.pairs, got.zero_columns), (vec![(1, 1)], vec![2]));
    }

    #[test]
    fn empty_matrices_and_columns() {
        let mut ws = ReductionWorkspace::default();
        let none = Explicit { columns: vec![], rows: 0, apparent: None, handles: false };
        assert_eq!(reduce(&none, &[], &mut ws), Pivots::default());
        let empty_columns = Explicit { columns: vec![vec![], vec![3]], rows: 4, apparent: None, handles: false };
        let got = reduce(&empty_columns, &[0, 1], &mut ws);
        assert_eq!((got.pairs, got.zero_columns), (vec![(1, 3)], vec![0]));
    }

    quickcheck::quickcheck! {
        fn symmetric_difference_is_the_xor_of_sets(a: Vec<u16>, b: Vec<u16>) -> bool {
            let norm = |v: Vec<u16>| { let mut v: Vec<u64> = v.into_iter().map(u64::from).collect(); v.sort_unstable(); v.dedup(); v };
            let (a, b) = (norm(a), norm(b));
            let mut out = Vec::new();
            symmetric_difference(&a, &b, &mut out);
            let want: Vec<u64> = a.iter().filter(|x| !b.contains(x)).chain(b.iter().filter(|x| !a.contains(x))).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            out == want
        }

        fn add_into_is_the_xor_of_sets(a: Vec<u16>, b: Vec<u16>) -> bool {
            let norm = |v: Vec<u16>| { let mut v: Vec<u64> = v.into_iter().map(u64::from).collect(); v.sort_unstable(); v.dedup(); v };
            let (a, b) = (norm(a), norm(b));
            let mut want = Vec::new();
            symmetric_difference(&a, &b, &mut want);
            let (mut working, mut scratch) = (a, Vec::new());
            add_into(&mut working, &b, &mut scratch);
            working == want
        }
    }
}
