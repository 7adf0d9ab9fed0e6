"The pattern LM end to end: train-lm and generate on the command line, resume after a kill, DDP, caches and mismatches."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest, soundfile as sf, torch
from hypothesis import given, settings, strategies as st
from conftest import CLI, FIXTURE, run_cli
from mmd_music.audio import AudioClips
from mmd_music.checkpoint import latest_checkpoint
from mmd_music.codec import Codec, codec_config, save_codec
from mmd_music.train_lm import load_lm
from mmd_music.patterns import PATTERNS, make_pattern, DelayPattern

MANIFEST = FIXTURE / 'manifest.jsonl'

def tiny_codec(seed: int) -> Codec:
    "A small codec whose codebooks are k-means of its (untrained) encoder's latents on fixture clips."
    torch.manual_seed(seed)
    codec = Codec(codec_config('cpu', n_filters=4, dimension=16, bins=16))
    clips = AudioClips(MANIFEST, 'train', 1.0, valid_fraction=0.2, test_fraction=0.1)
    with torch.no_grad(): z = torch.cat([codec.encoder(clips[i]['wav'][None]) for i in range(6)])
    codec.quantizer.init_from(z.transpose(1, 2).reshape(-1, 16), seed=seed)
    return codec.eval()

@pytest.fixture(scope='module')
def codecs(tmp_path_factory):
    d = tmp_path_factory.mktemp('codecs')
    save_codec(tiny_codec(0), d / 'a'); save_codec(tiny_codec(1), d / 'b')
    return d / 'a', d / 'b'

def lm_args(codec, codes, steps=12):
    return ['--codec', codec, '--data', MANIFEST, '--codes', codes, '--steps', str(steps), '--batch-size', '4', '--quiet',
            '--set', 'lm.bins=16', '--set', 'lm.dim=32', '--set', 'lm.layers=2', '--set', 'lm.heads=2',
            '--set', 'valid_fraction=0.2', '--set', 'test_fraction=0.1', '--set', 'segment_seconds=1.0',
            '--set', 'warmup_steps=3', '--set', 'eval_every=6', '--set', 'checkpoint_every=3', '--set', 'log_every=1',
            '--set', 'examples=0']

def test_train_lm_resumes_after_a_kill_and_generates(tmp_path, codecs):
    a, b = codecs
    common = lm_args(a, tmp_path / 'codes')
    r = run_cli('train-lm', '--run-dir', tmp_path / 'straight', *common)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)['valid']['windows'] > 0
    proc = subprocess.Popen([CLI, 'train-lm', '--run-dir', str(tmp_path / 'killed'), *map(str, common)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and latest_checkpoint(tmp_path / 'killed') is None and proc.poll() is None: time.sleep(0.1)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert latest_checkpoint(tmp_path / 'killed') is not None, 'no checkpoint was written before the kill'
    r = run_cli('train-lm', '--run-dir', tmp_path / 'killed', *common, '--resume')
    assert r.returncode == 0, r.stderr[-2000:]
    x, _ = load_lm(tmp_path / 'straight'); y, _ = load_lm(tmp_path / 'killed')
    assert all(torch.equal(p, q) for p, q in zip(x.state_dict().values(), y.state_dict().values()))
    # generate: a WAV of the requested length per caption
    r = run_cli('generate', '--codec', a, '--lm', tmp_path / 'straight', '--text', 'A folk tune.', '--text', 'A chorale.',
                '--seconds', '1.5', '--out', tmp_path / 'gen.wav', '--quiet', '--top-k', '5')
    assert r.returncode == 0, r.stderr[-2000:]
    for i in range(2):
        info = sf.info(str(tmp_path / f'gen_{i}.wav'))
        assert info.samplerate == 32000 and info.frames == 48000
    # the same with the LM quantized to int8 (an approximation of the LM): a WAV of the same length
    r = run_cli('generate', '--codec', a, '--lm', tmp_path / 'straight', '--text', 'A folk tune.', '--seconds', '1.5',
                '--out', tmp_path / 'gen8.wav', '--quiet', '--top-k', '5', '--int8')
    assert r.returncode == 0, r.stderr[-2000:]
    assert sf.info(str(tmp_path / 'gen8.wav')).frames == 48000 and json.loads(r.stdout)['int8'] is True
    # another codec: refused by generate, and its codes are not mixed into a cache made by the first
    r = run_cli('generate', '--codec', b, '--lm', tmp_path / 'straight', '--text', 'x', '--out', tmp_path / 'no.wav', '--quiet')
    assert r.returncode == 2 and 'codec/LM mismatch' in r.stderr and not (tmp_path / 'no.wav').exists()
    r = run_cli('train-lm', '--run-dir', tmp_path / 'other', *lm_args(b, tmp_path / 'codes'))
    assert r.returncode == 2 and 'made by codec' in r.stderr and 'Traceback' not in r.stderr

def test_train_lm_cli_errors(tmp_path, codecs):
    a, _ = codecs
    r = run_cli('train-lm', '--run-dir', tmp_path / 'r', *lm_args(a, tmp_path / 'codes'), '--set', 'lm.bins=32')
    assert r.returncode == 2 and 'codec/LM mismatch' in r.stderr
    r = run_cli('train-lm', '--run-dir', tmp_path / 'r', *lm_args(tmp_path / 'nocodec', tmp_path / 'codes'))
    assert r.returncode == 2 and 'no such checkpoint' in r.stderr
    r = run_cli('generate', '--codec', a, '--lm', a, '--text', 'x', '--out', tmp_path / 'x.wav')
    assert r.returncode == 2 and "not a 'lm' one" in r.stderr

def test_lm_ddp_two_cpu_processes_stay_identical(tmp_path, codecs):
    a, _ = codecs
    torchrun = str(Path(sys.executable).parent / 'torchrun')
    cmd = [torchrun, '--nproc_per_node', '2', '--master_port', str(30500 + os.getpid() % 1000), CLI, 'train-lm',
           '--run-dir', str(tmp_path / 'ddp'), *map(str, lm_args(a, tmp_path / 'codes', steps=6))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('"ranks_identical": true') == 2, r.stdout[-2000:]

@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(PATTERNS)), K=st.integers(1, 6), T=st.integers(0, 30), B=st.integers(1, 3))
def test_every_pattern_is_an_exact_round_trip(name, K, T, B):
    p = make_pattern(name, K)
    codes = torch.randint(0, 9, (B, K, T))
    seq, mask = p.build(codes, 9)
    assert (seq[:, ~mask] == 9).all() and (seq[:, mask] < 9).all()
    assert mask.sum() == K * T                       # each position exactly once
    assert torch.equal(p.revert(seq, T), codes)

@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 6), extra=st.integers(0, 20))
def test_delay_equals_transformers(K, extra):
    "transformers skips the pattern (returns the input) when max_length < 2K - 1, i.e. T < K - 1: compared from T = K - 1."
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM
    bins, T = 11, max(1, K - 1 + extra)
    hf = MusicgenForCausalLM(MusicgenDecoderConfig(vocab_size=bins, num_codebooks=K, hidden_size=8, num_hidden_layers=1,
                                                   num_attention_heads=2, ffn_dim=8, pad_token_id=bins, bos_token_id=bins))
    codes = torch.randint(0, bins, (1, K, T))
    _, full = hf.build_delay_pattern_mask(torch.cat([torch.full((K, 1), bins), codes[0]], 1), pad_token_id=bins, max_length=T + K)
    assert torch.equal(full[:, 1:], DelayPattern(K).build(codes, bins)[0][0])
