//! The *middle* sweep: dimension 1 of a 3D volume, by reduction of the boundary matrix of the
//! squares against the edges (see [`crate::reduction`]), for either construction (the cells are
//! [`VolumeGeometry`]'s).
//!
//! One matrix type serves every reduction of a matching: the columns are the squares of one
//! filtration (in its order), the rows the edges ranked by another or the same one (a
//! filtration's own reduction, or an image reduction: columns of the comparison, rows of an
//! input). The union-find sweeps run first and shrink the problem. *Clearing*: a square that
//! the column filtration's top sweep pairs with a cube creates a cavity, so its column would
//! reduce to zero; it is not a column. *Compression*: an edge that the row filtration's bottom
//! sweep pairs with a vertex (it merges two components) is never a pivot; it is not a row (in
//! the V-construction the rows are the primal edges of the bottom sweep; the T-construction's
//! rows are the T-complex's edges, which its bottom sweep over the neighbour graph does not name,
//! so a union-find sweep of the T-vertices and T-edges finds them:
//! [`VolumeGeometry::sweep_cycle_rows`]).
//!
//! *Apparent pairs* (a square whose pivot edge has it as its oldest coface is reduced as it is,
//! and owns that pivot) are settled by a pass over the squares in memory order, where every
//! lookup is local: 80–99% of the columns, by the data. Only the other columns are sorted and
//! reduced; a reduction that meets a pivot owned by an apparent square recomputes its owner
//! from the grid instead of looking it up. No per-cell map is built: a cell's rank as a column
//! or a row is read off its filtration's voxel ranks when asked (the corners of a square are a
//! few cache lines, and the voxel ranks a third of the size of a map by cell key), with the
//! clearing and compression bit sets; everything else is the size of the columns that need
//! work.

use rayon::prelude::*;

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::filtration::{edge_key, edge_rank, Edge, Filtration, VolumeGeometry, PADDING};
use crate::image_order::ImageOrder;
use crate::key_set::KeySet;
use crate::persistence::PersistencePair;
use crate::reduction::{apparent_entry, reduce, BoundaryMatrix, Pivots, ReductionWorkspace};

/// A middle boundary matrix. Columns and rows are named by their values in their own
/// filtrations, `rank << 32 | key`, so comparing two of them compares their order.
pub(crate) struct Middle<'a, C> {
    /// The filtration whose squares are the columns (it gives the grid and the stop flag).
    pub geometry: &'a Filtration,
    /// The squares of `geometry` that are no columns (paired by its top sweep).
    cleared: &'a KeySet,
    /// Only the squares of rank below this are columns (a prefix of the column order).
    rank_limit: u32,
    /// The filtration that ranks the rows (`geometry` itself, or an input of an image reduction).
    row_filtration: &'a Filtration,
    /// Where given, the edges that may be rows (they close a cycle); all edges otherwise.
    rows: Option<&'a KeySet>,
    /// The padded voxels below this one anchor every middle cell ([`cell_anchors`]).
    anchors: u32,
    /// Where the order of the columns and the rows is not `geometry`'s and `row_filtration`'s
    /// ([`crate::image_order`]): `cleared` then holds only for the columns above the lowest,
    /// `rows` only for the rows below the top.
    order: ImageOrder<'a>,
    cells: PhantomData<C>,
}

/// In a matrix whose lowest columns come in the rows' order, the rank field of every other
/// column has this bit, so that they all come after those (ranks are below `2^31`: a volume has
/// fewer than `2^32 / 3` padded voxels).
const AFTER_LOWEST: u32 = 1 << 31;

impl<C> Clone for Middle<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Middle<'_, C> {}

/// Buffers of one filtration's middle reduction, reusable across images.
#[derive(Default)]
pub struct MiddleWorkspace {
    /// The columns that are not apparent pairs, in column order.
    pub(crate) others: Vec<Edge>,
    pub(crate) reduction: ReductionWorkspace,
}

/// One chunk's share of [`Middle::split`]: the apparent pairs it kept, the other columns.
type ChunkSplit = (Vec<(Edge, Edge)>, Vec<Edge>);

