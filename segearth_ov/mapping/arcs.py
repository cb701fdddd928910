"""Simplification of a polygon coverage one shared arc at a time, so that neighbouring
polygons stay edge to edge (no gaps, no overlaps) while each is simplified alone.

Why this way: GEOS's `coverage_simplify` needs every polygon at once, which the streamed
`PolygonWriter` (vectors.py) never holds. Instead, the pixel corners where three or more
regions meet — *nodes*, found from the class labels alone (`node_corners`) — cut every ring
into arcs; an arc lies between the same two regions on its whole length, so both neighbours
see the same arc, each in its own direction. Each arc is put in a canonical direction (the
lexicographically smaller end first; a closed arc from its smallest vertex, counter-
clockwise) with the same vertices (its corners and end nodes, whatever extra collinear
vertices either side had), simplified once by Douglas–Peucker with its ends fixed (split at
the first farthest vertex; a closed arc first at the vertex farthest from its start), and
turned back for each neighbour. Chords are checked against both neighbours
(`CoverageSimplifier`), so simplified arcs never cross.

Coordinates are whole pixels (pixel corners at integer x, y, y down as rows); a node is kept
as the key `(y << 32) | x`.
"""
from __future__ import annotations

import numpy as np

OUTSIDE = 256               # the label beyond the scene (class labels are uint8)
_HAIR = 1e-7                # pixels: inside a face's edges, far below any grid spacing
_LOW = (1 << 32) - 1


def node_corners(labels: np.ndarray, above=None, below=None, chunk: int = 256):
    """(j, x) of the nodes among the corners of a block of label rows: corner row j lies
    between pixel rows j - 1 and j (0..n), corner column x between columns x - 1 and x
    (0..W). A corner is a node when 3 or 4 of its 4 unit edges separate different labels
    (4: the diagonal pinch). `above`, `below`: the label rows beyond the block (None: outside
    the scene). Computed `chunk` corner rows at a time (memory: a few bytes per pixel)."""
    n, w = labels.shape
    js, xs = [], []
    for j0 in range(0, n + 1, chunk):
        j1 = min(n + 1, j0 + chunk)
        ext = np.full((j1 - j0 + 1, w + 2), OUTSIDE, np.uint16)   # pixel rows j0-1 .. j1-1
        lo, hi = max(j0 - 1, 0), min(j1, n)
        ext[lo - j0 + 1:hi - j0 + 1, 1:-1] = labels[lo:hi]
        if j0 == 0 and above is not None:
            ext[0, 1:-1] = above
        if j1 == n + 1 and below is not None:
            ext[-1, 1:-1] = below
        vert = ext[:, 1:] != ext[:, :-1]       # edge left of corner column x, per pixel row
        horiz = ext[1:] != ext[:-1]            # edge above padded column c, per corner row
        degree = vert[:-1].astype(np.uint8) + vert[1:] + horiz[:, :-1] + horiz[:, 1:]
        j, x = np.nonzero(degree >= 3)
        js.append(j + j0)
        xs.append(x)
    return np.concatenate(js).astype(np.int64), np.concatenate(xs).astype(np.int64)


def node_keys(y, x) -> np.ndarray:
    return (np.asarray(y, np.int64) << 32) | np.asarray(x, np.int64)


def _corners(ring: np.ndarray) -> np.ndarray:
    """The vertices of a closed axis-parallel ring (open form, int64) where it turns."""
    ring = ring[np.any(ring != np.roll(ring, 1, axis=0), axis=1)]
    step = np.sign(np.roll(ring, -1, axis=0) - ring)
    return ring[np.any(step != np.roll(step, 1, axis=0), axis=1)]


