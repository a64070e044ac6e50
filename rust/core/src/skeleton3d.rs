//! 3D thinning of Lee, Kashyap & Chu, *Building skeleton models via 3-D medial surface/axis
//! thinning algorithms*, CVGIP: Graphical Models and Image Processing 56(6), 1994: the algorithm
//! of `skimage.morphology.skeletonize` on 3D input, voxel for voxel.
//!
//! Foreground is 26-connected, background 6-connected; voxels outside the volume are background.
//! The thinning repeats rounds of directional sweeps until a whole round deletes nothing. A sweep
//! looks at the *border points* of one direction (foreground voxels whose 6-neighbour that way is
//! background) and proceeds in two steps:
//!
//! 1. On the volume as it is when the sweep starts, collect in raster order (depth, then row, then
//!    column) the border points that are deletable: not an end point (exactly one foreground
//!    26-neighbour), their deletion keeps the Euler characteristic (condition 1 of the paper), and
//!    their foreground 26-neighbours are one 26-connected set inside the 3x3x3 neighbourhood
//!    (conditions 2 and 3).
//! 2. Re-check the collected voxels one by one in the same order, each on the volume with the
//!    earlier deletions of this sweep applied, and delete those that pass the re-check
//!    ([`Recheck`]). Without this sequential pass, both sides of a two-voxel-thick part would go
//!    at once.
//!
//! skimage (like ImageJ's Skeletonize3D and ITK's BinaryThinningImageFilter3D) re-checks only
//! that the foreground neighbours are one connected set *or none*, so the last voxels of a part
//! can go too: bars of 2x2, 2x4 or 4x4 voxels cross-section and cubes of even side thin to
//! nothing (scikit-image issue #3757). [`Recheck::Connectivity`] reproduces that, voxel for voxel;
//! [`Recheck::Full`] re-checks the whole condition of step 1, so that each deletion removes a
//! simple point of the current volume and the thinning keeps every component, tunnel and cavity.
//!
//! The sweep directions, in this order (as skimage and ImageJ's Skeletonize3D run them): previous
//! row, next row, next column, previous column, next plane, previous plane. A volume of depth 1
//! (and a 2D image, read as one) gets the four in-plane directions only, as in skimage.
//!
//! Only voxels with a background 6-neighbour can be border points, so each sweep visits that
//! surface (kept sorted) instead of the whole volume.

use crate::error::InputError;
use crate::grid::Shape;
use crate::skeleton3d_cube::{is_end_point, keeps_euler_characteristic, neighbours_connected};

/// What the sequential pass re-checks before deleting a collected voxel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Recheck {
    /// Only that the voxel's foreground neighbours are one 26-connected set, or none: the rule of
    /// skimage and ImageJ, which can delete whole components.
    Connectivity,
    /// Every condition of the collection step again: topology preserving.
    Full,
}

impl Recheck {
    fn passes(self, code: u32) -> bool {
        match self {
            Recheck::Connectivity => neighbours_connected(code),
            Recheck::Full => deletable(code),
        }
    }
}

/// The collection test: not an end point, Euler invariant, and neighbours one connected set
/// (which, given the other two, makes the voxel simple).
fn deletable(code: u32) -> bool {
    !is_end_point(code) && keeps_euler_characteristic(code) && neighbours_connected(code)
}

/// Reusable buffers for [`lee_thinning_with`].
#[derive(Default)]
pub struct LeeWorkspace {
    /// The mask with a one-voxel background frame on every side, 0/1.
    padded: Vec<u8>,
    /// Whether a padded index has been put in `surface`.
    on_surface: Vec<bool>,
    /// Foreground voxels with a background 6-neighbour, ascending.
    surface: Vec<u32>,
    /// Voxels that joined the surface in the last sweep.
    exposed: Vec<u32>,
    merged: Vec<u32>,
    candidates: Vec<u32>,
    deleted: Vec<u32>,
}

/// Index steps in the padded volume.
struct Steps {
    /// To the first voxel of each row of the 3x3x3 neighbourhood, in the order of the code.
    rows: [isize; 9],
    /// To the 6 face neighbours.
    faces: [isize; 6],
    /// The sweep directions in their order.
    sweeps: [isize; 6],
    /// How many of `sweeps` apply.
    sweep_count: usize,
}

