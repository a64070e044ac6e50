//! The 3D barcode (connectivity 6) against facts that do not depend on how it is computed: the
//! Euler characteristic of every sublevel set, the barcode of a one-voxel-thick volume's slice,
//! hand-made shapes, and invariance under permuting the axes.

use crate::test_rng::XorShift;
use crate::{barcode, Barcode, Connectivity, Shape};

/// χ of the sublevel complex `{cells with value <= t}` of the V-construction: vertices, edges,
/// squares and cubes of the grid whose corners all lie at or below `t`.
fn euler_characteristic(values: &[f64], (d, r, c): (usize, usize, usize), t: f64) -> i64 {
    let at = |x: usize, y: usize, z: usize| values[(x * r + y) * c + z];
    let mut chi = 0i64;
    for x in 0..d {
        for y in 0..r {
            for z in 0..c {
                // Cells anchored at (x, y, z): extents along each axis in {0, 1}.
                for ext in 0..8u32 {
                    let (ex, ey, ez) = ((ext & 1) as usize, (ext >> 1 & 1) as usize, (ext >> 2 & 1) as usize);
                    if x + ex >= d || y + ey >= r || z + ez >= c {
                        continue;
                    }
                    let mut max = f64::NEG_INFINITY;
                    for corner in 0..8u32 {
                        let (cx, cy, cz) = ((corner & 1) as usize & ex, (corner >> 1 & 1) as usize & ey, (corner >> 2 & 1) as usize & ez);
                        max = max.max(at(x + cx, y + cy, z + cz));
                    }
                    if max <= t {
                        chi += if (ex + ey + ez) % 2 == 0 { 1 } else { -1 };
                    }
                }
            }
        }
    }
    chi
}

/// Bars of each dimension alive at `t` (born at or before, dying after), the essential one included.
fn alive(b: &Barcode, values: &[f64], t: f64) -> [i64; 3] {
    let mut n = [0i64; 3];
    for (d, pairs) in b.pairs.iter().enumerate() {
        n[d] = pairs.iter().filter(|p| values[p.birth as usize] <= t && values[p.death as usize] > t).count() as i64;
    }
    n[0] += b.essential[0].iter().filter(|&&e| values[e as usize] <= t).count() as i64;
    n
}

fn random_volume(rng: &mut XorShift, levels: u64) -> (Vec<f64>, (usize, usize, usize)) {
    let dims = (1 + rng.below(5) as usize, 1 + rng.below(5) as usize, 1 + rng.below(5) as usize);
    let values = (0..dims.0 * dims.1 * dims.2).map(|_| if levels == 0 { rng.next_u64() as f64 / u64::MAX as f64 } else { rng.below(levels) as f64 }).collect();
    (values, dims)
}

fn volume_barcode(values: &[f64], (d, r, c): (usize, usize, usize)) -> Barcode {
    barcode(values, Shape::volume(d, r, c), Connectivity::Six).unwrap()
}

#[test]
fn betti_numbers_of_every_sublevel_set_satisfy_euler() {
    let mut rng = XorShift::new(0xdead_beef_1234_5678);
    for case in 0..600 {
        let (values, dims) = random_volume(&mut rng, [2, 3, 5, 0][case % 4]);
        let b = volume_barcode(&values, dims);
        for p in b.pairs.iter().flatten() {
            assert!(values[p.birth as usize] < values[p.death as usize], "case {case}: zero or negative bar");
        }
        let mut thresholds = values.clone();
        thresholds.sort_by(f64::total_cmp);
        thresholds.dedup();
        for &t in &thresholds {
            let [b0, b1, b2] = alive(&b, &values, t);
            assert_eq!(b0 - b1 + b2, euler_characteristic(&values, dims, t), "case {case} at {t}: {dims:?}");
        }
        // The whole grid is contractible: one component, nothing else, at the top value.
        assert_eq!(alive(&b, &values, f64::INFINITY), [1, 0, 0]);
    }
}

#[test]
fn a_one_voxel_thick_volume_has_the_barcode_of_its_slice() {
    let mut rng = XorShift::new(0x0123_4567_89ab_cdef);
    for case in 0..300 {
        let (r, c) = (1 + rng.below(7) as usize, 1 + rng.below(7) as usize);
        let levels = [3, 0][case % 2];
        let values: Vec<f64> = (0..r * c).map(|_| if levels == 0 { rng.next_u64() as f64 } else { rng.below(levels) as f64 }).collect();
        let flat = barcode(&values, Shape::new(r, c), Connectivity::Four).unwrap();
        let thick = volume_barcode(&values, (1, r, c));
        let sorted = |mut v: Vec<(u32, u32)>| {
            v.sort_unstable();
            v
        };
        for d in 0..2 {
            let want = sorted(flat.pairs[d].iter().map(|p| (p.birth, p.death)).collect());
            let got = sorted(thick.pairs[d].iter().map(|p| (p.birth, p.death)).collect());
            if levels == 0 {
                assert_eq!(got, want, "case {case}, dim {d}");
            } else {
                let value = |v: Vec<(u32, u32)>| sorted(v.into_iter().map(|(b, e)| (values[b as usize] as u32, values[e as usize] as u32)).collect());
                assert_eq!(value(got), value(want), "case {case}, dim {d}");
            }
        }
        assert!(thick.pairs[2].is_empty());
        assert_eq!(thick.essential[0], flat.essential[0]);
    }
}

#[test]
fn a_hollow_cube_encloses_one_cavity_and_a_torus_has_two_loops() {
    // A 5³ block of low values with a high centre: a cavity born at the shell, dying at the centre.
    let n = 5;
    let mut values = vec![0.0; n * n * n];
    values[(2 * n + 2) * n + 2] = 1.0;
    let b = volume_barcode(&values, (n, n, n));
    assert_eq!((b.pairs[0].len(), b.pairs[1].len(), b.pairs[2].len()), (0, 0, 1));
    assert_eq!(b.pairs[2][0].death, ((2 * n + 2) * n + 2) as u32);
    // A solid torus: a square ring (one voxel thick) in the middle plane, at value 0, the rest 1.
    let mut ring = vec![1.0; 3 * 4 * 4];
    for y in 0..4 {
        for z in 0..4 {
            if y == 0 || y == 3 || z == 0 || z == 3 {
                ring[(4 + y) * 4 + z] = 0.0;
            }
        }
    }
    let b = volume_barcode(&ring, (3, 4, 4));
    assert_eq!((b.pairs[0].len(), b.pairs[1].len(), b.pairs[2].len()), (0, 1, 0));
}

#[test]
fn permuting_the_axes_keeps_the_barcode_values() {
    let mut rng = XorShift::new(0x5555_aaaa_3333_cccc);
    for case in 0..200 {
        let (values, (d, r, c)) = random_volume(&mut rng, [3, 0][case % 2]);
        let b = volume_barcode(&values, (d, r, c));
        // Transpose (x, y, z) -> (z, y, x).
        let mut t = vec![0.0; values.len()];
        for x in 0..d {
            for y in 0..r {
                for z in 0..c {
                    t[(z * r + y) * d + x] = values[(x * r + y) * c + z];
                }
            }
        }
        let bt = volume_barcode(&t, (c, r, d));
        for dim in 0..3 {
            let diagram = |b: &Barcode, v: &[f64]| {
                let mut pts: Vec<(u64, u64)> = b.pairs[dim].iter().map(|p| (v[p.birth as usize].to_bits(), v[p.death as usize].to_bits())).collect();
                pts.sort_unstable();
                pts
            };
            assert_eq!(diagram(&b, &values), diagram(&bt, &t), "case {case}, dim {dim}");
        }
    }
}
