//! The candidate pairs of two diagrams (those that can beat the diagonal) and each point's nearest ones.

use super::{is_candidate, point_cost, Point, NONE};

/// `|death - birth|`: a point `y` with `persistence(y) <= persistence(x)` can only be a candidate
/// partner of `x` within that distance of it.
#[inline]
fn persistence(p: Point) -> f64 {
    (p.death - p.birth).abs()
}

/// The points of one diagram sorted by birth (ties by index), for strip queries.
#[derive(Default)]
struct BirthIndex {
    order: Vec<u32>,
    births: Vec<f64>,
}

impl BirthIndex {
    fn build(&mut self, points: &[Point]) {
        self.order.clear();
        self.order.extend(0..points.len() as u32);
        self.order.sort_unstable_by(|&a, &b| points[a as usize].birth.total_cmp(&points[b as usize].birth).then(a.cmp(&b)));
        self.births.clear();
        self.births.extend(self.order.iter().map(|&i| points[i as usize].birth));
    }

    /// Indices of the points whose birth lies within `reach` of `birth` (a superset of them, in
    /// fact: the strip is widened by a relative 1e-9 so that rounding in the costs never hides a
    /// candidate).
    fn near(&self, birth: f64, reach: f64) -> impl Iterator<Item = usize> + '_ {
        let reach = reach + reach * 1e-9;
        let (lo, hi) = (birth - reach, birth + reach);
        let first = self.births.partition_point(|&b| b < lo);
        self.births[first..].iter().zip(&self.order[first..]).take_while(move |(&b, _)| b <= hi).map(|(_, &i)| i as usize)
    }
}

/// Finds the candidate pairs without looking at every pair where they are few: for a candidate
/// pair, `|x - y|² < diag(x) + diag(y) <= persistence(longer)²`, so the shorter point lies in the
/// strip of births that wide around the longer one. Each pair is looked up from its longer point
/// (ties: from the pred side), so it is found once. The first pass over the pairs keeps them
/// (up to [`CACHED_PAIRS`]), so that later passes (the solver's pricing rounds) read a flat list.
#[derive(Default)]
pub(super) struct CandidateSearch {
    pred_index: BirthIndex,
    target_index: BirthIndex,
    cache: Vec<(u32, u32, f64)>,
    cached: Cached,
}

/// Whether the pairs found by the first pass are kept.
#[derive(Default, Clone, Copy, PartialEq)]
enum Cached {
    /// No pass since [`CandidateSearch::build`]: the next one keeps what it finds.
    #[default]
    NotYet,
    Kept,
    /// More than [`CACHED_PAIRS`]: every pass searches.
    TooMany,
}

/// At most this many candidate pairs (16 bytes each) are kept between passes; white noise at 64²
/// has about 400 000, at 128² about 5 million (those are searched again each round). Tests use a
/// small bound, so that their noise diagrams take both ways.
#[cfg(not(test))]
const CACHED_PAIRS: usize = 1 << 20;
#[cfg(test)]
const CACHED_PAIRS: usize = 1 << 12;

impl CandidateSearch {
    pub(super) fn build(&mut self, pred: &[Point], target: &[Point]) {
        self.pred_index.build(pred);
        self.target_index.build(target);
        self.cache.clear();
        self.cached = Cached::NotYet;
    }

    /// Calls `f(pred index, target index, |x - y|²)` for every candidate pair, in a fixed order
    /// (the same on every call).
    pub(super) fn for_each_candidate(&mut self, pred: &[Point], target: &[Point], mut f: impl FnMut(usize, usize, f64)) {
        match self.cached {
            Cached::Kept => {
                for &(i, j, cost) in &self.cache {
                    f(i as usize, j as usize, cost);
                }
            }
            Cached::TooMany => self.search(pred, target, f),
            Cached::NotYet => {
                let (mut cache, mut too_many) = (std::mem::take(&mut self.cache), false);
                self.search(pred, target, |i, j, cost| {
                    if cache.len() < CACHED_PAIRS {
                        cache.push((i as u32, j as u32, cost));
                    } else {
                        too_many = true;
                    }
                    f(i, j, cost)
                });
                // (a list cut at the bound is no use: later passes need every pair)
                if too_many {
                    self.cached = Cached::TooMany;
                } else {
                    self.cached = Cached::Kept;
                    self.cache = cache;
                }
            }
        }
    }

