//! Skeletonization (thinning) of binary masks, for the centerline Dice (clDice).
//!
//! For 3D volumes (and 2D images too): the 3D thinning of Lee, Kashyap & Chu (1994) in
//! [`crate::skeleton3d`]: [`Thinning::Lee`] equal voxel for voxel to
//! `skimage.morphology.skeletonize` (which can erase parts of even thickness), and
//! [`Thinning::LeeTopological`], the same sweeps with every deletion re-checked in full, which
//! preserves topology.
//!
//! For 2D images, two classic two-subiteration parallel thinning algorithms, each defined by its
//! published deletion rules on the 3x3 neighbourhood of a foreground pixel:
//!
//! - [`Thinning::GuoHall`]: Guo & Hall, *Parallel thinning with two-subiteration algorithms*,
//!   CACM 32(3), 1989, algorithm A1 (conditions G1, G2, G3 / G3'). It preserves the topology of the
//!   mask (8-connected foreground, 4-connected background): no component and no hole is ever
//!   created or destroyed, so a non-empty mask always has a non-empty skeleton. This is what
//!   `skimage.morphology.thin` computes, pixel for pixel.
//! - [`Thinning::ZhangSuen`]: Zhang & Suen, *A fast parallel algorithm for thinning digital
//!   patterns*, CACM 27(3), 1984, exactly as published. Known defects of the published rules:
//!   2x2 squares and two-pixel-thick diagonal lines are erased completely, and staircase corners
//!   stay (the skeleton is 4-connected rather than 8-thin). `skimage.morphology.skeletonize` uses
//!   its own hand-made variant of this lookup table (25 of the 256 neighbourhoods differ), so its
//!   skeletons differ from the published algorithm in a few pixels.
//!
//! Both run the same engine: in each subiteration every foreground pixel whose neighbourhood (as it
//! was at the start of the subiteration) is deletable in that subiteration is deleted, all at once;
//! the two subiterations alternate until neither deletes anything. Pixels outside the image count
//! as background. Only pixels next to a deletion can change status, so each subiteration revisits
//! the current border pixels only.

use crate::error::InputError;
use crate::grid::Shape;
use crate::skeleton3d::{lee_thinning_with, LeeWorkspace, Recheck};

/// Which thinning rules to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Thinning {
    /// Guo & Hall (1989), algorithm A1: topology preserving.
    #[default]
    GuoHall,
    /// Zhang & Suen (1984), as published.
    ZhangSuen,
    /// Lee, Kashyap & Chu (1994) as skimage computes it: 3D volumes, and 2D images read as
    /// volumes of depth 1.
    Lee,
    /// Lee, Kashyap & Chu (1994) with the full re-check: topology preserving.
    LeeTopological,
}

// Neighbourhood code: bit k is set when neighbour x_{k+1} is foreground, in Guo & Hall's labels,
// counter-clockwise from east:
//
//     x4 x3 x2        NW N NE
//     x5 p  x1   =    W  p  E
//     x6 x7 x8        SW S SE
const E: usize = 0;
const NE: usize = 1;
const N: usize = 2;
const NW: usize = 3;
const W: usize = 4;
const SW: usize = 5;
const S: usize = 6;
const SE: usize = 7;

/// Deletable in the first subiteration.
const FIRST: u8 = 1;
/// Deletable in the second subiteration.
const SECOND: u8 = 2;

const fn bit(code: usize, k: usize) -> usize {
    (code >> k) & 1
}

/// Guo & Hall A1: G1 (Hilditch crossing number 1), G2 (2 <= min(n1, n2) <= 3), G3 / G3'.
const fn guo_hall_entry(code: usize) -> u8 {
    // x(k) for k = 1..=9, with x(9) = x(1).
    const fn x(code: usize, k: usize) -> bool {
        bit(code, (k - 1) % 8) == 1
    }
    let mut crossing = 0;
    let mut n1 = 0;
    let mut n2 = 0;
    let mut i = 1;
    while i <= 4 {
        let (a, b, c) = (x(code, 2 * i - 1), x(code, 2 * i), x(code, 2 * i + 1));
        if !a && (b || c) {
            crossing += 1;
        }
        if a || b {
            n1 += 1;
        }
        if b || c {
            n2 += 1;
        }
        i += 1;
    }
    let n = if n1 < n2 { n1 } else { n2 };
    if crossing != 1 || n < 2 || n > 3 {
        return 0;
    }
    let mut out = 0;
    // G3: (x2 or x3 or not x8) and x1 == 0.
    if !((x(code, 2) || x(code, 3) || !x(code, 8)) && x(code, 1)) {
        out |= FIRST;
    }
    // G3': (x6 or x7 or not x4) and x5 == 0.
    if !((x(code, 6) || x(code, 7) || !x(code, 4)) && x(code, 5)) {
        out |= SECOND;
    }
    out
}

