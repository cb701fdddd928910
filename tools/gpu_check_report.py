"""The Python steps of tools/gpu_check.sh, the GPU check for an offline GPU machine.

    python tools/gpu_check_report.py environment      versions and the GPU, as JSON
    python tools/gpu_check_report.py report --raw DIR --out OUT --junit XML ...
    python tools/gpu_check_report.py image-site --names LIST --to DIR   (dry run only)

`report` turns the steps' outputs (the tests' JUnit XML, tools/precision_drift.py's and
tools/benchmark.py's `key value` lines) into OUT/report.json and OUT/report.md, adding the
ratio of each benchmark time to its fp16 floor (image GFLOP / the GPU's fp16 matmul rate).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def _normal(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def image_site(names_file: Path, dest: Path) -> int:
    """A folder of links to this interpreter's installed distributions named in `names_file`
    (the GPU image's packages): on sys.path through a .pth, a fresh venv then holds those
    packages and no other, as the lent GPU machine does."""
    import importlib.metadata as md
    wanted = {_normal(line.strip()) for line in names_file.read_text().splitlines()
              if line.strip() and not line.startswith('#')}
    installed = {_normal(d.metadata['Name'] or ''): d for d in md.distributions()}
    todo, chosen = [n for n in wanted if n in installed], set()
    while todo:                 # with their dependencies as installed here (their versions
        name = todo.pop()       # may need others than the image's do)
        if name in chosen:
            continue
        chosen.add(name)
        for req in installed[name].requires or []:
            dep = _normal(re.match(r'[A-Za-z0-9._-]+', req)[0])
            if 'extra ==' not in req and dep in installed:
                todo.append(dep)
    dest.mkdir(parents=True, exist_ok=True)
    linked = set()
    for dist in (installed[n] for n in sorted(chosen)):
        if not dist.files:
            continue
        for top in {f.parts[0] for f in dist.files if f.parts and f.parts[0] != '..'}:
            src = Path(dist.locate_file(top))
            if top not in linked and src.exists() and not top.endswith('.pth'):
                (dest / top).symlink_to(src)
                linked.add(top)
    print(f'{len(chosen)} distributions ({len(linked)} entries) linked into {dest}')
    return 0


# The modules of the paths tests/gpu takes (predictor, region mode, eval.py and its xlsx,
# the three trainers), imported by `environment` so that a package missing from the bundle
# shows before the tests start. mmcv.ops: mmseg needs it to import (tools/mmcv_ext_stub.py).
PATH_MODULES = ('mmcv.ops', 'mmseg.models', 'open_clip', 'rasterio', 'openpyxl',
                'segearth_ov.mapping.cli', 'segearth_ov.mapping.region',
                'segearth_ov.evaluation.run', 'segearth_ov.evaluation.results',
                'simfeatup_train.trainer', 'alignearth_train.train', 'mmengine.runner')


def environment() -> int:
    """Print the versions that matter and the GPU; fails if a package does not import."""
    import importlib.metadata as md

    import torch
    info = dict(python=sys.version.split()[0], torch=torch.__version__,
                cuda_available=torch.cuda.is_available(), torch_cuda=torch.version.cuda)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_mb=props.total_memory // 2**20,
                    gpu_count=torch.cuda.device_count(),
                    bf16_supported=torch.cuda.is_bf16_supported(including_emulation=False))
    import importlib
    import segearth_ov
    for module in PATH_MODULES:     # what the GPU tests reach, beyond their own imports
        importlib.import_module(module)
    for dist in ('mmcv-lite', 'mmcv', 'mmengine', 'mmsegmentation', 'open_clip_torch',
                 'rasterio', 'numpy', 'opencv-python-headless', 'torchvision'):
        try:
            info[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    info['segearth_ov_from'] = str(Path(segearth_ov.__file__).parent)
    print('environment_json', json.dumps(info))
    return 0


def key_values(path: Path) -> dict:
    """The `key value` lines of a tool's output (numbers as floats where they parse)."""
    out = {}
    if not path.is_file():
        return out
    for line in path.read_text(errors='replace').splitlines():
        parts = line.strip().split(' ', 1)
        if len(parts) == 2 and re.fullmatch(r'[a-z0-9_]+', parts[0]):
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                out[parts[0]] = parts[1]
    return out


def junit_summary(path: Path) -> dict:
    if not path.is_file():
        return dict(ran=False)
    root = ET.parse(path).getroot()
    cases = root.iter('testcase')
    summary = dict(ran=True, passed=0, failed=0, skipped=0, seconds=0.0, failures=[])
    for case in cases:
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        summary['seconds'] += float(case.get('time') or 0)
        bad = case.find('failure')
        if bad is None:
            bad = case.find('error')
        if bad is not None:
            summary['failed'] += 1
            summary['failures'].append(dict(test=name, message=(bad.get('message') or '')[:500]))
        elif case.find('skipped') is not None:
            summary['skipped'] += 1
        else:
            summary['passed'] += 1
    summary['seconds'] = round(summary['seconds'], 1)
    return summary


def benchmark_rows(raw: Path) -> list[dict]:
    """One row per benchmark run (benchmark_<precision>_<size>.txt), with images/s, peak
    memory and the ratios to the fp32 and fp16 floors."""
    rows = []
    for path in sorted(raw.glob('benchmark_*_*.txt'), key=lambda p: (p.stem.split('_')[1],
                                                                      int(p.stem.split('_')[2]))):
        _, precision, size = path.stem.split('_')
        kv = key_values(path)
        row = dict(precision=precision, size=int(size))
        for key in ('images_per_second', 'image_seconds', 'image_gflop', 'image_floor_ratio',
                    'matmul_gflops', 'matmul_fp16_gflops', 'peak_cuda_mb', 'peak_rss_mb',
                    'text_init_seconds', 'device'):
            if key in kv:
                row[key] = kv[key]
        if isinstance(kv.get('image_seconds'), float) and kv.get('matmul_fp16_gflops'):
            floor16 = kv['image_gflop'] / kv['matmul_fp16_gflops']
            row['fp16_floor_seconds'] = round(floor16, 6)
            row['fp16_floor_ratio'] = round(kv['image_seconds'] / floor16, 2)
        rows.append(row)
    return rows


def precision_table(path: Path) -> dict:
    """{precision: {'min_pred_agreement', 'seconds', 'scenarios': {name: agreement}}}."""
    table: dict = {}
    for key, value in key_values(path).items():
        m = re.fullmatch(r'(.+)_(fp32|fp16|bf16)_(pred_agreement|max_prob_drift)', key)
        if m:
            table.setdefault(m[2], {}).setdefault('scenarios', {}).setdefault(m[1], {})[
                m[3]] = value
        m = re.fullmatch(r'(fp32|fp16|bf16)_(min_pred_agreement|seconds)', key)
        if m:
            table.setdefault(m[1], {})[m[2]] = value
    return table


def _steps(raw: Path) -> list[dict]:
    steps = []
    path = raw / 'steps.tsv'
    for line in (path.read_text().splitlines() if path.is_file() else []):
        name, status, seconds = line.split('\t')
        step = dict(name=name, status=status, seconds=int(seconds))
        if status != 'ok' and (raw / f'{name}.txt').is_file():
            step['output_tail'] = (raw / f'{name}.txt').read_text(errors='replace')[-3000:]
        steps.append(step)
    return steps


def report(raw: Path, out: Path, junit: Path, dry_run: bool, seconds: int) -> int:
    env = json.loads(key_values(raw / 'environment.txt').get('environment_json', '{}'))
    data = dict(dry_run=dry_run, seconds=seconds, environment=env, steps=_steps(raw),
                tests=junit_summary(junit), precision=precision_table(raw / 'precision.txt'),
                benchmark=benchmark_rows(raw))
    ok = all(s['status'] == 'ok' for s in data['steps']) and data['tests'].get('failed', 1) == 0
    data['ok'] = ok
    out.mkdir(parents=True, exist_ok=True)
    (out / 'report.json').write_text(json.dumps(data, indent=1) + '\n')
    (out / 'report.md').write_text(markdown(data))
    print(markdown(data))
    return 0 if ok else 1


def _fmt(value, spec='.3g'):
    return '–' if value is None else (format(value, spec) if isinstance(value, float) else str(value))


def markdown(data: dict) -> str:
    env = data['environment']
    where = env.get('gpu') or 'CPU'
    lines = [f"# GPU check{' (dry run on CPU)' if data['dry_run'] else ''}: "
             f"{'passed' if data['ok'] else 'FAILED'}", '',
             f"{where}; Python {env.get('python', '?')}, torch {env.get('torch', '?')}, "
             f"CUDA {env.get('torch_cuda')}; {data['seconds']} s in all.", '',
             '| step | status | seconds |', '| --- | --- | --- |']
    lines += [f"| {s['name']} | {s['status']} | {s['seconds']} |" for s in data['steps']]
    t = data['tests']
    if t.get('ran'):
        lines += ['', f"**Tests**: {t['passed']} passed, {t['failed']} failed, "
                      f"{t['skipped']} skipped ({t['seconds']} s)."]
        lines += [f"- FAILED {f['test']}: {f['message'][:200]}" for f in t['failures']]
    if data['precision']:
        lines += ['', '**Agreement with the goldens** (share of pixels of the same class)', '',
                  '| precision | min over goldens | seconds |', '| --- | --- | --- |']
        lines += [f"| {p} | {_fmt(v.get('min_pred_agreement'), '.4f')} | "
                  f"{_fmt(v.get('seconds'), '.1f')} |" for p, v in data['precision'].items()]
    if data['benchmark']:
        lines += ['', '**Benchmark** (tools/benchmark.py: full-size ViT-B/16 + JBU_One, '
                      'slide 224/112, one image at a time)', '',
                  '| precision | size | images/s | peak GPU MB | matmul fp32 / fp16 GFLOP/s '
                  '| × fp32 floor | × fp16 floor |', '| --- | --- | --- | --- | --- | --- | --- |']
        lines += [f"| {r['precision']} | {r['size']} | {_fmt(r.get('images_per_second'))} | "
                  f"{_fmt(r.get('peak_cuda_mb'), '.0f')} | {_fmt(r.get('matmul_gflops'), '.0f')}"
                  f" / {_fmt(r.get('matmul_fp16_gflops'), '.0f')} | "
                  f"{_fmt(r.get('image_floor_ratio'), '.2f')} | "
                  f"{_fmt(r.get('fp16_floor_ratio'), '.2f')} |" for r in data['benchmark']]
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    sub.add_parser('environment')
    r = sub.add_parser('report')
    r.add_argument('--raw', type=Path, required=True, help='the steps\' outputs')
    r.add_argument('--out', type=Path, required=True)
    r.add_argument('--junit', type=Path, required=True)
    r.add_argument('--dry-run', type=int, default=0)
    r.add_argument('--seconds', type=int, default=0)
    s = sub.add_parser('image-site')
    s.add_argument('--names', type=Path, required=True)
    s.add_argument('--to', type=Path, required=True)
    args = p.parse_args(argv)
    if args.command == 'environment':
        return environment()
    if args.command == 'image-site':
        return image_site(args.names, args.to)
    return report(args.raw, args.out, args.junit, bool(args.dry_run), args.seconds)


if __name__ == '__main__':
    sys.exit(main())
