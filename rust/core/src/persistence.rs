//! Persistence barcodes with the pixel where each bar is born and where it dies.
//!
//! Dimension 0 sweeps the primal edges upwards with a union-find over pixels; a merge kills the
//! younger component (elder rule, ties by index). Dimension 1 sweeps the dual edges downwards with
//! a union-find over the top cells plus the outside node: a merge of two dual components is the
//! birth edge of a cycle that dies at the younger dual root's cell. Zero-length bars are dropped.

use crate::error::InputError;
use crate::filtration::{edge_key, edge_rank, Cells, Edge, Filtration, VolumeGeometry, STOP_CHECK_CELLS};
use crate::grid::{Connectivity, Shape};
use crate::key_set::{EdgeSink, KeySet};
use crate::middle::{middle_bars, MiddleWorkspace};
use crate::union_find::{Image, UnionFind};

/// A finite bar, located by flat pixel indices: its value at birth is `values[birth]`, at death
/// `values[death]` (sublevel values; `birth` value < `death` value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PersistencePair {
    pub birth: u32,
    pub death: u32,
}

/// The barcode of one image, per homology dimension `0..dims` (`dims` = the image's dimension).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Barcode {
    /// Finite bars in the order the sweeps find them (dim 0 ascending death, the top dimension
    /// descending birth).
    pub pairs: Vec<Vec<PersistencePair>>,
    /// Birth pixels of the bars that never die: one component (the first pixel of the
    /// filtration) and nothing in higher dimensions.
    pub essential: Vec<Vec<u32>>,
}

impl Barcode {
    /// A barcode with no bars in dimensions `0..dims`.
    pub fn empty(dims: usize) -> Self {
        Barcode { pairs: vec![Vec::new(); dims], essential: vec![Vec::new(); dims] }
    }

    /// The number of homology dimensions it covers.
    pub fn dims(&self) -> usize {
        self.pairs.len()
    }
}

/// Buffers for one image's barcode computation, reusable across a batch.
#[derive(Default)]
pub struct Workspace {
    pub filtration: Filtration,
    pub components: UnionFind,
    pub cycles: UnionFind,
    middle: MiddleWorkspace,
    positive_edges: KeySet,
    cleared: KeySet,
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
    shape.check_connectivity(connectivity)?;
    ws.filtration.build(values, shape, connectivity);
    if shape.dims() == 3 {
        return Ok(crate::with_volume_cells!(connectivity, C => volume_barcode::<C>(ws)));
    }
    let f = &ws.filtration;
    let (mut components, mut cycles) = (Vec::new(), Vec::new());
    rayon::join(
        || component_sweep(f, &mut ws.components, None::<&mut Vec<Edge>>, |younger, edge| components.push(f.component_bar(younger, edge))),
        || cycle_sweep(f, &mut ws.cycles, f.dual_edges(), None, |younger, edge, _| cycles.push(f.cycle_bar(younger, edge))),
    );
    Ok(Barcode { pairs: vec![components, cycles], essential: vec![vec![f.pixel(f.first_pixel())], Vec::new()] })
}

/// The barcode of the volume built in `ws.filtration`: the bottom and top sweeps by union-find
/// (as parallel tasks), then the middle dimension by reduction, cleared by the top sweep and
/// compressed by the bottom one (the T-construction's by a sweep of its own edges).
fn volume_barcode<C: VolumeGeometry>(ws: &mut Workspace) -> Barcode {
    let Workspace { filtration: f, components: bottom, cycles: top, middle, positive_edges, cleared } = ws;
    let f = &*f;
    let mut components = Vec::new();
    positive_edges.reset(if C::MIDDLE_ROWS_ARE_EDGES { 3 * f.ranks.len() } else { 0 });
    let rows = C::MIDDLE_ROWS_ARE_EDGES.then_some(&mut *positive_edges);
    let mut cavities = Vec::new();
    rayon::join(
        || component_sweep(f, bottom, rows, |younger, edge| components.push(f.component_bar(younger, edge))),
        || top_sweep::<C>(f, f.dual_edges(), top, None, cleared, |younger, square, _| cavities.push(f.cycle_bar(younger, square))),
    );
    C::sweep_cycle_rows(f, bottom, positive_edges);
    if f.stopped() {
        return Barcode::empty(3);
    }
    let loops = middle_bars::<C>(f, cleared, Some(&*positive_edges), middle);
    Barcode { pairs: vec![components, loops, cavities], essential: vec![vec![f.pixel(f.first_pixel())], Vec::new(), Vec::new()] }
}

