//! Binary images packed 64 pixels to a word, and the runs of set pixels in their rows.
//!
//! Each row starts on a word boundary and the bits past its last column are zero, so whole planes
//! combine word by word (union, complement) and a row's runs come out of a few bit operations per
//! word instead of a test per pixel.

use crate::grid::Shape;

#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct BitPlane {
    shape: Shape,
    words_per_row: usize,
    words: Vec<u64>,
}

impl BitPlane {
    /// Packs a row-major mask of `shape` (`mask.len() == shape.pixels()`).
    pub fn pack(&mut self, mask: &[bool], shape: Shape) {
        // SAFETY: `bool` is one byte, so the slice reads as bytes (of 0 and 1).
        let bytes = unsafe { std::slice::from_raw_parts(mask.as_ptr().cast::<u8>(), mask.len()) };
        self.pack_nonzero(bytes, shape);
    }

    /// Packs row-major bytes, any nonzero byte being foreground. This is how a numpy bool buffer
    /// must be read: its bytes are not guaranteed to be 0 or 1 (`(x * 255).view(bool)`, a file).
    pub fn pack_nonzero(&mut self, bytes: &[u8], shape: Shape) {
        assert_eq!(bytes.len(), shape.pixels());
        self.reshape(shape);
        if shape.pixels() == 0 {
            return;
        }
        for (row, out) in bytes.chunks_exact(shape.cols).zip(self.words.chunks_exact_mut(self.words_per_row)) {
            for (chunk, word) in row.chunks(64).zip(out.iter_mut()) {
                *word = pack_word(chunk);
            }
        }
    }

    /// Packs the pixels of `shape` whose value in `rows(r)` (a row of `shape.cols` values) is
    /// `wanted`.
    pub fn pack_equal<'a>(&mut self, shape: Shape, rows: impl Fn(usize) -> &'a [u32], wanted: u32) {
        self.reshape(shape);
        for (r, out) in self.words.chunks_exact_mut(self.words_per_row).enumerate() {
            for (chunk, word) in rows(r).chunks(64).zip(out.iter_mut()) {
                *word = chunk.iter().enumerate().fold(0u64, |w, (k, &v)| w | ((v == wanted) as u64) << k);
            }
        }
    }

    /// This plane becomes `op(a, b)` word by word (`a` and `b` of one shape); `op` must map zero
    /// tail bits to zero.
    pub fn combine(&mut self, a: &BitPlane, b: &BitPlane, op: impl Fn(u64, u64) -> u64) {
        debug_assert_eq!(a.shape, b.shape);
        self.reshape(a.shape);
        for ((out, &x), &y) in self.words.iter_mut().zip(&a.words).zip(&b.words) {
            *out = op(x, y);
        }
    }

    /// This plane becomes the complement of `a` (inside the image).
    pub fn complement(&mut self, a: &BitPlane) {
        self.reshape(a.shape);
        let tail = tail_mask(a.shape.cols);
        for (row_out, row_in) in self.words.chunks_exact_mut(self.words_per_row).zip(a.words.chunks_exact(a.words_per_row)) {
            for (out, &x) in row_out.iter_mut().zip(row_in) {
                *out = !x;
            }
            if let Some(last) = row_out.last_mut() {
                *last &= tail;
            }
        }
    }

    fn reshape(&mut self, shape: Shape) {
        self.shape = shape;
        self.words_per_row = shape.cols.div_ceil(64);
        self.words.clear();
        // A volume is its rows plane after plane.
        self.words.resize(shape.depth * shape.rows * self.words_per_row, 0);
    }

    /// Whether any pixel is set.
    pub fn any(&self) -> bool {
        self.words.iter().any(|&w| w != 0)
    }

    /// The mask as the sublevel values of its indicator's superlevel filtration, row-major
    /// (foreground 0, background 1: foreground enters first), into `out`.
    pub fn sublevel_values(&self, out: &mut Vec<f64>) {
        out.clear();
        if self.shape.cols == 0 {
            return;
        }
        out.reserve(self.shape.pixels());
        for row in self.words.chunks_exact(self.words_per_row) {
            out.extend((0..self.shape.cols).map(|c| if row[c / 64] >> (c % 64) & 1 == 1 { 0.0 } else { 1.0 }));
        }
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    pub fn row(&self, r: usize) -> &[u64] {
        &self.words[r * self.words_per_row..(r + 1) * self.words_per_row]
    }

    pub fn get(&self, r: usize, c: usize) -> bool {
        self.row(r)[c / 64] >> (c % 64) & 1 == 1
    }

}

