//! The 3D Betti matching against an oracle written from the definition, so that `cargo test`
//! checks every path of the volume engine without Python (the twin of `tests/oracle_nd.py`).
//!
//! The oracle takes an explicit complex (every cell with the voxels it takes its value from, its
//! faces and its key) and orders the cells of each dimension by (value, key), then reduces dense
//! boundary matrices over Z/2 — no union-find, no clearing, no compression, no apparent pairs.
//! The image pivots come from the boundary matrix with its columns in the comparison's order and
//! its rows in an input's; a bar of the input born at row `i` reaches the comparison's bar that
//! dies at the column whose pivot is `i` (Betti-Matching-3D's rule), and bars of the two inputs
//! that reach the same bar are matched. Each bar carries the voxels that report its cells, and
//! the rows are listed in the reference's order, so the engine is checked value for value, voxel
//! for voxel and row for row, ties included, as the README promises.
//!
//! This file holds the oracle and the V-construction (connectivity 6): every cell spans the
//! voxels at its corners and takes the max of theirs; keys are the reference's (anchor voxel in
//! raster order, then type: an edge's direction, a square's normal axis). The T-construction
//! (connectivity 26) is in `matching_oracle_t3_tests`.

use crate::grid::{Connectivity, Shape};
use crate::matching::{betti_matching, Matching};
use crate::test_rng::XorShift;

/// How a cell takes its value from its voxels, and which of the voxels attaining that value
/// (in ascending raster order) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    MaxReportedByLast,
    MaxReportedByFirst,
    MinReportedByFirst,
}

/// A cell of an explicit complex: the voxels it takes its value from (ascending), its faces
/// (indices into the dimension below), its key in the total order of its dimension.
#[derive(Clone, Debug)]
pub(crate) struct Cell {
    pub(crate) voxels: Vec<usize>,
    pub(crate) faces: Vec<usize>,
    pub(crate) key: (usize, usize),
    pub(crate) rule: Rule,
}

/// What one homology dimension is computed from: its cells (the rows of the boundary matrix) and
/// the cells one dimension up (the columns).
pub(crate) struct Boundary {
    pub(crate) rows: Vec<Cell>,
    pub(crate) columns: Vec<Cell>,
}

/// The boundary matrices of a complex given by dimension: `k + 1 -> k` for every `k`.
pub(crate) fn boundaries(cells: &[Vec<Cell>]) -> Vec<Boundary> {
    cells.windows(2).map(|w| Boundary { rows: w[0].clone(), columns: w[1].clone() }).collect()
}

/// The V-construction's cells of a `d × h × w` grid by dimension.
pub(crate) fn v_complex(d: usize, h: usize, w: usize) -> Vec<Vec<Cell>> {
    let index = |x: usize, y: usize, z: usize| (x * h + y) * w + z;
    let mut cells: Vec<Vec<Cell>> = (0..4).map(|_| Vec::new()).collect();
    let mut id_of = std::collections::HashMap::new();
    for x in 0..d {
        for y in 0..h {
            for z in 0..w {
                for span in 0..8usize {
                    let spans = [span & 4 != 0, span & 2 != 0, span & 1 != 0];
                    let (ex, ey, ez) = (spans[0] as usize, spans[1] as usize, spans[2] as usize);
                    if x + ex >= d || y + ey >= h || z + ez >= w {
                        continue;
                    }
                    let dim = ex + ey + ez;
                    // The reference's type: an edge's axis, a square's normal axis, else 0.
                    let kind = match dim {
                        1 => spans.iter().position(|&s| s).unwrap(),
                        2 => spans.iter().position(|&s| !s).unwrap(),
                        _ => 0,
                    };
                    let mut voxels = Vec::new();
                    for a in 0..=ex {
                        for b in 0..=ey {
                            for c in 0..=ez {
                                voxels.push(index(x + a, y + b, z + c));
                            }
                        }
                    }
                    // The reference reports a cube by its first corner attaining the max, every
                    // other cell by its last (an edge's later endpoint, a square's corners
                    // checked in descending order, a vertex itself).
                    let rule = if dim == 3 { Rule::MaxReportedByFirst } else { Rule::MaxReportedByLast };
                    id_of.insert((x, y, z, span), (dim, cells[dim].len()));
                    cells[dim].push(Cell { voxels, faces: Vec::new(), key: (index(x, y, z), kind), rule });
                }
            }
        }
    }
    // Faces: drop one spanned axis, at the anchor or one step along it.
    for (&(x, y, z, span), &(dim, i)) in &id_of {
        let mut faces = Vec::new();
        for (axis, bit) in [(0, 4), (1, 2), (2, 1)] {
            if span & bit == 0 {
                continue;
            }
            let mut anchor = [x, y, z];
            faces.push(id_of[&(anchor[0], anchor[1], anchor[2], span & !bit)].1);
            anchor[axis] += 1;
            faces.push(id_of[&(anchor[0], anchor[1], anchor[2], span & !bit)].1);
        }
        cells[dim][i].faces = faces;
    }
    cells
}