/// How many anchors one task of the passes over the grid walks.
const CHUNK_ANCHORS: usize = 1 << 14;

/// A task of [`Middle::split`] walks at least this many times the reach of its window beyond
/// it (a plane on each side), so that the margin computed twice is a small part of the window
/// (at 128³, 8 gave 4% less time than 4 on one core, the same as 16).
const WINDOW_REACHES: usize = 8;

/// The padded voxels below this one anchor every middle cell: past it, a cell's voxels would
/// leave the padded grid (every cell has a real voxel, and every real voxel has the padding
/// beyond it).
fn cell_anchors(f: &Filtration) -> u32 {
    (f.ranks.len() as u32).saturating_sub(f.plane() + f.stride() + 1)
}

impl<'a, C: VolumeGeometry> Middle<'a, C> {
    /// The matrix of `f`'s own reduction: its squares (four real corners, not in `cleared`, rank
    /// below `rank_limit`) against its edges (in `rows` where given).
    pub(crate) fn own(f: &'a Filtration, cleared: &'a KeySet, rows: Option<&'a KeySet>, rank_limit: u32) -> Self {
        Middle { geometry: f, cleared, rank_limit, row_filtration: f, rows, anchors: cell_anchors(f), order: ImageOrder::default(), cells: PhantomData }
    }

    /// The matrix of the image reduction of `c`'s columns (cleared by `c_cleared`) against the
    /// rows of `f` (in `f_rows` where given), ranked by `f`, except where `order` orders them
    /// otherwise ([`crate::image_order`]).
    pub(crate) fn image(c: &'a Filtration, c_cleared: &'a KeySet, f: &'a Filtration, f_rows: Option<&'a KeySet>, order: ImageOrder<'a>) -> Self {
        debug_assert_eq!(c.ranks.len(), f.ranks.len());
        Middle { geometry: c, cleared: c_cleared, rank_limit: PADDING, row_filtration: f, rows: f_rows, anchors: cell_anchors(c), order, cells: PhantomData }
    }

    /// The value in this matrix of the comparison's column `column` (an image matrix may order
    /// columns otherwise than the comparison does: [`Middle::image`]).
    pub(crate) fn column_of(&self, column: Edge) -> Option<Edge> {
        self.column(edge_key(column))
    }

    /// The four rows of a square.
    #[inline]
    fn edges_of(&self, square: u32) -> [u32; 4] {
        C::square_rows(square, self.geometry.stride(), self.geometry.plane())
    }

    /// The four squares that hold a row (some may be none).
    #[inline]
    fn cofaces_of(&self, edge: u32) -> [u32; 4] {
        C::row_squares(edge, self.geometry.stride(), self.geometry.plane())
    }

    /// A square's value as a column, `None` where it is none.
    #[inline]
    fn column(&self, square: u32) -> Option<Edge> {
        if square / 3 >= self.anchors {
            return None;
        }
        let (g, f) = (self.geometry, self.row_filtration);
        let rank = C::square_rank(&g.ranks, square, g.stride(), g.plane());
        self.column_ranked(square, rank, || C::square_rank(&f.ranks, square, g.stride(), g.plane()))
    }

    /// [`Middle::column`] of an anchored square of rank `rank` in `geometry`, `by_rows` its
    /// rank in `row_filtration` (asked only where the order takes it).
    #[inline]
    fn column_ranked(&self, square: u32, rank: u32, by_rows: impl FnOnce() -> u32) -> Option<Edge> {
        let rank = match self.order.lowest_cleared {
            None if self.cleared.contains(square) => return None,
            None => rank,
            Some(_) if rank == PADDING => return None,
            Some(lowest) if rank == 0 => match lowest.contains(square) {
                true => return None,
                false => by_rows(),
            },
            Some(_) if self.cleared.contains(square) => return None,
            Some(_) => {
                debug_assert!(rank < AFTER_LOWEST);
                rank | AFTER_LOWEST
            }
        };
        (rank < self.rank_limit && rank != PADDING).then_some((rank as u64) << 32 | square as u64)
    }