/// Zhang & Suen: 2 <= B(p) <= 6, A(p) = 1 (0 -> 1 transitions around the ring), and
/// N*E*S = E*S*W = 0 (first subiteration) or N*E*W = N*S*W = 0 (second).
const fn zhang_suen_entry(code: usize) -> u8 {
    // The ring P2..P9 of the paper: N, NE, E, SE, S, SW, W, NW.
    let ring = [N, NE, E, SE, S, SW, W, NW];
    let mut count = 0;
    let mut transitions = 0;
    let mut i = 0;
    while i < 8 {
        let here = bit(code, ring[i]);
        let next = bit(code, ring[(i + 1) % 8]);
        count += here;
        if here == 0 && next == 1 {
            transitions += 1;
        }
        i += 1;
    }
    if count < 2 || count > 6 || transitions != 1 {
        return 0;
    }
    let (n, e, s, w) = (bit(code, N), bit(code, E), bit(code, S), bit(code, W));
    let mut out = 0;
    if n * e * s == 0 && e * s * w == 0 {
        out |= FIRST;
    }
    if n * e * w == 0 && n * s * w == 0 {
        out |= SECOND;
    }
    out
}

/// The table of a 2D thinning (`zhang_suen` false: Guo-Hall).
const fn table(zhang_suen: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut code = 0;
    while code < 256 {
        t[code] = if zhang_suen { zhang_suen_entry(code) } else { guo_hall_entry(code) };
        code += 1;
    }
    t
}

const GUO_HALL: [u8; 256] = table(false);
const ZHANG_SUEN: [u8; 256] = table(true);

impl Thinning {
    /// The deletion table of a 2D two-subiteration thinning: entry `code` has bit 1 set when a
    /// pixel with that neighbourhood is deleted in the first subiteration, bit 2 in the second.
    /// `None` for the Lee thinnings, which are no such tables.
    pub fn table(self) -> Option<&'static [u8; 256]> {
        match self {
            Thinning::GuoHall => Some(&GUO_HALL),
            Thinning::ZhangSuen => Some(&ZHANG_SUEN),
            Thinning::Lee | Thinning::LeeTopological => None,
        }
    }
}

/// Reusable buffers for [`skeletonize_with`].
#[derive(Default)]
pub struct SkeletonWorkspace {
    /// The mask with a one-pixel background frame, row-major, `cols + 2` wide.
    padded: Vec<u8>,
    /// Whether a padded index is in `candidates`.
    queued: Vec<bool>,
    /// Foreground pixels that may be deletable (every other foreground pixel has all eight
    /// neighbours in the foreground, which no rule deletes).
    candidates: Vec<u32>,
    deletions: Vec<u32>,
    lee: LeeWorkspace,
}

