"""The predictor's command line for the algorithms' parameters, and the class colours of a
class raster's style. No QGIS import (tested without QGIS)."""
from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

# clip_type × vit_type of segearth_ov/models/backbones/presets.py (a test keeps them equal)
BACKBONES = [
    ('CLIP', 'ViT-B/16'), ('CLIP', 'ViT-B/32'), ('CLIP', 'ViT-L/14'), ('CLIP', 'ViT-L/14@336'),
    ('OpenCLIP', 'ViT-B/16'), ('OpenCLIP', 'ViT-B/32'), ('OpenCLIP', 'ViT-L/14'),
    ('MetaCLIP', 'ViT-B/16'), ('MetaCLIP', 'ViT-B/32'), ('MetaCLIP', 'ViT-L/14'),
    ('RemoteCLIP', 'ViT-B/32'), ('RemoteCLIP', 'ViT-L/14'),
    ('GeoRSCLIP', 'ViT-B/32'), ('GeoRSCLIP', 'ViT-L/14'), ('GeoRSCLIP', 'ViT-L/14@336'),
    ('SkyCLIP', 'ViT-B/32'), ('SkyCLIP', 'ViT-L/14'),
    ('AlignEarth', 'ViT-B/16'),
    ('FarSLIP', 'ViT-B/16'), ('FarSLIP', 'ViT-B/32'),
    ('FarSLIP2', 'ViT-B/16'), ('FarSLIP2', 'ViT-B/32'),
    ('LRSCLIP', 'ViT-B/16'),
]
UPSAMPLERS = ['jbu_one', 'jbu_stack', 'bilinear', 'none']
DEVICES = ['cpu', 'cuda']
# the vector formats the predictor writes, by the destination's extension
VECTOR_FORMATS = {'gpkg': 'gpkg', 'geojson': 'geojson', 'json': 'geojson', 'fgb': 'fgb'}


def predictor_arguments(image, out_dir, *, classes: str = '', class_file: str = '',
                        backbone: tuple | None = None, upsampler: str | None = None,
                        bands: str = '', config: str = '', checkpoint: str = '',
                        pretrained: str = '', model_cfg: str = '', upsampler_ckpt: str = '',
                        device: str | None = None, vector: str | None = None,
                        save_probs: bool = False, extra: str = '') -> list[str]:
    """The arguments of `segearth-predict` for one image (None / '' leave a setting at the
    predictor's default, or the config's)."""
    if bool(classes.strip()) == bool(class_file):
        raise ValueError('give the class names (e.g. "building,roof;road;water,river") or a '
                         'class file, one of the two')
    args = [str(image), '--out', str(out_dir), '--progress', 'json', '--no-overlay']
    args += ['--classes-file', class_file] if class_file else ['--classes', classes.strip()]
    if backbone:
        args += ['--clip-type', backbone[0], '--vit-type', backbone[1]]
    for flag, value in (('--upsampler', upsampler), ('--bands', bands.strip()),
                        ('--config', config), ('--checkpoint', checkpoint),
                        ('--pretrained', pretrained), ('--model-cfg', model_cfg),
                        ('--upsampler-ckpt', upsampler_ckpt), ('--device', device),
                        ('--vector', vector)):
        if value:
            args += [flag, str(value)]
    if save_probs:
        args.append('--save-probs')
    return args + shlex.split(extra or '')


def vector_format(path: str) -> str:
    """The predictor's --vector format of a destination file (ValueError: not one of them)."""
    ext = Path(path).suffix.lower().lstrip('.')
    if ext not in VECTOR_FORMATS:
        raise ValueError(f'polygons as .{ext}: choose a GeoPackage (.gpkg), GeoJSON (.geojson) '
                         'or FlatGeobuf (.fgb) file')
    return VECTOR_FORMATS[ext]


def palette(qml_path) -> list[tuple[int, str, str]]:
    """(value, class name, '#rrggbb') of each entry of a class raster's QGIS style (the
    `.qml` the predictor writes beside `_labels.tif`)."""
    root = ET.parse(qml_path).getroot()
    return [(int(e.get('value')), e.get('label'), e.get('color'))
            for e in root.iter('paletteEntry')]
