//! The 3D Betti matching against an oracle written from the definition, so that `cargo test`
//! checks every path of the volume engine without Python (the twin of `tests/oracle_nd.py`).
//!
//! The oracle builds the V-construction's cubical complex explicitly (every cell with its
//! vertices, value = the max of theirs), orders the cells of each dimension by (value, key) with
//! the reference's key order (anchor voxel in raster order, then type: an edge's direction, a
//! square's normal axis), and reduces dense boundary matrices over Z/2 — no union-find, no
//! clearing, no compression, no apparent pairs. The image pivots come from the boundary matrix
//! with its columns in the comparison's order and its rows in an input's; a bar of the input
//! born at row `i` reaches the comparison's bar that dies at the column whose pivot is `i`
//! (Betti-Matching-3D's rule), and bars of the two inputs that reach the same bar are matched.

use crate::grid::{Connectivity, Shape};
use crate::matching::{betti_matching, Matching};
use crate::test_rng::XorShift;

/// A cell of the grid: its anchor voxel, which axes it spans, its key in the reference's order.
struct Cell {
    vertices: Vec<usize>,
    faces: Vec<usize>,
    key: (usize, usize),
}

/// The cells of a `d × h × w` grid by dimension; faces index into the dimension below.
fn complex(d: usize, h: usize, w: usize) -> Vec<Vec<Cell>> {
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
                    let mut vertices = Vec::new();
                    for a in 0..=ex {
                        for b in 0..=ey {
                            for c in 0..=ez {
                                vertices.push(index(x + a, y + b, z + c));
                            }
                        }
                    }
                    id_of.insert((x, y, z, span), (dim, cells[dim].len()));
                    cells[dim].push(Cell { vertices, faces: Vec::new(), key: (index(x, y, z), kind) });
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

fn cell_values(cells: &[Cell], values: &[f64]) -> Vec<f64> {
    cells.iter().map(|c| c.vertices.iter().map(|&v| values[v]).fold(f64::NEG_INFINITY, f64::max)).collect()
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
/// pivot row cell.
fn pivots(columns: &[Cell], column_rank: &[usize], row_rank: &[usize]) -> Vec<Option<usize>> {
    let rows = row_rank.len();
    let mut cell_of_row = vec![0; rows];
    for (cell, &r) in row_rank.iter().enumerate() {
        cell_of_row[r] = cell;
    }
    let mut order: Vec<usize> = (0..columns.len()).collect();
    order.sort_by_key(|&c| column_rank[c]);
    let mut owner: Vec<Option<Vec<bool>>> = vec![None; rows];
    let mut out = vec![None; columns.len()];
    for &c in &order {
        let mut bits = vec![false; rows];
        for &f in &columns[c].faces {
            bits[row_rank[f]] ^= true;
        }
        while let Some(p) = bits.iter().rposition(|&b| b) {
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

/// A bar `(birth value, death value)` with its birth row cell and death column cell.
#[derive(Clone, Copy)]
struct Bar {
    birth: f64,
    death: f64,
    birth_cell: usize,
    death_cell: usize,
}

type ValuePair = (u64, u64);

fn bits(b: &Bar) -> ValuePair {
    (b.birth.to_bits(), b.death.to_bits())
}

/// Per dimension: (pred bars, target bars, matched value pairs), by the definition.
fn oracle(f: &[f64], g: &[f64], shape: (usize, usize, usize)) -> Vec<(Vec<ValuePair>, Vec<ValuePair>, Vec<(ValuePair, ValuePair)>)> {
    let c: Vec<f64> = f.iter().zip(g).map(|(&a, &b)| a.min(b)).collect();
    let cells = complex(shape.0, shape.1, shape.2);
    let mut out = Vec::new();
    for k in 0..3 {
        let (rows, columns) = (&cells[k], &cells[k + 1]);
        let value = |x: &[f64], cs: &[Cell]| cell_values(cs, x);
        let [fr, gr, cr] = [f, g, &c[..]].map(|x| value(x, rows));
        let [fc, gc, cc] = [f, g, &c[..]].map(|x| value(x, columns));
        let [frk, grk, crk] = [&fr, &gr, &cr].map(|v| ranks(rows, v));
        let [fck, gck, cck] = [&fc, &gc, &cc].map(|v| ranks(columns, v));
        let bars = |rv: &[f64], cv: &[f64], rk: &[usize], ck: &[usize]| -> Vec<Bar> {
            pivots(columns, ck, rk)
                .iter()
                .enumerate()
                .filter_map(|(col, &row)| row.map(|row| Bar { birth: rv[row], death: cv[col], birth_cell: row, death_cell: col }))
                .filter(|b| b.birth != b.death)
                .collect()
        };
        let (pred, target, comparison) = (bars(&fr, &fc, &frk, &fck), bars(&gr, &gc, &grk, &gck), bars(&cr, &cc, &crk, &cck));
        // Per input, its bar born at row i reaches the comparison bar dying at the column whose
        // image pivot is i.
        let reach = |rk: &[usize], input: &[Bar]| -> Vec<Option<usize>> {
            let image = pivots(columns, &cck, rk);
            let mut column_of_row = vec![None; rows.len()];
            for (col, &row) in image.iter().enumerate() {
                if let Some(row) = row {
                    column_of_row[row] = Some(col);
                }
            }
            input.iter().map(|b| column_of_row[b.birth_cell].filter(|&col| comparison.iter().any(|cb| cb.death_cell == col))).collect()
        };
        let (pred_reach, target_reach) = (reach(&frk, &pred), reach(&grk, &target));
        let mut matched = Vec::new();
        for (pb, pr) in pred.iter().zip(&pred_reach) {
            if let Some(col) = pr {
                if let Some(ti) = target_reach.iter().position(|tr| tr == &Some(*col)) {
                    matched.push((bits(pb), bits(&target[ti])));
                }
            }
        }
        out.push((pred.iter().map(bits).collect(), target.iter().map(bits).collect(), matched));
    }
    out
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// The engine's result in the oracle's terms (values at the reported voxels).
fn engine(m: &Matching, f: &[f64], g: &[f64]) -> Vec<(Vec<ValuePair>, Vec<ValuePair>, Vec<(ValuePair, ValuePair)>)> {
    let pair = |x: &[f64], p: crate::PersistencePair| (x[p.birth as usize].to_bits(), x[p.death as usize].to_bits());
    (0..3)
        .map(|d| {
            (
                m.pred.pairs[d].iter().map(|&p| pair(f, p)).collect(),
                m.target.pairs[d].iter().map(|&p| pair(g, p)).collect(),
                m.matched_pairs(d).map(|(a, b)| (pair(f, a), pair(g, b))).collect(),
            )
        })
        .collect()
}

fn random_volume(rng: &mut XorShift, n: usize, kind: u64) -> Vec<f64> {
    match kind {
        0 => (0..n).map(|_| rng.below(4) as f64).collect(),
        1 => (0..n).map(|_| rng.below(2) as f64).collect(),
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

#[test]
fn volume_matching_equals_the_definition() {
    let mut rng = XorShift::new(0x3d_0c1e_5eed);
    let mut matched = 0;
    for case in 0..1500 {
        let shape = (1 + rng.below(5) as usize, 1 + rng.below(5) as usize, 1 + rng.below(5) as usize);
        let n = shape.0 * shape.1 * shape.2;
        let f = random_volume(&mut rng, n, case % 3);
        let g = random_volume(&mut rng, n, (case / 3) % 3);
        let m = betti_matching(&f, &g, Shape::volume(shape.0, shape.1, shape.2), Connectivity::Six).unwrap();
        let (want, got) = (oracle(&f, &g, shape), engine(&m, &f, &g));
        for d in 0..3 {
            assert_eq!(sorted(got[d].0.clone()), sorted(want[d].0.clone()), "case {case} {shape:?} pred dim {d}");
            assert_eq!(sorted(got[d].1.clone()), sorted(want[d].1.clone()), "case {case} {shape:?} target dim {d}");
            assert_eq!(sorted(got[d].2.clone()), sorted(want[d].2.clone()), "case {case} {shape:?} matched dim {d}");
            matched += want[d].2.len();
        }
    }
    assert!(matched > 1000, "the cases must exercise the matching ({matched} matched pairs)");
}

#[test]
fn a_slab_matches_like_its_slice() {
    let mut rng = XorShift::new(0x51ab);
    for case in 0..200 {
        let (h, w) = (1 + rng.below(6) as usize, 1 + rng.below(6) as usize);
        let f = random_volume(&mut rng, h * w, case % 3);
        let g = random_volume(&mut rng, h * w, (case + 1) % 3);
        let flat = betti_matching(&f, &g, Shape::new(h, w), Connectivity::Four).unwrap();
        let thick = betti_matching(&f, &g, Shape::volume(1, h, w), Connectivity::Six).unwrap();
        for d in 0..2 {
            assert_eq!(sorted(engine(&thick, &f, &g)[d].2.clone()), sorted(flat.matched_pairs(d).map(|(a, b)| ((f[a.birth as usize].to_bits(), f[a.death as usize].to_bits()), (g[b.birth as usize].to_bits(), g[b.death as usize].to_bits()))).collect()), "case {case} dim {d}");
            assert_eq!(thick.unmatched_pred[d].len(), flat.unmatched_pred[d].len());
            assert_eq!(thick.unmatched_target[d].len(), flat.unmatched_target[d].len());
        }
        assert!(thick.pred.pairs[2].is_empty() && thick.target.pairs[2].is_empty());
    }
}
