"""Write README.md from nbs/index.ipynb (quarto, which nbdev-readme needs, cannot be assumed).

Markdown cells are copied; code cells become python blocks; cells marked `#| hide` are left out. A markdown line
`<!-- include: PATH -->` (PATH relative to nbs/) is replaced by that file's text: tables written by the notebooks
from committed results files, so the README never retypes a number."""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def _includes(text: str) -> str:
    def read(m):
        path = root / 'nbs' / m.group(1)
        if not path.exists(): sys.exit(f"make_readme: {path} (included by index.ipynb) does not exist")
        return path.read_text(encoding='utf-8').strip('\n')
    return re.sub(r'<!-- include: (\S+) -->', read, text)

def readme_text(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    parts = ['<!-- Generated from nbs/index.ipynb by scripts/make_readme.py: edit the notebook, not this file. -->']
    for cell in nb['cells']:
        src = ''.join(cell['source']).strip('\n')
        if cell['cell_type'] == 'markdown': parts.append(_includes(src))
        elif cell['cell_type'] == 'code':
            lines = src.splitlines()
            if any(l.strip().replace(' ', '') in ('#|hide', '#|include:false') for l in lines): continue
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
            if code: parts.append(f"```python\n{code}\n```")
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    out = root / 'README.md'
    text = readme_text(root / 'nbs' / 'index.ipynb')
    if not out.exists() or out.read_text(encoding='utf-8') != text:
        out.write_text(text, encoding='utf-8'); print('wrote README.md')
    sys.exit(0)