/// The skeleton of `mask` (row-major, `shape`), written to `out`. Volumes take
/// [`Thinning::Lee`] only.
pub fn skeletonize_with(
    ws: &mut SkeletonWorkspace,
    mask: &[bool],
    shape: Shape,
    method: Thinning,
    out: &mut Vec<bool>,
) -> Result<(), InputError> {
    let lut = match method {
        Thinning::Lee => return lee_thinning_with(&mut ws.lee, mask, shape, Recheck::Connectivity, out),
        Thinning::LeeTopological => return lee_thinning_with(&mut ws.lee, mask, shape, Recheck::Full, out),
        Thinning::GuoHall => &GUO_HALL,
        Thinning::ZhangSuen => &ZHANG_SUEN,
    };
    let (rows, cols) = (shape.rows, shape.cols);
    if rows == 0 || cols == 0 {
        return Err(InputError::Empty);
    }
    shape.check_planar("Guo-Hall and Zhang-Suen thinning of 3D volumes")?;
    if mask.len() != shape.pixels() {
        return Err(InputError::LengthMismatch { len: mask.len(), rows, cols });
    }
    let width = cols + 2;
    if !matches!((rows + 2).checked_mul(width), Some(n) if n <= u32::MAX as usize) {
        return Err(InputError::TooLarge { pixels: shape.pixels() });
    }
    let SkeletonWorkspace { padded, queued, candidates, deletions, .. } = ws;
    padded.clear();
    padded.resize((rows + 2) * width, 0);
    for (r, row) in mask.chunks_exact(cols).enumerate() {
        let start = (r + 1) * width + 1;
        for (dst, &m) in padded[start..start + cols].iter_mut().zip(row) {
            *dst = m as u8;
        }
    }
    queued.clear();
    queued.resize(padded.len(), false);
    candidates.clear();

    // Offsets of x1..x8 in the padded buffer.
    let w = width as isize;
    let mut offsets = [0isize; 8];
    offsets[E] = 1;
    offsets[NE] = 1 - w;
    offsets[N] = -w;
    offsets[NW] = -1 - w;
    offsets[W] = -1;
    offsets[SW] = w - 1;
    offsets[S] = w;
    offsets[SE] = w + 1;
    let code_at = |img: &[u8], p: usize| -> usize {
        let mut code = 0;
        for (k, &o) in offsets.iter().enumerate() {
            code |= (img[(p as isize + o) as usize] as usize) << k;
        }
        code
    };

    for r in 1..=rows {
        for c in 1..=cols {
            let p = r * width + c;
            if padded[p] == 1 && code_at(padded, p) != 255 {
                queued[p] = true;
                candidates.push(p as u32);
            }
        }
    }

    let mut idle_subiterations = 0;
    let mut pass = FIRST;
    while idle_subiterations < 2 {
        deletions.clear();
        for &p in candidates.iter() {
            if lut[code_at(padded, p as usize)] & pass != 0 {
                deletions.push(p);
            }
        }
        if deletions.is_empty() {
            idle_subiterations += 1;
        } else {
            idle_subiterations = 0;
            for &p in deletions.iter() {
                padded[p as usize] = 0;
            }
            for &p in deletions.iter() {
                for &o in &offsets {
                    let q = (p as isize + o) as usize;
                    if padded[q] == 1 && !queued[q] {
                        queued[q] = true;
                        candidates.push(q as u32);
                    }
                }
            }
            candidates.retain(|&p| padded[p as usize] == 1);
        }
        pass = if pass == FIRST { SECOND } else { FIRST };
    }

    out.clear();
    out.reserve(shape.pixels());
    for r in 1..=rows {
        out.extend(padded[r * width + 1..r * width + 1 + cols].iter().map(|&v| v == 1));
    }
    Ok(())
}

/// The skeleton of one mask.
pub fn skeletonize(mask: &[bool], shape: Shape, method: Thinning) -> Result<Vec<bool>, InputError> {
    let mut out = Vec::new();
    skeletonize_with(&mut SkeletonWorkspace::default(), mask, shape, method, &mut out)?;
    Ok(out)
}