impl Steps {
    fn new(depth: usize, width: usize, plane: usize) -> Self {
        let (w, pl) = (width as isize, plane as isize);
        let mut rows = [0; 9];
        for (i, step) in rows.iter_mut().enumerate() {
            let (dz, dy) = (i as isize / 3 - 1, i as isize % 3 - 1);
            *step = dz * pl + dy * w - 1;
        }
        Steps {
            rows,
            faces: [-pl, pl, -w, w, -1, 1],
            sweeps: [-w, w, 1, -1, pl, -pl],
            sweep_count: if depth == 1 { 4 } else { 6 },
        }
    }
}

/// The Lee thinning of `mask` (row-major `shape`: a 3D volume, or a 2D image read as a volume of
/// depth 1), written to `out`.
pub fn lee_thinning_with(
    ws: &mut LeeWorkspace,
    mask: &[bool],
    shape: Shape,
    recheck: Recheck,
    out: &mut Vec<bool>,
) -> Result<(), InputError> {
    shape.check_len(mask.len())?;
    let (depth, rows, cols) = (shape.depth, shape.rows, shape.cols);
    let width = cols + 2;
    let plane = (rows + 2) * width;
    let total = (depth + 2).checked_mul(plane).filter(|&n| n <= u32::MAX as usize);
    let Some(total) = total else {
        return Err(InputError::TooLarge { pixels: shape.pixels() });
    };
    let steps = Steps::new(depth, width, plane);
    ws.load(mask, depth, rows, cols, total, &steps);
    loop {
        let mut changed = false;
        for &direction in &steps.sweeps[..steps.sweep_count] {
            changed |= ws.sweep(direction, recheck, &steps);
        }
        if !changed {
            break;
        }
    }
    out.clear();
    out.reserve(shape.pixels());
    for z in 1..=depth {
        for r in 1..=rows {
            let start = z * plane + r * width + 1;
            out.extend(ws.padded[start..start + cols].iter().map(|&v| v == 1));
        }
    }
    Ok(())
}

/// The Lee thinning of one mask.
pub fn lee_thinning(mask: &[bool], shape: Shape, recheck: Recheck) -> Result<Vec<bool>, InputError> {
    let mut out = Vec::new();
    lee_thinning_with(&mut LeeWorkspace::default(), mask, shape, recheck, &mut out)?;
    Ok(out)
}

impl LeeWorkspace {
    /// Pads `mask` into `padded` and collects its surface.
    fn load(&mut self, mask: &[bool], depth: usize, rows: usize, cols: usize, total: usize, steps: &Steps) {
        let (width, plane) = (cols + 2, (rows + 2) * (cols + 2));
        self.padded.clear();
        self.padded.resize(total, 0);
        for (i, row) in mask.chunks_exact(cols).enumerate() {
            let start = (i / rows + 1) * plane + (i % rows + 1) * width + 1;
            for (dst, &m) in self.padded[start..start + cols].iter_mut().zip(row) {
                *dst = m as u8;
            }
        }
        self.on_surface.clear();
        self.on_surface.resize(total, false);
        self.surface.clear();
        for z in 1..=depth {
            for r in 1..=rows {
                for v in z * plane + r * width + 1..z * plane + r * width + 1 + cols {
                    if self.padded[v] == 1 && steps.faces.iter().any(|&s| self.padded[v.wrapping_add_signed(s)] == 0) {
                        self.on_surface[v] = true;
                        self.surface.push(v as u32);
                    }
                }
            }
        }
    }

    /// The neighbourhood code of `v`, read as nine rows of three voxels.
    fn code_at(&self, v: usize, steps: &Steps) -> u32 {
        let mut block = 0;
        for (i, &start) in steps.rows.iter().enumerate() {
            let at = v.wrapping_add_signed(start);
            let row = &self.padded[at..at + 3];
            block |= (row[0] as u32 | (row[1] as u32) << 1 | (row[2] as u32) << 2) << (3 * i);
        }
        crate::skeleton3d_cube::from_block(block)
    }