    fn search(&self, pred: &[Point], target: &[Point], mut f: impl FnMut(usize, usize, f64)) {
        for (i, &x) in pred.iter().enumerate() {
            let reach = persistence(x);
            for j in self.target_index.near(x.birth, reach) {
                let y = target[j];
                if persistence(y) <= reach && is_candidate(x, y) {
                    f(i, j, point_cost(x, y));
                }
            }
        }
        for (j, &y) in target.iter().enumerate() {
            let reach = persistence(y);
            for i in self.pred_index.near(y.birth, reach) {
                let x = pred[i];
                if persistence(x) < reach && is_candidate(x, y) {
                    f(i, j, point_cost(x, y));
                }
            }
        }
    }
}

/// The `k` nearest candidate partners of every point of both diagrams.
#[derive(Default)]
pub(super) struct Nearest {
    k: usize,
    /// `k` slots per point (pred points, then target points), each `(cost, turn)` ascending
    /// (`turn`: the partner's index counted cyclically from the point's own); unused slots hold
    /// `(inf, NONE)`.
    slots: Vec<(f64, u32)>,
    pairs: Vec<(u32, u32)>,
}

impl Nearest {
    pub(super) fn collect(&mut self, search: &mut CandidateSearch, pred: &[Point], target: &[Point], k: usize) {
        let n = pred.len();
        self.k = k;
        self.slots.clear();
        self.slots.resize((n + target.len()) * k, (f64::INFINITY, NONE));
        let slots = &mut self.slots;
        // Slots hold (cost, turn): ties go to the first partner from the point's own index on
        // (cyclically, whatever the search order), so that points tied over many identical
        // partners do not all take the same few.
        let (m, sizes) = (target.len(), [target.len(), n]);
        let turn = |point: usize, partner: usize| {
            let (own, len) = if point < n { (point, m) } else { (point - n, n) };
            let own = if own < len { own } else { own % len };
            (if partner >= own { partner - own } else { partner + len - own }) as u32
        };
        let mut offer = |point: usize, cost: f64, partner: usize| {
            let list = &mut slots[point * k..(point + 1) * k];
            if cost > list[k - 1].0 {
                return;
            }
            let key = (cost, turn(point, partner));
            if key < list[k - 1] {
                let at = list.partition_point(|&e| e < key);
                list.copy_within(at..k - 1, at + 1);
                list[at] = key;
            }
        };
        search.for_each_candidate(pred, target, |i, j, cost| {
            offer(i, cost, j);
            offer(n + j, cost, i);
        });
        self.pairs.clear();
        for (point, list) in self.slots.chunks(k.max(1)).enumerate() {
            let (own, len) = if point < n { (point, sizes[0]) } else { (point - n, sizes[1]) };
            for &(_, turn) in list.iter().take_while(|e| e.1 != NONE) {
                let partner = ((turn as usize + own) % len) as u32;
                self.pairs.push(if point < n { (point as u32, partner) } else { (partner, own as u32) });
            }
        }
        self.pairs.sort_unstable();
        self.pairs.dedup();
    }

    /// Per side, whether each point has a candidate partner (after [`Nearest::collect`]).
    pub(super) fn active(&self, n: usize, m: usize, active: &mut [Vec<bool>; 2]) {
        let k = self.k.max(1);
        for (side, (first, len)) in [(0, n), (n, m)].into_iter().enumerate() {
            active[side].clear();
            active[side].extend((first..first + len).map(|p| self.slots[p * k].1 != NONE));
        }
    }

    pub(super) fn pairs(&self) -> &[(u32, u32)] {
        &self.pairs
    }
}
