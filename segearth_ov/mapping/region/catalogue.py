"""The region's catalogue: one VRT mosaic over the scenes' class maps (reprojected first when
asked) and a self-contained STAC catalogue, one item per scene.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ...utils.files import atomic_path, write_text_atomic
from ..raster_io import NODATA_LABEL, gdal_env, opened
from ..sources import stem_of


def check_same_crs(paths, skip=()) -> None:
    """ValueError when the inputs (but those whose stem is in `skip`) are in several CRSs."""
    crss = {}
    for p in paths:
        if stem_of(p) in skip:
            continue
        with opened(p) as src:
            if src.crs is not None:
                crss.setdefault(src.crs.to_string(), str(p))
    if len(crss) > 1:
        (a, pa), (b, pb) = list(crss.items())[:2]
        raise ValueError(f'the inputs are in different CRSs ({pa}: {a}; {pb}: {b}), so one '
                         'mosaic cannot hold them: give --target-crs (e.g. EPSG:3857) to '
                         'reproject the class maps for the mosaic, or --no-mosaic')


def reproject_labels(path: Path, crs: str) -> Path:
    """The class map warped (nearest) to `crs`, beside it: `<stem>.<crs>.tif`, written once."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject
    tag = re.sub(r'[^0-9A-Za-z]+', '', crs)
    target = path.with_name(f'{path.stem}.{tag}.tif')
    with gdal_env(), rasterio.open(path) as src:
        transform, w, h = calculate_default_transform(src.crs, crs, src.width, src.height,
                                                      *src.bounds)
        profile = src.profile | dict(crs=crs, transform=transform, width=w, height=h)
        with atomic_path(target) as tmp, rasterio.open(tmp, 'w', **profile) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1), dst_nodata=NODATA_LABEL,
                      resampling=Resampling.nearest)
            dst.write_colormap(1, src.colormap(1))
            dst.update_tags(**src.tags())
    return target


def write_vrt(path: Path, files: list[Path], names: list[str]) -> Path:
    """A GDAL VRT mosaic over the class maps: union of their bounds, finest pixel size."""
    import rasterio
    from xml.sax.saxutils import escape
    infos = []
    for f in files:
        with rasterio.open(f) as src:
            t = src.transform
            if t.b or t.d:
                raise ValueError(f'{f} is rotated; a VRT mosaic needs north-up rasters: '
                                 'use --target-crs to warp them')
            infos.append((f, src.bounds, t.a, -t.e, src.width, src.height, src.crs,
                          src.colormap(1), src.block_shapes[0]))
    left = min(i[1].left for i in infos)
    top = max(i[1].top for i in infos)
    right = max(i[1].right for i in infos)
    bottom = min(i[1].bottom for i in infos)
    rx, ry = min(i[2] for i in infos), min(i[3] for i in infos)
    width, height = round((right - left) / rx), round((top - bottom) / ry)
    cmap = infos[0][7]
    entries = ''.join(f'      <Entry c1="{c[0]}" c2="{c[1]}" c3="{c[2]}" c4="{c[3]}"/>\n'
                      for c in (cmap.get(v, (0, 0, 0, 0)) for v in range(256)))
    cats = ''.join(f'    <Category>{escape(n)}</Category>\n' for n in names)
    sources = ''
    for f, b, sx, sy, w, h, _, _, (by, bx) in infos:
        rel = os.path.relpath(f, path.parent)
        sources += (
            '    <SimpleSource>\n'
            f'      <SourceFilename relativeToVRT="1">{escape(rel)}</SourceFilename>\n'
            '      <SourceBand>1</SourceBand>\n'
            f'      <SourceProperties RasterXSize="{w}" RasterYSize="{h}" DataType="Byte" '
            f'BlockXSize="{bx}" BlockYSize="{by}"/>\n'
            f'      <SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>\n'
            f'      <DstRect xOff="{(b.left - left) / rx:.10g}" yOff="{(top - b.top) / ry:.10g}" '
            f'xSize="{w * sx / rx:.10g}" ySize="{h * sy / ry:.10g}"/>\n'
            f'      <NODATA>{NODATA_LABEL}</NODATA>\n'
            '    </SimpleSource>\n')
    xml = (f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">\n'
           f'  <SRS>{escape(infos[0][6].to_wkt())}</SRS>\n'
           f'  <GeoTransform>{left!r}, {rx!r}, 0.0, {top!r}, 0.0, {-ry!r}</GeoTransform>\n'
           '  <VRTRasterBand dataType="Byte" band="1">\n'
           f'    <NoDataValue>{NODATA_LABEL}</NoDataValue>\n'
           '    <ColorInterp>Palette</ColorInterp>\n'
           f'    <ColorTable>\n{entries}    </ColorTable>\n'
           f'    <CategoryNames>\n{cats}    </CategoryNames>\n'
           f'{sources}  </VRTRasterBand>\n</VRTDataset>\n')
    write_text_atomic(path, xml)
    return path


