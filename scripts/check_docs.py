"""Check the documentation site without quarto (which cannot be installed everywhere).

1. The quarto/nbdev config files parse and the sidebar lists every notebook.
2. nbdev's own processing (`nbdev-proc-nbs`: what `nbdev-docs` hands to quarto) runs over every notebook,
   inserting and executing a `show_doc` for each exported name.
3. Every public function and class of every module (in its `__all__`) has a show_doc section in its
   notebook's processed page.
4. The processed pages are rendered to HTML by nbconvert into OUT (default `_docs_check/`); with
   `--screenshot NAME...` those pages are also photographed in headless Chromium (PNG beside the HTML).

Exit status 1 when anything is missing; what is missing is printed."""
import argparse, importlib, json, re, shutil, subprocess, sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
CELL_KEYS = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--hide-scrollbars']

def check_config() -> list[str]:
    problems = []
    for name in ('_quarto.yml', 'nbdev.yml', 'sidebar.yml'):
        try: yaml.safe_load((NBS / name).read_text())
        except Exception as e: problems.append(f"{name}: does not parse ({e})")
    listed = set(yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents'])
    problems += [f"sidebar.yml does not list {p.name}" for p in sorted(NBS.glob('*.ipynb')) if p.name not in listed]
    return problems

def module_of(nb: Path) -> str | None:
    src = '\n'.join(''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code')
    m = re.search(r'#\|\s*default_exp\s+(\S+)', src)
    return m.group(1) if m else None

def documented(proc_nb: Path) -> set[str]:
    "Names with a show_doc section (a markdown output whose heading is the name) in a processed notebook."
    out = set()
    for cell in json.loads(proc_nb.read_text())['cells']:
        for o in cell.get('outputs', []):
            md = ''.join(o.get('data', {}).get('text/markdown', []))
            out.update(re.findall(r'^#{2,4}\s+([A-Za-z_][\w.]*)\s*$', md, flags=re.M))
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_docs_check'))
    ap.add_argument('--screenshot', nargs='*', default=[], help='notebook names (e.g. index 11_dashboards) to photograph')
    args = ap.parse_args()
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    problems = check_config()
    proc = ROOT / '_proc'
    shutil.rmtree(proc, ignore_errors=True)
    sidebar = (NBS / 'sidebar.yml').read_text()
    # nbdev-proc-nbs processes every notebook, then tries to install quarto (which fails without it): the exit
    # status says nothing about the pages, so each page is checked below; it also rewrites sidebar.yml, restored here
    r = subprocess.run(['nbdev-proc-nbs', '--force'], cwd=ROOT, capture_output=True, text=True)
    (NBS / 'sidebar.yml').write_text(sidebar)
    errors = [l for l in r.stderr.splitlines() if l.startswith('Exception: Error')]
    problems += [f"nbdev processing: {e}" for e in errors]
    sys.path.insert(0, str(ROOT))
    checked = 0
    for nb in sorted(NBS.glob('*.ipynb')):
        pnb = proc / nb.name
        if not pnb.exists(): problems.append(f"{nb.name}: nbdev-proc-nbs wrote no processed page"); continue
        mod = module_of(nb)
        if mod:
            m = importlib.import_module(f"mmd_music.{mod}")
            # functions and classes: show_doc documents those (constants are described in the notebooks' prose)
            names = [n for n in getattr(m, '__all__', []) if callable(getattr(m, n)) and not isinstance(getattr(m, n), dict)]
            missing = sorted(set(names) - documented(pnb))
            problems += [f"{nb.name}: no show_doc for mmd_music.{mod}.{n}" for n in missing]
            checked += len(names)
        nbj = json.loads(pnb.read_text())      # nbdev marks cells with keys of its own (has_sd) that nbformat rejects
        nbj['cells'] = [{k: v for k, v in c.items() if k in CELL_KEYS} | {'metadata': {}} for c in nbj['cells']]
        clean = out / nb.name; clean.write_text(json.dumps(nbj))
        r = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html', '--output-dir', str(out), str(clean)],
                           capture_output=True, text=True)
        if r.returncode: problems.append(f"{nb.name}: nbconvert failed: {r.stderr[-500:]}")
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    for name in args.screenshot:
        page = out / f"{name}.html"
        if chromium is None: problems.append("--screenshot needs chromium"); break
        subprocess.run([chromium, *CHROMIUM_ARGS, f'--user-data-dir={out / ".chromium"}', '--window-size=1280,2400',
                        f'--screenshot={out / (name + ".png")}', page.resolve().as_uri()], capture_output=True, timeout=120)
        if not (out / f"{name}.png").exists(): problems.append(f"no screenshot of {page}")
    print(f"docs: {len(list(NBS.glob('*.ipynb')))} pages rendered to {out}, {checked} public functions and classes checked for show_doc")
    for p in problems: print('  MISSING', p)
    sys.exit(1 if problems else 0)

if __name__ == '__main__':
    main()