/// The top sweep of a volume (dimension 2): `squares` (`f`'s dual edges, ascending) descending,
/// union-find over the dual nodes (cubes, or voxels) plus the outside. Calls `on_bar(younger_root, square_key, image_root)` for each finite bar of
/// positive length, as [`cycle_sweep`] does, and marks in the bit set `cleared` (by square key)
/// every square that joins two dual components: each is paired with a cube (creates a cavity),
/// the zero-length pairs included, so its column in the middle reduction would reduce to zero,
/// the most expensive outcome of a reduction. Clearing all of them is what makes the middle
/// problem small.
pub(crate) fn top_sweep<C: Cells>(
    f: &Filtration,
    squares: &[Edge],
    uf: &mut UnionFind,
    mut image: Option<&mut Image>,
    cleared: &mut KeySet,
    mut on_bar: impl FnMut(u32, u32, u32),
) {
    cleared.reset(3 * f.ranks.len());
    f.reset_dual(uf);
    for (k, &square) in squares.iter().rev().enumerate() {
        if k % STOP_CHECK_CELLS == 0 && f.stopped() {
            return;
        }
        let (a, b) = f.dual_edge_nodes_in::<C>(edge_key(square));
        let Some((younger, elder)) = uf.link_descending(a, b) else { continue };
        cleared.insert(edge_key(square));
        let image_younger = match image.as_mut() {
            Some(img) => img.merge(younger, elder, false),
            None => u32::MAX,
        };
        if !f.same_level(uf.rank(younger), edge_rank(square)) {
            on_bar(younger, edge_key(square), image_younger);
        }
    }
}

impl Filtration {
    /// The bar of a component born at root `younger` and killed by `edge`, in plain pixels.
    pub(crate) fn component_bar(&self, younger: u32, edge: u32) -> PersistencePair {
        PersistencePair { birth: self.pixel(younger), death: self.pixel(self.edge_pixel(edge)) }
    }

    /// The bar of a cycle born at dual `edge` and dying at dual root `younger`, in plain pixels.
    pub(crate) fn cycle_bar(&self, younger: u32, edge: u32) -> PersistencePair {
        PersistencePair { birth: self.pixel(self.dual_edge_pixel(edge)), death: self.pixel(self.dual_node_pixel(younger)) }
    }
}

/// Dimension 0: calls `on_bar(younger_root, edge_key)` for each finite bar, in the order the
/// deaths occur (padded indices). With `cycle_edges`, also appends the edges that join no two
/// components (they close cycles), in sweep order: see [`cycle_sweep`].
pub(crate) fn component_sweep<S: EdgeSink>(
    f: &Filtration,
    uf: &mut UnionFind,
    cycle_edges: Option<&mut S>,
    on_bar: impl FnMut(u32, u32),
) {
    component_sweep_over(f, &f.edges, uf, cycle_edges, on_bar)
}

/// [`component_sweep`] over `edges`, `f`'s edges in its order kept outside it (a volume's
/// [`VolumeCells`](crate::filtration::VolumeCells)).
pub(crate) fn component_sweep_over<S: EdgeSink>(
    f: &Filtration,
    edges: &[Edge],
    uf: &mut UnionFind,
    cycle_edges: Option<&mut S>,
    on_bar: impl FnMut(u32, u32),
) {
    crate::with_cells!(f.connectivity(), C => component_sweep_in::<C, S>(f, edges, uf, cycle_edges, on_bar))
}

#[inline(never)]
fn component_sweep_in<C: Cells, S: EdgeSink>(
    f: &Filtration,
    edges: &[Edge],
    uf: &mut UnionFind,
    mut cycle_edges: Option<&mut S>,
    mut on_bar: impl FnMut(u32, u32),
) {
    f.reset_primal(uf);
    for chunk in edges.chunks(STOP_CHECK_CELLS) {
        if f.stopped() {
            return;
        }
        component_chunk::<C, S>(f, uf, chunk, &mut cycle_edges, &mut on_bar);
    }
}