fn cell_value(cell: &Cell, values: &[f64]) -> f64 {
    let of_voxels = cell.voxels.iter().map(|&v| values[v]);
    match cell.rule {
        Rule::MinReportedByFirst => of_voxels.fold(f64::INFINITY, f64::min),
        _ => of_voxels.fold(f64::NEG_INFINITY, f64::max),
    }
}

/// The voxel that reports a cell at its value.
fn reporting_voxel(cell: &Cell, values: &[f64]) -> u32 {
    let value = cell_value(cell, values);
    let mut attaining = cell.voxels.iter().filter(|&&v| values[v] == value);
    let voxel = if cell.rule == Rule::MaxReportedByLast { attaining.next_back() } else { attaining.next() };
    *voxel.unwrap() as u32
}

/// Cells of one dimension in filtration order: rank of each cell.
fn ranks(cells: &[Cell], values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(cells[a].key.cmp(&cells[b].key)));
    let mut rank = vec![0; cells.len()];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r;
    }
    rank
}

/// Pivots of the boundary matrix of `columns` (cells of dimension k + 1) against their faces:
/// columns in the order `column_rank`, rows in the order `row_rank`. Returns per column cell its
/// pivot row cell. Columns are dense bit sets over the rows (64 rows a word).
fn pivots(columns: &[Cell], column_rank: &[usize], row_rank: &[usize]) -> Vec<Option<usize>> {
    let rows = row_rank.len();
    let mut cell_of_row = vec![0; rows];
    for (cell, &r) in row_rank.iter().enumerate() {
        cell_of_row[r] = cell;
    }
    let lowest = |bits: &[u64]| bits.iter().rposition(|&w| w != 0).map(|i| 64 * i + 63 - bits[i].leading_zeros() as usize);
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&c| column_rank[c]);
    let mut owner: Vec<Option<Vec<u64>>> = vec![None; rows];
    let mut out = vec![None; columns.len()];
    for &c in &order {
        let mut bits = vec![0u64; rows.div_ceil(64)];
        for &f in &columns[c].faces {
            bits[row_rank[f] / 64] ^= 1 << (row_rank[f] % 64);
        }
        while let Some(p) = lowest(&bits) {
            match &owner[p] {
                Some(reduced) => bits.iter_mut().zip(reduced).for_each(|(x, &y)| *x ^= y),
                None => {
                    out[c] = Some(cell_of_row[p]);
                    owner[p] = Some(bits);
                    break;
                }
            }
        }
    }
    out
}

/// A bar with its birth row cell and death column cell (indices within their dimension).
#[derive(Clone, Copy)]
struct Bar {
    row: Row,
    birth_cell: usize,
    death_cell: usize,
    /// Position in the reference's row order: the lower dimensions by death cell ascending, the
    /// top dimension (the dual sweep's) by birth cell descending, each in its own function's order.
    row_order: usize,
}

/// A bar as both sides can state it: (birth value bits, death value bits, birth voxel, death voxel).
pub(crate) type Row = (u64, u64, u32, u32);

/// One function filtered on one boundary matrix: the ranks of its rows and columns, and its bars
/// of positive length in the reference's row order.
struct Filtered {
    row_rank: Vec<usize>,
    column_rank: Vec<usize>,
    bars: Vec<Bar>,
}