def _with_nodes(pts: np.ndarray, hkeys: np.ndarray, vkeys: np.ndarray):
    """The ring's corners with the nodes on its edges inserted in order (the nodes the unit
    steps of the ring pass, without making the unit steps), and which vertices are nodes."""
    nxt = np.roll(pts, -1, axis=0)
    horizontal = pts[:, 1] == nxt[:, 1]
    axis = np.where(horizontal, 0, 1)                        # the coordinate that changes
    a, b = pts[np.arange(len(pts)), axis], nxt[np.arange(len(pts)), axis]
    fixed = pts[np.arange(len(pts)), 1 - axis]
    forward = b > a
    lo = np.where(forward, a, b + 1)                         # half-open: the start, not the end
    hi = np.where(forward, b - 1, a)
    s = np.where(horizontal, np.searchsorted(hkeys, (fixed << 32) | lo, 'left'),
                 np.searchsorted(vkeys, (fixed << 32) | lo, 'left'))
    e = np.where(horizontal, np.searchsorted(hkeys, (fixed << 32) | hi, 'right'),
                 np.searchsorted(vkeys, (fixed << 32) | hi, 'right'))
    counts = e - s
    edge = np.repeat(np.arange(len(pts)), counts)
    off = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pick = np.where(forward[edge], s[edge] + off, e[edge] - 1 - off)
    along = np.where(horizontal[edge], hkeys[np.minimum(pick, len(hkeys) - 1)] & _LOW,
                     vkeys[np.minimum(pick, len(vkeys) - 1)] & _LOW) if len(edge) else \
        np.empty(0, np.int64)
    is_node = np.zeros(len(pts), bool)
    at_corner = along == a[edge]
    is_node[edge[at_corner]] = True
    inner = ~at_corner
    node_pts = pts[edge[inner]].copy()
    node_pts[np.arange(inner.sum()), axis[edge[inner]]] = along[inner]
    order = np.argsort(np.concatenate([2 * np.arange(len(pts)), 2 * edge[inner] + 1]),
                       kind='stable')
    out = np.concatenate([pts, node_pts])[order]
    flags = np.concatenate([is_node, np.ones(inner.sum(), bool)])[order]
    return out, flags


def _area2(path: np.ndarray) -> int:
    """Twice the signed area of a closed path (first point repeated last), exact."""
    return int((path[:-1, 0] * path[1:, 1] - path[1:, 0] * path[:-1, 1]).sum())


class _Arc:
    """One arc in canonical form: `pts` (int64, ends included; a closed arc ends where it
    starts), `key` (its first two vertices: the same for both neighbours) and whether the
    ring runs it backwards."""
    __slots__ = ('pts', 'key', 'rev')

    def __init__(self, pts, rev):
        self.pts, self.rev = pts, rev
        self.key = tuple(pts[:2].ravel().tolist())


def _ring_arcs(ring: np.ndarray, hkeys, vkeys) -> list[_Arc]:
    """The arcs of one ring (open form, int64) in ring order, in canonical form: an arc
    between two nodes from its lexicographically smaller end; a loop through one node, and a
    ring without nodes from its smallest vertex, counter-clockwise (in x, y)."""
    pts = _corners(ring)
    pts, is_node = _with_nodes(pts, hkeys, vkeys) if len(hkeys) else \
        (pts, np.zeros(len(pts), bool))
    if not is_node.any():                                    # a closed arc: the whole ring
        pts = np.roll(pts, -int(np.lexsort((pts[:, 1], pts[:, 0]))[0]), axis=0)
        path = np.concatenate([pts, pts[:1]])
        return [_Arc(path[::-1], False) if _area2(path) < 0 else _Arc(path, False)]
    first = int(np.flatnonzero(is_node)[0])
    pts, is_node = np.roll(pts, -first, axis=0), np.roll(is_node, -first)
    path = np.concatenate([pts, pts[:1]])
    cuts = np.append(np.flatnonzero(is_node), len(pts))
    arcs = []
    for i, j in zip(cuts[:-1], cuts[1:]):
        arc = path[i:j + 1]
        s, e = tuple(arc[0]), tuple(arc[-1])
        rev = s > e if s != e else _area2(arc) < 0
        arcs.append(_Arc(arc[::-1] if rev else arc, rev))
    return arcs


def _seg_dist2(p, a, b):
    """Squared distance of points p to segments a-b (row-wise, float64)."""
    ab, ap = b - a, p - a
    den = (ab ** 2).sum(1)
    t = np.clip(np.divide((ap * ab).sum(1), den, out=np.zeros(len(p)), where=den > 0), 0, 1)
    return ((ap - t[:, None] * ab) ** 2).sum(1)