    /// An edge's value as a row, `None` where it is none.
    #[inline]
    fn row(&self, edge: u32) -> Option<Edge> {
        if edge / 3 >= self.anchors || (self.order.top_rows.is_none() && self.rows.is_some_and(|rows| !rows.contains(edge))) {
            return None;
        }
        let (g, f) = (self.geometry, self.row_filtration);
        let rank = C::row_rank(&f.ranks, edge, f.stride(), f.plane());
        self.row_ranked(edge, rank, || C::row_rank(&g.ranks, edge, f.stride(), f.plane()))
    }

    /// [`Middle::row`] of an anchored edge of rank `rank` in `row_filtration`, `by_columns` its
    /// rank in `geometry` (asked only where the order takes it).
    #[inline]
    fn row_ranked(&self, edge: u32, rank: u32, by_columns: impl FnOnce() -> u32) -> Option<Edge> {
        let outside = |rows: Option<&KeySet>| rows.is_some_and(|rows| !rows.contains(edge));
        let rank = match self.order.top_rows {
            None if outside(self.rows) => return None,
            None => rank,
            Some((top, kept)) if rank == top => match kept.contains(edge) {
                true => top + by_columns(),
                false => return None,
            },
            Some(_) if outside(self.rows) => return None,
            Some(_) => rank,
        };
        (rank != PADDING).then_some((rank as u64) << 32 | edge as u64)
    }

    /// How many keys each cell dimension has (three per padded voxel).
    fn keys(&self) -> usize {
        3 * self.geometry.ranks.len()
    }

    /// The youngest row of a square's boundary.
    #[inline]
    fn pivot(&self, square: u32) -> Option<Edge> {
        self.edges_of(square).into_iter().filter_map(|e| self.row(e)).max()
    }

    /// The oldest column holding an edge.
    #[inline]
    fn oldest_coface(&self, edge: u32) -> Option<Edge> {
        self.cofaces_of(edge).into_iter().filter_map(|s| self.column(s)).min()
    }

    /// The pivot of `column` if the two are an apparent pair (the column is its pivot's oldest
    /// coface): then no earlier column holds the pivot, and the column is reduced as it is.
    #[inline]
    pub(crate) fn apparent_pivot(&self, column: Edge) -> Option<Edge> {
        let rank = |cell: Option<Edge>| cell.map_or(NOT_A_CELL, edge_rank);
        self.apparent_pivot_ranked(edge_key(column), |square| rank(self.column(square)), |edge| rank(self.row(edge)))
    }

    /// [`Middle::apparent_pivot`] of the column `square`, the cells' ranks (the rank fields of
    /// their values, `NOT_A_CELL` where none) given by `column_rank` and `row_rank`. The ranks
    /// are compared as numbers, ties by key through the ascending key order of a square's rows
    /// and of a row's squares: no value is built, no branch taken per cell.
    #[inline]
    fn apparent_pivot_ranked(&self, square: u32, column_rank: impl Fn(u32) -> u32, row_rank: impl Fn(u32) -> u32) -> Option<Edge> {
        let (stride, plane) = (self.geometry.stride(), self.geometry.plane());
        // The youngest row: the largest rank, the last (largest key) of equal ones; a key that
        // is no row (`NOT_A_CELL`, shifted to 0) comes below every row.
        let (mut pivot, mut youngest) = (0, 0);
        for edge in C::square_rows_ascending(square, stride, plane) {
            let rank = row_rank(edge).wrapping_add(1);
            if rank >= youngest {
                (pivot, youngest) = (edge, rank);
            }
        }
        if youngest == 0 {
            return None;
        }
        // Its oldest square: the smallest rank, the first (smallest key) of equal ones; a key
        // that is no column (`NOT_A_CELL`) comes after every column, and `square` is one.
        let (mut oldest, mut rank_of_oldest) = (0, NOT_A_CELL);
        for coface in C::row_squares_ascending(pivot, stride, plane) {
            let rank = column_rank(coface);
            if rank < rank_of_oldest {
                (oldest, rank_of_oldest) = (coface, rank);
            }
        }
        (oldest == square).then_some(((youngest - 1) as u64) << 32 | pivot as u64)
    }

