//! Every public entry point of the core, fed arbitrary shapes, lengths and values (NaN, infinities,
//! huge and tiny numbers, empty and degenerate images): it returns a result or an `InputError`,
//! and never panics.

use quickcheck::{Arbitrary, Gen, QuickCheck};

use crate::batch::{barcodes, diagram_matchings, mask_counts_batch, matchings, ImageRef, Stop, ThreadCount};
use crate::bitplane::BitPlane;
use crate::diagram_matching::{optimal_matching, Point};
use crate::skeleton::{skeletonize, Thinning};
use crate::{barcode, betti_matching, mask_counts, Connectivity, InputError, Shape, Ties};

/// A claimed shape (often not matching the data) and raw values.
#[derive(Clone, Debug)]
struct AnyInput {
    shape: Shape,
    values: Vec<f64>,
    other: Vec<f64>,
}

fn any_value(g: &mut Gen) -> f64 {
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX, f64::MIN, f64::MIN_POSITIVE, -0.0, 0.0, 1.0];
    match u8::arbitrary(g) % 4 {
        0 => *g.choose(&special).unwrap(),
        1 => f64::arbitrary(g),
        _ => (u8::arbitrary(g) % 4) as f64,
    }
}

impl Arbitrary for AnyInput {
    fn arbitrary(g: &mut Gen) -> Self {
        let rows = usize::arbitrary(g) % 7;
        let cols = usize::arbitrary(g) % 7;
        let volume = bool::arbitrary(g);
        let depth = if volume { usize::arbitrary(g) % 4 } else { 1 };
        let exact = bool::arbitrary(g);
        let len = if exact { depth * rows * cols } else { usize::arbitrary(g) % 40 };
        let other_len = if bool::arbitrary(g) { len } else { usize::arbitrary(g) % 40 };
        AnyInput {
            shape: if volume { Shape::volume(depth, rows, cols) } else { Shape::new(rows, cols) },
            values: (0..len).map(|_| any_value(g)).collect(),
            other: (0..other_len).map(|_| any_value(g)).collect(),
        }
    }
}

fn entry_points_answer(input: AnyInput) -> bool {
    let AnyInput { shape, values, other } = input;
    let stop = Stop::new();
    for connectivity in [Connectivity::Four, Connectivity::Eight, Connectivity::Six, Connectivity::TwentySix] {
        let _ = barcode(&values, shape, connectivity);
        let _ = betti_matching(&values, &other, shape, connectivity);
        let single = [ImageRef { values: &values, shape }];
        let transposed = if shape.dims() == 3 { Shape::volume(shape.depth, shape.cols, shape.rows) } else { Shape::new(shape.cols, shape.rows) };
        let pair = [(ImageRef { values: &values, shape }, ImageRef { values: &other, shape: transposed })];
        let _ = barcodes(&single, connectivity, ThreadCount::Fixed(2), &stop);
        let _ = matchings(&pair, connectivity, Ties::Index, ThreadCount::Fixed(2), &stop);
        let _ = diagram_matchings(&pair, connectivity, ThreadCount::Fixed(2), &stop);
        let as_mask = |v: &[f64]| v.iter().map(|&x| x != 0.0).collect::<Vec<bool>>();
        let (mask, other_mask) = (as_mask(&values), as_mask(&other));
        let _ = mask_counts(&mask, &other_mask, shape, connectivity);
        if mask.len() == shape.pixels() {
            let (mut p, mut t) = (BitPlane::default(), BitPlane::default());
            p.pack(&mask, shape);
            t.pack(&mask, shape);
            for ties in [Ties::Index, Ties::Distance] {
                let _ = mask_counts_batch(&[(&p, &t)], connectivity, ties, ThreadCount::Fixed(1), &stop);
            }
        }
        for method in [Thinning::GuoHall, Thinning::ZhangSuen] {
            let _ = skeletonize(&mask, shape, method);
        }
    }
    // Diagrams come from validated images: finite points whose squared distances are finite.
    let finite = |x: f64| if x.is_finite() { x.clamp(-1e150, 1e150) } else { 0.5 };
    let points = |v: &[f64]| v.chunks_exact(2).map(|c| Point::new(finite(c[0]), finite(c[1]))).collect::<Vec<Point>>();
    let _ = optimal_matching(&points(&values), &points(&other));
    true
}

#[test]
fn no_entry_point_panics_on_any_input() {
    QuickCheck::new().tests(2000).quickcheck(entry_points_answer as fn(AnyInput) -> bool);
}

#[test]
fn refusals_say_why() {
    let nan = [0.0, f64::NAN, 1.0, 2.0];
    assert_eq!(barcode(&nan, Shape::new(2, 2), Connectivity::Four), Err(InputError::NotFinite { index: 1 }));
    assert_eq!(barcode(&[], Shape::new(0, 3), Connectivity::Eight), Err(InputError::Empty));
    assert!(matches!(barcode(&[1.0; 5], Shape::new(2, 2), Connectivity::Four), Err(InputError::LengthMismatch { .. })));
    let huge = Shape::new(usize::MAX / 2, 3);
    assert!(matches!(huge.check_size(), Err(InputError::TooLarge { .. })));
    assert!(matches!(Shape::new(usize::MAX, usize::MAX).check_size(), Err(InputError::TooLarge { .. })));
    // 26 neighbours need 13 edge keys per padded voxel: a volume the 6-connected keys address
    // can be too large for them, and is refused before anything is allocated.
    let tall = Shape::volume(1000, 1000, 400);
    assert_eq!(tall.check_connectivity(Connectivity::Six), Ok(()));
    assert!(matches!(tall.check_connectivity(Connectivity::TwentySix), Err(InputError::TooLarge { .. })));
    assert!(matches!(barcode(&[0.0; 8], tall, Connectivity::TwentySix), Err(InputError::LengthMismatch { .. }) | Err(InputError::TooLarge { .. })));
    assert!(matches!(
        betti_matching(&[0.0; 4], &[0.0; 6], Shape::new(2, 2), Connectivity::Four),
        Err(InputError::LengthMismatch { .. })
    ));
}
