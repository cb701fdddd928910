"""Maps an analyst uses directly: class polygons (segearth_ov/mapping/vectors.py,
`tools/predict.py --vector`) and Cloud-Optimized GeoTIFFs (raster_io.write_cog).

Class rasters here are written by the predictor's own `ClassMapWriter` (uint8, nodata 255,
CLASS_NAMES tag, probabilities as uint8 × 1/255), so the polygons are traced from the files
the predictor really writes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from conftest import JBU_CKPT, OEM_TILE, TINY_CFG, TINY_PT, load_script
from segearth_ov.mapping import predictor
from segearth_ov.mapping.raster_io import ClassMapWriter
from segearth_ov.mapping.vectors import PolygonWriter, VectorOptions, vectorize

gpd = pytest.importorskip('geopandas')
NAMES = ['background', 'building', 'road', 'water']
UTM = 'EPSG:32632'
T = Affine(0.3, 0, 500000.0, 0, -0.3, 5600000.0)     # 0.3 m pixels: 0.09 m² each


def blobs(h, w, seed=0):
    """A class raster of irregular regions (smoothed noise, 4 classes: holes, islands,
    diagonal contacts) with a no-data corner."""
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(h, w)), 2.5)
    labels = np.digitize(field, np.quantile(field, [0.4, 0.6, 0.8])).astype(np.uint8)
    labels[rng.random((h, w)) < 0.03] = 2          # single pixels, touching by corners
    labels[:9, :13] = 255
    prob = rng.uniform(0.3, 1.0, (len(NAMES), h, w))
    return labels, prob


def class_map(folder: Path, labels, prob, crs=UTM, transform=T) -> tuple[Path, Path]:
    """labels and probabilities as the predictor writes them (COG, uint8 probabilities)."""
    from segearth_ov.visualization import class_colours
    lab, probs = folder / 'scene_labels.tif', folder / 'scene_probs.tif'
    with ClassMapWriter(lab, NAMES, class_colours([[n] for n in NAMES]), *labels.shape,
                        crs, transform, probs) as w:
        w.write(0, labels, prob, labels != 255)
    return lab, probs


def read(path):
    return gpd.read_file(path)


def canonical(df):
    return sorted((r.class_index, r.pixels, round(r.mean_prob, 9),
                   shapely.normalize(r.geometry).wkb) for r in df.itertuples())


# ------------------------------------------------------------------------------ polygons
def test_polygons_equal_the_class_pixels(tmp_path):
    """Per class, the polygons' area is the pixel count × 0.09 m²; burnt back into the grid
    they give the class raster pixel for pixel (so no gaps and no overlaps between classes);
    `pixels` and `mean_prob` are those of each region's pixels."""
    from rasterio.features import rasterize
    labels, prob = blobs(120, 150)
    lab, probs = class_map(tmp_path, labels, prob)
    out = vectorize(lab, tmp_path / 'p.gpkg', probs_path=probs)
    df = read(out)
    assert df.crs.to_epsg() == 32632
    assert list(df.columns) == ['class_name', 'class_index', 'pixels', 'area_m2', 'mean_prob',
                                'geometry']
    assert set(df.geom_type) == {'Polygon'} and df.is_valid.all()
    counts = np.bincount(labels[labels != 255], minlength=4)
    for c in range(4):
        mine = df[df.class_index == c]
        assert (mine.class_name == NAMES[c]).all()
        assert mine.area.sum() == pytest.approx(counts[c] * 0.09, rel=1e-9)
        assert mine.pixels.sum() == counts[c]
        assert mine.area_m2.sum() == pytest.approx(counts[c] * 0.09, rel=1e-12)
    burnt = rasterize(zip(df.geometry, df.class_index), out_shape=labels.shape, transform=T,
                      fill=255, dtype='uint8')
    np.testing.assert_array_equal(burnt, labels)
    assert shapely.union_all(df.geometry.values).area == pytest.approx(df.area.sum(), rel=1e-9)
    # the largest building region: its pixel count and mean probability (uint8 in the file)
    big = df[df.class_index == 1].sort_values('pixels').iloc[-1]
    inside = rasterize([big.geometry], out_shape=labels.shape, transform=T).astype(bool)
    stored = np.rint(np.clip(prob[1], 0, 1) * 255) / 255
    assert big.pixels == inside.sum()
    assert big.mean_prob == pytest.approx(stored[inside].mean(), abs=1e-6)


