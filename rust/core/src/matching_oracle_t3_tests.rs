//! The 3D Betti matching and barcode with connectivity 26 (the T-construction) against the
//! oracle of `matching_oracle_tests`, on a complex built from the definition (the twin of the T
//! construction of `tests/oracle_nd.py`), so that `cargo test` checks the 26-connected path of
//! the volume engine without Python.
//!
//! The voxels are closed unit cubes. A cell of the doubled grid `0..=2N` per axis (an odd
//! coordinate `c`: inside voxel `(c - 1) / 2` along that axis; an even one: on the wall between
//! voxels `c / 2 - 1` and `c / 2`, those that exist) bounds the voxels it touches and takes the
//! min of their values, reported by the first of them (lowest raster index) attaining it. Its key
//! is (its anchor `ceil(c / 2)` on the grid padded by one voxel, kind), the kind being the
//! lexicographic rank of the axes where `c` is even among the axis sets of that size.
//! Dimension 0 is computed on the graph of the 26 neighbours instead: vertices the voxels, edges
//! keyed (smaller voxel, kind) taking the max of their two voxels, reported by the later one
//! attaining it, the 13 kinds being the forward offsets ordered by how many axes they step along,
//! then lexicographically descending. Dimensions 1 and 2 come from the T complex.
//!
//! Checked: the engine's barcode and matching equal the oracle's field by field, voxel for voxel
//! and row for row (ties, two-level masks, sparse peaks, tie-free values, perturbed partners);
//! the oracle's bars give the Euler characteristic of every sublevel set of the T complex; a
//! volume one voxel thick along any axis matches like its slice with connectivity 8.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::grid::{Connectivity, Shape};
use crate::matching::betti_matching;
use crate::matching_oracle_tests::{
    assert_layer_agrees, barcode_by_definition, boundaries, engine, is_tie_free, oracle, perturbed, random_volume, sorted, Boundary,
    Cell, Row, Rule, KIND_NAMES,
};
use crate::persistence::barcode;
use crate::test_rng::XorShift;

/// The forward offsets to the 26 neighbours (those whose first nonzero step is positive), in the
/// order of the edge kinds.
fn neighbour_offsets() -> Vec<[i64; 3]> {
    let mut forward = Vec::new();
    for a in -1..=1 {
        for b in -1..=1 {
            for c in -1..=1 {
                let step = [a, b, c];
                if step.iter().find(|&&s| s != 0).is_some_and(|&s| s > 0) {
                    forward.push(step);
                }
            }
        }
    }
    forward.sort_by_key(|step| (step.iter().filter(|&&s| s != 0).count(), step.map(|s| -s)));
    forward
}

/// Dimension 0 of the T-construction: the voxels and the edges between 26-neighbours.
fn neighbour_graph([d, h, w]: [usize; 3]) -> Boundary {
    let vertices = (0..d * h * w).map(|p| Cell { voxels: vec![p], faces: Vec::new(), key: (p, 0), rule: Rule::MaxReportedByLast }).collect();
    let (offsets, mut edges) = (neighbour_offsets(), Vec::new());
    for x in 0..d {
        for y in 0..h {
            for z in 0..w {
                let p = (x * h + y) * w + z;
                for (kind, step) in offsets.iter().enumerate() {
                    let q = [x as i64 + step[0], y as i64 + step[1], z as i64 + step[2]];
                    if q.iter().zip([d, h, w]).any(|(&c, n)| c < 0 || c >= n as i64) {
                        continue;
                    }
                    let q = ((q[0] as usize) * h + q[1] as usize) * w + q[2] as usize;
                    // A forward step always reaches a larger raster index: the voxels ascend.
                    edges.push(Cell { voxels: vec![p, q], faces: vec![p, q], key: (p, kind), rule: Rule::MaxReportedByLast });
                }
            }
        }
    }
    Boundary { rows: vertices, columns: edges }
}

/// The axis sets of `size` axes out of three, in lexicographic order.
fn axis_sets(size: usize) -> Vec<Vec<usize>> {
    let mut sets: Vec<Vec<usize>> = (0..8usize).map(|bits| (0..3).filter(|&a| bits >> (2 - a) & 1 == 1).collect::<Vec<_>>()).filter(|s| s.len() == size).collect();
    sets.sort();
    sets
}

