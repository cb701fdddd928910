"""STAC items as inputs: an Item, an ItemCollection (a saved search) or a static catalogue,
as a file or URL, becomes one `sources.Source` per item — the asset to read (`--asset`;
default the visual/RGB one) or bands by common name (`--bands red,green,blue`, from one
multi-band asset or one asset per band), named by the item's id.

Read with `pystac`; asset hrefs relative to the item (or to the saved search) are resolved.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ..utils.images import ImageReadError
from .sources import Source, is_url, public_url, redact

STAC_SUFFIXES = ('.json', '.geojson')


def is_stac(item) -> bool:
    """A STAC document by its name: a .json / .geojson file or URL."""
    text = str(item)
    path = urlsplit(text).path if is_url(text) else text
    return path.lower().endswith(STAC_SUFFIXES)


def band_names(bands) -> tuple | None:
    """`bands` when they are common names (red, green, blue, nir…), else None."""
    if bands and all(isinstance(b, str) and not b.strip().isdigit() for b in bands):
        return tuple(b.strip().lower() for b in bands)
    return None


def _read_json(href: str) -> dict:
    if is_url(href):
        if not href.lower().startswith(('http://', 'https://')):
            raise ImageReadError(f'{public_url(href)}: STAC documents are read over http(s) or '
                                 'from files; give the https:// form of the object')
        import urllib.error
        import urllib.request
        try:
            with urllib.request.urlopen(href, timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as err:
            raise ImageReadError(f'{public_url(href)}: HTTP {err.code} {err.reason}') from None
        except (OSError, ValueError) as err:
            raise ImageReadError(f'{public_url(href)}: cannot read the STAC document '
                                 f'({redact(str(err), href)})') from None
    try:
        return json.loads(Path(href).read_text())
    except FileNotFoundError:
        raise ImageReadError(f'STAC file not found: {href}') from None
    except (OSError, ValueError) as err:
        raise ImageReadError(f'{href}: not a STAC JSON document ({err})') from None


def _absolute(href: str, base: str) -> str:
    """An asset or link href made absolute against the document it was read from."""
    if is_url(href) or Path(href).is_absolute():
        return href
    if is_url(base):
        return urljoin(base, href)
    return str((Path(base).parent / href).resolve())


def read_items(href: str) -> list[tuple]:
    """(pystac.Item, its public href) of every item of a STAC Item, ItemCollection
    (FeatureCollection) or Catalog/Collection (recursively) at `href`."""
    import pystac
    doc = _read_json(href)
    kind = doc.get('type')
    name = public_url(href) if is_url(href) else href
    try:
        if kind == 'Feature':
            items = [(doc, name)]
        elif kind == 'FeatureCollection':
            items = [(f, f'{name}#{f.get("id")}') for f in doc.get('features', [])]
        elif kind in ('Catalog', 'Collection'):
            cat = pystac.read_dict(doc, href=href)
            out = []
            for item in cat.get_items(recursive=True):
                for asset in item.assets.values():
                    asset.href = asset.get_absolute_href()
                where = item.get_self_href()
                out.append((item, public_url(where) if is_url(where) else where))
            return out
        else:
            raise ImageReadError(f'{name}: a JSON file that is not a STAC Item, ItemCollection '
                                 f'or Catalog (type {kind!r})')
        out = []
        for d, where in items:
            item = pystac.Item.from_dict(d, preserve_dict=False)
            for asset in item.assets.values():      # relative to the document read
                asset.href = _absolute(asset.href, href)
            out.append((item, where))
        return out
    except (KeyError, TypeError, pystac.STACError) as err:
        raise ImageReadError(f'{name}: not a valid STAC document ({type(err).__name__}: '
                             f'{err})') from None


def asset_bands(asset) -> list[str | None]:
    """The common names of an asset's bands (STAC 1.0 eo:bands, 1.1 bands), in order."""
    bands = asset.extra_fields.get('eo:bands') or asset.extra_fields.get('bands') or []
    return [(b.get('common_name') or b.get('eo:common_name') or '').lower() or None
            for b in bands]


def visual_asset(item):
    """The key of the item's visual (RGB) asset: the key 'visual', else the role."""
    if 'visual' in item.assets:
        return 'visual'
    return next((k for k, a in item.assets.items() if 'visual' in (a.roles or [])), None)


def item_source(item, where: str, asset: str | None = None, bands=None) -> Source:
    """The Source of one item: `asset` (default: the visual one), or the bands of common
    names `bands` from `asset`, from one asset that has them all, or one asset per band."""
    keys = ', '.join(sorted(item.assets)) or 'none'
    stem = re.sub(r'[^0-9A-Za-z._-]+', '_', item.id)
    if asset is not None and asset not in item.assets:
        raise ImageReadError(f'item {item.id}: no asset {asset!r}; its assets: {keys}')
    names = band_names(bands)
    if names is None:
        key = asset or visual_asset(item)
        if key is None:
            raise ImageReadError(f'item {item.id} has no visual (RGB) asset: choose one with '
                                 f'--asset (its assets: {keys}) or bands by common name, e.g. '
                                 '--bands red,green,blue')
        return Source(item.assets[key].href, stem, where, key)
    candidates = [asset] if asset else list(item.assets)
    for key in candidates:      # one asset holding every band
        common = asset_bands(item.assets[key])
        if all(n in common for n in names):
            href = item.assets[key].href
            return Source(href, stem, where, key,
                          tuple((href, common.index(n) + 1) for n in names))
    if asset is not None:
        raise ImageReadError(f'item {item.id}: asset {asset!r} has no bands named '
                             f'{",".join(names)} (its bands: '
                             f'{",".join(b or "?" for b in asset_bands(item.assets[asset]))})')
    layers, keys_used = [], []
    for n in names:     # one asset per band: by its band's common name or its key, a COG first
        found = [k for k, a in item.assets.items() if asset_bands(a) == [n] or k == n]
        key = min(found, key=lambda k: (k != n, 'tiff' not in (item.assets[k].media_type or '')),
                  default=None)
        if key is None:
            raise ImageReadError(f'item {item.id}: no asset holds the band {n!r} (its assets: '
                                 f'{keys}); choose an asset with --asset, or other --bands')
        layers.append((item.assets[key].href, 1))
        keys_used.append(key)
    return Source(layers[0][0], stem, where, ','.join(keys_used), tuple(layers))


def stac_sources(href: str, asset: str | None = None, bands=None) -> list[Source]:
    """One Source per item of the STAC document at `href` (a file or URL)."""
    items = read_items(href)
    if not items:
        raise ImageReadError(f'{public_url(href) if is_url(href) else href}: no STAC items in it')
    return [item_source(item, where, asset, bands) for item, where in items]

