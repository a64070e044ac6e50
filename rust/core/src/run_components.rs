//! Connected components of a binary image, by union-find over the runs of its rows.
//!
//! A run touches the runs of the row above whose columns overlap it (or, with diagonal steps, meet
//! it at a corner). Roots are always the run of smallest index, so after one forward pass every
//! run names its component by the component's first run in raster order, which is the run holding
//! the component's first pixel.

use crate::bitplane::{BitPlane, Runs};

#[derive(Default)]
pub struct RunComponents {
    pub runs: Runs,
    /// Per run: the first run of its component.
    pub root: Vec<u32>,
}

impl RunComponents {
    /// Labels the set pixels of `plane`, 8-connected when `diagonal`, else 4-connected, and
    /// returns the number of components.
    pub fn label(&mut self, plane: &BitPlane, diagonal: bool) -> usize {
        self.runs.extract(plane);
        let runs = &self.runs;
        let root = &mut self.root;
        root.clear();
        root.extend(0..runs.len() as u32);
        let reach = diagonal as u32;
        for r in 1..plane.shape().rows {
            let (above, here) = (runs.of_row(r - 1), runs.of_row(r));
            let mut i = above.start;
            for j in here {
                let (start, end) = (runs.start[j], runs.end[j] + reach);
                // Runs above that end before this one starts meet no later run of this row either.
                while i < above.end && runs.end[i] + reach <= start {
                    i += 1;
                }
                // The runs above from `i` that start before this one ends touch it; the first
                // names its component (this run is still alone), the others are joined to it.
                if i < above.end && runs.start[i] < end {
                    root[j] = find(root, i as u32);
                    let mut k = i + 1;
                    while k < above.end && runs.start[k] < end {
                        link(root, k as u32, j as u32);
                        k += 1;
                    }
                }
            }
        }
        // Parents precede their children, so one forward pass leaves every run on its root.
        let mut count = 0;
        for k in 0..root.len() {
            let parent = root[k];
            root[k] = root[parent as usize];
            count += (parent as usize == k) as usize;
        }
        count
    }
}

/// How the level-1 sweep of a two-level filtration reaches a component of the lower level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    /// The component holds pixel (0, 0), where the sweep starts.
    AtStart,
    /// By the edge of kind `kind` (down, right, down-right, down-left) from the background pixel
    /// in column `col` of row 0.
    FromRow0 { col: u32, kind: u32 },
    /// By its first pixel's edge from the row above (down-right, or down in column 0 or with
    /// 4-connectivity): the component's first pixel is below row 1.
    FromAbove,
}

/// Buffers for [`RunComponents::sweep_order`].
#[derive(Default)]
pub struct OrderScratch {
    roots_along: Vec<u32>,
    seen: Vec<bool>,
}

const NONE: u32 = u32::MAX;

impl RunComponents {
    /// After [`RunComponents::label`] of the lower level of a two-level image: calls
    /// `absorb(root run, how)` for each component in the order the level-1 raster sweep reaches
    /// it, until `absorb` returns `true`.
    ///
    /// That sweep visits edges by anchor pixel (the smaller index), and each anchor is already in
    /// the one set grown from the start, so a component is absorbed by the first edge from the
    /// background into it. For a component whose first pixel `m` is below row 1 that edge comes
    /// from the row above `m`, so those components come in the order of their first pixels; the
    /// others are reached from row 0, whose edges come first.
    pub fn sweep_order(
        &self,
        plane: &BitPlane,
        diagonal: bool,
        scratch: &mut OrderScratch,
        mut absorb: impl FnMut(u32, Reached) -> bool,
    ) {
        let shape = plane.shape();
        let (runs, root) = (&self.runs, &self.root);
        let rows = shape.rows.min(2);
        let along = &mut scratch.roots_along;
        along.clear();
        along.resize(rows * shape.cols, NONE);
        for r in 0..rows {
            for k in runs.of_row(r) {
                along[r * shape.cols + runs.start[k] as usize..r * shape.cols + runs.end[k] as usize].fill(root[k]);
            }
        }
        let seen = &mut scratch.seen;
        seen.clear();
        seen.resize(runs.len(), false);
        let mut visit = |component: u32, how: Reached| {
            !std::mem::replace(&mut seen[component as usize], true) && absorb(component, how)
        };
        if along[0] != NONE && visit(along[0], Reached::AtStart) {
            return;
        }
        let steps: &[(usize, isize)] = if diagonal { &[(1, 0), (0, 1), (1, 1), (1, -1)] } else { &[(1, 0), (0, 1)] };
        for col in (0..shape.cols).filter(|&c| !plane.get(0, c)) {
            for (kind, &(dr, dc)) in steps.iter().enumerate() {
                let c = col as isize + dc;
                if dr >= rows || c < 0 || c as usize >= shape.cols {
                    continue;
                }
                let component = along[dr * shape.cols + c as usize];
                if component != NONE && visit(component, Reached::FromRow0 { col: col as u32, kind: kind as u32 }) {
                    return;
                }
            }
        }
        for k in 0..runs.len() as u32 {
            if root[k as usize] == k && visit(k, Reached::FromAbove) {
                return;
            }
        }
    }
}