/// The T complex of a `d × h × w` grid by dimension (faces index into the dimension below).
fn t_complex([d, h, w]: [usize; 3]) -> Vec<Vec<Cell>> {
    let sides = [d, h, w];
    let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); 4];
    let mut coordinates: Vec<Vec<[usize; 3]>> = vec![Vec::new(); 4];
    let mut id_of = HashMap::new();
    let kinds: Vec<Vec<Vec<usize>>> = (0..4).map(axis_sets).collect();
    for c0 in 0..=2 * d {
        for c1 in 0..=2 * h {
            for c2 in 0..=2 * w {
                let c = [c0, c1, c2];
                // The voxels the cell touches along each axis (ascending).
                let along: Vec<Vec<usize>> = (0..3)
                    .map(|i| if c[i] % 2 == 1 { vec![(c[i] - 1) / 2] } else { [(c[i] / 2).checked_sub(1), Some(c[i] / 2)].into_iter().flatten().filter(|&v| v < sides[i]).collect() })
                    .collect();
                let mut voxels = Vec::new();
                for &x in &along[0] {
                    for &y in &along[1] {
                        for &z in &along[2] {
                            voxels.push((x * h + y) * w + z);
                        }
                    }
                }
                let even: Vec<usize> = (0..3).filter(|&i| c[i] % 2 == 0).collect();
                let dim = 3 - even.len();
                let kind = kinds[even.len()].iter().position(|s| *s == even).unwrap();
                let anchor = c.map(|ci| ci.div_ceil(2));
                let key = ((anchor[0] * (h + 2) + anchor[1]) * (w + 2) + anchor[2], kind);
                id_of.insert(c, cells[dim].len());
                coordinates[dim].push(c);
                cells[dim].push(Cell { voxels, faces: Vec::new(), key, rule: Rule::MinReportedByFirst });
            }
        }
    }
    // Faces: one step down or up along an axis where the cell is open.
    for dim in 1..4 {
        for (i, c) in coordinates[dim].iter().enumerate() {
            let mut faces = Vec::new();
            for axis in (0..3).filter(|&a| c[a] % 2 == 1) {
                for side in [c[axis] - 1, c[axis] + 1] {
                    let mut face = *c;
                    face[axis] = side;
                    faces.push(id_of[&face]);
                }
            }
            cells[dim][i].faces = faces;
        }
    }
    cells
}

/// The T-construction of one shape: the T complex, and the boundary matrices per homology
/// dimension 0, 1, 2 (the neighbour graph's, then the T complex's).
pub(crate) struct TConstruction {
    complex: Vec<Vec<Cell>>,
    pub(crate) boundaries: Vec<Boundary>,
}

thread_local! {
    static BUILT: RefCell<HashMap<[usize; 3], Rc<TConstruction>>> = RefCell::new(HashMap::new());
}

/// The T-construction of `shape`, built once per shape and thread (the cases repeat shapes).
pub(crate) fn t_construction(shape: [usize; 3]) -> Rc<TConstruction> {
    BUILT.with(|built| {
        built
            .borrow_mut()
            .entry(shape)
            .or_insert_with(|| {
                let complex = t_complex(shape);
                let mut boundaries_by_dim = vec![neighbour_graph(shape)];
                boundaries_by_dim.extend(boundaries(&complex).into_iter().skip(1));
                Rc::new(TConstruction { complex, boundaries: boundaries_by_dim })
            })
            .clone()
    })
}

#[test]
fn the_edge_kinds_are_the_documented_ones() {
    // The table of `filtration::T3` and `tests/oracle_nd.py`.
    let documented = [
        [1, 0, 0], [0, 1, 0], [0, 0, 1],
        [1, 1, 0], [1, 0, 1], [1, 0, -1], [1, -1, 0], [0, 1, 1], [0, 1, -1],
        [1, 1, 1], [1, 1, -1], [1, -1, 1], [1, -1, -1],
    ];
    assert_eq!(neighbour_offsets(), documented);
    assert_eq!(axis_sets(2), [vec![0, 1], vec![0, 2], vec![1, 2]]);
}

/// χ of the T complex's sublevel set at `t`: the cells whose value is at or below `t`.
fn euler_characteristic(cells: &[Vec<Cell>], values: &[f64], t: f64) -> i64 {
    let below = |cell: &Cell| cell.voxels.iter().any(|&v| values[v] <= t);
    cells.iter().enumerate().map(|(dim, of_dim)| if dim % 2 == 0 { 1 } else { -1 } * of_dim.iter().filter(|c| below(c)).count() as i64).sum()
}

/// Sides up to 4, every tenth case up to 5, where longer loops and larger cavities fit; every
/// other case at least 3 along each axis, the least that encloses a cavity.
fn random_shape(rng: &mut XorShift, case: u64) -> [usize; 3] {
    let (least, most) = (if case % 2 == 0 { 3 } else { 1 }, if case % 10 == 9 { 5 } else { 4 });
    [0; 3].map(|_| (least + rng.below(most - least + 1)) as usize)
}

