"""`python tools/webui.py`: the map page on http://127.0.0.1:7860 (model options as
tools/predict.py takes them)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..utils import advice
from ..utils.runtime import cli_logging

EXAMPLES = """\
examples:
  python tools/webui.py                                   # released CLIP ViT-B/16 + JBU_One
  python tools/webui.py --data-dir /data/scenes --port 8080
  python tools/webui.py --pretrained tests/data/models/tiny_clip/tiny-clip-vit-b16.pt \\
      --model-cfg tests/data/models/tiny_clip/tiny-clip-vit-b16.json \\
      --upsampler-ckpt tests/data/models/simfeatup/tiny_jbu_one.ckpt

The page binds to 127.0.0.1 (this machine only) unless --host says otherwise, answers only
to the Host names 127.0.0.1, localhost, the bound address and --allow-host, and its API needs
the token in the address printed at start; model weights are only those of these options,
never an upload's. Uploads, job outputs and scenes are removed by --keep-hours, --max-scenes,
--max-jobs and --max-work-gb (oldest first, never those of queued or running jobs).
"""


def build_parser(prog=None):
    from ..mapping.cli import build_parser as predictor_parser
    p = predictor_parser(prog, inputs=False, epilog=EXAMPLES,
                         description='Interactive map page: a scene, typed classes, the class '
                         'map as an overlay to inspect and download.')
    g = p.add_argument_group('web page')
    g.add_argument('--data-dir', help='folder whose rasters the page may pick (never outside it)')
    g.add_argument('--host', default='127.0.0.1', help='address to bind (default 127.0.0.1: '
                   'this machine only; 0.0.0.0 opens it to the network)')
    g.add_argument('--port', type=int, default=7860)
    g.add_argument('--work-dir', default='work_dirs/webui', help='uploads and job outputs')
    g.add_argument('--max-upload-mb', type=float, default=1024, help='upload size limit')
    g.add_argument('--max-job-gb', type=float, default=None,
                   help="a job whose peak memory, as --dry-run estimates it, is larger is "
                   "refused (default: 3/4 of this machine's memory)")
    g.add_argument('--basemap', metavar='URL-TEMPLATE',
                   help='a web map under the scene, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png '
                   '(default: none — nothing the page shows comes from the internet; with it, '
                   'the browser fetches those tiles from that server)')
    g.add_argument('--allow-host', action='append', default=[], metavar='NAME',
                   help='another Host name the page may be opened through (e.g. this '
                   "machine's name with --host 0.0.0.0; repeatable; '*' allows any)")
    r = p.add_argument_group('retention (oldest first, never what a queued or running job uses)')
    r.add_argument('--keep-hours', type=float, default=24,
                   help='remove scenes and jobs older than this (default 24)')
    r.add_argument('--max-scenes', type=int, default=50, help='scenes kept (default 50)')
    r.add_argument('--max-jobs', type=int, default=100, help='jobs and outputs kept (default 100)')
    r.add_argument('--max-work-gb', type=float, default=20,
                   help='uploads + job outputs in --work-dir (default 20)')
    r.add_argument('--max-queued', type=int, default=20,
                   help='jobs waiting at once; more are refused until some end (default 20)')
    return p


@advice.using(advice.WEB_PAGE)
def main(argv=None, prog=None) -> int:
    args = build_parser(prog).parse_args(argv)
    cli_logging()
    from ..mapping.cli import model_settings, scene_options
    from .app import create_app, leaflet_dir
    from .retention import Limits
    try:
        classes = ''
        if args.classes or args.classes_file:      # the class box's first content
            from ..mapping.predictor import parse_classes
            from ..models.text.embeddings import load_class_names
            # a --classes-file is a file, never a class name (parse_classes would take it as one)
            names = load_class_names(args.classes_file) if args.classes_file else \
                parse_classes(args.classes)
            classes = ';'.join(','.join(syn) for syn in names.classes)
        settings = model_settings(args)
        limits = Limits(args.keep_hours, args.max_scenes, args.max_jobs, args.max_work_gb,
                        args.max_queued)
        app = create_app(settings, scene_options(args), args.data_dir, Path(args.work_dir),
                         args.max_upload_mb, args.threads, classes, host=args.host,
                         allow_hosts=args.allow_host, limits=limits, basemap=args.basemap,
                         max_job_gb=args.max_job_gb)
    except (ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    if leaflet_dir() is None:
        print('warning: Leaflet is not installed (run tools/install.sh, which installs it from '
              'npm); the map cannot be shown', file=sys.stderr)
    if args.host not in ('127.0.0.1', 'localhost', '::1'):
        print(f'warning: --host {args.host}: the page is reachable from the network (with '
              'the token); other machines open it by a name given with --allow-host',
              file=sys.stderr)
    import uvicorn
    print(f'SegEarth-OV map: {page_url(args.host, args.port, app.state.token)}', flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='warning')
    return 0


def page_url(host: str, port: int, token: str) -> str:
    """The address to open: the page, with the token in the fragment (never sent in requests
    or logs; the page reads it)."""
    host = '127.0.0.1' if host in ('0.0.0.0', '', '::') else host
    host = f'[{host}]' if ':' in host else host
    return f'http://{host}:{port}/#token={token}'
