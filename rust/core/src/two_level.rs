//! The sweeps of a two-level filtration (a binary mask, such as a one-hot target) with labelling in
//! place of most of the union-find work. Both give exactly the bars, in the order and with the
//! roots, that [`crate::persistence`]'s sweeps give on the same filtration.
//!
//! - Components: the lower level's components are labelled; at level 1 the raster sweep grows
//!   one set from the start and absorbs each component by the first edge that reaches it (see
//!   [`RunComponents::sweep_order`]). Each absorption of a component into a set that already
//!   holds one retires the later of the two first pixels: a bar dying at that edge.
//! - Cycles: the dual sweep's first phase (the upper level's dual edges) only forms the regions of
//!   the background, which a labelling finds directly; the union-find is started on those
//!   regions, and the second phase runs as usual over the lower level's dual edges only.

use crate::bitplane::BitPlane;
use crate::filtration::{edge_rank, Filtration, PADDING};
use crate::grid::Connectivity;
use crate::persistence;
use crate::run_components::{OrderScratch, Reached, RunComponents};
use crate::union_find::{Image, UnionFind};

/// Reusable buffers for the two-level sweeps.
#[derive(Default)]
pub struct TwoLevelWorkspace {
    plane: BitPlane,
    components: RunComponents,
    order: OrderScratch,
    /// Per run (read at roots): the component's first pixel, or the region's root node.
    node: Vec<u32>,
    parents: Vec<u32>,
}

const NONE: u32 = u32::MAX;

/// The ranks of row `r` without its padding.
fn interior_row(f: &Filtration, r: usize) -> &[u32] {
    let start = f.padded(r, 0) as usize;
    &f.ranks[start..start + f.shape().cols]
}

/// As [`crate::persistence::component_sweep`] on a two-level filtration: `on_bar(younger root,
/// edge key)` for each finite bar, in the order of the deaths.
pub(crate) fn component_bars(f: &Filtration, ws: &mut TwoLevelWorkspace, mut on_bar: impl FnMut(u32, u32)) {
    debug_assert!(f.is_two_level());
    let (shape, eight) = (f.shape(), f.connectivity() == Connectivity::Eight);
    ws.plane.pack_equal(shape, |r| interior_row(f, r), 0);
    let rc = &mut ws.components;
    rc.label(&ws.plane, eight);
    let first = &mut ws.node;
    first.clear();
    first.resize(rc.runs.len(), NONE);
    for r in 0..shape.rows {
        for k in rc.runs.of_row(r) {
            if rc.root[k] as usize == k {
                first[k] = f.padded(r, rc.runs.start[k] as usize);
            }
        }
    }
    let (stride, kinds) = (f.stride(), if eight { 4 } else { 2 });
    // The lower-level root of the growing set (NONE while it holds only upper-level pixels).
    let mut grown = NONE;
    rc.sweep_order(&ws.plane, eight, &mut ws.order, |component, how| {
        let m = first[component as usize];
        let key = match how {
            Reached::AtStart => {
                grown = m;
                return false;
            }
            Reached::FromRow0 { col, kind } => kinds * f.padded(0, col as usize) + kind,
            // Down-right from the pixel above-left when there is one (8-connectivity), else down.
            Reached::FromAbove if eight && m % stride > 1 => 4 * (m - stride - 1) + 2,
            Reached::FromAbove => kinds * (m - stride),
        };
        if grown == NONE {
            grown = m; // the growing set's upper-level root retires: an empty bar
        } else {
            on_bar(grown.max(m), key);
            grown = grown.min(m);
        }
        false
    });
}

/// As [`crate::persistence::cycle_sweep`] on a two-level filtration: `on_bar(younger root, edge
/// key, image root)` for each finite bar, in sweep order.
pub(crate) fn cycle_sweep(
    f: &Filtration,
    uf: &mut UnionFind,
    ws: &mut TwoLevelWorkspace,
    mut image: Option<&mut Image>,
    on_bar: impl FnMut(u32, u32, u32),
) {
    debug_assert!(f.is_two_level());
    start_on_background_regions(f, uf, ws, image.as_deref_mut());
    let edges = f.dual_edges();
    let upper = edges.partition_point(|&e| edge_rank(e) == 0);
    persistence::cycle_sweep_from(f, uf, &edges[..upper], image, on_bar);
}

