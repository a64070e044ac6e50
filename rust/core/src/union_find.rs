//! Union-find over `u32` node ids whose roots carry their filtration rank.
//!
//! A node packs its parent and its rank (the dense index of its value in the filtration) side by
//! side, so finding a root also brings the root's rank into cache: the elder rule then costs no
//! further memory access.

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Node {
    parent: u32,
    rank: u32,
}

#[derive(Default, Clone)]
pub struct UnionFind {
    nodes: Vec<Node>,
}

impl UnionFind {
    /// Resets to singletons ranked by `ranks`, reusing the allocation.
    pub fn reset(&mut self, ranks: &[u32]) {
        self.nodes.clear();
        self.nodes.extend(ranks.iter().enumerate().map(|(i, &rank)| Node { parent: i as u32, rank }));
    }

    /// Resets to `n` singletons of equal rank (the elder rule then keeps the smaller id).
    pub fn reset_singletons(&mut self, n: usize) {
        self.nodes.clear();
        self.nodes.extend((0..n as u32).map(|parent| Node { parent, rank: 0 }));
    }

    /// Resets to singletons ranked by `ranks`, except the nodes whose parent `start` names:
    /// they start inside that node's set.
    pub fn reset_with(&mut self, ranks: &[u32], start: impl Iterator<Item = u32>) {
        self.nodes.clear();
        self.nodes.extend(ranks.iter().zip(start).map(|(&rank, parent)| Node { parent, rank }));
    }

    #[inline]
    pub fn find(&mut self, mut x: u32) -> u32 {
        debug_assert!((x as usize) < self.nodes.len());
        // Path halving: every node on the path skips to its grandparent. Parent and grandparent
        // are read before testing either, so the usual paths (a root, or a node right below
        // one) leave the loop on its first test, a well-predicted branch. Parents are always
        // valid node ids (they are only ever set to ids of this union-find), so the unchecked
        // reads stay in bounds.
        unsafe {
            loop {
                let p = self.nodes.get_unchecked(x as usize).parent;
                let gp = self.nodes.get_unchecked(p as usize).parent;
                if gp == p {
                    return p; // `p` is the root (`x` itself when `p == x`)
                }
                self.nodes.get_unchecked_mut(x as usize).parent = gp;
                x = gp;
            }
        }
    }

    #[inline]
    pub fn rank(&self, x: u32) -> u32 {
        self.node(x).rank
    }

    #[inline]
    fn node(&self, x: u32) -> Node {
        self.nodes[x as usize]
    }

    /// `(rank, id)` as one integer: the elder rule's order.
    #[inline]
    fn order_key(&self, x: u32) -> u64 {
        (self.node(x).rank as u64) << 32 | x as u64
    }

    /// Joins two distinct roots by the sublevel elder rule (the earlier `(rank, id)` survives) and
    /// returns the retired (younger) root.
    #[inline]
    pub fn union_ascending(&mut self, a: u32, b: u32) -> u32 {
        let (younger, elder) = if self.order_key(a) > self.order_key(b) { (a, b) } else { (b, a) };
        self.nodes[younger as usize].parent = elder;
        younger
    }

    /// Joins two distinct roots by the dual elder rule (entered from the top: the later
    /// `(rank, id)` survives) and returns the retired root.
    #[inline]
    pub fn union_descending(&mut self, a: u32, b: u32) -> u32 {
        let (younger, elder) = if self.order_key(a) < self.order_key(b) { (a, b) } else { (b, a) };
        self.nodes[younger as usize].parent = elder;
        younger
    }

    /// The descending (dual) sweep's shortcut for an edge of rank `r`: if its earlier endpoint
    /// is still a root of rank `r` and the other endpoint is strictly later, the edge merely
    /// retires that root into the other set, without a bar (the retired root has the edge's
    /// rank), whatever the other set's root is: that root ranks no earlier than the other
    /// endpoint. Then the link goes to the other endpoint's parent, no root search needed, and
    /// this returns true; otherwise it changes nothing. Sets and roots stay exactly as
    /// [`Self::link_descending`] would leave them; only paths differ.
    #[inline]
    pub fn attach_descending(&mut self, a: u32, b: u32, r: u32) -> bool {
        let (na, nb) = (self.node(a), self.node(b));
        let (early, n_early, n_late) = if na.rank <= nb.rank { (a, na, nb) } else { (b, nb, na) };
        let attaches = n_early.parent == early && n_early.rank == r && n_late.rank > r;
        if attaches {
            self.nodes[early as usize].parent = n_late.parent;
        }
        attaches
    }

    /// Finds the roots of `a` and `b`; if they differ, joins them ascending and returns
    /// `(retired root, surviving root)`.
    #[inline]
    pub fn link_ascending(&mut self, a: u32, b: u32) -> Option<(u32, u32)> {
        let (ra, rb) = (self.find(a), self.find(b));
        (ra != rb).then(|| {
            let younger = self.union_ascending(ra, rb);
            (younger, ra ^ rb ^ younger)
        })
    }

    #[inline]
    pub fn link_descending(&mut self, a: u32, b: u32) -> Option<(u32, u32)> {
        let (ra, rb) = (self.find(a), self.find(b));
        (ra != rb).then(|| {
            let younger = self.union_descending(ra, rb);
            (younger, ra ^ rb ^ younger)
        })
    }
}

/// Follows the merges of a union-find and keeps, for each of its sets, the element that
/// another filtration ranks first (or last): that element is the root the set would have in a
/// union-find of the other ranking fed the same merges, so one annotation per root replaces a
/// second union-find.
pub struct Image {
    /// Per root: `rank << 32 | node` in the other ranking, compared as one `u64`.
    best: Vec<u64>,
}

impl Image {
    pub fn new(ranks: &[u32], mut buffer: Vec<u64>) -> Self {
        buffer.clear();
        buffer.extend(ranks.iter().enumerate().map(|(i, &r)| (r as u64) << 32 | i as u64));
        Image { best: buffer }
    }

    pub fn into_buffer(self) -> Vec<u64> {
        self.best
    }

    /// Sets `survivor` to the union of both sets and returns the node retired in the other
    /// ranking: the later one when `ascending` (components), the earlier one otherwise (duals).
    #[inline]
    pub fn merge(&mut self, retired: u32, survivor: u32, ascending: bool) -> u32 {
        let (a, b) = (self.best[retired as usize], self.best[survivor as usize]);
        let (keep, drop) = if (a < b) == ascending { (a, b) } else { (b, a) };
        self.best[survivor as usize] = keep;
        drop as u32
    }
}