fn filtered(x: &[f64], boundary: &Boundary, top: bool) -> Filtered {
    let (rows, columns) = (&boundary.rows, &boundary.columns);
    let row_value: Vec<f64> = rows.iter().map(|c| cell_value(c, x)).collect();
    let column_value: Vec<f64> = columns.iter().map(|c| cell_value(c, x)).collect();
    let (row_rank, column_rank) = (ranks(rows, &row_value), ranks(columns, &column_value));
    let mut bars: Vec<Bar> = pivots(columns, &column_rank, &row_rank)
        .iter()
        .enumerate()
        .filter_map(|(col, &row)| row.map(|row| (row, col)))
        .filter(|&(row, col)| row_value[row] != column_value[col])
        .map(|(row, col)| Bar {
            row: (row_value[row].to_bits(), column_value[col].to_bits(), reporting_voxel(&rows[row], x), reporting_voxel(&columns[col], x)),
            birth_cell: row,
            death_cell: col,
            row_order: if top { usize::MAX - row_rank[row] } else { column_rank[col] },
        })
        .collect();
    bars.sort_by_key(|b| b.row_order);
    Filtered { row_rank, column_rank, bars }
}

/// Per dimension, the finite bars of positive length of `x`, in the reference's row order.
pub(crate) fn barcode_by_definition(x: &[f64], boundaries: &[Boundary]) -> Vec<Vec<Row>> {
    let top = boundaries.len() - 1;
    boundaries.iter().enumerate().map(|(k, b)| filtered(x, b, k == top).bars.iter().map(|b| b.row).collect()).collect()
}

/// One dimension of a matching: each side's bars, the matched pairs, the unmatched bars.
#[derive(Default)]
pub(crate) struct Layer {
    pub(crate) pred: Vec<Row>,
    pub(crate) target: Vec<Row>,
    pub(crate) matched: Vec<(Row, Row)>,
    pub(crate) unmatched_pred: Vec<Row>,
    pub(crate) unmatched_target: Vec<Row>,
}

/// Per dimension, the matching by the definition on the complex whose boundary matrices are
/// `boundaries` (the last one is the top dimension's).
pub(crate) fn oracle(f: &[f64], g: &[f64], boundaries: &[Boundary]) -> Vec<Layer> {
    let c: Vec<f64> = f.iter().zip(g).map(|(&a, &b)| a.min(b)).collect();
    let top = boundaries.len() - 1;
    let mut out = Vec::new();
    for (k, boundary) in boundaries.iter().enumerate() {
        let [pred, target, comparison] = [f, g, &c[..]].map(|x| filtered(x, boundary, k == top));
        // Per input, its bar born at row i reaches the comparison bar dying at the column whose
        // image pivot is i; a comparison column without a positive-length bar reaches nothing.
        let reach = |input: &Filtered| -> Vec<Option<usize>> {
            let image = pivots(&boundary.columns, &comparison.column_rank, &input.row_rank);
            let mut column_of_row = vec![None; boundary.rows.len()];
            for (col, &row) in image.iter().enumerate() {
                if let Some(row) = row {
                    column_of_row[row] = Some(col);
                }
            }
            input.bars.iter().map(|b| column_of_row[b.birth_cell].filter(|&col| comparison.bars.iter().any(|cb| cb.death_cell == col))).collect()
        };
        let (pred_reach, target_reach) = (reach(&pred), reach(&target));
        let mut layer = Layer::default();
        let mut target_taken = vec![false; target.bars.len()];
        // Matched rows follow the comparison bar they reach, in the same rule in c's order.
        let mut matched = Vec::new();
        for (pb, pr) in pred.bars.iter().zip(&pred_reach) {
            let partner = pr.and_then(|col| target_reach.iter().position(|tr| tr == &Some(col)).map(|ti| (col, ti)));
            match partner {
                Some((col, ti)) => {
                    target_taken[ti] = true;
                    let via = comparison.bars.iter().find(|cb| cb.death_cell == col).unwrap();
                    matched.push((via.row_order, pb.row, target.bars[ti].row));
                }
                None => layer.unmatched_pred.push(pb.row),
            }
        }
        matched.sort_by_key(|m| m.0);
        layer.matched = matched.into_iter().map(|(_, p, t)| (p, t)).collect();
        layer.unmatched_target = target.bars.iter().zip(&target_taken).filter(|(_, &t)| !t).map(|(b, _)| b.row).collect();
        layer.pred = pred.bars.iter().map(|b| b.row).collect();
        layer.target = target.bars.iter().map(|b| b.row).collect();
        out.push(layer);
    }
    out
}