def test_blocks_give_the_same_polygons_as_one_piece(tmp_path):
    """Rows fed in chunks of 5 and traced in blocks of 7 (regions crossing many block
    borders, U shapes joined below) equal the scene traced in one piece: the same
    geometries, pixel counts and mean probabilities. Without merging, polygons stay cut at
    the block borders (more of them, none crossing a border) with the same class areas."""
    labels, prob = blobs(97, 83, seed=3)
    conf = prob.max(axis=0).astype(np.float32)

    def trace(name, **kw):
        path = tmp_path / name
        with PolygonWriter(path, NAMES, *labels.shape, rasterio.crs.CRS.from_string(UTM), T,
                           VectorOptions(**kw)) as w:
            for r in range(0, labels.shape[0], 5):
                w.write(r, labels[r:r + 5], conf[r:r + 5])
        return read(path)

    one, blocks = trace('one.gpkg', block_rows=10_000), trace('blocks.gpkg', block_rows=7)
    assert len(one) > 100 and canonical(blocks) == canonical(one)
    assert (one.bounds.maxy - one.bounds.miny).max() > 0.3 * 7 * 4   # regions span 4+ blocks
    cut = trace('cut.gpkg', block_rows=7, merge=False)
    assert len(cut) > len(one)
    first = np.rint((5600000.0 - cut.bounds.maxy) / 0.3).astype(int)
    last = np.rint((5600000.0 - cut.bounds.miny) / 0.3).astype(int) - 1
    assert (first // 7 == last // 7).all()                    # within one block of rows
    assert cut.groupby('class_index').pixels.sum().equals(one.groupby('class_index').pixels.sum())


def coverage(h, w, seed=0):
    """Six classes of wiggly regions (smoothed noise: many three-class junctions, diagonal
    contacts), a no-data strip along the top, and nested squares: a building square with a
    water hole holding a road island, and a 2 × 2 background island in the building."""
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(h, w)), 2.5)
    labels = np.digitize(field, np.quantile(field, [0.2, 0.4, 0.55, 0.7, 0.85])).astype(np.uint8)
    labels[:6] = 255
    labels[30:58, 40:68] = 1
    labels[36:50, 46:60] = 3
    labels[41:45, 51:55] = 2
    labels[52:54, 62:64] = 0                           # collapses at 1.5 px, with its hole
    return labels, rng.uniform(0.2, 1.0, (1, h, w)).astype(np.float32)


SIX = ['background', 'building', 'road', 'water', 'tree', 'crop']


def trace(path: Path, labels, conf, rows=5, **options):
    """The polygons of `labels` (rows fed `rows` at a time) with per-pixel probabilities.
    Simplified, every arc left by one neighbour for the other has been taken (memory)."""
    with PolygonWriter(path, SIX, *labels.shape, rasterio.crs.CRS.from_string(UTM), T,
                       VectorOptions(**options)) as w:
        for r in range(0, labels.shape[0], rows):
            w.write(r, labels[r:r + rows], conf[r:r + rows])
    assert not options.get('simplify') or w._simplifier.decided == {}
    return read(path)


def keyed(df):
    """Polygons by (class, pixels, mean probability): one region each (random float
    probabilities make the mean of each region its own)."""
    return {(r.class_index, r.pixels, round(r.mean_prob, 9)): r.geometry
            for r in df.itertuples()}