def scene_assets(summary: dict) -> list[tuple]:
    """(key, media type, roles, title) of a scene's outputs besides the class map, as its
    summary lists them: STAC's media types (COG, GeoPackage, FlatGeobuf, GeoJSON)."""
    from ..vectors import MEDIA_TYPES
    assets = [('summary', 'application/json', ['metadata'], 'class areas')]
    for f in summary['outputs'][1:]:
        name = Path(f).name
        if name.endswith('_probs.tif'):
            assets.append(('probs', 'image/tiff; application=geotiff; profile=cloud-optimized',
                           ['data'], 'class probabilities (one band per class)'))
        elif '_polygons.' in name:
            assets.append(('polygons', MEDIA_TYPES[name.rsplit('.', 1)[1]], ['data'],
                           'class polygons (class_name, class_index, pixels, area, mean_prob)'))
        elif name.endswith('_overlay.png'):
            assets.append(('overlay', 'image/png', ['overview'], 'image and class overlay'))
    return assets


def key_file(summary: dict, key: str) -> str:
    """The file name of a scene asset."""
    suffix = {'summary': '_summary.json', 'probs': '_probs.tif', 'overlay': '_overlay.png',
              'polygons': '_polygons.'}[key]
    return next(Path(f).name for f in summary['outputs'] if suffix in Path(f).name)


def write_stac(folder: Path, scenes, classes, vrt: Path | None) -> Path:
    """A self-contained STAC catalogue: one item per scene's class map, with its footprint,
    CRS (projection extension) and classes with colours (classification extension).
    `classes`: the class lines (tuples of synonyms), which decide the colours."""
    from datetime import datetime, timezone

    import pystac
    import rasterio
    from pystac.extensions.classification import Classification, ClassificationExtension
    from pystac.extensions.projection import ProjectionExtension
    from rasterio.warp import transform_geom

    from ...visualization import class_colours
    colours = class_colours(classes)
    names = [syn[0] for syn in classes]
    classes = [Classification.create(value=i, description=n,
                                     name=re.sub(r'[^0-9A-Za-z_-]+', '_', n) or f'class_{i}',
                                     color_hint=f'{c[0]:02X}{c[1]:02X}{c[2]:02X}')
               for i, (n, c) in enumerate(zip(names, colours))]
    catalog = pystac.Catalog(id='segearth-ov-region', description='SegEarth-OV class maps of '
                             'a region: one item per scene')
    for stem, labels, summary in scenes:
        with rasterio.open(labels) as src:
            b = src.bounds
            ring = [[b.left, b.bottom], [b.right, b.bottom], [b.right, b.top],
                    [b.left, b.top], [b.left, b.bottom]]
            geom = transform_geom(src.crs, 'EPSG:4326', dict(type='Polygon', coordinates=[ring]))
            xs = [p[0] for p in geom['coordinates'][0]]
            ys = [p[1] for p in geom['coordinates'][0]]
            epsg, shape, transform = src.crs.to_epsg(), [src.height, src.width], list(src.transform)[:6]
            wkt = None if epsg else src.crs.to_wkt()
        item = pystac.Item(id=stem, geometry=geom, bbox=[min(xs), min(ys), max(xs), max(ys)],
                           datetime=datetime.fromtimestamp(labels.stat().st_mtime, timezone.utc),
                           properties=dict(title=f'{stem} class map',
                                           source=summary['input']))
        if summary.get('stac_item'):     # the STAC item the scene was read from
            item.add_link(pystac.Link('derived_from', summary['stac_item'],
                                      media_type=pystac.MediaType.JSON,
                                      title=f'source item (asset {summary.get("asset")})'))
        proj = ProjectionExtension.ext(item, add_if_missing=True)
        proj.apply(epsg=epsg, wkt2=wkt, shape=shape, transform=transform)
        asset = pystac.Asset(href=str(labels.resolve()), media_type=pystac.MediaType.COG,
                             roles=['data'], title='class map (uint8, nodata 255)')
        item.add_asset('labels', asset)
        ClassificationExtension.ext(asset, add_if_missing=True).classes = classes
        for key, media, roles, title in scene_assets(summary):
            item.add_asset(key, pystac.Asset(href=str((labels.parent / key_file(summary, key))
                                                      .resolve()),
                                             media_type=media, roles=roles, title=title))
        if 'polygons' in item.assets:
            ClassificationExtension.ext(item.assets['polygons'],
                                        add_if_missing=True).classes = classes
        catalog.add_item(item)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f'_{folder.name}_partial_{os.getpid()}')   # no dot: a folder to pystac
    catalog.normalize_hrefs(str(tmp))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    # move the files in (the catalogue is rewritten whole by rank 0 at the end of each run)
    for f in sorted(tmp.rglob('*.json')):
        dest = folder / f.relative_to(tmp)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest)
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return folder / 'catalog.json'