def _douglas_peucker(lines: list[np.ndarray], tolerance: float, sound) -> list[np.ndarray]:
    """Douglas–Peucker on each line (ends fixed), all lines level by level in numpy: a
    section is split at its first farthest vertex while that is farther than `tolerance`
    or while `sound(starts, ends)` (indices into the lines' concatenation) refuses its
    chord. The first maximum makes the result a function of the vertex sequence alone."""
    pts = np.concatenate(lines)
    xy = pts.astype(np.float64)
    lengths = np.array([len(p) for p in lines])
    first = np.cumsum(lengths) - lengths
    s, e = first, first + lengths - 1
    keep = np.zeros(len(pts), bool)
    keep[s] = keep[e] = True
    tol2 = tolerance ** 2
    while True:
        inner = e - s - 1
        s, e, inner = s[inner > 0], e[inner > 0], inner[inner > 0]
        if not len(s):
            break
        sec = np.repeat(np.arange(len(s)), inner)
        idx = np.arange(inner.sum()) - np.repeat(np.cumsum(inner) - inner, inner) + s[sec] + 1
        d = _seg_dist2(xy[idx], xy[s[sec]], xy[e[sec]])
        top = np.maximum.reduceat(d, np.cumsum(inner) - inner)
        at = np.flatnonzero(d == top[sec])
        _, firstmax = np.unique(sec[at], return_index=True)
        far = idx[at[firstmax]]                                # first farthest vertex
        split = top > tol2
        if (~split).any():
            split[~split] = ~sound(s[~split], e[~split])
        keep[far[split]] = True
        s, e = np.concatenate([s[split], far[split]]), np.concatenate([far[split], e[split]])
    return np.split(pts[keep], np.cumsum(np.add.reduceat(keep, first))[:-1])


