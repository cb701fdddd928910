"""What lower ViT precision changes: every golden scenario at fp32 and at bf16 (or fp16).

For each scenario of tests/data/golden (the reference's outputs on the seeded tiny models),
prints one `key value` line per figure:

    <scenario>_<precision>_pred_agreement X   share of pixels whose class equals the golden's
    <scenario>_<precision>_max_prob_drift X   largest |probability − golden probability|
    <precision>_min_pred_agreement X          over all scenarios
    <precision>_seconds X                     total time of all scenarios

With `--outlier-vit SIZE` it also runs the full-size check: a ViT-B/16 of open_clip's
architecture with synthetic weights whose residual stream has CLIP's large-outlier channels
(tests/outlier_vit.py says how they are made), random JBU_One, on the top-left SIZE² crop of
the demo tile, and prints per precision

    outlier_vit_<size>_<precision>_pred_agreement X   share of pixels equal to its fp32 prediction
    outlier_vit_stream_ratio X                         median |outlier channel| / median |other|

The issue's rule: a lower precision may be offered as a switch only if its agreement stays
≥ 99 %. Run: `python tools/precision_drift.py [--precision bf16 fp16] [--device cpu]
[--outlier-vit 448]`.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / 'tests' / 'data' / 'golden'


def _test_helper(name: str):
    """A module of tests/ (conftest: the fixture models as the tests build them; goldens: the
    golden files' reader), loaded from the checkout."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tests' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_scenario(spec: dict, image: np.ndarray, precision: str, device: str):
    conftest = _test_helper('conftest')
    run_pipeline, tiny_segmentor = conftest.run_pipeline, conftest.tiny_segmentor
    settings = dict(spec['settings'])
    upsampler = settings.pop('upsampler', 'jbu_one')
    model = tiny_segmentor(spec['classes'], upsampler=upsampler, precision=precision,
                           device=device, **settings)
    sample = run_pipeline(model, image)
    return sample.seg_logits.data.cpu().numpy(), sample.pred_sem_seg.data[0].cpu().numpy()


def outlier_vit_lines(size: int, precisions, device: str) -> None:
    """The full-size check of the module docstring, printed."""
    import torch
    outlier, conftest = _test_helper('outlier_vit'), _test_helper('conftest')
    model = outlier.outlier_segmentor(device=device)
    rgb = outlier.demo_crop(conftest.OEM_TILE, size)
    img = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().to(model.device)
    print(f'outlier_vit_stream_ratio {outlier.stream_outlier_ratio(model, img):.1f}')
    for precision, agree in outlier.pred_agreement(model, rgb, conftest.run_pipeline,
                                                   precisions).items():
        if precision != 'fp32':
            print(f'outlier_vit_{size}_{precision}_pred_agreement {agree:.4f}', flush=True)


def main(argv=None):
    from segearth_ov.utils.runtime import use_huge_pages
    use_huge_pages()          # before torch's first allocation (segearth_ov/utils/runtime.py)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--precision', nargs='+', default=['fp32', 'bf16'])
    p.add_argument('--device', default='cpu')
    p.add_argument('--golden', default=str(GOLDEN))
    p.add_argument('--outlier-vit', type=int, metavar='SIZE', default=0,
                   help='also the full-size ViT-B/16 with outlier channels on a SIZE² crop')
    p.add_argument('--skip-goldens', action='store_true', help='only the --outlier-vit check')
    args = p.parse_args(argv)
    if args.outlier_vit:
        outlier_vit_lines(args.outlier_vit, args.precision, args.device)
    if args.skip_goldens:
        return
    golden = Path(args.golden)
    manifest = json.loads((golden / 'manifest.json').read_text())
    scenarios = {k: v for k, v in manifest.items() if 'classes' in v}
    goldens = _test_helper('goldens')
    for precision in args.precision:
        worst, start = 1.0, time.perf_counter()
        for name, spec in sorted(scenarios.items()):
            gold = goldens.load_scenario(golden, name, spec)
            probs, pred = run_scenario(spec, gold['image'], precision, args.device)
            agree = float((pred == gold['pred']).mean())
            drift = float(np.abs(probs - gold['probs'].astype(np.float32)).max())
            worst = min(worst, agree)
            print(f'{name}_{precision}_pred_agreement {agree:.4f}')
            print(f'{name}_{precision}_max_prob_drift {drift:.4f}', flush=True)
        print(f'{precision}_min_pred_agreement {worst:.4f}')
        print(f'{precision}_seconds {time.perf_counter() - start:.1f}', flush=True)


if __name__ == '__main__':
    main()
