//! The 3x3x3 neighbourhood of a voxel as a 26-bit code, and the local tests of 3D thinning on it.
//!
//! Foreground is 26-connected, background 6-connected. A voxel is read as a closed unit cube, so
//! that the union of the foreground cubes is a space whose components are the 26-components, and
//! whose Euler characteristic is `components - tunnels + cavities`.
//!
//! Bit `k` of a code is the neighbour at offset `(dz, dy, dx)` with
//! `n = 9 (dz + 1) + 3 (dy + 1) + (dx + 1)`, `k = n` for `n < 13` and `k = n - 1` past the centre
//! (`n = 13`), which has no bit. A *block* is the whole 3x3x3 neighbourhood, bit `n` for every
//! `n`: the layout in which a box dilation is three shifts.

/// Bit index of the neighbour at `(dz, dy, dx)`, each in `-1..=1`, not all zero.
const fn bit_of(dz: i32, dy: i32, dx: i32) -> usize {
    let n = (9 * (dz + 1) + 3 * (dy + 1) + (dx + 1)) as usize;
    if n < 13 {
        n
    } else {
        n - 1
    }
}

/// The offset `(dz, dy, dx)` of bit `k` (`k < 26`).
const fn offset_of(k: usize) -> [i32; 3] {
    let n = if k < 13 { k } else { k + 1 } as i32;
    [n / 9 - 1, (n / 3) % 3 - 1, n % 3 - 1]
}

/// Whether every coordinate of `o` lies in `allowed[axis]` (a set of offsets as a 3-bit mask, bit
/// `d + 1` for offset `d`).
const fn within(o: [i32; 3], allowed: [u32; 3]) -> bool {
    (allowed[0] >> (o[0] + 1)) & 1 == 1 && (allowed[1] >> (o[1] + 1)) & 1 == 1 && (allowed[2] >> (o[2] + 1)) & 1 == 1
}

/// The neighbours whose offsets lie in `allowed` on every axis.
const fn cells_sharing(allowed: [u32; 3]) -> u32 {
    let mut mask = 0;
    let mut k = 0;
    while k < 26 {
        if within(offset_of(k), allowed) {
            mask |= 1 << k;
        }
        k += 1;
    }
    mask
}

/// Offset sets: `{0, s}` for a side `s` of an axis, `{0}` along the axis a cell extends over.
const fn side(s: i32) -> u32 {
    1 << 1 | 1 << (s + 1)
}
const ALONG: u32 = 1 << 1;

/// Bit `bit` of `i` as a side: 1 or -1.
const fn sign(i: usize, bit: usize) -> i32 {
    if (i >> bit) & 1 == 1 {
        1
    } else {
        -1
    }
}

/// For each of the 8 corners of the centre cube, the neighbours whose cubes contain it (the 7
/// other voxels of that octant).
const CORNERS: [u32; 8] = {
    let mut out = [0; 8];
    let mut i = 0;
    while i < 8 {
        out[i] = cells_sharing([side(sign(i, 0)), side(sign(i, 1)), side(sign(i, 2))]);
        i += 1;
    }
    out
};

/// For each of the 12 edges of the centre cube, the 3 neighbours whose cubes contain it.
const EDGES: [u32; 12] = {
    let mut out = [0; 12];
    let mut i = 0;
    while i < 12 {
        let axis = i / 4;
        let (a, b) = (sign(i, 0), sign(i, 1));
        let mut allowed = [ALONG; 3];
        allowed[(axis + 1) % 3] = side(a);
        allowed[(axis + 2) % 3] = side(b);
        out[i] = cells_sharing(allowed);
        i += 1;
    }
    out
};

/// The 6 face neighbours, each the only other cube containing one face of the centre cube.
pub const FACES: u32 = 1 << bit_of(-1, 0, 0)
    | 1 << bit_of(1, 0, 0)
    | 1 << bit_of(0, -1, 0)
    | 1 << bit_of(0, 1, 0)
    | 1 << bit_of(0, 0, -1)
    | 1 << bit_of(0, 0, 1);

