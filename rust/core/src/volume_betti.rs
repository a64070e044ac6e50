//! The Betti numbers of a 3D mask by labelling, without persistence: β0 counts the foreground's
//! components, β2 the background's components that do not touch the volume's border (cavities),
//! and β1 follows from the Euler characteristic, `β1 = β0 + β2 - χ`.
//!
//! Connectivity 6 (V-construction: voxels are vertices; the foreground's complex has a cell per
//! edge, square or cube all of whose voxels are foreground) labels the foreground with 6
//! neighbours and the background with 26; connectivity 26 (T-construction: voxels are closed unit
//! cubes; a cell of the grid is present when any voxel it bounds is foreground) the converse.
//! Either way `χ = V - E + F - C`, counted cell by cell with the cell geometry of the
//! filtrations ([`VolumeGeometry`]).

use crate::error::InputError;
use crate::filtration::{VolumeGeometry, PADDING, T3, V3};
use crate::grid::{Connectivity, Shape};
use crate::union_find::UnionFind;

/// Reusable buffers for [`volume_betti_numbers_with`].
#[derive(Default)]
pub struct VolumeBettiWorkspace {
    uf: UnionFind,
    levels: Vec<u32>,
}

/// `(β0, β1, β2)` of a `(depth, rows, cols)` mask in row-major order.
pub fn volume_betti_numbers_with(
    ws: &mut VolumeBettiWorkspace,
    mask: &[bool],
    shape: Shape,
    connectivity: Connectivity,
) -> Result<[u32; 3], InputError> {
    shape.check_len(mask.len())?;
    shape.check_connectivity(connectivity)?;
    if shape.dims() != 3 {
        return Err(InputError::NotYet { what: "Betti numbers by labelling of 2D masks" });
    }
    let grid = Grid::new(shape, mask, &mut ws.levels);
    let six = connectivity == Connectivity::Six;
    let components = grid.components(&mut ws.uf, FOREGROUND, six);
    // The padding is background, one component with the outside: every other background
    // component is a cavity.
    let cavities = grid.components(&mut ws.uf, BACKGROUND, !six) - 1;
    let chi = if six { grid.euler_characteristic::<V3>() } else { grid.euler_characteristic::<T3>() };
    let loops = components as i64 + cavities as i64 - chi;
    debug_assert!(loops >= 0, "β1 = β0 + β2 - χ cannot be negative");
    Ok([components, loops.max(0) as u32, cavities])
}

/// [`volume_betti_numbers_with`] with fresh buffers.
pub fn volume_betti_numbers(mask: &[bool], shape: Shape, connectivity: Connectivity) -> Result<[u32; 3], InputError> {
    volume_betti_numbers_with(&mut VolumeBettiWorkspace::default(), mask, shape, connectivity)
}

/// Betti numbers of a batch of 3D masks, in parallel on the crate's thread pool.
pub fn volume_betti_numbers_batch(
    masks: &[crate::batch::MaskRef<'_>],
    connectivity: Connectivity,
    threads: crate::batch::ThreadCount,
    stop: &crate::batch::Stop,
) -> crate::batch::BatchResult<[u32; 3]> {
    crate::batch::run_batch(masks, threads, stop, |ws: &mut VolumeBettiWorkspace, m| {
        volume_betti_numbers_with(ws, m.mask, m.shape, connectivity)
    })
}

/// Levels of the padded grid: the foreground enters first, the padding never (as the
/// filtration's ranks, so that the cell values of [`VolumeGeometry`] apply: a V cell is
/// foreground when its max is, a T cell when its min is).
const FOREGROUND: u32 = 0;
const BACKGROUND: u32 = 1;

/// A mask on the padded grid of the filtrations (one voxel of padding on every side).
struct Grid<'a> {
    levels: &'a [u32],
    stride: u32,
    plane: u32,
}

