"""Builds the plugin zip that QGIS's Plugins ▸ Install from ZIP accepts (`make qgis-plugin`):
the folder segearth_ov_qgis/ (code, metadata.txt, icon) with the repository's LICENSE.

    python3 qgis/build_zip.py [--out dist/segearth_ov_qgis-0.1.0.zip]
"""
import argparse
import configparser
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / 'segearth_ov_qgis'
LICENSE = HERE.parent / 'LICENSE'


def version() -> str:
    meta = configparser.ConfigParser(interpolation=None)
    meta.read(PLUGIN / 'metadata.txt', encoding='utf-8')
    return meta['general']['version']


def build(out: Path) -> Path:
    files = sorted(p for p in PLUGIN.rglob('*') if p.is_file() and '__pycache__' not in p.parts
                   and p.suffix not in ('.pyc', '.pyo'))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + '.part')
    with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as z:
        for p in files:
            z.write(p, f'{PLUGIN.name}/{p.relative_to(PLUGIN).as_posix()}')
        z.write(LICENSE, f'{PLUGIN.name}/LICENSE')
    tmp.replace(out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', type=Path, default=None,
                   help='zip file (default: dist/segearth_ov_qgis-<version>.zip)')
    args = p.parse_args(argv)
    out = build(args.out or HERE.parent / 'dist' / f'segearth_ov_qgis-{version()}.zip')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