/// [`component_sweep_in`] over one chunk of edges.
#[inline(always)]
fn component_chunk<C: Cells, S: EdgeSink>(
    f: &Filtration,
    uf: &mut UnionFind,
    edges: &[Edge],
    cycle_edges: &mut Option<&mut S>,
    on_bar: &mut impl FnMut(u32, u32),
) {
    for &edge in edges {
        let (a, b) = f.edge_pixels_in::<C>(edge_key(edge));
        match uf.link_ascending(a, b) {
            Some((younger, _)) => {
                if !f.same_level(uf.rank(younger), edge_rank(edge)) {
                    on_bar(younger, edge_key(edge));
                }
            }
            None => {
                if let Some(closing) = cycle_edges.as_mut() {
                    closing.put(edge);
                }
            }
        }
    }
}

/// Dimension 1: calls `on_bar(younger_root, edge_key, image_root)` for each finite bar, in
/// sweep order (padded indices): the dual root the merge retired, and the one it retires in the
/// `image` ranking (the comparison's), `u32::MAX` without one.
///
/// `dual_edges` (ascending, walked in reverse) is `f.dual_edges()`, or for connectivity 4 the
/// edges that `f`'s [`component_sweep`] found closing cycles: the sweep merges at exactly those.
/// With connectivity 4 the pixels and their edges form a connected plane graph whose faces are
/// the squares and the outside, and an edge's dual joins the two faces beside it (the dual nodes
/// of [`Filtration::dual_edge_nodes`], padding squares being the outside). Under the total
/// order of the edges, the ascending sweep merges along the minimum spanning tree, the
/// descending dual sweep along the maximum spanning tree of the dual graph, and the latter
/// consists of the duals of the edges not in the former (spanning trees and cotrees of plane
/// graphs). Every other edge finds both its dual nodes in one set already: it changes no set,
/// no root and no annotation, so leaving it out changes nothing.
pub(crate) fn cycle_sweep(
    f: &Filtration,
    uf: &mut UnionFind,
    dual_edges: &[Edge],
    image: Option<&mut Image>,
    on_bar: impl FnMut(u32, u32, u32),
) {
    f.reset_dual(uf);
    cycle_sweep_from(f, uf, dual_edges, image, on_bar);
}

/// [`cycle_sweep`] from the state `uf` (and `image`) are in: the sweep's later part, when its
/// first part was done another way.
pub(crate) fn cycle_sweep_from(
    f: &Filtration,
    uf: &mut UnionFind,
    dual_edges: &[Edge],
    image: Option<&mut Image>,
    on_bar: impl FnMut(u32, u32, u32),
) {
    crate::with_cells!(f.connectivity(), C => cycle_sweep_in::<C>(f, uf, dual_edges, image, on_bar))
}

#[inline(never)]
fn cycle_sweep_in<C: Cells>(
    f: &Filtration,
    uf: &mut UnionFind,
    dual_edges: &[Edge],
    mut image: Option<&mut Image>,
    mut on_bar: impl FnMut(u32, u32, u32),
) {
    for chunk in dual_edges.rchunks(STOP_CHECK_CELLS) {
        if f.stopped() {
            return;
        }
        cycle_chunk::<C>(f, uf, chunk, &mut image, &mut on_bar);
    }
}

/// [`cycle_sweep_in`] over one chunk of dual edges, walked in reverse.
#[inline(always)]
fn cycle_chunk<C: Cells>(
    f: &Filtration,
    uf: &mut UnionFind,
    dual_edges: &[Edge],
    image: &mut Option<&mut Image>,
    on_bar: &mut impl FnMut(u32, u32, u32),
) {
    for &edge in dual_edges.iter().rev() {
        let (a, b) = f.dual_edge_nodes_in::<C>(edge_key(edge));
        // Without an image to update, an attachment needs neither root (see `attach_descending`).
        if image.is_none() && uf.attach_descending(a, b, edge_rank(edge)) {
            continue;
        }
        let Some((younger, elder)) = uf.link_descending(a, b) else { continue };
        let image_younger = match image.as_mut() {
            Some(img) => img.merge(younger, elder, false),
            None => u32::MAX,
        };
        if !f.same_level(uf.rank(younger), edge_rank(edge)) {
            on_bar(younger, edge_key(edge), image_younger);
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
