"Bad input gets a clear error naming the file and the problem; nothing already written is lost."
import json, os, warnings
import numpy as np, pytest, soundfile as sf, torch
from mmd_music.audio import AudioClips, AudioError, audio_info, clip_loader, index_audio, load_audio, save_audio
from conftest import tone

SR = 32000

def _good(path, seconds=2.0):
    save_audio(path, tone(seconds), SR); return path

def _truncated(path, keep=0.4):
    src = _good(path.with_name('src_' + path.name)); data = src.read_bytes(); src.unlink()
    path.write_bytes(data[:int(len(data) * keep)]); return path

def _float_wav(path, bad):
    x = tone(1.0).T.numpy().copy(); x[100:103] = bad
    sf.write(str(path), x, SR, subtype='FLOAT'); return path

def _bytes(data):
    def make(path):
        path.write_bytes(data); return path
    return make

CASES = {
    'missing.wav': (lambda p: p, 'file not found'),
    'zero.wav': (_bytes(b''), 'empty file (0 bytes)'),
    'random.wav': (_bytes(np.random.default_rng(0).bytes(3000)), 'not a readable audio file'),
    'text.mp3': (_bytes(b'this is not audio\n' * 40), 'not a readable audio file'),
    'truncated.flac': (_truncated, 'decoding failed'),
    'truncated.ogg': (_truncated, 'not a readable audio file'),
    'nan.wav': (lambda p: _float_wav(p, np.nan), 'NaN or infinite'),
    'inf.wav': (lambda p: _float_wav(p, np.inf), 'NaN or infinite'),
    'no_frames.wav': (lambda p: sf.write(str(p), np.zeros((0, 1), 'float32'), SR) or p, 'zero-length'),
}

@pytest.mark.parametrize('name', CASES)
def test_bad_file_error_names_file_and_problem(tmp_path, name):
    make, problem = CASES[name]
    path = make(tmp_path / name)
    with pytest.raises(AudioError) as e: load_audio(path)
    assert problem in e.value.problem and e.value.path == str(path) and name in str(e.value)

def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match='is a folder'): audio_info(tmp_path)

def test_offset_outside_the_file(tmp_path):
    with pytest.raises(AudioError, match='outside the file'): load_audio(_good(tmp_path / 'a.wav'), offset=5.0)

def test_folder_without_audio(tmp_path):
    (tmp_path / 'readme.txt').write_text('no audio here'); (tmp_path / 'sub').mkdir()
    with pytest.raises(AudioError, match='no audio files found'): AudioClips(tmp_path)

def test_folder_where_every_file_is_bad(tmp_path):
    (tmp_path / 'a.wav').write_bytes(b'junk'); (tmp_path / 'b.flac').write_bytes(b'')
    with pytest.warns(UserWarning, match='skipped 2'), pytest.raises(AudioError, match='none of the 2'):
        index_audio(tmp_path)

def _manifest(path, rows):
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows)); return path

def test_manifest_with_missing_files_reports_each(tmp_path):
    _good(tmp_path / 'here.wav')
    m = _manifest(tmp_path / 'm.jsonl', [{'path': 'here.wav', 'text': 'a tone'}, {'path': 'gone1.wav'}, {'path': 'sub/gone2.flac'}])
    with pytest.warns(UserWarning, match='skipped 2'):
        files, skipped = index_audio(m)
    assert [f.relpath for f in files] == ['here.wav'] and files[0].text == 'a tone'
    assert [(os.path.basename(p), why) for p, why in skipped] == [('gone1.wav', 'file not found'), ('gone2.flac', 'file not found')]
    m2 = _manifest(tmp_path / 'm2.jsonl', [{'path': 'gone1.wav'}])
    with pytest.warns(UserWarning), pytest.raises(AudioError, match='gone1.wav: file not found'): index_audio(m2)

def test_manifest_syntax_errors_name_the_line(tmp_path):
    bad = tmp_path / 'bad.jsonl'; bad.write_text('{"path": "a.wav"}\n{not json\n')
    with pytest.raises(AudioError, match='line 2 is not valid JSON'): index_audio(bad)
    bad.write_text('{"file": "a.wav"}\n')
    with pytest.raises(AudioError, match="line 1 has no 'path'"): index_audio(bad)
    with pytest.raises(AudioError, match='manifest not found'): index_audio(tmp_path / 'nope.jsonl')
    with pytest.raises(AudioError, match='expected a folder'): index_audio(_good(tmp_path / 'x.wav'))

def test_failed_writes_keep_the_old_file(tmp_path):
    target = _good(tmp_path / 'keep.flac'); before = target.read_bytes()
    with pytest.raises(ValueError, match='NaN'): save_audio(target, torch.full((1, 100), float('nan')), SR)
    with pytest.raises(ValueError, match='expects'): save_audio(target, torch.zeros(1, 2, 3), SR)
    with pytest.raises(ValueError, match='unknown audio extension'): save_audio(tmp_path / 'x.aiff', tone(0.1), SR)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ['keep.flac']

def test_training_epoch_survives_a_corrupt_file(tmp_path):
    "A file whose header is fine but whose audio is cut short: found while decoding, excluded, epoch completes."
    for k in range(3): save_audio(tmp_path / f'p{k}.flac', (0.3 * torch.randn(1, 4 * SR)).clamp(-1, 1), SR)
    _truncated(tmp_path / 'p1.flac', keep=0.3)
    clips = AudioClips(tmp_path, split=None, mode='random', segment_seconds=0.5, clips_per_epoch=48)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        batches = list(clip_loader(clips, batch_size=8, num_workers=2))
    assert len(batches) == 6 and all(b['wav'].shape == (8, 1, SR // 2) for b in batches)
    assert all(torch.isfinite(b['wav']).all() for b in batches)

def test_eval_clips_drop_unreadable_files(tmp_path):
    for k in range(2): _good(tmp_path / f'ok{k}.wav', 2.0)
    _truncated(tmp_path / 'bad.flac', keep=0.3)
    with pytest.warns(UserWarning, match='bad.flac'):
        clips = AudioClips(tmp_path, split=None, mode='fixed', segment_seconds=1.0)
        n = len(clips)
    assert n == 4 and {clips[i]['path'] for i in range(n)} == {'ok0.wav', 'ok1.wav'}

def test_split_with_no_files_is_a_clear_error(tmp_path):
    _good(tmp_path / 'only.wav')
    with pytest.raises(AudioError, match="split 'valid' has no files"):
        AudioClips(tmp_path, split='valid', valid_fraction=0.0, test_fraction=0.0)