class CoverageSimplifier:
    """Simplifies the polygons of a coverage one at a time, each arc once: the first of its
    two neighbours to be finished simplifies it and leaves the result here for the other.

    A chord (a simplified segment) is accepted only if each face between it and the stretch
    of arc it replaces lies within the polygon on that side — the polygon being finished, or
    the neighbour across the arc (the region still being traced there; none for a class not
    kept, no data or outside the scene: the chord then stays on its own side). No face of a chord then holds any other boundary, so
    no two simplified arcs cross: no gaps, no overlaps. Both neighbours judge an arc by the
    same two polygons, so either would simplify it alike. Memory: the arcs whose second
    neighbour is still being traced."""

    def __init__(self, tolerance: float):
        self.tolerance = tolerance
        self.decided: dict[tuple, np.ndarray] = {}

    def simplify(self, geom, nodes: np.ndarray, neighbours):
        """`geom` (a region in whole-pixel coordinates) simplified, its arcs cut at `nodes`
        (sorted unique keys). `neighbours(xy)`: per point (k × 2), the boundary (prepared)
        of the region being traced that holds it, or None. Rings that collapse (under 3
        distinct points or no area) are dropped — a hole together with the island filling
        it, since both simplify their shared arc alike; None when the outline collapses."""
        import shapely
        shapely.prepare(geom)
        nodes = np.asarray(nodes, np.int64)
        vkeys = np.sort(((nodes & _LOW) << 32) | (nodes >> 32))
        plans, arcs = [], []
        for poly in shapely.get_parts(geom):
            plan = []
            for ring in [poly.exterior, *poly.interiors]:
                xy = np.rint(shapely.get_coordinates(ring)[:-1]).astype(np.int64)
                found = _ring_arcs(xy, nodes, vkeys)
                plan.append([(len(arcs) + k, a.rev) for k, a in enumerate(found)])
                arcs += found
            plans.append(plan)
        simple = [self.decided.pop(a.key, None) for a in arcs]
        todo = [k for k, got in enumerate(simple) if got is None]
        if todo:
            for k, pts in zip(todo, self._decide(geom, [arcs[k] for k in todo], neighbours)):
                simple[k] = pts

        def ring_of(plan):
            parts = [simple[k][::-1] if rev else simple[k] for k, rev in plan]
            path = np.concatenate([parts[0]] + [p[1:] for p in parts[1:]])
            if _area2(path) == 0:                           # under 3 distinct points, or flat
                return None
            return path

        out = []
        for plan in plans:
            shell = ring_of(plan[0])
            if shell is not None:
                holes = [shapely.linearrings(h.astype(np.float64)) for h in map(ring_of, plan[1:])
                         if h is not None]
                out.append(shapely.polygons(shapely.linearrings(shell.astype(np.float64)),
                                            holes=holes or None))
        if not out:
            return None
        result = out[0] if len(out) == 1 else shapely.MultiPolygon(out)
        if not result.is_valid:        # rings touching at a point; never crossing
            result = shapely.make_valid(result, method='structure', keep_collapsed=False)
        return None if result.is_empty else result

    def _decide(self, geom, arcs: list[_Arc], neighbours) -> list[np.ndarray]:
        """Simplify the arcs not yet simplified by their neighbour, and keep those whose
        neighbour is still being traced for it."""
        import shapely
        # the pixel across each arc's first unit step: which region lies on the other side
        p0 = np.array([a.pts[0] for a in arcs], np.float64)
        step = np.sign(np.array([a.pts[1] for a in arcs], np.float64) - p0)
        mid = p0 + step / 2
        normal = np.stack([-step[:, 1], step[:, 0]], 1) / 2
        left = mid + normal
        mine = shapely.contains_xy(geom, left[:, 0], left[:, 1])
        others = neighbours(np.where(mine[:, None], mid - normal, left))
        group: dict[int, int] = {}
        owner = np.array([-1 if o is None else group.setdefault(id(o), len(group))
                          for o in others])
        edges = [None] * len(group)          # each neighbour's boundary, prepared
        for o in others:
            if o is not None:
                edges[group[id(o)]] = o
        own = shapely.boundary(geom)
        shapely.prepare(own)
        lines, line_arc = [], []
        for k, a in enumerate(arcs):
            if tuple(a.pts[0]) == tuple(a.pts[-1]):      # closed: split at the farthest vertex
                far = int(np.argmax(((a.pts - a.pts[0]) ** 2).sum(1)))
                lines += [a.pts[:far + 1], a.pts[far:]]
                line_arc += [k, k]
            else:
                lines.append(a.pts)
                line_arc.append(k)
        line_owner = owner[np.array(line_arc)]
        line_of = np.repeat(np.arange(len(lines)), [len(p) for p in lines])
        flat = np.concatenate(lines).astype(np.float64)

        def sound(s, e):
            """Whether each chord s-e is sound: every face between it and its stretch of
            arc holds no boundary of the polygon on its side (a hair inside the face, so
            that the stretch itself and points merely touched do not count)."""
            ok = np.ones(len(s), bool)
            # cutting one corner with a leg of one pixel: the triangle lies in the pixels
            # along the other leg, all of the region on that side (known, or checked here)
            legs = np.abs(flat[s + 1] - flat[s]).sum(1), np.abs(flat[e] - flat[s + 1]).sum(1)
            corner = (e - s == 2) & (np.minimum(*legs) <= 1)
            blind = corner & (line_owner[line_of[s]] < 0)
            if blind.any():
                mid = (flat[s[blind]] + flat[s[blind] + 1] + flat[e[blind]]) / 3
                ok[blind] = shapely.contains_xy(geom, mid[:, 0], mid[:, 1])
            if corner.all():
                return ok
            rest = np.flatnonzero(~corner)
            ok[rest] = faces_sound(s[rest], e[rest])
            return ok

        def faces_sound(s, e):
            n = e - s + 2
            idx = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(s, n)
            idx[np.cumsum(n) - 1] = s                       # back along the chord
            rings = shapely.linestrings(flat[idx], indices=np.repeat(np.arange(len(s)), n))
            faces, which = shapely.get_parts(
                shapely.polygonize(shapely.node(rings)[:, None]), return_index=True)
            ok = np.ones(len(s), bool)
            core = shapely.buffer(faces, -_HAIR, quad_segs=1, join_style='mitre')
            real = ~shapely.is_empty(core)
            core, which = core[real], which[real]
            if not len(core):
                return ok
            at = shapely.get_coordinates(shapely.point_on_surface(core))
            inside = shapely.contains_xy(geom, at[:, 0], at[:, 1])
            bad = shapely.intersects(own, core)
            side = line_owner[line_of[s[which]]]
            bad[~inside & (side < 0)] = True                # no neighbour to check: stay in
            for g, other in enumerate(edges):
                sel = ~inside & (side == g) & ~bad
                if sel.any():
                    bad[sel] = shapely.intersects(other, core[sel])
            np.logical_and.at(ok, which, ~bad)
            return ok

        done = _douglas_peucker(lines, self.tolerance, sound)
        out = [None] * len(arcs)
        for k, pts in zip(line_arc, done):
            out[k] = pts if out[k] is None else np.concatenate([out[k], pts[1:]])
        for k, a in enumerate(arcs):
            if owner[k] >= 0:
                self.decided[a.key] = out[k]
        return out
