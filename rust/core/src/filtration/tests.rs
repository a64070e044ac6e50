use super::*;

/// Every edge once as `(value, plain endpoints)`, in `(value, key)` order, the slow way.
fn brute_edges(values: &[f64], shape: Shape, eight: bool) -> Vec<(u32, u32)> {
    let steps: &[(usize, isize)] = if eight { &[(1, 0), (0, 1), (1, 1), (1, -1)] } else { &[(1, 0), (0, 1)] };
    let mut edges = Vec::new();
    for r in 0..shape.rows {
        for c in 0..shape.cols {
            let p = r * shape.cols + c;
            for (k, &(dr, dc)) in steps.iter().enumerate() {
                let (r2, c2) = (r + dr, c as isize + dc);
                if r2 < shape.rows && c2 >= 0 && (c2 as usize) < shape.cols {
                    let q = r2 * shape.cols + c2 as usize;
                    edges.push((values[p].max(values[q]), p * steps.len() + k, (p as u32, q as u32)));
                }
            }
        }
    }
    edges.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).unwrap());
    edges.into_iter().map(|e| e.2).collect()
}

fn check(values: &[f64], shape: Shape) -> bool {
    [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
        let mut f = Filtration::default();
        f.build(values, shape, conn);
        let got: Vec<(u32, u32)> = f
            .edges
            .iter()
            .map(|&e| {
                let (a, b) = f.edge_pixels(edge_key(e));
                (f.pixel(a), f.pixel(b))
            })
            .collect();
        got == brute_edges(values, shape, conn == Connectivity::Eight)
    })
}

quickcheck::quickcheck! {
    fn edges_come_in_value_then_key_order(raw: Vec<u8>, cols: u8) -> bool {
        let cols = 1 + cols as usize % 7;
        let rows = raw.len() / cols;
        if rows == 0 { return true; }
        let values: Vec<f64> = raw[..rows * cols].iter().map(|&x| (x % 5) as f64).collect();
        check(&values, Shape::new(rows, cols))
    }
}

/// The filtration of `values` by the sorting path, whatever the number of levels.
fn sorted(values: &[f64], shape: Shape, conn: Connectivity) -> Filtration {
    let mut f = Filtration::default();
    f.reset(shape, conn);
    f.build_sorted(values);
    f
}

/// Everything the sweeps read (and the order, where both were sorted or merged).
fn same_filtration(a: &Filtration, b: &Filtration) -> bool {
    a.ranks == b.ranks
        && a.edges == b.edges
        && a.dual_edges() == b.dual_edges()
        && a.dual_ranks == b.dual_ranks
        && a.first_pixel() == b.first_pixel()
}

/// The two-level fast path builds exactly what the sorting path builds.
fn same_as_sorted(values: &[f64], shape: Shape) -> bool {
    [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
        let mut fast = Filtration::default();
        fast.build(values, shape, conn);
        same_filtration(&fast, &sorted(values, shape, conn))
    })
}

/// [`Filtration::build_min_of`] builds exactly what sorting the pointwise minimum builds.
fn min_of_same_as_sorted(general: &[f64], mask: &[f64], shape: Shape) -> bool {
    let Some(levels) = two_levels(mask) else { return true };
    let minimum: Vec<f64> = general.iter().zip(mask).map(|(&g, &m)| g.min(m)).collect();
    [Connectivity::Four, Connectivity::Eight].into_iter().all(|conn| {
        let g = sorted(general, shape, conn);
        let mut m = Filtration::default();
        m.build_with_levels(mask, shape, conn, Some(levels));
        let mut merged = Filtration::default();
        merged.build_min_of(&g, &m, levels);
        let slow = sorted(&minimum, shape, conn);
        same_filtration(&merged, &slow) && merged.order == slow.order
    })
}