pub(crate) fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The engine's result in the oracle's terms (values at the reported voxels).
pub(crate) fn engine(m: &Matching, f: &[f64], g: &[f64]) -> Vec<Layer> {
    let row = |x: &[f64], p: crate::PersistencePair| (x[p.birth as usize].to_bits(), x[p.death as usize].to_bits(), p.birth, p.death);
    (0..m.dims())
        .map(|d| Layer {
            pred: m.pred.pairs[d].iter().map(|&p| row(f, p)).collect(),
            target: m.target.pairs[d].iter().map(|&p| row(g, p)).collect(),
            matched: m.matched_pairs(d).map(|(a, b)| (row(f, a), row(g, b))).collect(),
            unmatched_pred: m.unmatched_pred[d].iter().map(|&i| row(f, m.pred.pairs[d][i as usize])).collect(),
            unmatched_target: m.unmatched_target[d].iter().map(|&i| row(g, m.target.pairs[d][i as usize])).collect(),
        })
        .collect()
}

pub(crate) fn is_tie_free(x: &[f64]) -> bool {
    let v = sorted(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    v.windows(2).all(|w| w[0] != w[1])
}

/// A row with or without its voxels.
fn stated(row: Row, with_voxels: bool) -> Row {
    if with_voxels {
        row
    } else {
        (row.0, row.1, 0, 0)
    }
}

/// Engine and oracle agree on one dimension in three steps, so that a failure says what differs:
/// the bars' values as multisets (with the counts per side), then the same with the reporting
/// voxels, then, with `in_row_order`, row for row in the reference's order.
pub(crate) fn assert_layer_agrees(got: &Layer, want: &Layer, in_row_order: bool, case: &str) {
    for voxels in [false, true] {
        let what = if voxels { "voxels" } else { "values" };
        let side = |rows: &[Row]| sorted(rows.iter().map(|&r| stated(r, voxels)).collect::<Vec<_>>());
        let pairs = |rows: &[(Row, Row)]| sorted(rows.iter().map(|&(a, b)| (stated(a, voxels), stated(b, voxels))).collect::<Vec<_>>());
        assert_eq!(side(&got.pred), side(&want.pred), "{case}: pred bars ({what})");
        assert_eq!(side(&got.target), side(&want.target), "{case}: target bars ({what})");
        assert_eq!(got.matched.len(), want.matched.len(), "{case}: number matched");
        assert_eq!(got.unmatched_pred.len(), want.unmatched_pred.len(), "{case}: number of unmatched pred");
        assert_eq!(got.unmatched_target.len(), want.unmatched_target.len(), "{case}: number of unmatched target");
        assert_eq!(pairs(&got.matched), pairs(&want.matched), "{case}: matched pairs ({what})");
        assert_eq!(side(&got.unmatched_pred), side(&want.unmatched_pred), "{case}: unmatched pred ({what})");
        assert_eq!(side(&got.unmatched_target), side(&want.unmatched_target), "{case}: unmatched target ({what})");
    }
    if !in_row_order {
        return;
    }
    assert_eq!(got.pred, want.pred, "{case}: pred row order");
    assert_eq!(got.target, want.target, "{case}: target row order");
    assert_eq!(got.matched, want.matched, "{case}: matched row order");
    assert_eq!(got.unmatched_pred, want.unmatched_pred, "{case}: unmatched pred row order");
    assert_eq!(got.unmatched_target, want.unmatched_target, "{case}: unmatched target row order");
}

pub(crate) const KIND_NAMES: [&str; 4] = ["levels 0..3", "binary", "tie-free", "peaks"];

pub(crate) fn random_volume(rng: &mut XorShift, n: usize, kind: u64) -> Vec<f64> {
    match kind {
        0 => (0..n).map(|_| rng.below(4) as f64).collect(),
        1 => (0..n).map(|_| rng.below(2) as f64).collect(),
        // Sparse high voxels on a two-level ground: where a peak is enclosed, a cavity.
        3 => (0..n).map(|_| if rng.below(4) == 0 { 3.0 } else { rng.below(2) as f64 }).collect(),
        _ => {
            // Tie-free: a random permutation.
            let mut v: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
            for i in (1..n).rev() {
                v.swap(i, rng.below(i as u64 + 1) as usize);
            }
            v
        }
    }
}

/// `x` with a few pairs of voxels swapped: a partner that shares most of its features (and its
/// values, so a tie-free volume stays tie-free).
pub(crate) fn perturbed(rng: &mut XorShift, x: &[f64]) -> Vec<f64> {
    let mut y = x.to_vec();
    for _ in 0..1 + x.len() / 16 {
        let (i, j) = (rng.below(x.len() as u64) as usize, rng.below(x.len() as u64) as usize);
        y.swap(i, j);
    }
    y
}

#[test]
fn volume_matching_equals_the_definition() {
    let mut rng = XorShift::new(0x3d_0c1e_5eed);
    let (mut matched, mut tie_free_bars) = (0, 0);
    for case in 0..3000 {
        // Mostly sides up to 4; every tenth case up to 5, where longer loops and voids fit.
        let side = if case % 10 == 9 { 5 } else { 4 };
        let shape = (1 + rng.below(side) as usize, 1 + rng.below(side) as usize, 1 + rng.below(side) as usize);
        let n = shape.0 * shape.1 * shape.2;
        let (pred_kind, target_kind) = (case % 3, (case / 3) % 3);
        let f = random_volume(&mut rng, n, pred_kind);
        let g = random_volume(&mut rng, n, target_kind);
        let m = betti_matching(&f, &g, Shape::volume(shape.0, shape.1, shape.2), Connectivity::Six).unwrap();
        let (want, got) = (oracle(&f, &g, &boundaries(&v_complex(shape.0, shape.1, shape.2))), engine(&m, &f, &g));
        // The README promises the reference's voxels and row order with ties too; tie-free
        // sides are where they follow from the values alone, so they are counted separately.
        let tie_free = (is_tie_free(&f), is_tie_free(&g));
        for d in 0..3 {
            let name = format!(
                "case {case}, shape {shape:?}, pred {}, target {}, dim {d} (pred {f:?}, target {g:?})",
                KIND_NAMES[pred_kind as usize], KIND_NAMES[target_kind as usize]
            );
            assert_layer_agrees(&got[d], &want[d], true, &name);
            matched += want[d].matched.len();
            tie_free_bars += (tie_free.0 as usize) * want[d].pred.len() + (tie_free.1 as usize) * want[d].target.len();
        }
    }
    assert!(matched > 1500, "the cases must exercise the matching ({matched} matched pairs)");
    assert!(tie_free_bars > 2000, "the cases must cover tie-free volumes ({tie_free_bars} bars)");
}

#[test]
fn a_slab_matches_like_its_slice() {
    let mut rng = XorShift::new(0x51ab);
    for case in 0..200 {
        let (h, w) = (1 + rng.below(6) as usize, 1 + rng.below(6) as usize);
        let (pred_kind, target_kind) = (case % 3, (case + 1) % 3);
        let f = random_volume(&mut rng, h * w, pred_kind);
        let g = random_volume(&mut rng, h * w, target_kind);
        let flat = engine(&betti_matching(&f, &g, Shape::new(h, w), Connectivity::Four).unwrap(), &f, &g);
        let thick = engine(&betti_matching(&f, &g, Shape::volume(1, h, w), Connectivity::Six).unwrap(), &f, &g);
        for d in 0..2 {
            let name = format!(
                "slab case {case}, 1x{h}x{w}, pred {}, target {}, dim {d} (pred {f:?}, target {g:?})",
                KIND_NAMES[pred_kind as usize], KIND_NAMES[target_kind as usize]
            );
            // Row orders differ by design: a 2D image's loops are its top dimension (listed by
            // birth, descending), a volume's are a middle one (by death, ascending).
            assert_layer_agrees(&thick[d], &flat[d], false, &name);
        }
        assert!(thick[2].pred.is_empty() && thick[2].target.is_empty(), "slab case {case}: a slab has no cavities");
    }
}