impl<'a> Grid<'a> {
    fn new(shape: Shape, mask: &[bool], levels: &'a mut Vec<u32>) -> Self {
        let (d, h, w) = (shape.depth, shape.rows, shape.cols);
        let (stride, plane) = (w + 2, (w + 2) * (h + 2));
        levels.clear();
        levels.resize(plane * (d + 2), PADDING);
        for z in 0..d {
            for y in 0..h {
                let (row, start) = (&mask[(z * h + y) * w..][..w], (z + 1) * plane + (y + 1) * stride + 1);
                for (slot, &fg) in levels[start..start + w].iter_mut().zip(row) {
                    *slot = if fg { FOREGROUND } else { BACKGROUND };
                }
            }
        }
        Grid { levels, stride: stride as u32, plane: plane as u32 }
    }

    /// Whether a padded voxel is on `side` (the padding counts as background).
    #[inline]
    fn on(&self, p: usize, side: u32) -> bool {
        let level = self.levels[p];
        level == side || (side == BACKGROUND && level == PADDING)
    }

    /// The components of the voxels on `side` (6- or 26-connected), padding included for the
    /// background. Neighbours are fixed offsets backwards; an offset that wraps around a row or
    /// a plane only ever lands on padding from padding, which is one component anyway.
    fn components(&self, uf: &mut UnionFind, side: u32, six: bool) -> u32 {
        let n = self.levels.len();
        let offsets = T3::forward(self.stride, self.plane);
        let offsets = if six { &offsets[..3] } else { &offsets[..] };
        uf.reset_singletons(n);
        let mut count = 0u32;
        for p in 0..n {
            if !self.on(p, side) {
                continue;
            }
            count += 1;
            for &o in offsets {
                let Some(q) = p.checked_sub(o as usize) else { continue };
                if self.on(q, side) {
                    let (a, b) = (uf.find(p as u32), uf.find(q as u32));
                    if a != b {
                        uf.union_ascending(a, b);
                        count -= 1;
                    }
                }
            }
        }
        count
    }

    /// χ = V - E + F - C of the foreground's complex in the construction `C`.
    fn euler_characteristic<C: VolumeGeometry>(&self) -> i64 {
        lowest_level_euler_characteristic::<C>(self.levels, self.stride, self.plane)
    }
}

/// χ = V - E + F - C of the complex of the cells of level 0 in the construction `C`, over a
/// padded grid of levels (`PADDING` on the border) such as a filtration's ranks: a cell's level
/// is its value over the voxels it spans (in V their max, in T their min).
///
/// Every cell is counted at one anchor voxel `q` (the vertex and cube of the block of eight
/// voxels from `q`, the edges and squares of keys `3q + kind`), and whether an anchor's cells
/// are of level 0 depends only on which of the block's voxels are: one table lookup per voxel,
/// the planes in parallel.
pub(crate) fn lowest_level_euler_characteristic<C: VolumeGeometry>(levels: &[u32], stride: u32, plane: u32) -> i64 {
    use rayon::prelude::*;
    let table = block_contributions::<C>();
    let (s, z) = (stride as usize, plane as usize);
    let anchors = levels.len() - z - s - 1;
    let corners = block_corners(s, z);
    (0..anchors.div_ceil(z))
        .into_par_iter()
        .map(|chunk| {
            let range = chunk * z..((chunk + 1) * z).min(anchors);
            range
                .map(|q| {
                    let pattern = corners.iter().enumerate().fold(0usize, |acc, (i, &o)| acc | ((levels[q + o] == FOREGROUND) as usize) << i);
                    table[pattern] as i64
                })
                .sum::<i64>()
        })
        .sum()
}

/// The offsets of a block's eight voxels from its first, bit `i` of a block pattern for the
/// `i`-th.
fn block_corners(stride: usize, plane: usize) -> [usize; 8] {
    [0, 1, stride, stride + 1, plane, plane + 1, plane + stride, plane + stride + 1]
}

