"""An n-dimensional (2D and 3D) persistence and Betti-matching oracle, written from the definition.

Everything here is plain matrix reduction of explicit cubical boundary matrices over Z/2 in
numpy/Python: no union-find, no duality shortcut, no code shared with bettimatch or the
reference. It is the yardstick for the 3D engine (issue 9) and is itself checked against GUDHI,
CubicalRipser, scipy labelling, the Euler characteristic, the 2D oracle of
``test_matching_oracle.py`` and Betti-Matching-3D (``test_oracle_nd.py``).

What is oracle'd (sublevel filtrations; superlevel = sublevel of the negated values):

- ``barcode(x, connectivity)``: the finite bars of positive length per homology dimension
  ``0 .. ndim - 1``, each with its birth and death cell and the voxel that reports each cell,
  plus the essential dim-0 bar (the complete grid is contractible: nothing else is essential).
- ``matching(f, g, connectivity, rule)``: the induced Betti matching. ``c = min(f, g)``; the
  inclusions ``K_f(t) ⊆ K_c(t) ⊇ K_g(t)`` induce ``H(f) -> H(c) <- H(g)``. The image barcode of
  ``H(f) -> H(c)`` comes from reducing the boundary matrix with columns in ``c``'s order and rows
  in ``f``'s order: a pivot (row ``i``, column ``j``) links the bar of ``f`` born at ``i`` to the
  bar of ``c`` that dies at ``j``. Bars of ``f`` and ``g`` that reach the same bar of ``c`` are
  matched. ``rule="reference"`` takes every pivot (Betti-Matching-3D's rule, what bettimatch
  reproduces); ``rule="strict"`` drops a pivot whose ``f``-value is after its ``c``-value (an
  empty image bar: the class is already a boundary in ``c`` when it is born in ``f``). These are
  the 2D oracle's ``pivot`` and ``index`` modes.

Constructions (connectivity in user terms, the foreground's):

- V (4 in 2D, 6 in 3D; the reference's): voxels are vertices; a cell of the grid of doubled
  coordinates ``c`` (odd ``c_i``: the cell extends along axis ``i``) spans the voxels
  ``floor(c/2) + {0,1}^odd``; its value is the max of theirs.
- T (8 / 26; GUDHI's ``top_dimensional_cells``, CubicalRipser's ``filtration="T"``): voxels are
  top cells; a cell of the doubled grid ``0 .. 2N`` (odd ``c_i``: inside voxel ``(c_i - 1)/2``,
  even ``c_i``: on the wall between voxels ``c_i/2 - 1`` and ``c_i/2``) takes the min over the
  voxels it bounds. Dimension 0 uses the 3^n - 1 neighbour graph of the voxels instead (edges =
  max of their two voxels), as bettimatch's 2D T path does; dimensions >= 1 use the T complex.

Total order of the cells of one dimension: ``(value, key)``, keys compared as tuples:

====================  ======================================  ===================================
cell                  key (tuple order = packed-index order)  voxel that reports the cell
====================  ======================================  ===================================
V vertex              ``(x, y, z, 0)``                        itself
V edge                ``(x, y, z, axis)``; anchor = the       the later endpoint attaining the
                      smaller endpoint; type 0/1/2 = +x/+y/+z  max (ties: the higher raster index)
V face (3D)           ``(x, y, z, normal axis)``: type 0      corners checked in DESCENDING
                      spans y,z; 1 spans x,z; 2 spans x,y     raster order, first attaining max
V square (2D)         ``(r, c, 0)``                           descending (br, bl, tr, tl)
V cube (3D)           ``(x, y, z, 0)``                        corners checked in ASCENDING raster
                                                              order, first attaining the max (a
                                                              death cube never has a tie: it is
                                                              reported at its anchor)
T-graph vertex        ``(coords..., 0)``                      itself
T-graph edge          ``(coords of p, kind)``: the 3^n-1      the later endpoint attaining the
                      forward offsets ordered by #nonzero,    max
                      then lexicographically descending
                      (2D: down, right, down-right,
                      down-left; 3D: +x, +y, +z, then
                      (1,1,0),(1,0,1),(1,0,-1),(1,-1,0),
                      (0,1,1),(0,1,-1), then (1,1,1),
                      (1,1,-1),(1,-1,1),(1,-1,-1))
T cell (dim >= 1)     ``(padded anchor, kind)``: anchor =     the first voxel (lowest raster
                      ``ceil(c/2)`` on the grid padded by     index) attaining the min
                      one voxel; kind = lexicographic rank
                      of the axes the dual V cell spans (the
                      axes where ``c_i`` is even): 3D walls
                      (T faces) 0/1/2 = crossing x/y/z;
                      3D T edges {x,y}=0, {x,z}=1, {y,z}=2,
                      i.e. along z, y, x; voxels/vertices 0
====================  ======================================  ===================================

For the V construction in 3D these are Betti-Matching-3D's own (``src_3D``: ``Cube.index =
x<<44 | y<<24 | z<<4 | type``, ``CubeComparator`` = (birth, index); its stable sorts of cells
enumerated in x-y-z-type order give the same order; ``getParentVoxel`` for the voxels); the tests
confirm them against the reference module, ties, reported voxels and row order included. In 2D
they reproduce the 2D oracle (bettimatch's ``grid.rs`` keys) exactly. A volume one voxel thick
along any axis reproduces its 2D slice, in both constructions. The T keys have no reference (the
reference is V only); they are the proposal for bettimatch's 26-connectivity, chosen as the 2D
rule generalised so that slabs reproduce slices (the V face kinds used for T cells break that).
The dual order of the top dimension needs no extra rule: the reference's dual union-find (faces
descending by (value, index), younger dual root = smaller (value, cube index), the outside oldest)
pairs exactly what this reduction pairs. The elder rule of dimension 0 is the vertex order:
younger = larger (value, raster index).

Row order of the reference's results (``reference_row_order``, ``rows_like_reference``): bars of
dimension 0 and of the middle dimensions in ascending order of their death cell, bars of the top
dimension in descending order of their birth cell (each in its own function's order); matched rows
in the order of the bar of ``c`` they reach, by the same rule (in c's order). The same holds for
the reference's 2D module.

Limits: O(n^3) reduction on Python ints as bit sets; 5×5×5 volumes take a fraction of a second.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

CONSTRUCTION = {(2, 4): "V", (2, 8): "T", (3, 6): "V", (3, 26): "T"}
RULES = {"reference": "reference", "pivot": "reference", "strict": "strict", "index": "strict"}


def construction_of(ndim: int, connectivity: Optional[int]) -> str:
    if connectivity is None:
        connectivity = {2: 4, 3: 6}.get(ndim)
    try:
        return CONSTRUCTION[(ndim, connectivity)]
    except KeyError:
        raise ValueError(f"connectivity {connectivity} is not defined for {ndim}D inputs") from None


# --------------------------------------------------------------------------------------------
# kinds: the last component of a cell's key
# --------------------------------------------------------------------------------------------


def v_kind(ndim: int, axes: Tuple[int, ...]) -> int:
    """Kind of a V cell spanning ``axes`` (sorted): the reference's ``type``."""
    if len(axes) == 1:
        return axes[0]  # edges: the direction
    if ndim == 3 and len(axes) == 2:
        return ({0, 1, 2} - set(axes)).pop()  # faces: the normal axis
    return 0  # vertices, 2D squares, 3D cubes: one kind


