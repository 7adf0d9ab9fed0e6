"""Fail if nbdev-export, nbdev-clean or scripts/make_readme.py would change any file of the repository.

Compares a hash of every tracked or untracked-but-not-ignored file before and after running them, so it
also catches a module that the notebooks export but nobody committed."""
import hashlib, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]

def files() -> list[str]:
    try:
        out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=root, check=True,
                             capture_output=True).stdout.decode()
        return [f for f in out.split('\0') if f]
    except (OSError, subprocess.CalledProcessError):   # not a git checkout: the generated places
        return [str(p.relative_to(root)) for d in ('nbs', 'mmd_music') for p in (root / d).rglob('*') if p.is_file()] + ['README.md']

def snapshot() -> dict:
    snap = {}
    for f in files():
        p = root / f
        snap[f] = hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else None
    return snap

if __name__ == '__main__':
    before = snapshot()
    bin_ = Path(sys.executable).parent
    for cmd in ([str(bin_ / 'nbdev-export')], [str(bin_ / 'nbdev-clean')], [sys.executable, 'scripts/make_readme.py']):
        subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL)
    after = snapshot()
    changed = sorted(f for f in set(before) | set(after) if before.get(f) != after.get(f))
    if changed:
        print('Out of step with the notebooks (run nbdev-export, nbdev-clean, python scripts/make_readme.py and commit):')
        for f in changed: print('  ', f)
        sys.exit(1)
    print(f'in step: {len(after)} files unchanged by nbdev-export, nbdev-clean and make_readme')