    /// Walks every column in memory order: apparent pairs go to `on_apparent(column, pivot)`
    /// (which says whether to keep them), the other columns to the result, in column order.
    /// The apparent columns are entered as the owners of their pivots in `reduction`'s pivot
    /// map for the reduction of the others that follows
    /// ([`ReductionWorkspace::set_apparent_owners`], by square key). Chunks of the grid run as
    /// parallel tasks, each over a [`CellWindow`] of its cells' values.
    pub(crate) fn split(
        &self,
        keep_apparent: impl Fn(Edge, Edge) -> bool + Sync,
        apparent: &mut Vec<(Edge, Edge)>,
        others: &mut Vec<Edge>,
        reduction: &mut ReductionWorkspace,
    ) {
        let squares = self.keys();
        // A chunk's pivot rows reach a plane beyond its keys, into its neighbours' (each row has
        // at most one owner, so no entry is written twice; atomic stores say so to the compiler).
        // (Square keys from 2^31 on, in volumes of over 700 M voxels, have no entry: there the
        // reduction asks `apparent_owner` instead.)
        let enter = squares <= 1 << 31;
        let mut owners = if enter { vec![0u32; self.keys()] } else { Vec::new() };
        // SAFETY: `AtomicU32` has the size and alignment of `u32`, and `owners` is borrowed
        // mutably (so only through this view) while `owned` lives.
        let owned: &[AtomicU32] = unsafe { &*(owners.as_mut_slice() as *mut [u32] as *const [AtomicU32]) };
        // The window a chunk reads reaches a plane (and a row and a voxel) beyond it on each side:
        // chunks of several planes keep that margin a small part of the work.
        let reach = 3 * (self.geometry.plane() + self.geometry.stride() + 1) as usize;
        let chunk_keys = (3 * CHUNK_ANCHORS).max(WINDOW_REACHES * reach);
        let parts: Vec<ChunkSplit> = (0..squares.div_ceil(chunk_keys))
            .into_par_iter()
            .map(|chunk| {
                let (mut kept, mut rest) = (Vec::new(), Vec::new());
                if self.geometry.stopped() {
                    return (kept, rest);
                }
                let (start, end) = (chunk * chunk_keys, squares.min((chunk + 1) * chunk_keys));
                let window = CellWindow::new(self, start.saturating_sub(reach), squares.min(end + reach));
                for square in start..end {
                    let Some(column) = window.column(self, square as u32) else { continue };
                    match window.apparent_pivot(self, square as u32) {
                        Some(pivot) => {
                            if enter {
                                owned[edge_key(pivot) as usize].store(apparent_entry(square as u32), Ordering::Relaxed);
                            }
                            if keep_apparent(column, pivot) {
                                kept.push((column, pivot));
                            }
                        }
                        None => rest.push(column),
                    }
                }
                (kept, rest)
            })
            .collect();
        apparent.clear();
        others.clear();
        for (kept, rest) in parts {
            apparent.extend(kept);
            others.extend(rest);
        }
        others.par_sort_unstable();
        if enter {
            reduction.set_apparent_owners(owners);
        }
    }

    /// The pivots of the columns that are not apparent pairs (`others`, in column order).
    pub(crate) fn reduce(&self, others: &[Edge], ws: &mut ReductionWorkspace) -> Pivots {
        reduce(self, others, ws)
    }
}

/// The values of the cells keyed `start..end` as columns and as rows of a [`Middle`] matrix
/// (`NOT_A_CELL` where none), computed once each: the apparent-pair test reads a square's value,
/// its four rows' and their cofaces', and without this window computed each again from the
/// voxels for every square that asks. Keys outside the window are computed as before.
struct CellWindow {
    start: usize,
    columns: Vec<u32>,
    rows: Vec<u32>,
}

/// A window entry for a key that is not a column (or not a row).
const NOT_A_CELL: u32 = u32::MAX;

