"""Polygons of a class map: one feature per connected region of one class, written with
pyogrio (GeoPackage, GeoJSON or FlatGeobuf) in the class map's CRS.

Why this way: `rasterio.features.shapes` (GDAL's polygonize) traces the regions, so edges
follow pixel borders exactly and the polygons of a class cover its pixels — no gaps, no
overlaps. Large scenes arrive in blocks of rows (`PolygonWriter.write`, as the predictor
streams them); each block is polygonized alone. A region that reaches the block's last row
may go on in the next block, so it stays *open*: its geometry, pixel count and probability
sum are carried over, and the next block's regions that touch it — same class, 4-adjacent
across the border, found by comparing the two rows of region ids on each side of the border,
not by geometry — are unioned with it (shapely). Everything else is *finished* and appended
to a temporary GeoPackage at once. Memory is thus one block of rows plus the open regions
along the current border; the output is the same as polygonizing the scene in one piece.

Simplified (`VectorOptions.simplify`), neighbours stay edge to edge: each shared boundary is
simplified once, alike for both sides (arcs.py). The nodes that cut boundaries into arcs
come from the class labels of each block (corners on a block's last row are decided with the
next block's first row), and each region carries the nodes on its own boundary; an arc is
simplified by the first of its two regions to be finished, checked against both regions as
traced so far, and left for the other. Memory stays one block plus the open regions, their
nodes and the arcs left for them.

Attributes of each polygon: `class_name`, `class_index`, `pixels`, the area (`area_m2` in a
projected CRS, else `area_px`: the field's name says the unit) and `mean_prob` (the mean
probability of its class over its pixels; empty when no probabilities were given).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.files import atomic_path
from .raster_io import NODATA_LABEL, gdal_env, pixel_area_m2

VECTOR_FORMATS = {'gpkg': 'GPKG', 'geojson': 'GeoJSON', 'fgb': 'FlatGeobuf'}
MEDIA_TYPES = {'gpkg': 'application/geopackage+sqlite3', 'geojson': 'application/geo+json',
               'fgb': 'application/vnd.flatgeobuf'}
BLOCK_ROWS = 1024           # rows polygonized at once (× the scene's width of int32 ids)


@dataclass
class VectorOptions:
    """What `--vector` writes. format: gpkg, geojson or fgb; min_area: polygons smaller than
    this are dropped, in the layer's area unit (m² in a projected CRS, else pixels);
    simplify: Douglas-Peucker tolerance in pixels (0: exact pixel edges). Each boundary
    between two polygons is simplified once, the same for both, so neighbours keep meeting
    edge to edge (no gaps, no overlaps); boundaries with classes not kept and no data move
    only inwards, the scene's edge stays put. A simplified segment that would cross another
    boundary keeps more vertices instead, so boundaries never cross, but they may come to
    touch at a point: such polygons are repaired (`make_valid`) and the layer is
    MultiPolygon. A polygon whose outline collapses (narrower than the tolerance)
    is dropped, like one under min_area, and its neighbours close over it; so are holes
    that collapse, with the island filling them. classes: names or indices of the classes
    to keep (None: all); merge: regions cut by block borders are joined (False: each
    block's polygons stay cut at its borders, every BLOCK_ROWS rows); block_rows: rows per
    block."""
    format: str = 'gpkg'
    min_area: float = 0.0
    simplify: float = 0.0
    classes: tuple | None = None
    merge: bool = True
    block_rows: int = BLOCK_ROWS

    def __post_init__(self):
        if self.format not in VECTOR_FORMATS:
            raise ValueError(f'vector format {self.format!r}: use one of '
                             + ', '.join(VECTOR_FORMATS))
        if self.min_area < 0 or self.simplify < 0:
            raise ValueError('--vector-min-area and --vector-simplify take values ≥ 0')
        if self.block_rows < 1:
            raise ValueError(f'block_rows {self.block_rows}: give a number of rows ≥ 1')


def vector_path(labels_path: Path, fmt: str) -> Path:
    """`<stem>_polygons.<fmt>` beside the class map `<stem>_labels.*`."""
    stem = Path(labels_path).stem
    stem = stem[:-len('_labels')] if stem.endswith('_labels') else stem
    return Path(labels_path).with_name(f'{stem}_polygons.{fmt}')


def kept_classes(names: list[str], classes) -> np.ndarray:
    """Boolean per class index: which classes get polygons (names or indices; None: all)."""
    keep = np.zeros(NODATA_LABEL + 1, bool)
    if classes is None:
        keep[:len(names)] = True
        return keep
    for c in classes:
        c = str(c).strip()
        if c.isdigit() and int(c) < len(names):
            keep[int(c)] = True
        elif c in names:
            keep[names.index(c)] = True
        else:
            raise ValueError(f'--vector-classes: {c!r} is not a class; the classes are '
                             + ', '.join(f'{i} {n}' for i, n in enumerate(names)))
    return keep


def regions(labels: np.ndarray, keep: np.ndarray):
    """(ids int32 H×W with 0 outside kept classes, class of each id) of the 4-connected
    regions of one class each — the regions GDAL's polygonize traces (4-connectedness)."""
    from scipy import ndimage
    ids = np.zeros(labels.shape, np.int32)
    cls = [NODATA_LABEL]                      # id 0: nothing
    for c in np.flatnonzero(np.bincount(labels.ravel(), minlength=256) * keep[:256]):
        lab, n = ndimage.label(labels == c)   # 4-connectivity (the default structure)
        if n:
            ids[lab > 0] = lab[lab > 0] + (len(cls) - 1)
            cls += [int(c)] * n
    return ids, np.asarray(cls, np.int32)


class _Open:
    """A region reaching the block's last row: its pieces so far, their statistics and (to
    simplify) the nodes on their boundaries (arrays of `arcs.node_keys`)."""
    __slots__ = ('cls', 'geoms', 'pixels', 'prob', 'nodes')

    def __init__(self, cls, geoms, pixels, prob, nodes=()):
        self.cls, self.geoms, self.pixels, self.prob = cls, geoms, pixels, prob
        self.nodes = list(nodes)


class PolygonWriter:
    """Polygons of a class map streamed by rows: `write(r0, labels, prob)` in row order,
    then the file appears at `path` when the `with` block ends (nothing on error).

    `prob`: H×W probability of each pixel's class (None: no `mean_prob`). `transform`, `crs`:
    the class map's (None: pixel coordinates, y down as rows)."""

    def __init__(self, path: Path, names: list[str], height: int, width: int, crs=None,
                 transform=None, options: VectorOptions | None = None):
        from affine import Affine
        self.options = options or VectorOptions()
        self.path, self.names = Path(path), list(names)
        self.height, self.width = height, width
        self.crs, self.transform = crs, transform if transform is not None else Affine.identity()
        self.keep = kept_classes(self.names, self.options.classes)
        area = pixel_area_m2(crs, transform) if transform is not None else None
        self.area_field = 'area_m2' if area is not None else 'area_px'
        self.pixel_area = area if area is not None else 1.0
        t = self.transform          # polygons are traced in pixel coordinates, then moved
        self.affine = [t.a, t.b, t.d, t.e, t.c, t.f]
        self.features = 0

    # ------------------------------------------------------------------ stream
    def __enter__(self):
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(gdal_env())
        self._tmp = self._stack.enter_context(atomic_path(
            self.path.with_name(self.path.name + '.gpkg'), keep=False))
        self._rows, self._probs, self._r0 = [], [], 0
        self._buffered = 0
        self._open: dict[int, _Open] = {}
        self._last_ids = None               # open-region id of each pixel of the last row
        self._last_labels = None            # the last row's labels (nodes on the border)
        if self.options.simplify > 0:
            from .arcs import CoverageSimplifier
            self._simplifier = CoverageSimplifier(self.options.simplify)
        self._has_prob = None
        self._batch = []
        return self

    def write(self, r0: int, labels: np.ndarray, prob: np.ndarray | None = None) -> None:
        if r0 != self._r0 + self._buffered:
            raise ValueError(f'rows must come in order: expected row {self._r0 + self._buffered}, '
                             f'got {r0}')
        if self._has_prob is None:
            self._has_prob = prob is not None
        self._rows.append(np.asarray(labels, np.uint8))
        self._probs.append(None if prob is None else np.asarray(prob, np.float32))
        self._buffered += labels.shape[0]
        while self._buffered >= self.options.block_rows:
            self._flush(self.options.block_rows)

    def _flush(self, n: int) -> None:
        """Polygonize the first n buffered rows."""
        labels = np.concatenate(self._rows)
        prob = np.concatenate(self._probs) if self._has_prob else None
        rest = labels[n:], None if prob is None else prob[n:]
        self._rows = [rest[0]] if len(rest[0]) else []
        self._probs = [rest[1]] if len(rest[0]) else []
        self._block(self._r0, labels[:n], None if prob is None else prob[:n])
        self._r0 += n
        self._buffered -= n

    def _block(self, r0: int, labels: np.ndarray, prob: np.ndarray | None) -> None:
        import shapely
        from rasterio.features import shapes
        from affine import Affine
        ids, cls = regions(labels, self.keep)
        n = len(cls)
        pixels = np.bincount(ids.ravel(), minlength=n)
        psum = np.bincount(ids.ravel(), weights=prob.ravel(), minlength=n) if prob is not None \
            else np.zeros(n)
        geoms = [None] * n
        # whole-pixel coordinates (exact in floating point), so that the edges of regions
        # cut by a block border coincide exactly and union joins them
        for geom, value in shapes(ids, mask=ids > 0, connectivity=4,
                                  transform=Affine.translation(0, r0)):
            geoms[int(value)] = shapely.geometry.shape(geom)
        last_block = r0 + labels.shape[0] >= self.height
        merge = self.options.merge
        # regions of this block that join open regions above (4-adjacent across the border)
        parent = {}                              # union-find over 'o<id>' and 'n<id>'

        def find(k):
            while parent.setdefault(k, k) != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        if merge and self._last_ids is not None:
            above, below = self._last_ids, ids[0]
            pairs = np.unique(np.stack([above, below])[:, (above > 0) & (below > 0)], axis=1)
            for a, b in pairs.T:
                if self._open[int(a)].cls == cls[b]:
                    parent[find(f'o{int(a)}')] = find(f'n{int(b)}')
        touching_bottom = set() if last_block or not merge else \
            set(np.unique(ids[-1]).tolist()) - {0}
        nodes = self._nodes(r0, labels, ids, last_block) if self.options.simplify > 0 else {}
        groups: dict[str, list] = {}
        for key in list(parent):
            groups.setdefault(find(key), []).append(key)
        in_group = set(parent)
        new_open: dict[int, _Open] = {}
        bottom = np.zeros(n, np.int32)          # this block's region id → open-region id
        done: list[_Open] = []                  # regions finished in this block

        def settle(region: _Open, new_ids: list[int]):
            if any(i in touching_bottom for i in new_ids):
                new_open[len(new_open) + 1] = region
                bottom[new_ids] = len(new_open)
            else:
                done.append(region)

        for members in groups.values():
            olds = [self._open[int(k[1:])] for k in members if k[0] == 'o']
            news = [int(k[1:]) for k in members if k[0] == 'n']
            region = _Open(cls[news[0]], [g for o in olds for g in o.geoms] +
                           [geoms[i] for i in news],
                           sum(o.pixels for o in olds) + int(pixels[news].sum()),
                           sum(o.prob for o in olds) + float(psum[news].sum()),
                           [a for o in olds for a in o.nodes] +
                           [nodes[i] for i in news if i in nodes])
            settle(region, news)
        for i in range(1, n):
            if f'n{i}' not in in_group:
                settle(_Open(int(cls[i]), [geoms[i]], int(pixels[i]), float(psum[i]),
                             [nodes[i]] if i in nodes else []), [i])
        for k, region in self._open.items():       # open regions nothing below continued
            if f'o{k}' not in in_group:
                done.append(region)
        if self.options.simplify > 0 and done:
            self._alive = self._index(done + list(new_open.values()))
        for region in done:
            self._finish(region)
        self._open = new_open
        self._last_ids = bottom[ids[-1]] if new_open else None
        self._last_labels = labels[-1].copy()
        self._write_batch()

    def _nodes(self, r0: int, labels: np.ndarray, ids: np.ndarray, last_block: bool) -> dict:
        """The nodes (`arcs.node_corners`) of this block's corner rows, as node keys per
        region id of this block; those on the open regions' boundaries (the first corner row,
        decided now that its lower row is known) are added to them. The last corner row is
        decided with the next block's first row, except in the last block (outside below).
        Without merging, every corner of the block's first and last rows is a node: pieces
        are cut there, and their cut edges must stay put for both pieces."""
        from .arcs import node_corners, node_keys
        n, w = labels.shape
        merge = self.options.merge
        j, x = node_corners(labels, self._last_labels if merge else None, None)
        if not merge:
            inner = (j > 0) & (j < n)
            full = np.arange(w + 1, dtype=np.int64)
            j = np.concatenate([j[inner], np.zeros(w + 1, np.int64), np.full(w + 1, n)])
            x = np.concatenate([x[inner], full, full])
        elif not last_block:
            j, x = j[j < n], x[j < n]
        # the scene's corners too: an arc along the scene's edge then stays straight
        rows = ([0] if r0 == 0 else []) + ([n] if last_block else [])
        j = np.concatenate([j, np.repeat(rows, 2).astype(np.int64)])
        x = np.concatenate([x, np.tile(np.array([0, w], np.int64), len(rows))])
        keys = node_keys(r0 + j, x)
        rid, rkey = [], []
        for pj, px in ((j - 1, x - 1), (j - 1, x), (j, x - 1), (j, x)):   # the 4 pixels
            ok = (px >= 0) & (px < w) & (pj < n)
            got = np.zeros(len(j), np.int64)
            inside = ok & (pj >= 0)
            got[inside] = ids[pj[inside], px[inside]]
            above = ok & (pj < 0)
            if self._last_ids is not None:
                got[above] = -self._last_ids[px[above]].astype(np.int64)   # open regions
            rid.append(got[got != 0])
            rkey.append(keys[got != 0])
        rid, rkey = np.concatenate(rid), np.concatenate(rkey)
        order = np.lexsort((rkey, rid))
        rid, rkey = rid[order], rkey[order]
        first = np.ones(len(rid), bool)
        first[1:] = (rid[1:] != rid[:-1]) | (rkey[1:] != rkey[:-1])
        rid, rkey = rid[first], rkey[first]
        owners, starts = np.unique(rid, return_index=True)
        out = {}
        for owner, part in zip(owners.tolist(), np.split(rkey, starts[1:])):
            if owner < 0:
                self._open[-owner].nodes.append(part)
            else:
                out[owner] = part
        return out

    @staticmethod
    def _index(regions: list[_Open]):
        """The regions being traced (finished in this block, or still open), by their pieces:
        the neighbours a simplified arc is checked against."""
        import shapely
        pieces = [(g, r) for r in regions for g in r.geoms]
        return shapely.STRtree([g for g, _ in pieces]), [r for _, r in pieces], {}

    @staticmethod
    def _geom(region: _Open):
        """The region's polygon so far (its pieces unioned once, then kept)."""
        import shapely
        if len(region.geoms) > 1:
            region.geoms = [shapely.union_all(region.geoms)]
        return region.geoms[0]

    def _neighbours(self, xy: np.ndarray) -> list:
        """The boundary (so far, prepared) of the region being traced that holds each point,
        else None."""
        import shapely
        tree, owners, edges = self._alive
        found = [None] * len(xy)
        for i, j in tree.query(shapely.points(xy), predicate='within').T:
            region = owners[j]
            if id(region) not in edges:
                edges[id(region)] = shapely.boundary(self._geom(region))
                shapely.prepare(edges[id(region)])
            found[i] = edges[id(region)]
        return found

    def _finish(self, region: _Open) -> None:
        import shapely
        import shapely.affinity
        area = region.pixels * self.pixel_area
        small = area < self.options.min_area
        if self.options.simplify > 0:
            # even a region dropped for its size simplifies its arcs, as its neighbours
            # expect either of them to: the result must not depend on who comes first
            nodes = np.unique(np.concatenate(region.nodes)) if region.nodes else \
                np.empty(0, np.int64)
            geom = self._simplifier.simplify(self._geom(region), nodes, self._neighbours)
            if small or geom is None:            # too small, or its outline collapsed
                return
        elif small:
            return
        else:
            geom = region.geoms[0] if len(region.geoms) == 1 else \
                shapely.union_all(region.geoms)
            # union leaves vertices on straight edges where pieces met; tolerance 0 drops them
            geom = shapely.simplify(geom, 0.0, preserve_topology=True)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        geom = shapely.affinity.affine_transform(geom, self.affine)
        self._batch.append((geom, region.cls, region.pixels, area,
                            region.prob / region.pixels if self._has_prob else np.nan))

    def _write_batch(self) -> None:
        import shapely
        from pyogrio.raw import write
        if not self._batch and self._written:
            return
        geoms, cls, pixels, area, prob = zip(*self._batch) if self._batch else ([],) * 5
        cls = np.asarray(cls, np.int32)
        fields = dict(class_name=np.asarray([self.names[c] for c in cls], object),
                      class_index=cls, pixels=np.asarray(pixels, np.int64),
                      **{self.area_field: np.asarray(area, np.float64)},
                      mean_prob=np.asarray(prob, np.float64))
        crs = None if self.crs is None else self.crs.to_wkt()
        meta = {'DESCRIPTION': f'SegEarth-OV class polygons; {self.area_field}: area in '
                + ('m²' if self.area_field == 'area_m2' else 'pixels (the class map has no '
                   'projected CRS)')}
        write(str(self._tmp), shapely.to_wkb(np.asarray(geoms, object)) if geoms else
              np.empty(0, object), list(fields.values()), fields=list(fields), layer=self.layer,
              driver='GPKG', geometry_type=self.geometry_type, crs=crs, append=self._written,
              promote_to_multi=self.geometry_type == 'MultiPolygon',
              layer_metadata=None if self._written else meta)
        self._written = True
        self.features += len(geoms)
        self._batch = []

    _written = False

    @property
    def geometry_type(self) -> str:
        """Polygon; MultiPolygon when simplified: a region that simplification pinches (its
        parts then touch at a point) stays one feature."""
        return 'MultiPolygon' if self.options.simplify > 0 else 'Polygon'

    @property
    def layer(self) -> str:
        return self.path.stem

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                if self._buffered:
                    self._flush(self._buffered)
                self._write_batch()
                self._publish()
        finally:
            self._stack.__exit__(exc_type, exc, tb)
        return False

    def _publish(self) -> None:
        """The temporary GeoPackage under the final name, converted by GDAL's Arrow stream
        (batch by batch, never the whole layer in memory) for GeoJSON and FlatGeobuf."""
        fmt = self.options.format
        with atomic_path(self.path) as out:
            if fmt == 'gpkg':
                os.replace(self._tmp, out)
                return
            from pyogrio.raw import open_arrow, write_arrow
            with open_arrow(str(self._tmp), use_pyarrow=False) as (meta, stream):
                write_arrow(stream, str(out), driver=VECTOR_FORMATS[fmt], layer=self.layer,
                            geometry_name=meta['geometry_name'],
                            geometry_type=self.geometry_type,
                            crs=meta['crs'])


def vectorize(labels_path, out_path=None, names: list[str] | None = None, probs_path=None,
              options: VectorOptions | None = None, driver: str | None = None) -> Path:
    """Polygons of a class GeoTIFF written by the predictor (or any uint8 class raster with
    nodata 255), read in blocks of rows. `names`: the class names (default: the file's
    CLASS_NAMES tag); `probs_path`: its class probabilities, a GeoTIFF (for `mean_prob`);
    `driver`: the only GDAL driver that may open `labels_path`."""
    import json

    from rasterio.windows import Window

    from .raster_io import open_raster
    options = options or VectorOptions()
    labels_path = Path(labels_path)
    out_path = Path(out_path) if out_path else vector_path(labels_path, options.format)
    with gdal_env(), contextlib.ExitStack() as stack:
        src = stack.enter_context(open_raster(labels_path, str(labels_path), driver))
        psrc = stack.enter_context(open_raster(probs_path, str(probs_path), 'GTiff')) \
            if probs_path else None
        if names is None:
            names = json.loads(src.tags().get('CLASS_NAMES', 'null')) or \
                [f'class {i}' for i in range(int(src.read(1, masked=True).max()) + 1)]
        geo = src.crs is not None
        writer = PolygonWriter(out_path, names, src.height, src.width,
                               src.crs if geo else None, src.transform if geo else None,
                               options)
        with writer:
            for r0 in range(0, src.height, options.block_rows):
                n = min(options.block_rows, src.height - r0)
                window = Window(0, r0, src.width, n)
                labels = src.read(1, window=window)
                prob = None
                if psrc is not None:
                    p = psrc.read(window=window, masked=True).astype(np.float32).filled(np.nan)
                    p *= np.asarray(psrc.scales, np.float32)[:, None, None]
                    prob = class_probability(labels, p)
                writer.write(r0, labels, prob)
    return out_path


def class_probability(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """H×W probability of each pixel's class from C×H×W probabilities (0 for no data)."""
    idx = np.where(labels < probs.shape[0], labels, 0).astype(np.intp)
    out = np.take_along_axis(probs, idx[None], 0)[0].astype(np.float32)
    out[labels >= probs.shape[0]] = 0
    return np.nan_to_num(out, nan=0.0)
