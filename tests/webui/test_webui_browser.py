"""The map page in a real browser: Debian's headless Chromium driven by Selenium uploads a
synthetic GeoTIFF, types classes, runs the fixture model, waits for the overlay, checks the
legend and the downloaded GeoTIFF's CRS, and saves a screenshot in the test's temp dir."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason='Debian chromium and chromium-driver are not installed (tools/install.sh installs them)')

from webui_helpers import CRS, make_app, serve, synthetic_geotiff  # noqa: E402

CLASSES = 'water,river;building,roof;tree,forest'


@pytest.fixture
def server(tmp_path):
    from segearth_ov.webui.app import leaflet_dir
    from segearth_ov.webui.cli import page_url
    if leaflet_dir() is None:
        pytest.fail('Leaflet is not installed: run tools/install.sh (npm install of leaflet)')
    app = make_app(tmp_path / 'work', max_upload_mb=4)
    with serve(app) as port:
        yield page_url('127.0.0.1', port, app.state.token)       # the address the CLI prints


@pytest.fixture
def browser(tmp_path, no_proxy):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--window-size=1280,800',
                 f'--user-data-dir={tmp_path / "chromium-profile"}'):
        opts.add_argument(flag)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})      # the console's messages
    opts.add_experimental_option('prefs', {'download.default_directory': str(downloads),
                                           'download.prompt_for_download': False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.downloads = downloads
    yield driver
    driver.quit()


def run_on_page(browser, server, scene, classes):
    """Open the page, upload `scene`, type `classes`, run, wait for the overlay."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(browser, 90)
    browser.get(server)
    wait.until(lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-ready') == '1')
    browser.find_element(By.ID, 'upload').send_keys(str(scene))
    wait.until(EC.element_to_be_clickable((By.ID, 'run')))
    box = browser.find_element(By.ID, 'classes')
    box.clear()
    box.send_keys(classes)
    browser.find_element(By.ID, 'run').click()
    wait.until(lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-overlay') == 'loaded'
               or d.find_element(By.ID, 'error').text)
    assert browser.find_element(By.ID, 'error').text == ''
    return wait


def test_upload_run_overlay_legend_download(server, browser, tmp_path):
    import rasterio
    from selenium.webdriver.common.by import By
    scene = synthetic_geotiff(tmp_path / 'synthetic_utm.tif')
    assert '#token=' in server
    wait = run_on_page(browser, server, scene, CLASSES)
    assert CRS in browser.find_element(By.ID, 'scene-info').text
    assert '?job=' in browser.current_url                     # a reload finds the job again
    assert '#token=' in browser.current_url                   # … with the token

    legend = [li.text for li in browser.find_elements(By.CSS_SELECTOR, '#legend li')]
    assert legend == ['water, river', 'building, roof', 'tree, forest']
    tiles = browser.find_elements(By.CSS_SELECTOR, '.leaflet-tile-loaded')
    assert len(tiles) >= 2                                   # scene and class-map tiles shown
    rows = browser.find_elements(By.CSS_SELECTOR, '#areas tbody tr')
    assert [r.find_element(By.TAG_NAME, 'td').text for r in rows] == ['water', 'building', 'tree']

    # click the map centre: the pixel's class and probabilities
    browser.find_element(By.ID, 'map').click()
    wait.until(lambda d: 'row' in d.find_element(By.ID, 'pixel').text)
    assert any(n in browser.find_element(By.ID, 'pixel').text for n in ('water', 'building', 'tree'))
    browser.save_screenshot(str(tmp_path / 'webui.png'))
    assert (tmp_path / 'webui.png').stat().st_size > 10_000

    # download the class GeoTIFF through the page's link
    browser.find_element(By.ID, 'dl-labels').click()
    target = browser.downloads / 'synthetic_utm_labels.tif'
    t0 = time.time()
    while not target.exists() and time.time() - t0 < 30:
        time.sleep(0.2)
    assert target.exists(), f'no download in {list(browser.downloads.iterdir())}'
    with rasterio.open(target) as src:
        assert src.crs.to_string() == CRS and src.shape == (256, 256)
        with rasterio.open(scene) as ref:
            assert src.transform == ref.transform

    # a reload shows the job again
    browser.get(browser.current_url)
    wait.until(lambda d: d.find_element(By.TAG_NAME, 'body').get_attribute('data-overlay') == 'loaded')
    assert len(browser.find_elements(By.CSS_SELECTOR, '#legend li')) == 3
    shutil.copy(tmp_path / 'webui.png', tmp_path / 'webui_screenshot.png')


EVIL = '<img src=x onerror="document.body.dataset.pwned=1">'


def test_class_names_are_text_never_markup(server, browser, tmp_path):
    """A class named like HTML shows as that text in the legend, the table and the pixel
    popup, and runs nothing; the page is served with a script-src 'self' policy."""
    import urllib.request

    from selenium.webdriver.common.by import By
    scene = synthetic_geotiff(tmp_path / 'scene.tif', 64)
    wait = run_on_page(browser, server, scene, f'water;{EVIL}')
    assert [li.text for li in browser.find_elements(By.CSS_SELECTOR, '#legend li')] == \
        ['water', EVIL]
    browser.find_element(By.ID, 'map').click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.leaflet-popup-content'))
    popup = browser.find_element(By.CSS_SELECTOR, '.leaflet-popup-content')
    assert EVIL in popup.text and not popup.find_elements(By.TAG_NAME, 'img')
    time.sleep(0.5)                 # an image error handler would have run by now
    assert browser.find_element(By.TAG_NAME, 'body').get_attribute('data-pwned') is None
    with urllib.request.urlopen(server.split('#')[0]) as r:
        policy = r.headers['Content-Security-Policy']
    assert "script-src 'self'" in policy and "img-src 'self' data:;" in policy
    # the page itself (Leaflet included) needs nothing the policy refuses
    console = [e['message'] for e in browser.get_log('browser')]
    assert not [m for m in console if 'Content Security Policy' in m], console
