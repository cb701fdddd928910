"""`python tools/webui_screenshot.py`: the picture of the map page in docs/webui.md.

Why a program: the page's look (class colours, legend, popup) changes with the code, and a
screenshot taken by hand goes stale unnoticed. This starts the page on a free port with the
predictor's model options, has headless Chromium (Debian's chromium + chromium-driver, as the
browser test uses) upload the demo tile, type the classes, run, click the map, and saves the
window. Without model options it uses the tiny test models of tests/data/models, as the
picture in docs/webui.md does (no downloads; the classes are meaningless, the page is real).
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLASSES = 'building,roof,house;road;tree,forest;water,river;grass'
CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
MODELS = ROOT / 'tests' / 'data' / 'models'
FIXTURE = dict(pretrained=MODELS / 'tiny_clip' / 'tiny-clip-vit-b16.pt',
               model_cfg=MODELS / 'tiny_clip' / 'tiny-clip-vit-b16.json',
               upsampler_ckpt=MODELS / 'simfeatup' / 'tiny_jbu_one.ckpt')


def build_parser(prog=None):
    from ..mapping.cli import build_parser as predictor_parser
    p = predictor_parser(prog, inputs=False, epilog='',
                         description=__doc__.split('\n\n')[1].replace('\n', ' '))
    g = p.add_argument_group('screenshot')
    g.add_argument('--image', default=str(ROOT / 'data' / 'demo' / 'oem_koeln_50.tif'))
    g.add_argument('--page-classes', default=CLASSES, help=f'typed in the page ({CLASSES})')
    g.add_argument('--out', default=str(ROOT / 'docs' / 'images' / 'webui.png'))
    g.add_argument('--window', default='1280,960', help='browser window, width,height (default '
                   '1280,960: the legend and the area table in view)')
    g.add_argument('--timeout', type=float, default=600, help='seconds for the run')
    return p


def _server(app):
    """uvicorn on a socket bound here (a port found free and bound later could be taken)."""
    import uvicorn
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    srv = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=sock.getsockname()[1],
                                        log_level='warning'))
    thread = threading.Thread(target=srv.run, kwargs=dict(sockets=[sock]), daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started:
        if not thread.is_alive() or time.time() - t0 > 60:
            raise RuntimeError('the page server did not start')
        time.sleep(0.05)
    return srv, thread, sock


def _browser(window: str, profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--hide-scrollbars', f'--window-size={window}',
                 f'--user-data-dir={profile}'):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def take(url: str, image: str, classes: str, out: Path, window: str, timeout: float) -> None:
    """Drive the page at `url` as a user does and save the window to `out`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    with tempfile.TemporaryDirectory() as profile:
        browser = _browser(window, Path(profile))
        try:
            wait = WebDriverWait(browser, timeout)
            browser.get(url)
            wait.until(lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-ready') == '1')
            browser.find_element(By.ID, 'upload').send_keys(str(Path(image).resolve()))
            wait.until(EC.element_to_be_clickable((By.ID, 'run')))
            box = browser.find_element(By.ID, 'classes')
            box.clear()
            box.send_keys(classes)
            browser.find_element(By.ID, 'run').click()
            wait.until(lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-overlay')
                       == 'loaded' or d.find_element(By.ID, 'error').text)
            error = browser.find_element(By.ID, 'error').text
            if error:
                raise RuntimeError(f'the page says: {error}')
            browser.find_element(By.ID, 'map').click()      # a pixel's probabilities
            wait.until(lambda d: 'row' in d.find_element(By.ID, 'pixel').text)
            time.sleep(1.0)                                  # tiles and popup drawn
            out.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(out))
        finally:
            browser.quit()


def main(argv=None, prog=None) -> int:
    args = build_parser(prog).parse_args(argv)
    from ..mapping.cli import model_settings, scene_options
    from ..utils.runtime import cli_logging
    from .app import create_app, leaflet_dir
    from .cli import page_url
    cli_logging()
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        print('error: Debian chromium and chromium-driver are needed (tools/install.sh '
              'installs them)', file=sys.stderr)
        return 2
    if leaflet_dir() is None:
        print('error: Leaflet is not installed: run tools/install.sh', file=sys.stderr)
        return 2
    settings = model_settings(args)
    if not {'pretrained', 'model_cfg', 'upsampler_ckpt', 'config', 'clip_type'} & set(settings):
        settings.update({k: str(v) for k, v in FIXTURE.items()})
    import rio_tiler.io  # noqa: F401  imported once here: the first tile requests import it in
    #                          several threads at once, and one of them saw it half-initialised
    with tempfile.TemporaryDirectory() as work:
        app = create_app(settings, scene_options(args), None, Path(work),
                         max_upload_mb=1024, threads=args.threads)
        srv, thread, sock = _server(app)
        try:
            take(page_url('127.0.0.1', sock.getsockname()[1], app.state.token), args.image,
                 args.page_classes, Path(args.out), args.window, args.timeout)
        finally:
            srv.should_exit = True
            thread.join(30)
            sock.close()
    print(f'wrote {args.out}')
    return 0