/// Per pattern of the block's voxels of level 0, the cells of level 0 anchored at the block's
/// first voxel, signed by dimension: read off the cell geometry on a lone 2×2×2 block.
fn block_contributions<C: VolumeGeometry>() -> [i8; 256] {
    let (stride, plane) = (2u32, 4u32);
    let corners = block_corners(2, 4);
    let mut table = [0i8; 256];
    for (pattern, entry) in table.iter_mut().enumerate() {
        let mut levels = [BACKGROUND; 8];
        for (i, &o) in corners.iter().enumerate() {
            if pattern >> i & 1 == 1 {
                levels[o] = FOREGROUND;
            }
        }
        let t = !C::MIDDLE_ROWS_ARE_EDGES;
        // The block's vertex and cube: in V the vertex is the first voxel and the cube needs all
        // eight; in T the cube is the first voxel and the vertex needs any.
        let block = if t { levels.iter().min() } else { levels.iter().max() };
        let (vertex, cube) = if t { (block, Some(&levels[0])) } else { (Some(&levels[0]), block) };
        let mut chi = (vertex == Some(&FOREGROUND)) as i8 - (cube == Some(&FOREGROUND)) as i8;
        for kind in 0..3 {
            chi -= (C::row_rank(&levels, kind, stride, plane) == FOREGROUND) as i8;
            chi += (C::square_rank(&levels, kind, stride, plane) == FOREGROUND) as i8;
        }
        *entry = chi;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::masks::mask_counts;
    use crate::test_rng::XorShift;

    /// β from the matching's counts: finite bars per dimension, plus the essential component.
    fn from_matching(mask: &[bool], shape: Shape, conn: Connectivity) -> [u32; 3] {
        let c = mask_counts(mask, &vec![false; mask.len()], shape, conn).unwrap();
        [c.finite_pred[0] + c.pred_nonempty as u32, c.finite_pred[1], c.finite_pred[2]]
    }

    #[test]
    fn hand_made_solids() {
        let shape = Shape::volume(5, 5, 5);
        let mut shell = vec![true; 125];
        shell[62] = false;
        assert_eq!(volume_betti_numbers(&shell, shape, Connectivity::Six).unwrap(), [1, 0, 1]);
        assert_eq!(volume_betti_numbers(&shell, shape, Connectivity::TwentySix).unwrap(), [1, 0, 1]);
        let mut diagonal = vec![false; 8];
        diagonal[0] = true;
        diagonal[7] = true;
        let cube = Shape::volume(2, 2, 2);
        assert_eq!(volume_betti_numbers(&diagonal, cube, Connectivity::Six).unwrap(), [2, 0, 0]);
        assert_eq!(volume_betti_numbers(&diagonal, cube, Connectivity::TwentySix).unwrap(), [1, 0, 0]);
        // A square ring in one plane: one loop.
        let mut ring = vec![false; 9];
        for i in [0, 1, 2, 3, 5, 6, 7, 8] {
            ring[i] = true;
        }
        let flat = Shape::volume(1, 3, 3);
        assert_eq!(volume_betti_numbers(&ring, flat, Connectivity::Six).unwrap(), [1, 1, 0]);
        assert_eq!(volume_betti_numbers(&vec![false; 27], Shape::volume(3, 3, 3), Connectivity::Six).unwrap(), [0, 0, 0]);
        assert!(volume_betti_numbers(&[true; 4], Shape::new(2, 2), Connectivity::Four).is_err());
    }

    #[test]
    fn labelling_equals_the_matching_counts() {
        let mut rng = XorShift::new(0x0bad_5eed_1234_5678);
        for case in 0..1500 {
            let shape = Shape::volume(1 + rng.below(6) as usize, 1 + rng.below(6) as usize, 1 + rng.below(7) as usize);
            let density = rng.below(9);
            let mask: Vec<bool> = (0..shape.pixels()).map(|_| rng.below(8) < density).collect();
            for conn in [Connectivity::Six, Connectivity::TwentySix] {
                let want = from_matching(&mask, shape, conn);
                assert_eq!(volume_betti_numbers(&mask, shape, conn).unwrap(), want, "case {case} {shape:?} {conn:?}");
            }
        }
    }
}