impl CellWindow {
    fn new<C: VolumeGeometry>(m: &Middle<'_, C>, start: usize, end: usize) -> Self {
        let (lowest, top, rows) = (m.order.lowest_cleared.is_some(), m.order.top_rows.is_some(), m.rows.is_some());
        match (lowest, top, rows) {
            (false, false, true) => Self::fill::<C, false, false, true>(m, start, end),
            (true, false, true) => Self::fill::<C, true, false, true>(m, start, end),
            (false, true, true) => Self::fill::<C, false, true, true>(m, start, end),
            (true, true, true) => Self::fill::<C, true, true, true>(m, start, end),
            _ => Self::fill::<C, true, true, false>(m, start, end),
        }
    }

    /// [`CellWindow::new`] for a matrix whose orders and row set are (`LOWEST`, `TOP`, `ROWS`)
    /// present or not: told at compile time, the per-cell tests of [`Middle::column_ranked`]
    /// and [`Middle::row_ranked`] lose the branches that do not apply (a tenth of a matching).
    fn fill<C: VolumeGeometry, const LOWEST: bool, const TOP: bool, const ROWS: bool>(m: &Middle<'_, C>, start: usize, end: usize) -> Self {
        let order = ImageOrder {
            lowest_cleared: if LOWEST { m.order.lowest_cleared } else { None },
            top_rows: if TOP { m.order.top_rows } else { None },
        };
        let rows = match ROWS {
            true => Some(m.rows.expect("a row set")),
            false => None,
        };
        let m = &Middle { order, rows, ..*m };
        let rank = |cell: Option<Edge>| cell.map_or(NOT_A_CELL, edge_rank);
        let (g, f) = (m.geometry, m.row_filtration);
        let (stride, plane) = (g.stride(), g.plane());
        let n = end - start;
        // Keys past the anchors are no cells: they keep `NOT_A_CELL`.
        let (mut columns, mut rows) = (vec![NOT_A_CELL; n], vec![NOT_A_CELL; n]);
        let same = std::ptr::eq(g, f);
        // Voxel by voxel: the cells of one voxel read the same few voxel ranks.
        for p in (start / 3) as u32..(end.div_ceil(3) as u32).min(m.anchors) {
            let (squares, edges) = C::cells_at(&g.ranks, p, stride, plane);
            let (f_squares, f_edges) = if same { (squares, edges) } else { C::cells_at(&f.ranks, p, stride, plane) };
            for i in 0..3 {
                let key = 3 * p + i as u32;
                let Some(slot) = (key as usize).checked_sub(start).filter(|&slot| slot < n) else { continue };
                columns[slot] = rank(m.column_ranked(key, squares[i], || f_squares[i]));
                rows[slot] = rank(m.row_ranked(key, f_edges[i], || edges[i]));
            }
        }
        CellWindow { start, columns, rows }
    }

    #[inline]
    fn column<C: VolumeGeometry>(&self, m: &Middle<'_, C>, square: u32) -> Option<Edge> {
        let rank = self.rank_at(&self.columns, square, |square| m.column(square));
        (rank != NOT_A_CELL).then_some((rank as u64) << 32 | square as u64)
    }

    /// The rank of cell `key` from `ranks` (the window's columns or rows), or from `compute`
    /// where the key lies outside the window (never for the cells around the squares of the
    /// chunk the window was made for).
    #[inline]
    fn rank_at(&self, ranks: &[u32], key: u32, compute: impl FnOnce(u32) -> Option<Edge>) -> u32 {
        match ranks.get((key as usize).wrapping_sub(self.start)) {
            Some(&rank) => rank,
            None => compute(key).map_or(NOT_A_CELL, edge_rank),
        }
    }

    /// [`Middle::apparent_pivot`] of the column `square` on the window's ranks.
    #[inline]
    fn apparent_pivot<C: VolumeGeometry>(&self, m: &Middle<'_, C>, square: u32) -> Option<Edge> {
        m.apparent_pivot_ranked(square, |s| self.rank_at(&self.columns, s, |s| m.column(s)), |e| self.rank_at(&self.rows, e, |e| m.row(e)))
    }
}