/// The dual union-find (and `image`) as the dual sweep leaves them after the upper level's dual
/// edges: every node of a background region (8-connected background for connectivity 4, whose
/// nodes are the squares around its pixels; 4-connected for connectivity 8, whose nodes are the
/// pixels) points to the region's root, its last node, or to the outside if the region touches
/// the border.
fn start_on_background_regions(f: &Filtration, uf: &mut UnionFind, ws: &mut TwoLevelWorkspace, image: Option<&mut Image>) {
    let (shape, eight) = (f.shape(), f.connectivity() == Connectivity::Eight);
    let (stride, outside) = (f.stride(), f.outside());
    ws.plane.pack_equal(shape, |r| interior_row(f, r), 1);
    let rc = &mut ws.components;
    rc.label(&ws.plane, !eight);
    let (runs, root) = (&rc.runs, &rc.root);
    let region = &mut ws.node;
    region.clear();
    region.resize(runs.len(), NONE);
    for r in 0..shape.rows {
        let edge_row = r == 0 || r + 1 == shape.rows;
        for k in runs.of_row(r) {
            let owner = root[k] as usize;
            let (start, end) = (runs.start[k] as usize, runs.end[k] as usize);
            // Runs come in raster order: the last one holds the region's last pixel.
            region[owner] = if region[owner] == outside || edge_row || start == 0 || end == shape.cols {
                outside
            } else {
                f.padded(r, end - 1)
            };
        }
    }
    let parents = &mut ws.parents;
    parents.clear();
    parents.extend(f.dual_ranks.iter().enumerate().map(|(i, &rank)| if rank == PADDING { outside } else { i as u32 }));
    for r in 0..shape.rows {
        for k in runs.of_row(r) {
            let node = region[root[k] as usize];
            for c in runs.start[k] as usize..runs.end[k] as usize {
                let p = f.padded(r, c);
                if eight {
                    parents[p as usize] = node;
                } else {
                    // The four squares around the pixel (named by their top-left pixels); those
                    // touching the padding already belong to the outside.
                    for q in [p - stride - 1, p - stride, p - 1, p] {
                        if f.dual_ranks[q as usize] != PADDING {
                            parents[q as usize] = node;
                        }
                    }
                }
            }
        }
    }
    if let Some(img) = image {
        // The outside's own annotation is the latest of all: only the holes' need gathering.
        for (q, &parent) in parents.iter().enumerate() {
            if parent != q as u32 && parent != outside {
                img.merge(q as u32, parent, false);
            }
        }
    }
    uf.reset_with(&f.dual_ranks, parents.iter().copied());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::{Connectivity, Shape};

    fn filtration(values: &[f64], shape: Shape, conn: Connectivity) -> Filtration {
        let mut f = Filtration::default();
        f.build(values, shape, conn);
        f
    }

    /// A two-level image and a general one of the same shape, from quickcheck's bytes.
    fn images(raw: &[u8], cols: usize, density: u8) -> Option<(Vec<f64>, Vec<f64>, Shape)> {
        let rows = raw.len() / cols;
        (rows > 0).then(|| {
            let mask = raw[..rows * cols].iter().map(|&x| if x % 8 < 1 + density % 7 { 0.0 } else { 1.0 }).collect();
            let general = raw[..rows * cols].iter().map(|&x| (x.wrapping_mul(37) % 11) as f64).collect();
            (mask, general, Shape::new(rows, cols))
        })
    }

    fn same_sweeps(mask: &[f64], general: &[f64], shape: Shape) -> bool {
        [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
            let f = filtration(mask, shape, conn);
            let other = filtration(general, shape, conn);
            let mut ws = TwoLevelWorkspace::default();
            let (mut want, mut got) = (Vec::new(), Vec::new());
            persistence::component_sweep(&f, &mut UnionFind::default(), None::<&mut Vec<crate::filtration::Edge>>, |y, e| want.push((y, e, 0)));
            component_bars(&f, &mut ws, |y, e| got.push((y, e, 0)));
            let components_agree = want == got;
            want.clear();
            got.clear();
            let mut image = Image::new(&other.dual_ranks, Vec::new());
            persistence::cycle_sweep(&f, &mut UnionFind::default(), f.dual_edges(), Some(&mut image), |y, e, i| want.push((y, e, i)));
            let mut image = Image::new(&other.dual_ranks, Vec::new());
            cycle_sweep(&f, &mut UnionFind::default(), &mut ws, Some(&mut image), |y, e, i| got.push((y, e, i)));
            components_agree && want == got
        })
    }

    quickcheck::quickcheck! {
        fn two_level_sweeps_equal_the_union_find_sweeps(raw: Vec<u8>, cols: u8, density: u8) -> bool {
            let Some((mask, general, shape)) = images(&raw, 1 + cols as usize % 9, density) else { return true };
            same_sweeps(&mask, &general, shape)
        }
    }

    #[test]
    fn wide_two_level_images_sweep_alike() {
        let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
        for case in 0..200 {
            let cols = 1 + case % 140;
            let raw: Vec<u8> = (0..cols * (1 + case % 13)).map(|_| rng.next_u64() as u8).collect();
            let (mask, general, shape) = images(&raw, cols, (rng.next_u64() >> 20) as u8).unwrap();
            assert!(same_sweeps(&mask, &general, shape), "case {case}");
        }
    }
}
