"Properties of loading, splitting and clip sampling, checked over many random cases."
import math
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from mmd_music.audio import (AudioClips, ClipSampler, index_audio, load_audio, normalize_loudness, peak_db,
                             rms_db, save_audio, split_of)
from conftest import tone
import torchaudio

names = st.text(st.characters(whitelist_categories=('Ll', 'Lu', 'Nd')), min_size=1, max_size=12)

@given(st.lists(names, min_size=1, max_size=5).map('/'.join), st.floats(0, 0.5), st.floats(0, 0.5))
def test_split_is_a_function_of_the_path(rel, v, t):
    s = split_of(rel, v, t)
    assert s in ('train', 'valid', 'test') and s == split_of(rel, v, t)
    if v == 0 and t == 0: assert s == 'train'

def test_split_fractions_are_respected():
    got = [split_of(f'piece_{i}.flac', 0.1, 0.2) for i in range(5000)]
    assert abs(got.count('valid') / 5000 - 0.1) < 0.02 and abs(got.count('test') / 5000 - 0.2) < 0.02

def test_adding_files_never_moves_a_file_between_splits(tmp_path):
    for k in range(12): save_audio(tmp_path / f'a{k}.wav', tone(0.2), 32000)
    before = {f.relpath: f.split for f in index_audio(tmp_path, 0.3, 0.3)[0]}
    for k in range(12): save_audio(tmp_path / 'more' / f'b{k}.wav', tone(0.2), 32000)
    after = {f.relpath: f.split for f in index_audio(tmp_path, 0.3, 0.3)[0]}
    assert len(after) == 24 and all(after[r] == s for r, s in before.items())

@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 40), st.integers(0, 3))
def test_sampler_shards_each_epoch_exactly(world, n, epoch):
    shards = [list(iter(ClipSampler(n, r, world, epoch))) for r in range(world)]
    flat = sorted(i for s in shards for i in s)
    assert flat == list(range(epoch * n, (epoch + 1) * n))
    s = ClipSampler(n); first, second = list(s), list(s)
    assert first == list(range(n)) and second == list(range(n, 2 * n))

@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp('c')
    save_audio(d / 'sr16k.wav', tone(3.0, 16000, 300), 16000)
    save_audio(d / 'sr44k_stereo.flac', tone(2.5, 44100, 500, channels=2), 44100)
    save_audio(d / 'short.wav', tone(0.3), 32000)
    return d

@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.25, 0.5, 1.0]), st.sampled_from([1, 2]))
def test_random_clips_have_the_contracted_shape(corpus, index, seconds, channels):
    clips = AudioClips(corpus, split=None, mode='random', segment_seconds=seconds, channels=channels, seed=7)
    item = clips[index]
    assert item['wav'].shape == (channels, round(seconds * 32000)) and item['wav'].dtype == torch.float32
    assert item['wav'].abs().max() <= 1 and torch.equal(item['wav'], clips[index]['wav'])

def test_every_rate_comes_out_at_the_dataset_rate(corpus):
    clips = AudioClips(corpus, split=None, mode='fixed', segment_seconds=0.25)
    assert {clips[i]['path'] for i in range(len(clips))} == {'sr16k.wav', 'sr44k_stereo.flac', 'short.wav'}
    for i in range(len(clips)): assert clips[i]['wav'].shape == (1, 8000)

def test_fixed_clips_skip_silence(tmp_path):
    x = torch.cat([tone(1.0), torch.zeros(1, 32000), tone(1.0)], 1)
    save_audio(tmp_path / 'gap.wav', x, 32000)
    clips = AudioClips(tmp_path, split=None, mode='fixed', segment_seconds=1.0)
    assert [clips[i]['offset'] for i in range(len(clips))] == [0.0, 2.0]

@settings(max_examples=15, deadline=None)
@given(st.floats(0, 1.5), st.floats(0.05, 0.4))
def test_windows_have_exact_length(tmp_path_factory, offset, duration):
    p = tmp_path_factory.mktemp('w') / 'x.flac'
    save_audio(p, tone(2.0), 32000)
    wav, sr = load_audio(p, offset=offset, duration=duration)
    assert sr == 32000 and wav.shape == (1, round(duration * sr))   # a window is always round(duration * sr) long

def test_normalisation_targets(tmp_path):
    save_audio(tmp_path / 'quiet.wav', tone(2.0, amp=0.05), 32000)
    assert abs(peak_db(load_audio(tmp_path / 'quiet.wav', normalize='peak')[0]) + 1.0) < 1e-3
    y, sr = load_audio(tmp_path / 'quiet.wav', normalize='loudness', target_db=-23.0)
    assert abs(float(torchaudio.functional.loudness(y, sr)) + 23.0) < 0.1
    loud = normalize_loudness(tone(2.0, amp=0.05), 32000, 0.0)          # would clip: held under -1 dBFS
    assert abs(peak_db(loud) + 1.0) < 1e-3
    with pytest.raises(ValueError, match="normalize must be"): load_audio(tmp_path / 'quiet.wav', normalize='rms')