def test_simplified_polygons_stay_edge_to_edge(tmp_path):
    """--vector-simplify 1.5 px simplifies each shared edge once, alike for both neighbours:
    no overlaps (the areas add up to the union's), no gaps (the union is the scene less the
    no-data strip), what each polygon gains or loses nowhere wider than 2 × 1.5 px, far fewer
    vertices; polygons whose outline collapses (narrower than the tolerance) are dropped,
    and their neighbours close over them (the 2 × 2 island and the hole it filled).
    Simplifying each polygon alone (as before) overlapped its neighbours."""
    labels, prob = coverage(90, 120, seed=7)
    full, simple = (trace(tmp_path / f'{px}.gpkg', labels, prob[0], simplify=px)
                    for px in (0, 1.5))
    assert simple.is_valid.all() and len(full) > 150
    union = shapely.union_all(simple.geometry.values)
    assert simple.area.sum() == pytest.approx(union.area, rel=1e-6)          # no overlaps
    extent = shapely.box(500000.0, 5600000.0 - 90 * 0.3, 500000.0 + 120 * 0.3,
                         5600000.0 - 6 * 0.3)                               # below no data
    assert union.symmetric_difference(extent).area < 1e-6 * extent.area     # no gaps
    before, after = keyed(full), keyed(simple)
    assert set(after) <= set(before)
    dropped = set(before) - set(after)
    assert len(simple) == len(full) - len(dropped) and 0 < len(dropped) < len(full) / 2
    for key in dropped:                    # collapsed: no point farther than 1.5 px inside
        assert before[key].buffer(-1.5 * 0.3 * 1.001).is_empty, key
    centre = shapely.Point(500000.0 + 63 * 0.3, 5600000.0 - 53 * 0.3)     # of the 2 × 2 island
    island = [k for k, g in before.items() if g.contains(centre)]
    assert [k[:2] for k in island] == [(0, 4)] and island[0] in dropped
    assert simple[simple.contains(centre)].class_index.tolist() == [1]      # building closed
    for key, geom in after.items():        # what each gains or loses: nowhere 2 × 1.5 px wide
        assert geom.difference(before[key]).buffer(-1.5 * 0.3 * 1.001).is_empty, key
        assert before[key].difference(geom).buffer(-1.5 * 0.3 * 1.001).is_empty, key
    assert shapely.get_num_coordinates(simple.geometry.values).sum() < \
        0.6 * shapely.get_num_coordinates(full.geometry.values).sum()


def test_simplified_blocks_give_the_same_polygons_as_one_piece(tmp_path):
    """Simplified, rows traced in blocks of 7 (regions and shared edges crossing many block
    borders, nodes on them) give the same polygons as the scene in one piece — also with
    classes left out (their edges simplified from one side only) and a minimum area.
    Without merging, the pieces cut at block borders still meet edge to edge."""
    labels, prob = coverage(83, 97, seed=3)

    def simplified(name, **kw):
        return trace(tmp_path / name, labels, prob[0], simplify=1.5, **kw)

    one, blocks = simplified('one.gpkg', block_rows=10_000), simplified('b.gpkg', block_rows=7)
    assert len(one) > 100 and canonical(blocks) == canonical(one)
    assert (one.bounds.maxy - one.bounds.miny).max() > 0.3 * 7 * 4   # regions span 4+ blocks
    kw = dict(classes=('building', 'water', 'tree'), min_area=0.5)
    some, some_blocks = simplified('some.gpkg', block_rows=10_000, **kw), \
        simplified('some_blocks.gpkg', block_rows=7, **kw)
    assert 0 < len(some) < len(one) and canonical(some_blocks) == canonical(some)
    cut = simplified('cut.gpkg', block_rows=7, merge=False)
    union = shapely.union_all(cut.geometry.values)
    assert len(cut) > len(one) and cut.area.sum() == pytest.approx(union.area, rel=1e-6)
    assert union.area == pytest.approx(one.area.sum(), rel=1e-9)


