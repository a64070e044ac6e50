//! Persistence barcodes with the pixel where each bar is born and where it dies.
//!
//! Dimension 0 sweeps the primal edges upwards with a union-find over pixels; a merge kills the
//! younger component (elder rule, ties by index). Dimension 1 sweeps the dual edges downwards with
//! a union-find over the top cells plus the outside node: a merge of two dual components is the
//! birth edge of a cycle that dies at the younger dual root's cell. Zero-length bars are dropped.

use crate::error::InputError;
use crate::filtration::Filtration;
use crate::grid::{Connectivity, Shape};
use crate::union_find::{younger_ascending, younger_descending, UnionFind};

/// A finite bar, located by flat pixel indices: its value at birth is `values[birth]`, at death
/// `values[death]` (sublevel values; `birth` value < `death` value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PersistencePair {
    pub birth: u32,
    pub death: u32,
}

/// The barcode of one image, per homology dimension (0 and 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Barcode {
    /// Finite bars in the order the sweeps find them (dim 0 ascending death, dim 1 descending birth).
    pub pairs: [Vec<PersistencePair>; 2],
    /// Birth pixels of the bars that never die: in 2D, one component (the first pixel of the
    /// filtration) and no cycle.
    pub essential: [Vec<u32>; 2],
}

/// Buffers for one image's barcode computation, reusable across a batch.
#[derive(Default)]
pub struct Workspace {
    pub filtration: Filtration,
    pub uf: UnionFind,
}

/// The barcode of `values` (sublevel filtration, row-major `shape`).
pub fn barcode(values: &[f64], shape: Shape, connectivity: Connectivity) -> Result<Barcode, InputError> {
    barcode_with(&mut Workspace::default(), values, shape, connectivity)
}

pub fn barcode_with(
    ws: &mut Workspace,
    values: &[f64],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<Barcode, InputError> {
    shape.validate(values)?;
    ws.filtration.build(values, shape, connectivity);
    let f = &ws.filtration;
    let mut bars = Barcode::default();
    component_sweep(f, values, &mut ws.uf, |pair| bars.pairs[0].push(pair));
    cycle_sweep(f, values, &mut ws.uf, None, |pair, _, _| bars.pairs[1].push(pair));
    bars.essential[0].push(f.order[0]);
    Ok(bars)
}

/// Dimension 0: calls `on_pair` with each finite bar, in the order the deaths occur.
pub(crate) fn component_sweep(
    f: &Filtration,
    values: &[f64],
    uf: &mut UnionFind,
    mut on_pair: impl FnMut(PersistencePair),
) {
    uf.reset(values.len());
    for &edge in &f.edges {
        let (a, b) = f.edge_pixels(edge);
        let (ra, rb) = (uf.find(a), uf.find(b));
        if ra == rb {
            continue;
        }
        let (younger, elder) = younger_ascending(values, ra, rb);
        uf.attach(younger, elder);
        if values[younger as usize] != f.edge_value(values, edge) {
            on_pair(PersistencePair { birth: younger, death: f.edge_pixel(values, edge) });
        }
    }
}

/// A second union-find that follows the same merges, ranked by another image's dual values: the
/// image of the bars in the comparison filtration (for the induced matching).
pub(crate) struct Shadow<'a> {
    pub uf: &'a mut UnionFind,
    pub dual_values: &'a [f64],
}

/// Dimension 1: calls `on_pair(bar, retired, shadow_retired)` with each finite bar, in sweep
/// order: the dual roots the merge retired here and in the shadow union-find (`u32::MAX` if none).
pub(crate) fn cycle_sweep(
    f: &Filtration,
    values: &[f64],
    uf: &mut UnionFind,
    mut shadow: Option<Shadow<'_>>,
    mut on_pair: impl FnMut(PersistencePair, u32, u32),
) {
    let dual_values = &f.dual_values;
    uf.reset(dual_values.len());
    if let Some(s) = shadow.as_mut() {
        s.uf.reset(s.dual_values.len());
    }
    for &edge in f.dual_edges().iter().rev() {
        let (a, b) = f.dual_edge_nodes(edge);
        let (ra, rb) = (uf.find(a), uf.find(b));
        if ra == rb {
            continue;
        }
        let (younger, elder) = younger_descending(dual_values, ra, rb);
        uf.attach(younger, elder);
        let shadow_younger = match shadow.as_mut() {
            Some(s) => {
                let (sa, sb) = (s.uf.find(a), s.uf.find(b));
                let (y, e) = younger_descending(s.dual_values, sa, sb);
                s.uf.attach(y, e);
                y
            }
            None => u32::MAX,
        };
        if dual_values[younger as usize] != f.dual_edge_value(values, edge) {
            let pair = PersistencePair {
                birth: f.dual_edge_pixel(values, edge),
                death: f.dual_node_pixel(values, younger),
            };
            on_pair(pair, younger, shadow_younger);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(values: &[f64], rows: usize, cols: usize, conn: Connectivity) -> Barcode {
        barcode(values, Shape::new(rows, cols), conn).unwrap()
    }

    #[test]
    fn ring_has_one_cycle_and_one_component() {
        // A ring of low values around a high centre: sublevel set closes a loop at 0 and the hole
        // fills at 1.
        #[rustfmt::skip]
        let v = [0., 0., 0.,
                 0., 1., 0.,
                 0., 0., 0.];
        for conn in [Connectivity::Four, Connectivity::Eight] {
            let b = bars(&v, 3, 3, conn);
            assert!(b.pairs[0].is_empty());
            assert_eq!(b.pairs[1].len(), 1, "{conn:?}");
            assert_eq!(b.pairs[1][0].death, 4);
            assert_eq!(b.essential[0], vec![0]);
        }
    }

    #[test]
    fn diagonal_pixels_join_only_with_eight_connectivity() {
        #[rustfmt::skip]
        let v = [0., 1.,
                 1., 0.];
        let four = bars(&v, 2, 2, Connectivity::Four);
        // Both minima tie at 0: the later index (3) dies at the first edge of value 1 that reaches it.
        assert_eq!(four.pairs[0], vec![PersistencePair { birth: 3, death: 1 }]);
        let eight = bars(&v, 2, 2, Connectivity::Eight);
        assert!(eight.pairs[0].is_empty());
    }

    #[test]
    fn rejects_bad_input() {
        let s = Shape::new(2, 2);
        assert_eq!(barcode(&[0., 1., f64::NAN, 0.], s, Connectivity::Four), Err(InputError::NotFinite { index: 2 }));
        assert_eq!(barcode(&[], Shape::new(0, 3), Connectivity::Four), Err(InputError::Empty));
        assert!(matches!(barcode(&[0.; 3], s, Connectivity::Four), Err(InputError::LengthMismatch { .. })));
    }

    #[test]
    fn thin_and_single_pixel_images() {
        let b = bars(&[3.0], 1, 1, Connectivity::Four);
        assert!(b.pairs[0].is_empty() && b.pairs[1].is_empty());
        let b = bars(&[0., 2., 1., 3., 0.5], 1, 5, Connectivity::Eight);
        assert_eq!(b.pairs[0].len(), 2);
        assert!(b.pairs[1].is_empty());
    }
}