impl<C: VolumeGeometry> BoundaryMatrix for Middle<'_, C> {
    fn boundary(&self, column: u64, out: &mut Vec<u64>) {
        self.apparent_boundary(edge_key(column), out);
    }

    fn apparent_owner(&self, row: u64) -> Option<u64> {
        let owner = self.oldest_coface(edge_key(row))?;
        (self.pivot(edge_key(owner)) == Some(row)).then_some(owner)
    }

    /// A column's handle is its square key (below `2^31` in all but the largest volumes).
    fn handle(&self, column: u64) -> Option<u32> {
        let square = edge_key(column);
        (square < 1 << 31).then_some(square)
    }

    /// The handle of a column is its square key.
    fn apparent_boundary(&self, square: u32, out: &mut Vec<u64>) {
        out.clear();
        out.extend(self.edges_of(square).into_iter().filter_map(|e| self.row(e)));
        out.sort_unstable();
    }

    fn prefetch(&self, column: u64) {
        // The voxels of a square lie on these four lines of the grid (a hint: the lines of
        // another cell shape are near them).
        let (ranks, p) = (&self.row_filtration.ranks, (edge_key(column) / 3) as usize);
        let (stride, plane) = (self.geometry.stride() as usize, self.geometry.plane() as usize);
        for voxel in [p, p + stride, p + plane, p + stride + plane] {
            if let Some(x) = ranks.get(voxel) {
                prefetch_read(x);
            }
        }
    }

    fn stopped(&self) -> bool {
        self.geometry.stopped()
    }

    fn row_slots(&self) -> usize {
        self.keys()
    }

    #[inline]
    fn row_slot(&self, row: u64) -> usize {
        edge_key(row) as usize
    }
}

/// Starts loading the cache line of `x` (a no-op where the target has no prefetch instruction).
#[inline(always)]
fn prefetch_read<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it reads nothing and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch(x as *const T as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// The pairs `(column, pivot)` of a filtration's own middle reduction that are bars of positive
/// length, in column order (ascending death square).
pub(crate) fn own_pairs<C: VolumeGeometry>(m: Middle<'_, C>, others: &mut Vec<Edge>, reduction: &mut ReductionWorkspace) -> Vec<(Edge, Edge)> {
    let positive = |column: Edge, row: Edge| !m.geometry.same_level(edge_rank(column), edge_rank(row));
    let mut pairs = Vec::new();
    m.split(positive, &mut pairs, others, reduction);
    let reduced = m.reduce(others, reduction);
    pairs.extend(reduced.pairs.into_iter().filter(|&(column, row)| positive(column, row)));
    pairs.sort_unstable();
    pairs
}

/// The pivots of an image reduction's columns that are not apparent pairs, in column order
/// (the apparent ones are recomputed where needed, with [`Middle::apparent_pivot`]).
pub(crate) fn image_pairs<C: VolumeGeometry>(m: Middle<'_, C>, others: &mut Vec<Edge>, reduction: &mut ReductionWorkspace) -> Vec<(Edge, Edge)> {
    let mut none = Vec::new();
    m.split(|_, _| false, &mut none, others, reduction);
    m.reduce(others, reduction).pairs
}

/// The finite bars of dimension 1 of `f` (a volume), in ascending order of their death squares.
pub(crate) fn middle_bars<C: VolumeGeometry>(
    f: &Filtration,
    cleared: &KeySet,
    positive_edges: Option<&KeySet>,
    ws: &mut MiddleWorkspace,
) -> Vec<PersistencePair> {
    let MiddleWorkspace { others, reduction } = ws;
    own_pairs(Middle::<C>::own(f, cleared, positive_edges, PADDING), others, reduction).into_iter().map(|(square, edge)| loop_bar::<C>(f, square, edge)).collect()
}

/// The bar of a loop born at row `edge` and dying at `square` of `f`.
pub(crate) fn loop_bar<C: VolumeGeometry>(f: &Filtration, square: Edge, edge: Edge) -> PersistencePair {
    let birth = C::row_voxel(&f.ranks, edge_key(edge), f.stride(), f.plane());
    PersistencePair { birth: f.pixel(birth), death: f.pixel(f.dual_edge_pixel(edge_key(square))) }
}
