"The `mmd-music` command line: help, errors, and the corpus builder end to end."
import hashlib, json
from pathlib import Path
import pytest
from conftest import run_cli, FIXTURE

@pytest.mark.parametrize('sub', [None, 'corpus', 'index', 'demo'])
def test_help(sub):
    r = run_cli(*([sub] if sub else []), '--help')
    assert r.returncode == 0, r.stderr
    assert f"usage: mmd-music{' ' + sub if sub else ''}" in r.stdout

def test_no_subcommand_is_a_usage_error():
    r = run_cli()
    assert r.returncode == 2 and 'usage:' in r.stderr

def test_index_reports_files_splits_and_text():
    r = run_cli('index', FIXTURE / 'manifest.jsonl', '--valid-fraction', '0.2', '--test-fraction', '0.1')
    assert r.returncode == 0, r.stderr
    assert '8 usable files' in r.stdout and 'valid:' in r.stdout and 'with text: 8' in r.stdout

def test_index_bad_source_is_one_clear_line(tmp_path):
    for source, expect in [(tmp_path / 'missing', 'no such folder'), (tmp_path, 'no audio files found')]:
        r = run_cli('index', source)
        assert r.returncode == 2 and expect in r.stderr and 'Traceback' not in r.stderr, r.stderr
        assert str(source) in r.stderr

def test_index_reports_and_skips_bad_files(tmp_path):
    (tmp_path / 'good.flac').write_bytes((FIXTURE / json.loads((FIXTURE / 'manifest.jsonl').read_text().splitlines()[0])['path']).read_bytes())
    (tmp_path / 'broken.wav').write_bytes(b'RIFF0000WAVEjunk')
    (tmp_path / 'empty.ogg').write_bytes(b'')
    r = run_cli('index', tmp_path)
    assert r.returncode == 0, r.stderr
    assert '1 usable files' in r.stdout and 'skipped 2 unusable' in r.stdout
    assert 'broken.wav: not a readable audio file' in r.stdout and 'empty.ogg: empty file' in r.stdout

def _hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file() and p.name != 'corpus.json'}

TINY = ('--hours', '0.004', '--max-piece-seconds', '3', '--quiet')

def test_corpus_build_is_deterministic_reused_and_guarded(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    r = run_cli('corpus', '--out', a, '--seed', '3', '--workers', '2', *TINY)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in (a / 'manifest.jsonl').read_text().splitlines()]
    assert sum(x['duration'] for x in rows) >= 0.004 * 3600 and all(x['text'] and x['instruments'] for x in rows)
    assert all((a / x['path']).exists() for x in rows)
    assert len(list((a / 'audio').rglob('*.flac'))) == len(rows)       # pieces rendered ahead were removed
    # same seed, other number of workers: the same corpus, byte for byte
    assert run_cli('corpus', '--out', b, '--seed', '3', '--workers', '1', *TINY).returncode == 0
    assert _hashes(a) == _hashes(b)
    # again with the same settings: reused, nothing rewritten
    before = _hashes(a)
    r = run_cli('corpus', '--out', a, '--seed', '3', *TINY)
    assert r.returncode == 0 and '(reused)' in r.stdout and _hashes(a) == before
    # other settings on an existing corpus: refused, nothing touched; --force rebuilds
    r = run_cli('corpus', '--out', a, '--seed', '4', *TINY)
    assert r.returncode == 2 and 'other settings' in r.stderr and _hashes(a) == before
    r = run_cli('corpus', '--out', a, '--seed', '4', '--force', *TINY)
    assert r.returncode == 0 and json.loads((a / 'corpus.json').read_text())['config']['seed'] == 4

def test_corpus_refuses_a_folder_that_is_not_a_corpus(tmp_path):
    (tmp_path / 'notes.txt').write_text('mine')
    r = run_cli('corpus', '--out', tmp_path, *TINY)
    assert r.returncode == 2 and 'not a corpus folder' in r.stderr
    assert (tmp_path / 'notes.txt').read_text() == 'mine' and not (tmp_path / 'audio').exists()

def _fake_soundtracks(root: Path):
    "Every soundtrack package's music folder under `root`, one short tone in each, and a corrupt file in the first."
    import numpy as np, soundfile as sf
    from mmd_music.corpus import SOUNDTRACKS
    for i, st in enumerate(SOUNDTRACKS):
        folder = root / st.folders[-1].replace('*', 'egypt')
        folder.mkdir(parents=True)
        tone = 0.3 * np.sin(2 * np.pi * (220 + 40 * i) * np.arange(44100 * 5) / 44100)     # other bytes in each
        sf.write(folder / f'track_{i}.ogg', tone, 44100, format='OGG', subtype='VORBIS')
    (root / SOUNDTRACKS[0].folders[0] / 'broken.ogg').write_bytes(b'OggS' + bytes(1000))
    return len(SOUNDTRACKS)

def test_corpus_debian_indexes_installed_soundtracks(tmp_path):
    n = _fake_soundtracks(tmp_path / 'root')
    r = run_cli('corpus', '--source', 'debian', '--root', tmp_path / 'root', '--no-install', '--out', tmp_path / 'debian', '--quiet')
    assert r.returncode == 0, r.stderr
    assert f'files: {n}' in r.stdout and "skipped: 1 {'unreadable': 1}" in r.stdout and 'wesnoth-1.16-music 1 files' in r.stdout
    rows = [json.loads(l) for l in (tmp_path / 'debian' / 'manifest.jsonl').read_text().splitlines()]
    assert {x['package'] for x in rows} == {'wesnoth-1.16-music', 'widelands-data', 'hedgewars-data', 'colobot-common-sounds',
                                            'freedroidrpg-data', 'megaglest-data'}
    assert all(Path(x['path']).is_absolute() and x['text'] and x['split_key'].startswith('sha1:') for x in rows)
    # mixed: the rendered corpus, the soundtracks, one manifest over both
    r = run_cli('corpus', '--source', 'mixed', '--root', tmp_path / 'root', '--no-install', '--out', tmp_path / 'mixed', *TINY)
    assert r.returncode == 0, r.stderr
    mixed = [json.loads(l) for l in (tmp_path / 'mixed' / 'manifest.jsonl').read_text().splitlines()]
    rendered = (tmp_path / 'mixed' / 'rendered' / 'manifest.jsonl').read_text().splitlines()
    assert len(mixed) == len(rendered) + n and all(Path(x['path']).exists() for x in mixed)

def test_corpus_debian_without_the_packages_says_what_to_install(tmp_path):
    r = run_cli('corpus', '--source', 'debian', '--root', tmp_path, '--no-install', '--out', tmp_path / 'debian', '--quiet')
    assert r.returncode == 2 and 'Traceback' not in r.stderr, r.stderr
    assert 'apt-get install --no-install-recommends wesnoth-1.16-music widelands-data' in r.stderr
    assert not (tmp_path / 'debian').exists()