    /// One sweep over the border points of `direction`; whether it deleted anything.
    fn sweep(&mut self, direction: isize, recheck: Recheck, steps: &Steps) -> bool {
        self.candidates.clear();
        for &v in &self.surface {
            let v = v as usize;
            if self.padded[v.wrapping_add_signed(direction)] != 0 {
                continue;
            }
            if deletable(self.code_at(v, steps)) {
                self.candidates.push(v as u32);
            }
        }
        self.deleted.clear();
        for i in 0..self.candidates.len() {
            let v = self.candidates[i] as usize;
            if recheck.passes(self.code_at(v, steps)) {
                self.padded[v] = 0;
                self.deleted.push(v as u32);
            }
        }
        if self.deleted.is_empty() {
            return false;
        }
        self.update_surface(steps);
        true
    }

    /// Drops the deleted voxels from the surface and adds the foreground voxels they exposed,
    /// keeping it ascending.
    fn update_surface(&mut self, steps: &Steps) {
        self.exposed.clear();
        for &v in &self.deleted {
            for &s in &steps.faces {
                let q = (v as usize).wrapping_add_signed(s);
                if self.padded[q] == 1 && !self.on_surface[q] {
                    self.on_surface[q] = true;
                    self.exposed.push(q as u32);
                }
            }
        }
        let padded = &self.padded;
        self.surface.retain(|&v| padded[v as usize] == 1);
        if self.exposed.is_empty() {
            return;
        }
        self.exposed.sort_unstable();
        crate::order::merge_sorted_into(&self.surface, &self.exposed, &mut self.merged);
        std::mem::swap(&mut self.surface, &mut self.merged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    const BOTH: [Recheck; 2] = [Recheck::Connectivity, Recheck::Full];

    fn volume(d: usize, r: usize, c: usize, inside: impl Fn(usize, usize, usize) -> bool) -> (Vec<bool>, Shape) {
        let mut mask = Vec::with_capacity(d * r * c);
        for z in 0..d {
            for y in 0..r {
                for x in 0..c {
                    mask.push(inside(z, y, x));
                }
            }
        }
        (mask, Shape::volume(d, r, c))
    }

    fn voxels(mask: &[bool], shape: Shape) -> Vec<[usize; 3]> {
        let (r, c) = (shape.rows, shape.cols);
        (0..mask.len()).filter(|&i| mask[i]).map(|i| [i / (r * c), i / c % r, i % c]).collect()
    }

    /// Components of the voxels where `mask == fg`, on the volume framed by one layer of
    /// background (so that the outside is one background component), with 26- or 6-adjacency.
    fn components(mask: &[bool], shape: Shape, fg: bool, full: bool) -> Vec<usize> {
        let (d, r, c) = (shape.depth as isize + 2, shape.rows as isize + 2, shape.cols as isize + 2);
        let value = |z: isize, y: isize, x: isize| {
            let inner = z >= 1 && y >= 1 && x >= 1 && z < d - 1 && y < r - 1 && x < c - 1;
            let v = inner && mask[(((z - 1) * (r - 2) + (y - 1)) * (c - 2) + (x - 1)) as usize];
            v == fg
        };
        let mut label = vec![usize::MAX; (d * r * c) as usize];
        let mut count = 0;
        for start in 0..d * r * c {
            let (z, y, x) = (start / (r * c), start / c % r, start % c);
            if label[start as usize] != usize::MAX || !value(z, y, x) {
                continue;
            }
            label[start as usize] = count;
            let mut stack = vec![(z, y, x)];
            while let Some((z, y, x)) = stack.pop() {
                for (dz, dy, dx) in (0..27).map(|k| (k / 9 - 1, k / 3 % 3 - 1, k % 3 - 1)) {
                    let steps = (dz as i32).abs() + (dy as i32).abs() + (dx as i32).abs();
                    let (a, b, e) = (z + dz, y + dy, x + dx);
                    if steps == 0 || (!full && steps > 1) || a < 0 || b < 0 || e < 0 || a >= d || b >= r || e >= c {
                        continue;
                    }
                    let q = ((a * r + b) * c + e) as usize;
                    if label[q] == usize::MAX && value(a, b, e) {
                        label[q] = count;
                        stack.push((a, b, e));
                    }
                }
            }
            count += 1;
        }
        // The labels of the unframed voxels.
        let mut inner = Vec::with_capacity(mask.len());
        for z in 1..d - 1 {
            for y in 1..r - 1 {
                for x in 1..c - 1 {
                    inner.push(label[((z * r + y) * c + x) as usize]);
                }
            }
        }
        inner.push(count);
        inner
    }

    fn count_of(labels: &[usize]) -> usize {
        *labels.last().unwrap()
    }

    /// Euler characteristic of the union of the closed foreground cubes: every lattice cell (in
    /// doubled coordinates, odd along the axes it spans) counted once, with sign (-1)^dim.
    fn euler(mask: &[bool], shape: Shape) -> i64 {
        let (d, r, c) = (shape.depth as i64, shape.rows as i64, shape.cols as i64);
        let on = |z: i64, y: i64, x: i64| z >= 0 && y >= 0 && x >= 0 && z < d && y < r && x < c && mask[((z * r + y) * c + x) as usize];
        let range = |v: i64| if v % 2 == 1 { vec![(v - 1) / 2] } else { vec![v / 2 - 1, v / 2] };
        let mut chi = 0;
        for a in 0..=2 * d {
            for b in 0..=2 * r {
                for e in 0..=2 * c {
                    let present = range(a).iter().any(|&z| range(b).iter().any(|&y| range(e).iter().any(|&x| on(z, y, x))));
                    if present {
                        chi += if (a % 2 + b % 2 + e % 2) % 2 == 0 { 1 } else { -1 };
                    }
                }
            }
        }
        chi
    }

    /// (components, tunnels, cavities) for 26-connected foreground and 6-connected background.
    fn betti(mask: &[bool], shape: Shape) -> [i64; 3] {
        let b0 = count_of(&components(mask, shape, true, true)) as i64;
        let b2 = count_of(&components(mask, shape, false, false)) as i64 - 1;
        [b0, b0 + b2 - euler(mask, shape), b2]
    }

    #[test]
    fn the_oracles_know_their_shapes() {
        let (ring, s) = volume(3, 9, 9, |_, y, x| !((3..6).contains(&y) && (3..6).contains(&x)));
        assert_eq!(betti(&ring, s), [1, 1, 0]);
        let (shell, s) = volume(5, 5, 5, |z, y, x| !(z == 2 && y == 2 && x == 2));
        assert_eq!(betti(&shell, s), [1, 0, 1]);
        let (pair, s) = volume(1, 1, 3, |_, _, x| x != 1);
        assert_eq!(betti(&pair, s), [2, 0, 0]);
        // Diagonal neighbours are one 26-component.
        let (diag, s) = volume(2, 2, 2, |z, y, x| z == y && y == x);
        assert_eq!(betti(&diag, s), [1, 0, 0]);
    }

    #[test]
    fn empty_single_voxel_and_lines_stay() {
        for recheck in BOTH {
            for (d, r, c) in [(1, 1, 1), (3, 4, 5), (1, 1, 9), (1, 9, 1), (9, 1, 1)] {
                let (empty, s) = volume(d, r, c, |_, _, _| false);
                assert_eq!(lee_thinning(&empty, s, recheck).unwrap(), empty);
                let (dot, s) = volume(d, r, c, |z, y, x| (z, y, x) == (d / 2, r / 2, c / 2));
                assert_eq!(lee_thinning(&dot, s, recheck).unwrap(), dot);
            }
            // A one-voxel-thick line, along each axis and diagonally, fills a 1x1xN volume and
            // the like: nothing on it is deletable (its ends are end points, its inner voxels join
            // two neighbours).
            for (d, r, c) in [(1, 1, 9), (1, 9, 1), (9, 1, 1)] {
                let (line, s) = volume(d, r, c, |_, _, _| true);
                assert_eq!(lee_thinning(&line, s, recheck).unwrap(), line, "{recheck:?} {d}x{r}x{c}");
            }
            let (diagonal, s) = volume(6, 6, 6, |z, y, x| z == y && y == x);
            assert_eq!(lee_thinning(&diagonal, s, recheck).unwrap(), diagonal);
        }
    }

    #[test]
    fn an_odd_box_thins_to_its_central_line() {
        // A 5x5x5 box: every sweep peels one layer off the side it looks at, and what stays is the
        // line through the centre along the axis swept last (depth), without its end voxels.
        let (cube, s) = volume(5, 5, 5, |_, _, _| true);
        for recheck in BOTH {
            let skeleton = lee_thinning(&cube, s, recheck).unwrap();
            assert_eq!(voxels(&skeleton, s), vec![[1, 2, 2], [2, 2, 2], [3, 2, 2]], "{recheck:?}");
        }
        // An elongated odd bar thins to a straight segment along its axis, centred.
        let (bar, s) = volume(3, 3, 11, |_, _, _| true);
        for recheck in BOTH {
            let skeleton = voxels(&lee_thinning(&bar, s, recheck).unwrap(), s);
            assert!(skeleton.len() >= 5, "{recheck:?}: {skeleton:?}");
            assert!(skeleton.iter().all(|v| v[0] == 1 && v[1] == 1), "{recheck:?}: {skeleton:?}");
            assert!(skeleton.windows(2).all(|w| w[1][2] == w[0][2] + 1), "{recheck:?}: {skeleton:?}");
        }
    }

    #[test]
    fn an_even_box_vanishes_unless_rechecked_in_full() {
        // skimage's rule: the last two voxels of a 2x2x2 block each have at most one neighbour
        // left when re-checked, and go (scikit-image issue #3757); bars of even cross-section too.
        for (d, r, c) in [(2, 2, 2), (4, 4, 4), (4, 4, 9), (2, 2, 7), (2, 4, 13)] {
            let (block, s) = volume(d + 2, r + 2, c + 2, |z, y, x| {
                (1..=d).contains(&z) && (1..=r).contains(&y) && (1..=c).contains(&x)
            });
            assert!(lee_thinning(&block, s, Recheck::Connectivity).unwrap().iter().all(|&v| !v));
            let full = lee_thinning(&block, s, Recheck::Full).unwrap();
            assert_eq!(betti(&full, s), [1, 0, 0], "{d}x{r}x{c}");
        }
    }

    #[test]
    fn a_ring_thins_to_its_centre_loop() {
        // A square ring three voxels thick, with a 3x3 hole: the skeleton is the loop through the
        // middle of the ring, in the middle plane, corners cut by diagonal steps.
        let (ring, s) = volume(3, 9, 9, |_, y, x| !((3..6).contains(&y) && (3..6).contains(&x)));
        for recheck in BOTH {
            let skeleton = lee_thinning(&ring, s, recheck).unwrap();
            let expect: Vec<[usize; 3]> = (0..9)
                .flat_map(|y| (0..9).map(move |x| [1, y, x]))
                .filter(|&[_, y, x]| {
                    let on_square = y == 1 || y == 7 || x == 1 || x == 7;
                    let corner = (y == 1 || y == 7) && (x == 1 || x == 7);
                    on_square && !corner && (1..=7).contains(&y) && (1..=7).contains(&x)
                })
                .collect();
            assert_eq!(voxels(&skeleton, s), expect, "{recheck:?}");
            assert_eq!(betti(&skeleton, s), [1, 1, 0]);
        }
    }

    #[test]
    fn a_torus_keeps_its_loop() {
        // A solid torus, major radius 6, minor radius 2.5, in a 7x17x17 volume.
        let (torus, s) = volume(7, 17, 17, |z, y, x| {
            let (z, y, x) = (z as f64 - 3.0, y as f64 - 8.0, x as f64 - 8.0);
            let ring = (y * y + x * x).sqrt() - 6.0;
            ring * ring + z * z <= 6.25
        });
        assert_eq!(betti(&torus, s), [1, 1, 0]);
        for recheck in BOTH {
            let skeleton = lee_thinning(&torus, s, recheck).unwrap();
            assert_eq!(betti(&skeleton, s), [1, 1, 0], "{recheck:?}");
            // A curve, far thinner than the torus.
            assert!(skeleton.iter().filter(|&&v| v).count() * 10 < torus.iter().filter(|&&v| v).count());
        }
    }

    #[test]
    fn a_hollow_shell_keeps_its_cavity() {
        // A 9^3 box with a 3^3 cavity: walls three voxels thick.
        let (shell, s) = volume(9, 9, 9, |z, y, x| !((3..6).contains(&z) && (3..6).contains(&y) && (3..6).contains(&x)));
        assert_eq!(betti(&shell, s), [1, 0, 1]);
        for recheck in BOTH {
            let skeleton = lee_thinning(&shell, s, recheck).unwrap();
            assert_eq!(betti(&skeleton, s), [1, 0, 1], "{recheck:?}");
            assert!(skeleton.iter().zip(&shell).all(|(&k, &m)| !k || m));
            // A closed surface around the cavity, one voxel thick: far fewer voxels than the walls.
            assert!(skeleton.iter().filter(|&&v| v).count() * 2 < shell.iter().filter(|&&v| v).count());
        }
        // Walls two voxels thick.
        let (thin, s) = volume(8, 8, 8, |z, y, x| !((2..6).contains(&z) && (2..6).contains(&y) && (2..6).contains(&x)));
        assert_eq!(betti(&lee_thinning(&thin, s, Recheck::Full).unwrap(), s), [1, 0, 1]);
    }

    #[test]
    fn depth_one_is_the_planar_thinning_with_four_directions() {
        // A 2D image and a volume of depth 1 are the same input; neither gets the plane sweeps
        // (which would see every voxel as a border point).
        let mut rng = XorShift::new(7);
        for _ in 0..50 {
            let (r, c) = (1 + rng.below(12) as usize, 1 + rng.below(12) as usize);
            let mask: Vec<bool> = (0..r * c).map(|_| rng.below(10) < 7).collect();
            for recheck in BOTH {
                let flat = lee_thinning(&mask, Shape::new(r, c), recheck).unwrap();
                assert_eq!(lee_thinning(&mask, Shape::volume(1, r, c), recheck).unwrap(), flat);
            }
        }
        // A 3x5 plate: the row sweeps take its first and last rows, and the middle row is a line.
        let (plate, s) = volume(1, 3, 5, |_, _, _| true);
        for recheck in BOTH {
            let skeleton = lee_thinning(&plate, s, recheck).unwrap();
            assert_eq!(voxels(&skeleton, s), (0..5).map(|x| [0, 1, x]).collect::<Vec<_>>());
        }
    }

    /// A random volume: speckle, boxes, or both, at a density that varies per case.
    fn random_volume(rng: &mut XorShift, max_side: u64) -> (Vec<bool>, Shape) {
        let s = Shape::volume(1 + rng.below(max_side) as usize, 1 + rng.below(max_side) as usize, 1 + rng.below(max_side) as usize);
        let density = rng.below(100);
        let mut mask: Vec<bool> = (0..s.pixels()).map(|_| rng.below(100) < density).collect();
        for _ in 0..rng.below(4) {
            let lo = [rng.below(s.depth as u64), rng.below(s.rows as u64), rng.below(s.cols as u64)];
            let len = [1 + rng.below(6), 1 + rng.below(6), 1 + rng.below(6)];
            for (i, m) in mask.iter_mut().enumerate() {
                let at = [(i / (s.rows * s.cols)) as u64, (i / s.cols % s.rows) as u64, (i % s.cols) as u64];
                if (0..3).all(|a| at[a] >= lo[a] && at[a] < lo[a] + len[a]) {
                    *m = rng.below(4) != 0;
                }
            }
        }
        (mask, s)
    }

    #[test]
    fn the_full_recheck_preserves_topology_of_random_volumes() {
        let mut rng = XorShift::new(0xD1B54A32D192ED03);
        for case in 0..600 {
            let (mask, s) = random_volume(&mut rng, 9);
            let skeleton = lee_thinning(&mask, s, Recheck::Full).unwrap();
            assert!(skeleton.iter().zip(&mask).all(|(&k, &m)| !k || m), "case {case}");
            assert_eq!(betti(&skeleton, s), betti(&mask, s), "case {case}: {s:?}");
            // Each component of the mask holds exactly one of the skeleton.
            let (of_mask, of_skeleton) = (components(&mask, s, true, true), components(&skeleton, s, true, true));
            let mut owner = vec![usize::MAX; count_of(&of_skeleton)];
            for i in 0..mask.len() {
                if skeleton[i] {
                    let o = &mut owner[of_skeleton[i]];
                    assert!(*o == usize::MAX || *o == of_mask[i], "case {case}");
                    *o = of_mask[i];
                }
            }
            assert_eq!(lee_thinning(&skeleton, s, Recheck::Full).unwrap(), skeleton, "case {case}");
        }
    }

    #[test]
    fn skimage_rule_never_splits_or_adds_on_random_volumes() {
        // It may erase a component (or the walls round a cavity) whole, but what stays of a
        // component is connected and inside it, and thinning again changes nothing.
        let mut rng = XorShift::new(0x94D049BB133111EB);
        for case in 0..600 {
            let (mask, s) = random_volume(&mut rng, 9);
            let skeleton = lee_thinning(&mask, s, Recheck::Connectivity).unwrap();
            assert!(skeleton.iter().zip(&mask).all(|(&k, &m)| !k || m), "case {case}");
            let (of_mask, of_skeleton) = (components(&mask, s, true, true), components(&skeleton, s, true, true));
            let mut held = vec![usize::MAX; count_of(&of_mask)];
            for i in 0..mask.len() {
                if skeleton[i] {
                    let h = &mut held[of_mask[i]];
                    assert!(*h == usize::MAX || *h == of_skeleton[i], "case {case}: a component split");
                    *h = of_skeleton[i];
                }
            }
            assert_eq!(lee_thinning(&skeleton, s, Recheck::Connectivity).unwrap(), skeleton, "case {case}");
        }
    }

    quickcheck::quickcheck! {
        fn full_recheck_keeps_components(raw: Vec<u8>, rows: u8, cols: u8, cut: u8) -> bool {
            let (rows, cols) = (1 + rows as usize % 6, 1 + cols as usize % 6);
            let depth = raw.len() / (rows * cols);
            if depth == 0 {
                return true;
            }
            let s = Shape::volume(depth.min(8), rows, cols);
            let cut = cut % 8;
            let mask: Vec<bool> = raw[..s.pixels()].iter().map(|&x| x % 8 < cut).collect();
            let skeleton = lee_thinning(&mask, s, Recheck::Full).unwrap();
            skeleton.iter().zip(&mask).all(|(&k, &m)| !k || m)
                && count_of(&components(&skeleton, s, true, true)) == count_of(&components(&mask, s, true, true))
        }
    }

    #[test]
    fn workspace_reuse_and_bad_shapes() {
        let mut ws = LeeWorkspace::default();
        let mut out = Vec::new();
        let (big, bs) = volume(5, 6, 7, |z, y, x| (z + y + x) % 3 != 0);
        let (small, ss) = volume(2, 2, 2, |_, _, _| true);
        lee_thinning_with(&mut ws, &big, bs, Recheck::Connectivity, &mut out).unwrap();
        let first = out.clone();
        lee_thinning_with(&mut ws, &small, ss, Recheck::Full, &mut out).unwrap();
        lee_thinning_with(&mut ws, &big, bs, Recheck::Connectivity, &mut out).unwrap();
        assert_eq!(out, first);
        assert_eq!(lee_thinning(&[], Shape::volume(0, 3, 3), Recheck::Full), Err(InputError::Empty));
        assert_eq!(lee_thinning(&[], Shape::volume(3, 3, 0), Recheck::Full), Err(InputError::Empty));
        assert!(matches!(lee_thinning(&[true; 7], Shape::volume(2, 2, 2), Recheck::Full), Err(InputError::LengthMismatch { .. })));
        assert!(matches!(
            lee_thinning(&[true; 7], Shape::volume(1 << 12, 1 << 12, 1 << 12), Recheck::Full),
            Err(InputError::TooLarge { .. })
        ));
    }
}