quickcheck::quickcheck! {
    fn the_minimum_with_a_mask_needs_no_sort(raw: Vec<(i8, bool)>, cols: u8, low: i8, high: i8, spread: bool, scale: u8) -> bool {
        let cols = 1 + cols as usize % 9;
        let rows = raw.len() / cols;
        if rows == 0 { return true; }
        let raw = &raw[..rows * cols];
        // Few distinct values (many ties, values equal to a level, some outside both) or,
        // scaled down, spread ones; the mask's levels in either order, or one level only.
        let scale = 1 + scale % 4;
        let general: Vec<f64> = raw.iter().map(|&(x, _)| if spread { x as f64 / scale as f64 } else { (x % 7) as f64 }).collect();
        let mask: Vec<f64> = raw.iter().map(|&(_, m)| if m { high as f64 % 9.0 } else { low as f64 % 9.0 }).collect();
        min_of_same_as_sorted(&general, &mask, Shape::new(rows, cols))
    }

    fn the_minimum_of_a_likelihood_and_a_one_hot_target_needs_no_sort(raw: Vec<(u16, bool)>, cols: u8) -> bool {
        // The loss's case: `1 - p` against `1 - onehot`, with probabilities 0 and 1 included.
        let cols = 1 + cols as usize % 12;
        let rows = raw.len() / cols;
        if rows == 0 { return true; }
        let raw = &raw[..rows * cols];
        let general: Vec<f64> = raw.iter().map(|&(x, _)| 1.0 - (x % 1001) as f64 / 1000.0).collect();
        let mask: Vec<f64> = raw.iter().map(|&(_, m)| if m { 0.0 } else { 1.0 }).collect();
        min_of_same_as_sorted(&general, &mask, Shape::new(rows, cols))
    }
}

#[test]
fn the_minimum_with_a_mask_on_large_images_needs_no_sort() {
    // Large enough for the radix sort and the bitmap-ordered runs; -0.0 ties with 0.0.
    let shape = Shape::new(70, 90);
    let mut rng = crate::test_rng::XorShift::new(0x9E37_79B9_7F4A_7C15);
    let mut next = move || rng.next_u64();
    let general: Vec<f64> = (0..shape.pixels())
        .map(|_| match next() % 7 {
            0 => -0.0,
            k => [0.0, 1.0, 0.25, 2.0, -1.0, 0.5][k as usize - 1] + (next() % 3) as f64 * 1e-13,
        })
        .collect();
    let mask: Vec<f64> = (0..shape.pixels()).map(|_| [0.0, -0.0, 1.0, 1.0, 1.0][next() as usize % 5]).collect();
    assert!(min_of_same_as_sorted(&general, &mask, shape));
    let smooth: Vec<f64> = (0..shape.pixels()).map(|i| ((i % 90) as f64 * 0.07).sin() * ((i / 90) as f64 * 0.05).cos()).collect();
    assert!(min_of_same_as_sorted(&smooth, &mask, shape));
}

quickcheck::quickcheck! {
    fn two_level_images_take_the_fast_path_exactly(raw: Vec<bool>, cols: u8, low: i8, high: i8) -> bool {
        let cols = 1 + cols as usize % 9;
        let rows = raw.len() / cols;
        if rows == 0 { return true; }
        let values: Vec<f64> = raw[..rows * cols].iter().map(|&x| if x { high as f64 } else { low as f64 }).collect();
        same_as_sorted(&values, Shape::new(rows, cols))
    }
}

#[test]
fn large_tied_runs_use_the_bitmap_and_stay_ordered() {
    let shape = Shape::new(90, 110);
    let values: Vec<f64> = (0..shape.pixels()).map(|i| ((i * 7919) % 13 < 6) as u8 as f64 + (i % 2) as f64).collect();
    assert!(check(&values, shape));
    let mask: Vec<f64> = values.iter().map(|&v| (v > 0.5) as u8 as f64).collect();
    assert!(same_as_sorted(&mask, shape));
}