/// The number of runs in the row `op(a, b)` of two rows `a` and `b` (`op` maps zero tail bits
/// to zero), e.g. of the AND or OR of two stacked rows.
pub fn runs_of(a: &[u64], b: &[u64], op: impl Fn(u64, u64) -> u64) -> u64 {
    let (mut runs, mut carry) = (0u64, 0u64);
    for (&x, &y) in a.iter().zip(b) {
        let word = op(x, y);
        runs += (word & !(word << 1 | carry)).count_ones() as u64;
        carry = word >> 63;
    }
    runs
}

/// Up to 64 bytes as the bits of one word, byte `i` at bit `i`: set where the byte is nonzero.
fn pack_word(bytes: &[u8]) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut word = 0u64;
    for (k, group) in bytes.chunks(8).enumerate() {
        let mut lanes = [0u8; 8];
        lanes[..group.len()].copy_from_slice(group);
        // Each byte to 0 or 1: its top bit, or-ed with a carry into it from any of its low 7 bits
        // (at most 0x7f + 0x7f, so no carry leaves the byte).
        let raw = u64::from_le_bytes(lanes);
        let ones = ((raw | ((raw & LOW7) + LOW7)) >> 7) & 0x0101_0101_0101_0101;
        // Byte i (0 or 1) sits at bit 8i; the product gathers bit 8i + 7(8 - i) = 56 + i for every
        // i with no carries (all the partial products are distinct powers of two).
        let gathered = ones.wrapping_mul(0x0102_0408_1020_4080) >> 56;
        word |= gathered << (8 * k);
    }
    word
}

/// The bits of a row's last word that are inside the image.
fn tail_mask(cols: usize) -> u64 {
    match cols % 64 {
        0 => !0,
        used => (1u64 << used) - 1,
    }
}

/// Whether any bit in columns `[start, end)` of `row` is set.
pub fn any_in(row: &[u64], start: u32, end: u32) -> bool {
    let (first, last) = ((start / 64) as usize, ((end - 1) / 64) as usize);
    let low = !0u64 << (start % 64);
    let high = !0u64 >> (63 - (end - 1) % 64);
    if first == last {
        return row[first] & low & high != 0;
    }
    row[first] & low != 0 || row[first + 1..last].iter().any(|&w| w != 0) || row[last] & high != 0
}

/// The last column in `[start, end)` whose bit is set in `row`.
pub fn last_in(row: &[u64], start: u32, end: u32) -> Option<u32> {
    let (first, last) = ((start / 64) as usize, ((end - 1) / 64) as usize);
    let low = !0u64 << (start % 64);
    let mut word = row[last] & (!0u64 >> (63 - (end - 1) % 64));
    let mut w = last;
    loop {
        if w == first {
            word &= low;
        }
        if word != 0 {
            return Some(w as u32 * 64 + 63 - word.leading_zeros());
        }
        if w == first {
            return None;
        }
        w -= 1;
        word = row[w];
    }
}

/// The runs (maximal horizontal segments) of set pixels of a plane, row by row, left to right.
#[derive(Default)]
pub struct Runs {
    /// First column of each run.
    pub start: Vec<u32>,
    /// One past the last column of each run.
    pub end: Vec<u32>,
    /// Index of the first run of each row; `rows + 1` entries.
    pub row_first: Vec<u32>,
}

