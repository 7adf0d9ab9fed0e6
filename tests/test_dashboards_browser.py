"""The dashboards used as a user uses them: JupyterLab on loopback, `nbs/11_dashboards.ipynb` opened in
headless Chromium (Debian's chromium, driven by playwright through its executable path, no browser
download), run, the explorer's dependence slider dragged, the figure checked to change; screenshots saved.

Chromium missing: skipped, unless MMD_MUSIC_BROWSER_TESTS=required (CI sets it), then failed.
Screenshots go to $MMD_MUSIC_SCREENSHOTS when set, else to the test's temporary folder."""
import json, os, secrets, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import ROOT

NOTEBOOK = 'nbs/11_dashboards.ipynb'
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

def _unavailable(why: str):
    if os.environ.get('MMD_MUSIC_BROWSER_TESTS') == 'required': pytest.fail(why)
    pytest.skip(why)

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture
def lab(tmp_path):
    "A JupyterLab server on loopback over the repository, with its own config, runtime and workspace folders."
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / 'config'), JUPYTER_RUNTIME_DIR=str(tmp_path / 'runtime'),
               JUPYTER_DATA_DIR=str(tmp_path / 'data'), IPYTHONDIR=str(tmp_path / 'ipython'), MPLBACKEND='module://matplotlib_inline.backend_inline')
    # the venv's kernel spec (python3 = this interpreter) comes from sys.prefix/share/jupyter, not JUPYTER_DATA_DIR
    cmd = [sys.executable, '-m', 'jupyter', 'lab', '--no-browser', f'--port={port}', '--ServerApp.ip=127.0.0.1',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={ROOT}', '--LabApp.expose_app_in_browser=True',
           f'--LabApp.workspaces_dir={tmp_path / "workspaces"}', f'--LabApp.user_settings_dir={tmp_path / "settings"}',
           '--LabApp.news_url=', '--ServerApp.open_browser=False', '--allow-root']
    # no autosave: the notebook run in the browser is the repository's own, and must stay as committed
    docmanager = tmp_path / 'settings' / '@jupyterlab' / 'docmanager-extension'
    docmanager.mkdir(parents=True)
    (docmanager / 'plugin.jupyterlab-settings').write_text(json.dumps({'autosave': False}))
    # no "get notified about Jupyter news?" toast over the page
    (tmp_path / 'config' / 'labconfig').mkdir(parents=True)
    (tmp_path / 'config' / 'labconfig' / 'page_config.json').write_text(
        json.dumps({'disabledExtensions': {'@jupyterlab/apputils-extension:announcements': True}}))
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            if proc.poll() is not None: raise RuntimeError(f"jupyter lab exited: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=1): break
            except OSError: time.sleep(0.5)
        else: raise RuntimeError("jupyter lab did not listen within 120 s")
        yield dict(url=url, token=token, log=tmp_path / 'lab.log')
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()

# the notebook's code cells as JupyterLab's model holds them: errors (with the cell's index), whether any runs or
# waits to run, and whether the page shows the dependence dashboard's last line
NOTEBOOK_STATE = r"""() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells, errors = [];
  let running = false;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    running = running || c.executionState === 'running';
    for (const o of c.outputs.toJSON())
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}\n` + o.traceback.join('\n').replace(/\x1b\[[0-9;]*m/g, ''));
  }
  return {errors, running, reached: document.body.innerText.includes('checkpoint(s) on the valid split')};
}"""

def _explorer(page):
    "The output area holding the kernel-bandwidth explorer that the notebook displays first."
    return page.locator('.jp-OutputArea-output', has=page.locator('.widget-image')).filter(has_text='bandwidth(s) from cache').first

def test_dashboards_in_jupyterlab(lab, tmp_path):
    if CHROMIUM is None: _unavailable("no chromium on this machine (Debian: apt-get install chromium)")
    try: from playwright.sync_api import sync_playwright
    except ImportError: _unavailable("the playwright package is not installed (pip install playwright)")
    shots = Path(os.environ.get('MMD_MUSIC_SCREENSHOTS') or tmp_path / 'screenshots'); shots.mkdir(parents=True, exist_ok=True)
    committed = (ROOT / NOTEBOOK).read_bytes()
    t0 = time.time()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={'width': 1600, 'height': 1000})
        try:
            page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}&reset", timeout=120_000)
            page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                                   "window.jupyterapp.shell.currentWidget.sessionContext && "
                                   "window.jupyterapp.shell.currentWidget.sessionContext.session && "
                                   "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel && "
                                   "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=180_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # wait for the run to reach the dependence dashboard and for every cell to finish, or for a cell's error
            # (read from the notebook's model: the page draws only the cells in view)
            page.wait_for_function(f"(s => s.errors.length > 0 || (s.reached && !s.running))(({NOTEBOOK_STATE})())", timeout=900_000)
            errors = page.evaluate(NOTEBOOK_STATE)['errors']
            assert not errors, '\n'.join(errors)[:3000]
            ran = time.time() - t0

            explorer = _explorer(page)
            explorer.scroll_into_view_if_needed()
            image = explorer.locator('img.widget-image').first
            image.wait_for(state='visible')
            status = explorer.locator('.widget-html').first
            # the explorer may still be drawing (its refresh is debounced): wait until it shows a result, not 'computing'
            page.wait_for_function("el => el.innerText.includes('MMD²') && !el.innerText.includes('computing')",
                                   arg=status.element_handle(), timeout=120_000)
            before_src, before_status = image.get_attribute('src'), status.inner_text()
            explorer.screenshot(path=str(shots / 'bandwidth_explorer.png'))

            # drag the 'dependence' slider's handle to the far right
            slider = explorer.locator('.widget-hslider', has_text='dependence').first
            handle, track = slider.locator('.noUi-handle').first, slider.locator('.noUi-base').first
            readout = slider.locator('.widget-readout').first
            for _ in range(3):      # a drag that starts while the page still lays out misses the handle: read the boxes again
                hb, tb = handle.bounding_box(), track.bounding_box()
                page.mouse.move(hb['x'] + hb['width'] / 2, hb['y'] + hb['height'] / 2)
                page.mouse.down()
                page.mouse.move(tb['x'] + tb['width'] * 0.95, hb['y'] + hb['height'] / 2, steps=12)
                page.mouse.up()
                if float(readout.inner_text()) > 0.6: break
                page.wait_for_timeout(2000)
            t1 = time.time()
            page.wait_for_function("([img, src]) => img.getAttribute('src') !== src", arg=[image.element_handle(), before_src], timeout=120_000)
            page.wait_for_function("([el, s]) => el.innerText !== s && !el.innerText.includes('computing')",
                                   arg=[status.element_handle(), before_status], timeout=120_000)
            redraw = time.time() - t1
            after_status = status.inner_text()
            value = float(readout.inner_text())
            assert value > 0.6, value
            assert 'MMD²' in after_status, after_status                   # an error would show here, named
            mmd_before, mmd_after = (float(s.split('MMD²')[1].split(',')[0]) for s in (before_status, after_status))
            assert mmd_after > mmd_before, (before_status, after_status)     # more dependence, larger MMD²
            explorer.screenshot(path=str(shots / 'bandwidth_explorer_after_slider.png'))

            page.screenshot(path=str(shots / 'jupyterlab.png'))
            page.set_viewport_size({'width': 1600, 'height': 3400})      # the whole dashboard inside the notebook panel
            dashboard = page.locator('.jp-OutputArea-output', has=page.locator('.widget-select-multiple')).first
            dashboard.scroll_into_view_if_needed()
            for img in dashboard.locator('img.widget-image').all(): img.wait_for(state='visible')
            dashboard.screenshot(path=str(shots / 'dependence_dashboard.png'))
            # with the comparison's runs on disk the notebook's last cells show the dashboards on real codecs too
            real = page.locator('.jp-OutputArea-output', has=page.locator('.widget-select-multiple'))
            if real.count() > 1:
                real.last.scroll_into_view_if_needed(); real.last.screenshot(path=str(shots / 'dependence_dashboard_comparison.png'))
                explorers = page.locator('.jp-OutputArea-output', has=page.locator('.widget-image')).filter(has_text='bandwidth(s) from cache')
                if explorers.count() > 2:          # the synthetic one, the fixture codec's, then the comparison codec's
                    explorers.last.scroll_into_view_if_needed(); explorers.last.screenshot(path=str(shots / 'bandwidth_explorer_comparison.png'))
        finally:
            browser.close()
    assert (ROOT / NOTEBOOK).read_bytes() == committed, f"the browser's run wrote its outputs into {NOTEBOOK}"
    for name in ('bandwidth_explorer.png', 'bandwidth_explorer_after_slider.png', 'dependence_dashboard.png'):
        assert (shots / name).stat().st_size > 10_000, name
    print(f"notebook ran in {ran:.0f} s, redraw after the slider {redraw:.1f} s, test {time.time() - t0:.0f} s; screenshots in {shots}")
