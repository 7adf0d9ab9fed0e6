"`mmd-music convert`: transformers' EnCodec / MusicGen folders in and out, from the command line, and what a converted model is used for."
import json, shutil
from pathlib import Path
import pytest, torch
from conftest import run_cli, FIXTURE
from mmd_music.codec import Codec, codec_config, load_codec, save_codec
from mmd_music.conditioning import text_encoder_path
from mmd_music.convert import random_musicgen, random_encodec
from mmd_music.train_lm import load_lm

def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return a.config == b.config and sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

@pytest.fixture(scope='module')
def musicgen_folder(tmp_path_factory):
    "A tiny random MusicGen saved by transformers, with a tokenizer beside its T5 (MiniLM's WordPiece: its ids fit T5's 32128)."
    d = tmp_path_factory.mktemp('mg') / 'musicgen'
    random_musicgen('tiny').save_pretrained(d)
    for f in Path(text_encoder_path()).glob('*'):
        if f.name.startswith(('tokenizer', 'vocab', 'special_tokens')): shutil.copy(f, d / f.name)
    return d

def test_musicgen_converts_and_generates_from_a_caption(musicgen_folder, tmp_path):
    r = run_cli('convert', musicgen_folder, tmp_path / 'lm')
    assert r.returncode == 0, r.stderr
    assert 'lm, ' in r.stdout and 'its codec:' in r.stdout and 'its text encoder:' in r.stdout
    lm, info = load_lm(tmp_path / 'lm')
    assert info['text_encoder'] == str(tmp_path / 'lm' / 'text_encoder') and (tmp_path / 'lm' / 'text_encoder' / 'vocab.txt').exists()
    r = run_cli('generate', '--codec', tmp_path / 'lm' / 'codec', '--lm', tmp_path / 'lm', '--text', 'a calm piano piece',
                '--seconds', '0.05', '--out', tmp_path / 'clip.wav', '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    import soundfile as sf
    wav, sr = sf.read(tmp_path / 'clip.wav')
    assert sr == 8000 and len(wav) == 400 and abs(wav).max() > 0

def test_round_trip_through_transformers_is_bit_identical(musicgen_folder, tmp_path):
    assert run_cli('convert', musicgen_folder, tmp_path / 'lm').returncode == 0
    for src, mid, back in [('lm', 'hf_lm', 'lm2'), ('lm/codec', 'hf_codec', 'codec2')]:
        r = run_cli('convert', tmp_path / src, tmp_path / mid, '--to', 'transformers')
        assert r.returncode == 0, r.stderr
        assert (tmp_path / mid / 'config.json').exists() and (tmp_path / mid / 'mmd_music.json').exists()
        assert run_cli('convert', tmp_path / mid, tmp_path / back).returncode == 0
    assert _same(load_lm(tmp_path / 'lm')[0], load_lm(tmp_path / 'lm2')[0])
    assert _same(load_codec(tmp_path / 'lm' / 'codec'), load_codec(tmp_path / 'codec2'))
    from transformers import EncodecModel, MusicgenForCausalLM
    EncodecModel.from_pretrained(tmp_path / 'hf_codec'); MusicgenForCausalLM.from_pretrained(tmp_path / 'hf_lm')

def test_a_converted_codec_fine_tunes_with_the_independence_loss(tmp_path):
    "Our cpu codec -> transformers' EncodecModel -> back, then two training steps from it with the MMD loss."
    torch.manual_seed(0)
    codec = Codec(codec_config('cpu'))
    for layer in codec.quantizer.layers:
        layer.codebook.normal_(0, 0.1); layer.initialized.fill_(True)
    save_codec(codec, tmp_path / 'ours')
    assert run_cli('convert', tmp_path / 'ours', tmp_path / 'hf', '--to', 'transformers').returncode == 0
    assert run_cli('convert', tmp_path / 'hf', tmp_path / 'back').returncode == 0
    r = run_cli('train-codec', '--run-dir', tmp_path / 'run', '--data', FIXTURE / 'manifest.jsonl', '--steps', '2', '--batch-size', '2',
                '--num-workers', '0', '--quiet', '--set', f"init_from={tmp_path / 'back'}", '--set', 'mmd_weight=1.0',
                '--set', 'valid_fraction=0.2', '--set', 'test_fraction=0.1', '--set', 'eval_every=100', '--set', 'examples=0',
                '--set', 'quantizer_warmup=0', '--set', 'adversarial_start=100')
    assert r.returncode == 0, r.stderr
    logs = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
    assert not any(l.get('event') == 'kmeans_init' for l in logs)          # the codebooks came with the converted codec
    assert any('mmd' in l for l in logs)

def test_bad_input_is_one_line_and_leaves_the_output_alone(tmp_path, musicgen_folder):
    out = tmp_path / 'out'; out.mkdir(); (out / 'keep.txt').write_text('mine')
    r = run_cli('convert', musicgen_folder, out)                       # a good source into a folder that holds something
    assert r.returncode == 2 and 'already exists' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ['keep.txt'] and (out / 'keep.txt').read_text() == 'mine'
    r = run_cli('convert', musicgen_folder, musicgen_folder.parent)    # the output would hold the source
    assert r.returncode == 2 and 'must not be the source' in r.stderr and (musicgen_folder / 'config.json').exists()
    enc = tmp_path / 'enc'; random_encodec('tiny').save_pretrained(enc)
    (enc / 'model.safetensors').write_bytes(b'not safetensors')
    fresh = tmp_path / 'fresh'
    for args, expect in [((tmp_path / 'missing', fresh), 'no such folder'), ((enc, fresh), 'not a readable safetensors file'),
                         ((enc, fresh, '--to', 'transformers'), 'not a checkpoint of this package')]:
        r = run_cli('convert', *args)
        assert r.returncode == 2 and expect in r.stderr and 'Traceback' not in r.stderr, r.stderr
        assert not fresh.exists()
    assert not list(tmp_path.glob('.*.tmp-*'))
    empty = tmp_path / 'empty'; empty.mkdir()                         # an empty folder made for the output is used
    assert run_cli('convert', musicgen_folder, empty).returncode == 0 and (empty / 'config.json').exists()
