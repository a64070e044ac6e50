//! Exact squared Euclidean distance transforms of 2D images and 3D volumes.
//!
//! One pass per axis of the lower envelope of parabolas (Felzenszwalb and Huttenlocher, "Distance
//! transforms of sampled functions", 2012): after the passes over the last `k` axes, each entry is
//! the squared distance to the nearest seed within its `k`-dimensional slice. Distances stay
//! integers and the envelope's breakpoints are compared as exact fractions, so the result has no
//! rounding at all (the tie order built on it must be the same on every machine).

use crate::grid::Shape;

/// The distance of an entry with no seed in reach (yet).
pub const FAR: u64 = u64::MAX;

/// The squared Euclidean distance from every pixel of `shape` (row-major) to the nearest pixel
/// where `seed` is true; [`FAR`] everywhere if there is none.
pub fn squared_distance_to(seed: &[bool], shape: Shape) -> Vec<u64> {
    debug_assert_eq!(seed.len(), shape.pixels());
    let mut distance: Vec<u64> = seed.iter().map(|&s| if s { 0 } else { FAR }).collect();
    let axes = [shape.depth, shape.rows, shape.cols];
    let mut line = LineScratch::default();
    let mut stride = 1;
    for &len in axes.iter().rev() {
        if len > 1 {
            pass_along_axis(&mut distance, len, stride, &mut line);
        }
        stride *= len;
    }
    distance
}

#[derive(Default)]
struct LineScratch {
    input: Vec<u64>,
    output: Vec<u64>,
    /// Positions of the parabolas of the lower envelope, left to right.
    apex: Vec<usize>,
    /// Where each envelope parabola starts to be the lowest: `numerator / denominator`.
    start: Vec<(i128, i128)>,
}

/// One pass along the axis of length `len` whose neighbours are `stride` entries apart.
fn pass_along_axis(distance: &mut [u64], len: usize, stride: usize, line: &mut LineScratch) {
    let block = len * stride;
    for base in (0..distance.len()).step_by(block) {
        for offset in 0..stride {
            let first = base + offset;
            line.input.clear();
            line.input.extend((0..len).map(|i| distance[first + i * stride]));
            lower_envelope(line);
            for (i, &d) in line.output.iter().enumerate() {
                distance[first + i * stride] = d;
            }
        }
    }
}

/// `output[q] = min_i input[i] + (q - i)^2` over the entries `i` that are not [`FAR`].
fn lower_envelope(line: &mut LineScratch) {
    let LineScratch { input, output, apex, start } = line;
    let n = input.len();
    output.clear();
    apex.clear();
    start.clear();
    let height = |i: usize| input[i] as i128 + (i as i128) * (i as i128);
    // Where the parabola at `q` gets below the one at `v < q`: `(h(q) - h(v)) / (2 (q - v))`.
    let crossing = |v: usize, q: usize| (height(q) - height(v), 2 * (q as i128 - v as i128));
    for q in (0..n).filter(|&q| input[q] != FAR) {
        while let Some(&v) = apex.last() {
            let (num, den) = crossing(v, q);
            let (s_num, s_den) = *start.last().unwrap();
            // Drop `v` when `q` undercuts it no later than `v` itself starts to be the lowest.
            if start.len() > 1 && num * s_den <= s_num * den {
                apex.pop();
                start.pop();
            } else {
                break;
            }
        }
        let from = match apex.last() {
            Some(&v) => crossing(v, q),
            None => (i128::MIN / 4, 1),
        };
        apex.push(q);
        start.push(from);
    }
    if apex.is_empty() {
        output.resize(n, FAR);
        return;
    }
    let mut k = 0;
    for q in 0..n {
        // Move to the next parabola while it starts at or before `q`.
        while k + 1 < apex.len() && start[k + 1].0 <= q as i128 * start[k + 1].1 {
            k += 1;
        }
        let dq = q as i128 - apex[k] as i128;
        output.push(input[apex[k]] + (dq * dq) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    fn brute_force(seed: &[bool], shape: Shape) -> Vec<u64> {
        let coords = |p: usize| [p / (shape.rows * shape.cols), p / shape.cols % shape.rows, p % shape.cols];
        (0..seed.len())
            .map(|p| {
                let a = coords(p);
                (0..seed.len())
                    .filter(|&s| seed[s])
                    .map(|s| {
                        let b = coords(s);
                        (0..3).map(|i| (a[i] as i64 - b[i] as i64).pow(2) as u64).sum::<u64>()
                    })
                    .min()
                    .unwrap_or(FAR)
            })
            .collect()
    }

    #[test]
    fn equals_brute_force_on_random_images_and_volumes() {
        let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
        for trial in 0..400 {
            let shape = if trial % 2 == 0 {
                Shape::new(1 + rng.below(9) as usize, 1 + rng.below(9) as usize)
            } else {
                Shape::volume(1 + rng.below(5) as usize, 1 + rng.below(5) as usize, 1 + rng.below(5) as usize)
            };
            let per_mille = [0, 20, 100, 500, 950][trial % 5];
            let seed: Vec<bool> = (0..shape.pixels()).map(|_| rng.below(1000) < per_mille).collect();
            assert_eq!(squared_distance_to(&seed, shape), brute_force(&seed, shape), "{shape:?} {seed:?}");
        }
    }

    #[test]
    fn one_seed_gives_squared_distances() {
        let shape = Shape::new(3, 4);
        let mut seed = vec![false; 12];
        seed[5] = true; // (1, 1)
        assert_eq!(squared_distance_to(&seed, shape), vec![2, 1, 2, 5, 1, 0, 1, 4, 2, 1, 2, 5]);
    }
}