/// A code spread to the whole 3x3x3 block, bit `n` for `n` as in the module doc; the centre bit
/// (13) stays clear.
const fn as_block(code: u32) -> u32 {
    (code & 0x1FFF) | (code >> 13) << 14
}

/// The code of a 3x3x3 block (bit `n` as in the module doc, the centre ignored).
pub const fn from_block(block: u32) -> u32 {
    (block & 0x1FFF) | (block >> 14) << 13
}

/// Block positions in the first and last column (`dx = -1`, `dx = 1`) and row (`dy = -1`, `dy = 1`).
const FIRST_COLUMN: u32 = 0o1111111111 & BLOCK;
const LAST_COLUMN: u32 = FIRST_COLUMN << 2;
const FIRST_ROW: u32 = (0b111 * 0o1001001) & BLOCK;
const LAST_ROW: u32 = FIRST_ROW << 6;
const BLOCK: u32 = (1 << 27) - 1;

/// The block positions within one step (in every axis) of a position in `set`: a 3x3x3 box
/// dilation, one axis at a time.
const fn dilate(set: u32) -> u32 {
    let x = set | (set & !LAST_COLUMN) << 1 | (set & !FIRST_COLUMN) >> 1;
    let y = x | (x & !LAST_ROW) << 3 | (x & !FIRST_ROW) >> 3;
    (y | y << 9 | y >> 9) & BLOCK
}

/// The voxel has exactly one foreground neighbour: the end of a curve, which thinning keeps.
pub fn is_end_point(code: u32) -> bool {
    code.count_ones() == 1
}

/// Deleting the centre voxel leaves the Euler characteristic of the foreground unchanged.
///
/// With `X` the foreground and `p` the centre cube, `chi(X) = chi(X - p) + chi(p) - chi(p & (X - p))`
/// and `chi(p) = 1`, so the deletion keeps `chi` exactly when the part of the surface of `p` that the
/// neighbours' cubes cover has Euler characteristic 1. That part is a complex of the corners, edges
/// and faces of `p` that some foreground neighbour contains. This is the condition Lee, Kashyap &
/// Chu (1994) evaluate with a table over the 8 octants.
pub fn keeps_euler_characteristic(code: u32) -> bool {
    let covered = |cells: &[u32]| cells.iter().filter(|&&m| code & m != 0).count() as i32;
    let faces = (code & FACES).count_ones() as i32;
    covered(&CORNERS) - covered(&EDGES) + faces == 1
}