/// Skeletons of a batch of masks, in parallel on the crate's thread pool.
pub fn skeletonize_batch(
    masks: &[crate::batch::MaskRef<'_>],
    method: Thinning,
    threads: crate::batch::ThreadCount,
    stop: &crate::batch::Stop,
) -> crate::batch::BatchResult<Vec<bool>> {
    crate::batch::run_batch(masks, threads, stop, |ws: &mut SkeletonWorkspace, m| {
        let mut out = Vec::new();
        skeletonize_with(ws, m.mask, m.shape, method, &mut out).map(|_| out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(rows: &[&str]) -> (Vec<bool>, Shape) {
        let shape = Shape::new(rows.len(), rows[0].len());
        let mask = rows.iter().flat_map(|r| r.bytes().map(|b| b == b'#')).collect();
        (mask, shape)
    }

    fn show(mask: &[bool], shape: Shape) -> Vec<String> {
        mask.chunks(shape.cols).map(|r| r.iter().map(|&m| if m { '#' } else { '.' }).collect()).collect()
    }

    /// Components of `mask` with 8-connectivity and of its complement (plus the outside) with
    /// 4-connectivity: the topology Guo & Hall preserve.
    fn topology(mask: &[bool], shape: Shape) -> (usize, usize) {
        let (rows, cols) = (shape.rows as isize, shape.cols as isize);
        let at = |r: isize, c: isize| -> Option<bool> {
            (r >= 0 && r < rows && c >= 0 && c < cols).then(|| mask[(r * cols + c) as usize])
        };
        let count = |fg: bool, steps: &[(isize, isize)]| -> usize {
            // Grid with a frame of background so that the outside is one background component.
            let (pr, pc) = (rows + 2, cols + 2);
            let val = |r: isize, c: isize| at(r - 1, c - 1).unwrap_or(false) == fg;
            let mut seen = vec![false; (pr * pc) as usize];
            let mut n = 0;
            for r in 0..pr {
                for c in 0..pc {
                    if seen[(r * pc + c) as usize] || !val(r, c) {
                        continue;
                    }
                    n += 1;
                    let mut stack = vec![(r, c)];
                    seen[(r * pc + c) as usize] = true;
                    while let Some((a, b)) = stack.pop() {
                        for &(dr, dc) in steps {
                            let (x, y) = (a + dr, b + dc);
                            if x >= 0 && x < pr && y >= 0 && y < pc && !seen[(x * pc + y) as usize] && val(x, y) {
                                seen[(x * pc + y) as usize] = true;
                                stack.push((x, y));
                            }
                        }
                    }
                }
            }
            n
        };
        let eight = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)];
        let four = [(-1, 0), (1, 0), (0, -1), (0, 1)];
        (count(true, &eight), count(false, &four))
    }

    #[test]
    fn tables_have_the_published_entries() {
        let code = |ks: &[usize]| ks.iter().map(|&k| 1usize << k).sum::<usize>();
        // An isolated pixel and an end point stay; an interior pixel stays.
        for t in [&GUO_HALL, &ZHANG_SUEN] {
            assert_eq!(t[0], 0);
            assert_eq!(t[code(&[E])], 0);
            assert_eq!(t[255], 0);
        }
        // A pixel joining two otherwise separate neighbours is never deleted.
        assert_eq!(GUO_HALL[code(&[N, S])], 0);
        assert_eq!(ZHANG_SUEN[code(&[N, S])], 0);
        // Zhang-Suen: the south-east border (neighbours N, W, NW) goes in the first subiteration
        // only if N*E*S = E*S*W = 0, which holds; the second needs N*E*W = N*S*W = 0: N*S*W = 0 too.
        assert_eq!(ZHANG_SUEN[code(&[N, W, NW])], FIRST | SECOND);
        // A straight east border (N, NW, W, SW, S): first subiteration only (E = 0 kills N*E*S and
        // E*S*W; N*S*W = 1 blocks the second).
        assert_eq!(ZHANG_SUEN[code(&[N, NW, W, SW, S])], FIRST);
        // Guo-Hall G3: x1 (E) = 0 makes the first-subiteration condition hold.
        assert_eq!(GUO_HALL[code(&[N, NW, W, SW, S])] & FIRST, FIRST);
        // Guo-Hall G3': a west border pixel (x5 = 0, neighbours E side) goes in the second.
        assert_eq!(GUO_HALL[code(&[N, NE, E, SE, S])] & SECOND, SECOND);
        // The two tables are symmetric under a half turn, swapping the subiterations.
        let rotate = |c: usize| ((c << 4) | (c >> 4)) & 0xff;
        for c in 0..256 {
            let swap = |v: u8| ((v & FIRST) << 1) | ((v & SECOND) >> 1);
            assert_eq!(ZHANG_SUEN[rotate(c)], swap(ZHANG_SUEN[c]), "zhang-suen code {c}");
            assert_eq!(GUO_HALL[rotate(c)], swap(GUO_HALL[c]), "guo-hall code {c}");
        }
    }

    #[test]
    fn thin_lines_are_their_own_skeleton() {
        for method in [Thinning::GuoHall, Thinning::ZhangSuen] {
            let (m, s) = parse(&["......", ".####.", "......"]);
            assert_eq!(skeletonize(&m, s, method).unwrap(), m);
            let (m, s) = parse(&["#....", ".#...", "..#..", "...#.", "....#"]);
            assert_eq!(skeletonize(&m, s, method).unwrap(), m);
            let (m, s) = parse(&[".#.", "#.#", ".#."]);
            assert_eq!(skeletonize(&m, s, method).unwrap(), m);
        }
    }

    #[test]
    fn empty_and_single_pixel() {
        for method in [Thinning::GuoHall, Thinning::ZhangSuen] {
            let (m, s) = parse(&["...", "...", "..."]);
            assert_eq!(skeletonize(&m, s, method).unwrap(), m);
            let (m, s) = parse(&["#"]);
            assert_eq!(skeletonize(&m, s, method).unwrap(), m);
            let (m, s) = parse(&["."]);
            assert_eq!(skeletonize(&m, s, method).unwrap(), m);
        }
    }

    #[test]
    fn thick_bar_thins_to_a_line() {
        let rows = [
            "............",
            ".##########.",
            ".##########.",
            ".##########.",
            ".##########.",
            ".##########.",
            "............",
        ];
        let (m, s) = parse(&rows);
        for method in [Thinning::GuoHall, Thinning::ZhangSuen] {
            let sk = skeletonize(&m, s, method).unwrap();
            let lines = show(&sk, s);
            // One pixel wide: no 2x2 block of skeleton pixels, and inside the mask.
            for r in 0..s.rows - 1 {
                for c in 0..s.cols - 1 {
                    let block = [sk[r * s.cols + c], sk[r * s.cols + c + 1], sk[(r + 1) * s.cols + c], sk[(r + 1) * s.cols + c + 1]];
                    assert!(!block.iter().all(|&b| b), "{method:?}: {lines:?}");
                }
            }
            assert!(sk.iter().zip(&m).all(|(&k, &x)| !k || x));
            // A horizontal segment in the middle row, at least half the bar long.
            assert!(sk.iter().filter(|&&k| k).count() >= 5, "{method:?}: {lines:?}");
            assert!(lines.iter().enumerate().all(|(r, l)| r == 3 || !l.contains('#')), "{method:?}: {lines:?}");
            assert!(lines[3].trim_matches('.').chars().all(|c| c == '#'), "{method:?}: {lines:?}");
        }
    }

    #[test]
    fn zhang_suen_erases_a_two_by_two_square_guo_hall_keeps_one_pixel() {
        let (m, s) = parse(&["....", ".##.", ".##.", "...."]);
        assert!(skeletonize(&m, s, Thinning::ZhangSuen).unwrap().iter().all(|&k| !k));
        let gh = skeletonize(&m, s, Thinning::GuoHall).unwrap();
        assert_eq!(gh.iter().filter(|&&k| k).count(), 1);
    }

    #[test]
    fn guo_hall_preserves_topology_of_random_masks() {
        let mut rng = crate::test_rng::XorShift::new(0x2545F4914F6CDD1D);
        let mut next = move || rng.next_u64();
        for trial in 0..500 {
            let rows = 1 + (next() % 12) as usize;
            let cols = 1 + (next() % 12) as usize;
            let density = 30 + next() % 50;
            let mask: Vec<bool> = (0..rows * cols).map(|_| next() % 100 < density).collect();
            let shape = Shape::new(rows, cols);
            let sk = skeletonize(&mask, shape, Thinning::GuoHall).unwrap();
            assert_eq!(topology(&sk, shape), topology(&mask, shape), "trial {trial}: {:?}", show(&mask, shape));
            assert!(sk.iter().zip(&mask).all(|(&k, &x)| !k || x));
            // Thinning a skeleton changes nothing.
            assert_eq!(skeletonize(&sk, shape, Thinning::GuoHall).unwrap(), sk, "trial {trial}");
            let zs = skeletonize(&mask, shape, Thinning::ZhangSuen).unwrap();
            assert!(zs.iter().zip(&mask).all(|(&k, &x)| !k || x));
            assert_eq!(skeletonize(&zs, shape, Thinning::ZhangSuen).unwrap(), zs, "trial {trial}");
        }
    }

    #[test]
    fn workspace_reuse_and_bad_shapes() {
        let mut ws = SkeletonWorkspace::default();
        let mut out = Vec::new();
        let (big, bs) = parse(&["#####", "#####", "#####"]);
        let (small, ss) = parse(&["##", "##"]);
        skeletonize_with(&mut ws, &big, bs, Thinning::GuoHall, &mut out).unwrap();
        let first = out.clone();
        skeletonize_with(&mut ws, &small, ss, Thinning::GuoHall, &mut out).unwrap();
        skeletonize_with(&mut ws, &big, bs, Thinning::GuoHall, &mut out).unwrap();
        assert_eq!(out, first);
        assert_eq!(skeletonize(&[], Shape::new(0, 3), Thinning::GuoHall), Err(InputError::Empty));
        assert!(matches!(
            skeletonize(&[true; 5], Shape::new(2, 3), Thinning::GuoHall),
            Err(InputError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn batch_equals_singles() {
        use crate::batch::{MaskRef, ThreadCount};
        let (a, sa) = parse(&["#####", "#####", "#####"]);
        let (b, sb) = parse(&["....", ".##.", ".##.", "...."]);
        let refs = [MaskRef { mask: &a, shape: sa }, MaskRef { mask: &b, shape: sb }];
        for threads in [ThreadCount::Fixed(1), ThreadCount::Fixed(3)] {
            let got = skeletonize_batch(&refs, Thinning::GuoHall, threads, &crate::batch::Stop::new()).unwrap();
            assert_eq!(got[0].as_ref().unwrap(), &skeletonize(&a, sa, Thinning::GuoHall).unwrap());
            assert_eq!(got[1].as_ref().unwrap(), &skeletonize(&b, sb, Thinning::GuoHall).unwrap());
        }
    }
}
