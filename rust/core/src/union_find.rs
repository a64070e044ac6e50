//! Union-find over `u32` node ids, with the elder rule decided by the caller's node order.

#[derive(Default, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    /// Resets to `n` singletons, reusing the allocation.
    pub fn reset(&mut self, n: usize) {
        self.parent.clear();
        self.parent.extend(0..n as u32);
    }

    #[inline]
    pub fn find(&mut self, mut x: u32) -> u32 {
        // Path halving: every node on the path skips to its grandparent.
        loop {
            let p = self.parent[x as usize];
            if p == x {
                return x;
            }
            let gp = self.parent[p as usize];
            self.parent[x as usize] = gp;
            x = gp;
        }
    }

    /// Joins two roots: `younger` now points to `elder`.
    #[inline]
    pub fn attach(&mut self, younger: u32, elder: u32) {
        self.parent[younger as usize] = elder;
    }
}

/// Sublevel elder rule for components: the earlier `(value, index)` survives.
#[inline]
pub fn younger_ascending(values: &[f64], a: u32, b: u32) -> (u32, u32) {
    let (va, vb) = (values[a as usize], values[b as usize]);
    if va > vb || (va == vb && a > b) {
        (a, b)
    } else {
        (b, a)
    }
}

/// Elder rule of the dual sweep (values entered from the top): the later `(value, index)` survives.
#[inline]
pub fn younger_descending(values: &[f64], a: u32, b: u32) -> (u32, u32) {
    let (va, vb) = (values[a as usize], values[b as usize]);
    if va < vb || (va == vb && a < b) {
        (a, b)
    } else {
        (b, a)
    }
}