/// The foreground neighbours form one 26-connected set inside the neighbourhood (the centre left
/// out), or there are none: deleting the centre splits no component locally.
pub fn neighbours_connected(code: u32) -> bool {
    let block = as_block(code);
    // Grow from one neighbour through the others (never through the centre: it is not in
    // `block`).
    let mut reached = block & block.wrapping_neg();
    loop {
        let grown = dilate(reached) & block;
        if grown == reached {
            return reached == block;
        }
        reached = grown;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    #[test]
    fn bits_and_offsets_are_inverse() {
        for k in 0..26 {
            let [z, y, x] = offset_of(k);
            assert_eq!(bit_of(z, y, x), k);
            assert_ne!([z, y, x], [0, 0, 0]);
        }
    }

    #[test]
    fn cell_masks_have_the_right_sizes() {
        assert!(CORNERS.iter().all(|m| m.count_ones() == 7));
        assert!(EDGES.iter().all(|m| m.count_ones() == 3));
        assert_eq!(FACES.count_ones(), 6);
        // The 12 edges are distinct.
        let mut edges = EDGES.to_vec();
        edges.sort_unstable();
        edges.dedup();
        assert_eq!(edges.len(), 12);
        // A face neighbour touches 4 corners, an edge neighbour 2, a corner neighbour 1.
        for k in 0..26 {
            let nonzero = offset_of(k).iter().filter(|&&d| d != 0).count();
            let touching = CORNERS.iter().filter(|&&m| m >> k & 1 == 1).count();
            assert_eq!(touching, 1 << (3 - nonzero), "neighbour {k}");
        }
        // The dilation of one block position is the box around it, clipped to the block.
        for n in 0..27u32 {
            let (z, y, x) = ((n / 9) as i32, (n / 3 % 3) as i32, (n % 3) as i32);
            let expect = (0..27u32)
                .filter(|&m| {
                    let (a, b, c) = ((m / 9) as i32, (m / 3 % 3) as i32, (m % 3) as i32);
                    (a - z).abs() <= 1 && (b - y).abs() <= 1 && (c - x).abs() <= 1
                })
                .fold(0, |set, m| set | 1 << m);
            assert_eq!(dilate(1 << n), expect, "position {n}");
        }
        assert_eq!(as_block((1 << 26) - 1), BLOCK & !(1 << 13));
        for code in sample_codes() {
            assert_eq!(from_block(as_block(code)), code);
            assert_eq!(from_block(as_block(code) | 1 << 13), code);
        }
    }

    /// Euler characteristic of the union of closed unit cubes at the foreground voxels of a 3x3x3
    /// block (bit n = 9z + 3y + x), counting the vertices, edges, squares and cubes of the union.
    fn euler_of_block(block: u32) -> i32 {
        let on = |z: i32, y: i32, x: i32| {
            (0..3).contains(&z) && (0..3).contains(&y) && (0..3).contains(&x) && block >> (9 * z + 3 * y + x) & 1 == 1
        };
        // A cell of the lattice is given by its lower corner and which axes it spans; it is in the
        // union when one of the voxels containing it is foreground.
        let mut chi = 0;
        for span in 0u32..8 {
            let dim = span.count_ones() as i32;
            for z in 0..=3 {
                for y in 0..=3 {
                    for x in 0..=3 {
                        let corner = [z, y, x];
                        let mut present = false;
                        // Voxels containing the cell: along a spanned axis only the one starting
                        // at the corner, along the others the two on either side.
                        for pick in 0u32..8 {
                            let mut v = [0; 3];
                            let mut ok = true;
                            for a in 0..3 {
                                let spanned = span >> a & 1 == 1;
                                let back = pick >> a & 1 == 1;
                                if spanned && back {
                                    ok = false;
                                }
                                v[a] = corner[a] - (back as i32);
                            }
                            if ok && on(v[0], v[1], v[2]) {
                                present = true;
                            }
                        }
                        if present {
                            chi += if dim % 2 == 0 { 1 } else { -1 };
                        }
                    }
                }
            }
        }
        chi
    }

    fn block_of(code: u32, centre: bool) -> u32 {
        let mut block = (centre as u32) << 13;
        for k in 0..26 {
            if code >> k & 1 == 1 {
                let [z, y, x] = offset_of(k);
                block |= 1 << (9 * (z + 1) + 3 * (y + 1) + (x + 1));
            }
        }
        block
    }

    /// Components of the foreground neighbours by a plain search over offsets.
    fn components(code: u32) -> usize {
        let mut seen = 0u32;
        let mut count = 0;
        for start in 0..26 {
            if code >> start & 1 == 0 || seen >> start & 1 == 1 {
                continue;
            }
            count += 1;
            let mut stack = vec![start];
            seen |= 1 << start;
            while let Some(k) = stack.pop() {
                for j in 0..26 {
                    let near = (0..3).all(|a| (offset_of(j)[a] - offset_of(k)[a]).abs() <= 1);
                    if code >> j & 1 == 1 && seen >> j & 1 == 0 && near {
                        seen |= 1 << j;
                        stack.push(j);
                    }
                }
            }
        }
        count
    }

    fn sample_codes() -> Vec<u32> {
        let mut rng = XorShift::new(0x9E3779B97F4A7C15);
        let mut codes: Vec<u32> = (0..20_000)
            .map(|i| {
                // Densities from sparse to nearly full.
                let keep = 1 + (i % 7) as u64;
                (0..26).filter(|_| rng.below(8) < keep).fold(0, |c, k| c | 1 << k)
            })
            .collect();
        codes.extend([0, (1 << 26) - 1, FACES]);
        codes.extend((0..26).map(|k| 1 << k));
        codes
    }

    #[test]
    fn euler_test_equals_the_change_of_the_block_euler_characteristic() {
        // An isolated voxel's cube is removed whole: chi drops by one.
        assert!(!keeps_euler_characteristic(0));
        // The centre of a full block: removing it makes a cavity (chi + 1).
        assert!(!keeps_euler_characteristic((1 << 26) - 1));
        // A curve end and a voxel on a straight run of a thick bar.
        assert!(keeps_euler_characteristic(1 << bit_of(0, 0, 1)));
        for code in sample_codes() {
            let with = euler_of_block(block_of(code, true));
            let without = euler_of_block(block_of(code, false));
            assert_eq!(keeps_euler_characteristic(code), with == without, "code {code:#x}");
        }
    }

    #[test]
    fn connectivity_test_equals_a_plain_search() {
        for code in sample_codes() {
            assert_eq!(neighbours_connected(code), components(code) <= 1, "code {code:#x}");
        }
        // Two opposite face neighbours are not adjacent; with the edge neighbour between them... still
        // not (it touches only one of them).
        let apart = 1 << bit_of(0, 0, -1) | 1 << bit_of(0, 0, 1);
        assert!(!neighbours_connected(apart));
        assert!(!neighbours_connected(apart | 1 << bit_of(0, 1, 1)));
        assert!(neighbours_connected(apart | 1 << bit_of(0, 1, 1) | 1 << bit_of(0, 1, 0) | 1 << bit_of(0, 1, -1)));
        assert!(neighbours_connected(apart | 1 << bit_of(0, 1, 0)));
    }

    /// Background 6-components inside the 18-neighbourhood (the centre left out) that touch a face
    /// of the centre: the second count of the usual characterization of simple points.
    fn background_components_at_faces(code: u32) -> usize {
        let in_n18 = |k: usize| offset_of(k).iter().filter(|&&d| d != 0).count() <= 2;
        let background = |k: usize| code >> k & 1 == 0 && in_n18(k);
        let face_adjacent = |j: usize, k: usize| {
            (0..3).map(|a| (offset_of(j)[a] - offset_of(k)[a]).abs()).sum::<i32>() == 1
        };
        let mut seen = 0u32;
        let mut count = 0;
        for start in 0..26 {
            if FACES >> start & 1 == 0 || !background(start) || seen >> start & 1 == 1 {
                continue;
            }
            count += 1;
            let mut stack = vec![start];
            seen |= 1 << start;
            while let Some(k) = stack.pop() {
                for j in 0..26 {
                    if background(j) && seen >> j & 1 == 0 && face_adjacent(j, k) {
                        seen |= 1 << j;
                        stack.push(j);
                    }
                }
            }
        }
        count
    }

    #[test]
    fn euler_and_connectivity_together_are_the_simple_point_test() {
        // A voxel is simple for (26, 6) connectivity when its foreground neighbours form one
        // 26-component and the background of its 18-neighbourhood one 6-component at its faces
        // (Bertrand & Malandain 1994). Lee et al. replace the second count by Euler invariance.
        for code in sample_codes() {
            let simple = components(code) == 1 && background_components_at_faces(code) == 1;
            let lee = code != 0 && neighbours_connected(code) && keeps_euler_characteristic(code);
            assert_eq!(lee, simple, "code {code:#x}");
        }
    }

    #[test]
    fn end_points() {
        assert!(is_end_point(1 << 5));
        assert!(!is_end_point(0));
        assert!(!is_end_point(0b11));
    }
}