def test_options_formats_and_plain_images(tmp_path):
    labels, prob = blobs(60, 70, seed=5)
    lab, probs = class_map(tmp_path, labels, prob)
    full = read(vectorize(lab, tmp_path / 'all.gpkg', probs_path=probs))
    # classes to keep (by name or index) and a minimum area in m²
    kept = read(vectorize(lab, tmp_path / 'kept.gpkg', probs_path=probs,
                          options=VectorOptions(classes=('building', '3'), min_area=0.9)))
    assert set(kept.class_index) == {1, 3} and kept.area_m2.min() >= 0.9
    assert len(kept) == ((full.class_index.isin([1, 3])) & (full.area_m2 >= 0.9)).sum()
    # simplification (pixels): fewer vertices (test_simplified_polygons_stay_edge_to_edge)
    simple = read(vectorize(lab, tmp_path / 's.gpkg', options=VectorOptions(simplify=1.5)))
    assert shapely.get_num_coordinates(simple.geometry.values).sum() < \
        0.8 * shapely.get_num_coordinates(full.geometry.values).sum()
    assert simple.is_valid.all() and set(simple.pixels) <= set(full.pixels)
    # the same features in every format
    for fmt in ('geojson', 'fgb'):
        other = read(vectorize(lab, tmp_path / f'all.{fmt}', probs_path=probs,
                               options=VectorOptions(format=fmt)))
        assert other.crs.to_epsg() == 32632 and canonical(other) == canonical(full)
    with pytest.raises(ValueError, match="'roof' is not a class; the classes are 0 background"):
        vectorize(lab, tmp_path / 'x.gpkg', options=VectorOptions(classes=('roof',)))
    # no CRS: pixel coordinates, the area in pixels (the field's name says so)
    (tmp_path / 'plain').mkdir()
    plain, _ = class_map(tmp_path / 'plain', labels, prob, crs=None)
    df = read(vectorize(plain, tmp_path / 'plain.gpkg'))
    assert 'area_px' in df.columns and 'area_m2' not in df.columns
    assert df.area_px.sum() == (labels != 255).sum() and df.crs is None


# ------------------------------------------------------------------------------ COG

def test_class_map_and_probabilities_are_valid_cogs(tmp_path):
    """rio-cogeo's validator (the layout STAC clients and web viewers rely on) on the class
    map and both probability types of a 600 × 700 scene (overviews until one 256² tile)."""
    from rio_cogeo.cogeo import cog_validate
    bench = load_script('tools/benchmark_scene.py')
    scene = bench.write_scene(tmp_path / 'scene.tif', 600, 700)
    model = bench.PixelwiseSegmentor(['water', 'field', 'town'])
    for dtype in ('uint8', 'float32'):
        out = tmp_path / dtype
        predictor.predict_file(scene, model, out, save_probs=True, probs_dtype=dtype, overlay=False,
                               progress=False, options=predictor.SceneOptions(tile=256, overlap=32))
        for name in ('scene_labels.tif', 'scene_probs.tif'):
            valid, errors, warnings = cog_validate(out / name)
            assert valid and not errors and not warnings, (name, errors, warnings)
        with rasterio.open(out / 'scene_labels.tif') as src:
            assert src.overviews(1) == [2, 4] and src.colormap(1)[0][3] == 255
            assert src.tags(1)['CLASS_2'] == 'town' and src.crs.to_epsg() == 32632
        assert sorted(p.name for p in out.iterdir()) == [
            'scene_classes.txt', 'scene_labels.qml', 'scene_labels.tif',
            'scene_labels.tif.aux.xml', 'scene_probs.tif', 'scene_summary.json']