def t_kind(ndim: int, dual_axes: Tuple[int, ...]) -> int:
    """Kind of a T cell: the rank of the axes its dual V cell spans (the axes where its doubled
    coordinate is even) among all axis sets of that size in lexicographic order. For walls between
    two voxels this is the axis crossed (2D: bettimatch's ``2a + kind``); for 3D T edges it ranks
    {0,1} < {0,2} < {1,2}. Not the V face order (normal axis): with that mix a one-voxel-thick
    slab stops reproducing its 2D slice (test_oracle_nd.test_slab_equals_its_slice)."""
    return list(itertools.combinations(range(ndim), len(dual_axes))).index(tuple(dual_axes))


def graph_offsets(ndim: int) -> List[Tuple[int, ...]]:
    """Forward offsets of the (3^n - 1)-neighbour graph in kind order."""
    forward = [d for d in itertools.product((-1, 0, 1), repeat=ndim) if any(d) and next(v for v in d if v) > 0]
    return sorted(forward, key=lambda d: (sum(1 for v in d if v), tuple(-v for v in d)))


# --------------------------------------------------------------------------------------------
# complexes
# --------------------------------------------------------------------------------------------


class Complex:
    """Cells with their voxels (ascending raster indices), keys, value rule and faces."""

    def __init__(self, shape, dims, keys, voxels, rule, report, faces):
        self.shape = tuple(shape)
        self.dim = np.asarray(dims, dtype=np.int64)
        self.voxels = [tuple(v) for v in voxels]
        self.rule = rule  # "max" or "min"
        self.report = list(report)  # per cell: "first" or "last"
        self.faces = [tuple(f) for f in faces]
        self.keys = list(keys)
        # rank of each cell's key among all keys (one dimension's keys never collide)
        order = sorted(range(len(keys)), key=lambda i: (dims[i], keys[i]))
        self.key_rank = np.empty(len(keys), dtype=np.int64)
        self.key_rank[order] = np.arange(len(keys))
        width = max((len(v) for v in self.voxels), default=1)
        # pad by repetition: a repeated voxel changes neither a max nor a min
        self.voxel_matrix = np.array([v + (v[0],) * (width - len(v)) for v in self.voxels], dtype=np.int64)
        self.cells_of_dim = {int(d): np.flatnonzero(self.dim == d) for d in np.unique(self.dim)}

    def values(self, flat: np.ndarray) -> np.ndarray:
        taken = flat[self.voxel_matrix]
        return taken.max(axis=1) if self.rule == "max" else taken.min(axis=1)

    def reporting_voxel(self, cell: int, flat: np.ndarray, value: float) -> Tuple[int, ...]:
        attaining = [v for v in self.voxels[cell] if flat[v] == value]
        v = attaining[0] if self.report[cell] == "first" else attaining[-1]
        return tuple(int(i) for i in np.unravel_index(v, self.shape))


