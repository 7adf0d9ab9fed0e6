"Corpus rendering details that notebooks test badly (signals need the main thread)."
import numpy as np
from music21 import corpus as m21corpus
from mmd_music.corpus import RenderSettings, _render_task, candidate_pieces

def _chorale():
    return str(next(p for p in m21corpus.getComposer('bach') if p.name == 'bwv104.6.mxl'))

def test_a_piece_over_its_time_limit_is_skipped_as_timeout(tmp_path):
    idx, row, skip = _render_task((0, ('bach', 'bach', _chorale()), 0, RenderSettings(piece_timeout=0.001), str(tmp_path)))
    assert row is None and skip[0] == 'timeout' and 'bach/bwv104.6.mxl' in skip[1]
    assert not list(tmp_path.rglob('*.flac'))

def test_a_piece_within_its_time_limit_renders(tmp_path):
    idx, row, skip = _render_task((0, ('bach', 'bach', _chorale()), 0, RenderSettings(max_piece_seconds=5), str(tmp_path)))
    assert skip is None and (tmp_path / row['path']).exists() and row['duration'] == 5.0

def test_candidates_depend_on_the_seed_only():
    a, b, c = candidate_pieces(0), candidate_pieces(0), candidate_pieces(1)
    assert a == b and a != c and len(a) > 2000
    cats = {x[0] for x in a[:60]}
    assert {'bach', 'folk', 'quartet'} <= cats          # weighted interleaving mixes categories early