# ------------------------------------------------------------------------------ the CLI
def test_cli_vector_on_the_openearthmap_tile(tmp_path, capsys):
    """`tools/predict.py --vector gpkg` on the OpenEarthMap tile (Köln, ETRS89 / UTM 32N,
    0.5 m) with the tiny model: the layer opens with geopandas in the tile's CRS and its
    per-class areas equal the class raster's; the class GeoTIFF is a valid COG. The model
    sees the tile at long side 448 (one tile; outputs at the tile's resolution)."""
    from rio_cogeo.cogeo import cog_validate

    from segearth_ov.mapping.cli import main
    out = tmp_path / 'out'
    rc = main([str(OEM_TILE), '--classes', 'background;building,roof;road;tree;water',
               '--pretrained', str(TINY_PT), '--model-cfg', str(TINY_CFG),
               '--upsampler-ckpt', str(JBU_CKPT['jbu_one']), '--device', 'cpu', '--threads', '1',
               '--resize-long-side', '448', '--no-overlay', '--quiet', '--out', str(out),
               '--vector', 'gpkg'])
    assert rc == 0
    assert 'oem_koeln_50_polygons.gpkg' in capsys.readouterr().out
    df = gpd.read_file(out / 'oem_koeln_50_polygons.gpkg')
    with rasterio.open(OEM_TILE) as tile, rasterio.open(out / 'oem_koeln_50_labels.tif') as lab:
        assert df.crs == tile.crs and lab.crs == tile.crs
        labels = lab.read(1)
    counts = np.bincount(labels.ravel(), minlength=5)
    assert len(set(df.class_index)) >= 3
    for c in range(5):
        assert df[df.class_index == c].area.sum() == pytest.approx(counts[c] * 0.25, rel=1e-9)
    assert df.mean_prob.between(0, 1).all()
    assert cog_validate(out / 'oem_koeln_50_labels.tif')[0]
    # a class name that is not one of the classes: a clear error before any work
    rc = main([str(OEM_TILE), '--classes', 'background;building', '--pretrained', str(TINY_PT),
               '--model-cfg', str(TINY_CFG), '--upsampler-ckpt', str(JBU_CKPT['jbu_one']),
               '--device', 'cpu', '--out', str(tmp_path / 'x'), '--vector', 'fgb',
               '--vector-classes', 'roads'])
    assert rc == 2 and "'roads' is not a class" in capsys.readouterr().err


def test_cli_vector_simplify_keeps_neighbours_edge_to_edge(tmp_path, monkeypatch):
    """`tools/predict.py --vector gpkg --vector-simplify 1` (a per-pixel stub model on a
    noisy 120 × 150 scene, traced in blocks of 16 rows): the written polygons, read with
    geopandas, neither overlap (their areas add up to their union's) nor leave gaps (the
    union is the scene less its straight no-data strip), with fewer vertices than without
    simplification."""
    from segearth_ov.mapping.cli import main
    bench = load_script('tools/benchmark_scene.py')
    scene = bench.write_scene(tmp_path / 'scene.tif', 120, 150, nodata_rows=10)
    stub = bench.PixelwiseSegmentor(['water', 'field', 'town', 'road'])
    monkeypatch.setattr(predictor, 'build_model', lambda classes, **settings: stub)
    layers = {}
    for px in ('0', '1'):
        out = tmp_path / f'simplify{px}'
        assert main([str(scene), '--classes', 'water;field;town;road', '--out', str(out),
                     '--quiet', '--no-overlay', '--vector', 'gpkg', '--vector-simplify', px,
                     '--vector-block-rows', '16']) == 0
        layers[px] = gpd.read_file(out / 'scene_polygons.gpkg')
    df = layers['1']
    assert len(df) > 20 and df.is_valid.all()
    union = shapely.union_all(df.geometry.values)
    assert df.area.sum() == pytest.approx(union.area, rel=1e-6)
    assert union.area == pytest.approx(150 * 110 * 0.25, rel=1e-9)
    assert shapely.get_num_coordinates(df.geometry.values).sum() < \
        0.6 * shapely.get_num_coordinates(layers['0'].geometry.values).sum()