#[test]
fn t_barcode_equals_the_definition() {
    let mut rng = XorShift::new(0x26ba_c0de);
    let cases = 600;
    let mut bars = [0usize; 3];
    for case in 0..cases {
        let shape = random_shape(&mut rng, case);
        let n = shape.iter().product();
        let kind = case % 4;
        let x = random_volume(&mut rng, n, kind);
        let construction = t_construction(shape);
        let want = barcode_by_definition(&x, &construction.boundaries);
        // The oracle's bars count the Betti numbers of every sublevel set of the T complex.
        let mut thresholds = x.clone();
        thresholds.sort_by(f64::total_cmp);
        thresholds.dedup();
        for &t in &thresholds {
            let alive = |rows: &[Row]| rows.iter().filter(|r| f64::from_bits(r.0) <= t && t < f64::from_bits(r.1)).count() as i64;
            let chi = 1 + alive(&want[0]) - alive(&want[1]) + alive(&want[2]);
            assert_eq!(chi, euler_characteristic(&construction.complex, &x, t), "case {case}, shape {shape:?} at {t}: {x:?}");
        }
        let got = barcode(&x, Shape::volume(shape[0], shape[1], shape[2]), Connectivity::TwentySix).unwrap();
        for d in 0..3 {
            let rows: Vec<Row> = got.pairs[d].iter().map(|p| (x[p.birth as usize].to_bits(), x[p.death as usize].to_bits(), p.birth, p.death)).collect();
            let name = format!("case {case}, shape {shape:?}, {}, dim {d} ({x:?})", KIND_NAMES[kind as usize]);
            assert_eq!(sorted(rows.clone()), sorted(want[d].clone()), "{name}: bars");
            assert_eq!(rows, want[d], "{name}: row order");
            bars[d] += want[d].len();
        }
        // The one bar that never dies is born at the first voxel in (value, index) order.
        let first = (0..n).min_by(|&a, &b| x[a].total_cmp(&x[b]).then(a.cmp(&b))).unwrap() as u32;
        assert_eq!(got.essential, vec![vec![first], vec![], vec![]], "case {case}: essential bars");
    }
    assert!(bars.iter().all(|&b| b as u64 > cases / 10), "the cases must exercise every dimension ({bars:?} bars)");
}

#[test]
fn t_matching_equals_the_definition() {
    let mut rng = XorShift::new(0x26_0c1e_5eed);
    let cases = 2000;
    let (mut matched, mut tie_free_bars) = ([0usize; 3], 0);
    for case in 0..cases {
        let shape = random_shape(&mut rng, case);
        let n = shape.iter().product();
        let (pred_kind, target_kind) = (case % 4, (case / 4) % 4);
        let f = random_volume(&mut rng, n, pred_kind);
        // Every other pair is a volume and a perturbed copy, which share most of their
        // features: matches in every dimension, cavities included.
        let near = case / 16 % 2 == 1;
        let g = if near { perturbed(&mut rng, &f) } else { random_volume(&mut rng, n, target_kind) };
        let target_name = if near { "the pred perturbed" } else { KIND_NAMES[target_kind as usize] };
        let m = betti_matching(&f, &g, Shape::volume(shape[0], shape[1], shape[2]), Connectivity::TwentySix).unwrap();
        let (want, got) = (oracle(&f, &g, &t_construction(shape).boundaries), engine(&m, &f, &g));
        let tie_free = (is_tie_free(&f), is_tie_free(&g));
        for d in 0..3 {
            let name = format!(
                "case {case}, shape {shape:?}, pred {}, target {target_name}, dim {d} (pred {f:?}, target {g:?})",
                KIND_NAMES[pred_kind as usize]
            );
            assert_layer_agrees(&got[d], &want[d], true, &name);
            matched[d] += want[d].matched.len();
            tie_free_bars += (tie_free.0 as usize) * want[d].pred.len() + (tie_free.1 as usize) * want[d].target.len();
        }
    }
    assert!(matched.iter().all(|&m| m as u64 > cases / 20), "the cases must exercise the matching in every dimension ({matched:?} matched pairs)");
    assert!(tie_free_bars as u64 > cases / 2, "the cases must cover tie-free volumes ({tie_free_bars} bars)");
}

#[test]
fn a_t_slab_matches_like_its_8_connected_slice() {
    let mut rng = XorShift::new(0x51ab_2626);
    let cases = 300;
    for case in 0..cases {
        let (h, w) = (1 + rng.below(6) as usize, 1 + rng.below(6) as usize);
        let (pred_kind, target_kind) = (case % 4, (case + 1) % 4);
        let f = random_volume(&mut rng, h * w, pred_kind);
        let near = case / 4 % 2 == 1;
        let g = if near { perturbed(&mut rng, &f) } else { random_volume(&mut rng, h * w, target_kind) };
        let target_name = if near { "the pred perturbed" } else { KIND_NAMES[target_kind as usize] };
        let flat = engine(&betti_matching(&f, &g, Shape::new(h, w), Connectivity::Eight).unwrap(), &f, &g);
        // The thin axis in each place; the raster indices are the slice's in all three.
        let thin = [[1, h, w], [h, 1, w], [h, w, 1]][(case % 3) as usize];
        let thick = engine(&betti_matching(&f, &g, Shape::volume(thin[0], thin[1], thin[2]), Connectivity::TwentySix).unwrap(), &f, &g);
        for d in 0..2 {
            let name = format!(
                "slab case {case}, {thin:?}, pred {}, target {target_name}, dim {d} (pred {f:?}, target {g:?})",
                KIND_NAMES[pred_kind as usize]
            );
            // Components are listed by death in both; a 2D image's loops are its top dimension
            // (listed by birth, descending), a volume's a middle one (by death, ascending).
            assert_layer_agrees(&thick[d], &flat[d], d == 0, &name);
        }
        assert!(thick[2].pred.is_empty() && thick[2].target.is_empty(), "slab case {case}: a slab has no cavities");
    }
}