impl Runs {
    pub fn extract(&mut self, plane: &BitPlane) {
        let shape = plane.shape();
        self.start.clear();
        self.end.clear();
        self.row_first.clear();
        for r in 0..shape.rows {
            self.row_first.push(self.start.len() as u32);
            // Bit i of `before` is pixel i - 1 of the row.
            let mut carry = 0u64;
            for (w, &word) in plane.row(r).iter().enumerate() {
                let before = word << 1 | carry;
                push_bits(&mut self.start, word & !before, w);
                push_bits(&mut self.end, !word & before, w);
                carry = word >> 63;
            }
            // A run through the last column of a full last word ends past it.
            if carry == 1 {
                self.end.push(shape.cols as u32);
            }
        }
        self.row_first.push(self.start.len() as u32);
        debug_assert_eq!(self.start.len(), self.end.len());
    }

    pub fn len(&self) -> usize {
        self.start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    /// The runs of row `r`, as a range of run indices.
    pub fn of_row(&self, r: usize) -> std::ops::Range<usize> {
        self.row_first[r] as usize..self.row_first[r + 1] as usize
    }
}

fn push_bits(out: &mut Vec<u32>, mut bits: u64, word: usize) {
    while bits != 0 {
        out.push(word as u32 * 64 + bits.trailing_zeros());
        bits &= bits - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(mask: &[bool], rows: usize, cols: usize) -> BitPlane {
        let mut p = BitPlane::default();
        p.pack(mask, Shape::new(rows, cols));
        p
    }

    /// Runs of one row, found pixel by pixel.
    fn brute_runs(row: &[bool]) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let mut c = 0;
        while c < row.len() {
            if row[c] {
                let s = c;
                while c < row.len() && row[c] {
                    c += 1;
                }
                out.push((s as u32, c as u32));
            } else {
                c += 1;
            }
        }
        out
    }

    quickcheck::quickcheck! {
        fn any_nonzero_byte_is_foreground(raw: Vec<u8>, cols: u8) -> bool {
            let cols = 1 + cols as usize % 150;
            let rows = raw.len() / cols;
            let bytes = &raw[..rows * cols];
            let mut p = BitPlane::default();
            p.pack_nonzero(bytes, Shape::new(rows, cols));
            (0..rows).all(|r| (0..cols).all(|c| p.get(r, c) == (bytes[r * cols + c] != 0)))
        }
    }

    #[test]
    fn empty_shapes_pack_without_panicking() {
        for shape in [Shape::new(0, 0), Shape::new(0, 7), Shape::new(5, 0)] {
            let mut p = BitPlane::default();
            p.pack_nonzero(&[], shape);
            assert_eq!(p.shape(), shape);
        }
    }

    quickcheck::quickcheck! {
        fn packing_runs_and_range_queries_agree_with_the_pixels(raw: Vec<bool>, cols: u16, start: u16, len: u16) -> bool {
            let cols = 1 + cols as usize % 200;
            let rows = raw.len() / cols;
            if rows == 0 { return true; }
            let mask = &raw[..rows * cols];
            let p = plane(mask, rows, cols);
            let mut runs = Runs::default();
            runs.extract(&p);
            let mut not = BitPlane::default();
            not.complement(&p);
            let (s, e) = (start as usize % cols, 0);
            let e = (s + 1 + (len as usize + e) % (cols - s)).min(cols);
            (0..rows).all(|r| {
                let row = &mask[r * cols..(r + 1) * cols];
                let got: Vec<(u32, u32)> = runs.of_row(r).map(|i| (runs.start[i], runs.end[i])).collect();
                got == brute_runs(row)
                    && (0..cols).all(|c| p.get(r, c) == row[c] && not.get(r, c) != row[c])
                    && any_in(p.row(r), s as u32, e as u32) == row[s..e].iter().any(|&b| b)
                    && last_in(p.row(r), s as u32, e as u32) == (s..e).rev().find(|&c| row[c]).map(|c| c as u32)
            }) && not.row(0).last().unwrap() >> 1 >> ((cols - 1) % 64) == 0
        }
    }
}