fn find(root: &mut [u32], mut x: u32) -> u32 {
    loop {
        let p = root[x as usize];
        if p == x {
            return x;
        }
        let gp = root[p as usize];
        root[x as usize] = gp;
        x = gp;
    }
}

/// Joins the components of runs `a < b`, keeping the smaller root.
fn link(root: &mut [u32], a: u32, b: u32) {
    let ra = find(root, a);
    let rb = find(root, b);
    let (keep, drop) = if ra < rb { (ra, rb) } else { (rb, ra) };
    root[drop as usize] = keep;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::Shape;

    /// Components by flood fill over pixels: the count, and each pixel's component named by its
    /// first pixel in raster order.
    fn flood(mask: &[bool], rows: usize, cols: usize, diagonal: bool) -> (usize, Vec<Option<usize>>) {
        let mut label = vec![None; mask.len()];
        let mut count = 0;
        for s in 0..mask.len() {
            if !mask[s] || label[s].is_some() {
                continue;
            }
            count += 1;
            let mut stack = vec![s];
            label[s] = Some(s);
            while let Some(p) = stack.pop() {
                let (r, c) = ((p / cols) as isize, (p % cols) as isize);
                for dr in -1..=1isize {
                    for dc in -1..=1isize {
                        if (dr != 0 && dc != 0 && !diagonal) || (dr == 0 && dc == 0) {
                            continue;
                        }
                        let (r2, c2) = (r + dr, c + dc);
                        if r2 < 0 || c2 < 0 || r2 >= rows as isize || c2 >= cols as isize {
                            continue;
                        }
                        let q = r2 as usize * cols + c2 as usize;
                        if mask[q] && label[q].is_none() {
                            label[q] = Some(s);
                            stack.push(q);
                        }
                    }
                }
            }
        }
        (count, label)
    }

    quickcheck::quickcheck! {
        fn components_equal_a_flood_fill(raw: Vec<u8>, cols: u8, density: u8, diagonal: bool) -> bool {
            let cols = 1 + cols as usize % 70;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let mask: Vec<bool> = raw[..rows * cols].iter().map(|&x| x % 8 < 1 + density % 7).collect();
            let mut plane = BitPlane::default();
            plane.pack(&mask, Shape::new(rows, cols));
            let mut rc = RunComponents::default();
            let count = rc.label(&plane, diagonal);
            let (expected, label) = flood(&mask, rows, cols, diagonal);
            let first_pixel = |run: usize| {
                let row = rc.runs.row_first.partition_point(|&f| f as usize <= run) - 1;
                row * cols + rc.runs.start[run] as usize
            };
            count == expected
                && (0..rc.runs.len()).all(|k| {
                    let row = rc.runs.row_first.partition_point(|&f| f as usize <= k) - 1;
                    label[row * cols + rc.runs.start[k] as usize] == Some(first_pixel(rc.root[k] as usize))
                })
        }
    }
}