def _doubled_cells(shape, construction):
    """Doubled coordinates of every cell, with the voxels each one takes its value from."""
    extent = [2 * s - 1 if construction == "V" else 2 * s + 1 for s in shape]
    for c in itertools.product(*(range(e) for e in extent)):
        per_axis = []
        for i, ci in enumerate(c):
            if construction == "V":
                per_axis.append((ci // 2,) if ci % 2 == 0 else ((ci - 1) // 2, (ci + 1) // 2))
            else:
                per_axis.append(((ci - 1) // 2,) if ci % 2 else tuple(v for v in (ci // 2 - 1, ci // 2) if 0 <= v < shape[i]))
        voxels = sorted(int(np.ravel_multi_index(v, shape)) for v in itertools.product(*per_axis))
        yield c, voxels


@lru_cache(maxsize=64)
def cubical_complex(shape: Tuple[int, ...], construction: str) -> Complex:
    ndim = len(shape)
    index, dims, keys, voxels, report, faces_c = {}, [], [], [], [], []
    for c, vox in _doubled_cells(shape, construction):
        odd = tuple(i for i in range(ndim) if c[i] % 2)
        k = len(odd)
        index[c] = len(dims)
        dims.append(k)
        voxels.append(vox)
        if construction == "V":
            keys.append(tuple(ci // 2 for ci in c) + (v_kind(ndim, odd),))
            report.append("first" if (k == ndim and ndim == 3) else "last")
        else:
            even = tuple(i for i in range(ndim) if c[i] % 2 == 0)
            keys.append(tuple((ci + 1) // 2 for ci in c) + (t_kind(ndim, even),))
            report.append("first")
        faces_c.append([c[:i] + (c[i] + s,) + c[i + 1:] for i in odd for s in (-1, 1)])
    faces = [[index[f] for f in fc] for fc in faces_c]
    return Complex(shape, dims, keys, voxels, "max" if construction == "V" else "min", report, faces)


@lru_cache(maxsize=64)
def neighbour_graph(shape: Tuple[int, ...]) -> Complex:
    """Voxels and their (3^n - 1)-neighbour edges: dimension 0 of the T construction."""
    ndim = len(shape)
    n = int(np.prod(shape))
    dims, keys, voxels, faces = [0] * n, [], [], [()] * n
    for p in range(n):
        keys.append(tuple(int(i) for i in np.unravel_index(p, shape)) + (0,))
        voxels.append((p,))
    for p in range(n):
        at = np.unravel_index(p, shape)
        for kind, d in enumerate(graph_offsets(ndim)):
            q = tuple(int(a) + b for a, b in zip(at, d))
            if all(0 <= q[i] < shape[i] for i in range(ndim)):
                qi = int(np.ravel_multi_index(q, shape))
                dims.append(1)
                keys.append(tuple(int(a) for a in at) + (kind,))
                voxels.append((p, qi))
                faces.append((p, qi))
    return Complex(shape, dims, keys, voxels, "max", ["last"] * len(dims), faces)


def layer_complex(shape: Tuple[int, ...], construction: str, d: int) -> Complex:
    """The complex whose (d+1 -> d) boundary matrix gives the dimension-d pairs."""
    if construction == "T" and d == 0:
        return neighbour_graph(shape)
    return cubical_complex(shape, construction)


# --------------------------------------------------------------------------------------------
# reduction
# --------------------------------------------------------------------------------------------


def ordered(cx: Complex, cells: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``cells`` sorted by (value, key)."""
    return cells[np.lexsort((cx.key_rank[cells], values[cells]))]


def pivots(cx: Complex, d: int, column_values: np.ndarray, row_values: np.ndarray) -> Dict[int, int]:
    """Standard column reduction of the boundary matrix from dimension d+1 to d over Z/2, columns
    in (column_values, key) order, rows in (row_values, key) order. Returns {pivot row: column}."""
    rows = ordered(cx, cx.cells_of_dim.get(d, np.zeros(0, np.int64)), row_values)
    cols = ordered(cx, cx.cells_of_dim.get(d + 1, np.zeros(0, np.int64)), column_values)
    position = {int(r): i for i, r in enumerate(rows)}
    reduced_with_low: Dict[int, int] = {}  # low row position -> the reduced column holding it
    out: Dict[int, int] = {}
    for j in cols:
        column = 0
        for face in cx.faces[j]:
            column ^= 1 << position[face]
        while column:
            low = column.bit_length() - 1
            earlier = reduced_with_low.get(low)
            if earlier is None:
                reduced_with_low[low] = column
                out[int(rows[low])] = int(j)
                break
            column ^= earlier
    return out


# --------------------------------------------------------------------------------------------
# barcodes
# --------------------------------------------------------------------------------------------


class Bar(NamedTuple):
    birth_cell: int
    death_cell: int
    birth: float
    death: float
    birth_voxel: Tuple[int, ...]
    death_voxel: Tuple[int, ...]

    @property
    def location(self):
        return self.birth_voxel, self.death_voxel


class Barcode(NamedTuple):
    bars: List[List[Bar]]  # finite bars of positive length, per dimension
    essential: Tuple[int, ...]  # birth voxel of the dim-0 bar that never dies
    essential_birth: float


class _Filtered(NamedTuple):
    """One function on one layer: the cell values, the pivots and the bars they give."""

    values: np.ndarray
    pairs: Dict[int, int]
    bars: List[Bar]


def _filtered_layer(cx: Complex, d: int, flat: np.ndarray, order: Optional[np.ndarray] = None) -> _Filtered:
    """``order`` (optional): a refinement of ``flat`` that fixes the total order (a tie order);
    the cells are ordered and reported by it, while a bar still needs distinct ``flat`` values."""
    values = cx.values(flat)
    ordering = values if order is None else cx.values(order)
    by = flat if order is None else order
    pairs = pivots(cx, d, ordering, ordering)
    bars = []
    for i, j in pairs.items():
        if values[i] < values[j]:
            bars.append(Bar(i, j, float(values[i]), float(values[j]),
                            cx.reporting_voxel(i, by, ordering[i]), cx.reporting_voxel(j, by, ordering[j])))
    return _Filtered(ordering, pairs, bars)


def _as_volume(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (2, 3) or x.size == 0:
        raise ValueError(f"expected a non-empty 2D or 3D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    return x


def barcode(x, connectivity: Optional[int] = None) -> Barcode:
    x = _as_volume(x)
    construction = construction_of(x.ndim, connectivity)
    flat = x.ravel()
    bars = [_filtered_layer(layer_complex(x.shape, construction, d), d, flat).bars for d in range(x.ndim)]
    first = int(np.lexsort((np.arange(flat.size), flat))[0])  # the elder vertex: smallest (value, index)
    return Barcode(bars, tuple(int(i) for i in np.unravel_index(first, x.shape)), float(flat[first]))


def betti_numbers_at(bc: Barcode, t: float) -> Tuple[int, ...]:
    """Betti numbers of the sublevel set at ``t`` from a barcode."""
    alive = [sum(1 for b in bars if b.birth <= t < b.death) for bars in bc.bars]
    alive[0] += int(bc.essential_birth <= t)
    return tuple(alive)


# --------------------------------------------------------------------------------------------
# the induced matching
# --------------------------------------------------------------------------------------------


class Matching(NamedTuple):
    matched: List[List[Tuple[Bar, Bar]]]  # per dimension: (bar of f, bar of g)
    pred: List[List[Bar]]
    target: List[List[Bar]]
    comparison: List[List[Bar]]
    via: List[List[Bar]]  # per dimension, per matched pair: the bar of c both reach

    def counts(self):
        nd = len(self.pred)
        m = tuple(len(self.matched[d]) for d in range(nd))
        up = tuple(len(self.pred[d]) - m[d] for d in range(nd))
        ut = tuple(len(self.target[d]) - m[d] for d in range(nd))
        return m, up, ut

    def unmatched(self, side: str, d: int) -> List[Bar]:
        k = 0 if side == "pred" else 1
        taken = {pair[k].birth_cell for pair in self.matched[d]}
        return [b for b in (self.pred if k == 0 else self.target)[d] if b.birth_cell not in taken]


def matching(f, g, connectivity: Optional[int] = None, rule: str = "reference", order=None) -> Matching:
    """The Betti matching of sublevel volumes ``f`` (pred) and ``g`` (target). ``order``
    (optional): ``(f_order, g_order)``, refinements of ``f`` and ``g`` on one scale that fix the
    total order of the cells (a tie order; the comparison's is their minimum); bars are still
    those of distinct values of ``f``, ``g`` and ``c``."""
    f, g = _as_volume(f), _as_volume(g)
    if f.shape != g.shape:
        raise ValueError(f"shapes differ: {f.shape} and {g.shape}")
    try:
        rule = RULES[rule]
    except KeyError:
        raise ValueError(f"rule must be one of {sorted(RULES)}, got {rule!r}") from None
    construction = construction_of(f.ndim, connectivity)
    c = np.minimum(f, g)
    matched, pred, target, comparison, via = [], [], [], [], []
    for d in range(f.ndim):
        cx = layer_complex(f.shape, construction, d)
        if order is None:
            parts = {name: _filtered_layer(cx, d, h.ravel()) for name, h in (("f", f), ("g", g), ("c", c))}
        else:
            fo, go = (np.asarray(o, dtype=np.float64) for o in order)
            co = np.minimum(fo, go)
            parts = {name: _filtered_layer(cx, d, h.ravel(), o.ravel())
                     for name, h, o in (("f", f, fo), ("g", g, go), ("c", c, co))}
        c_bar_dying_at = {bar.death_cell: bar for bar in parts["c"].bars}
        reach = []
        for name in ("f", "g"):
            mine = parts[name]
            image = pivots(cx, d, parts["c"].values, mine.values)  # columns in c's order, rows in the input's
            r = {}
            for bar in mine.bars:
                j = image.get(bar.birth_cell)
                if j is None or j not in c_bar_dying_at:
                    continue
                if rule == "strict" and mine.values[bar.birth_cell] > parts["c"].values[j]:
                    continue  # born in the input after its class became a boundary in c: no image bar
                r[bar.birth_cell] = j
            reach.append(r)
        g_by_c = {j: bar for bar in parts["g"].bars for j in [reach[1].get(bar.birth_cell)] if j is not None}
        reached = [(bar, reach[0][bar.birth_cell]) for bar in parts["f"].bars if reach[0].get(bar.birth_cell) in g_by_c]
        matched.append([(bar, g_by_c[j]) for bar, j in reached])
        via.append([c_bar_dying_at[j] for _, j in reached])
        pred.append(parts["f"].bars)
        target.append(parts["g"].bars)
        comparison.append(parts["c"].bars)
    return Matching(matched, pred, target, comparison, via)


# --------------------------------------------------------------------------------------------
# the reference's row order
# --------------------------------------------------------------------------------------------


def reference_row_order(bars: Sequence[Bar], cx: Complex, top: bool) -> List[Bar]:
    """Bars in the order Betti-Matching-3D lists them: by death cell ascending, or, for the top
    dimension (found by the dual sweep), by birth cell descending (each in its own function's
    (value, key) order)."""
    return [bars[i] for i in _row_permutation(bars, cx, top)]


def _row_permutation(bars: Sequence[Bar], cx: Complex, top: bool) -> List[int]:
    if top:
        return sorted(range(len(bars)), key=lambda i: (bars[i].birth, cx.key_rank[bars[i].birth_cell]), reverse=True)
    return sorted(range(len(bars)), key=lambda i: (bars[i].death, cx.key_rank[bars[i].death_cell]))


def rows_like_reference(m: Matching, shape, connectivity: Optional[int] = None):
    """Per dimension: (matched rows, unmatched pred rows, unmatched target rows) in the reference's
    row order; a matched row is ``(pred birth, pred death, target birth, target death)`` voxels,
    an unmatched one ``(birth, death)``. Matched rows follow the bar of ``c`` they reach."""
    construction = construction_of(len(shape), connectivity)
    out = []
    for d in range(len(shape)):
        cx = layer_complex(tuple(shape), construction, d)
        top = d == len(shape) - 1
        rows_m = [m.matched[d][i][0].location + m.matched[d][i][1].location for i in _row_permutation(m.via[d], cx, top)]
        rows_p = [b.location for b in reference_row_order(m.unmatched("pred", d), cx, top)]
        rows_t = [b.location for b in reference_row_order(m.unmatched("target", d), cx, top)]
        out.append((rows_m, rows_p, rows_t))
    return out
