"Codec training end to end: resume after a kill or past an unreadable checkpoint, DDP on 2 CPU processes, learning, and refusing foreign checkpoints."
import json, os, pickle, signal, subprocess, sys, time
from pathlib import Path
import pytest, torch
from conftest import CLI, FIXTURE, run_cli
from mmd_music.checkpoint import CheckpointError, latest_checkpoint
from mmd_music.codec import load_codec
from mmd_music.runs import state_fingerprint
from mmd_music.train import train_codec, train_config
from mmd_music.audio import AudioClips

MANIFEST = FIXTURE / 'manifest.jsonl'
TINY = ['--data', str(MANIFEST), '--batch-size', '4', '--num-workers', '0', '--quiet',
        '--set', 'kmeans_batches=4', '--set', 'valid_fraction=0.2', '--set', 'test_fraction=0.1', '--set', 'eval_clips=4',
        '--set', 'quantizer_warmup=2', '--set', 'log_every=1', '--set', 'examples=0']

def test_killed_run_resumes_to_the_same_result(tmp_path):
    common = TINY + ['--steps', '10', '--set', 'checkpoint_every=2', '--set', 'eval_every=5']
    assert run_cli('train-codec', '--run-dir', tmp_path / 'straight', *common).returncode == 0
    proc = subprocess.Popen([CLI, 'train-codec', '--run-dir', str(tmp_path / 'killed'), *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and latest_checkpoint(tmp_path / 'killed') is None and proc.poll() is None: time.sleep(0.2)
    proc.send_signal(signal.SIGKILL); proc.wait()
    ck = latest_checkpoint(tmp_path / 'killed')
    assert ck is not None, 'no checkpoint was written before the kill'
    r = run_cli('train-codec', '--run-dir', tmp_path / 'killed', *common, '--resume')
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = load_codec(tmp_path / 'straight'), load_codec(tmp_path / 'killed')
    assert torch.equal(state_fingerprint(a), state_fingerprint(b))
    rows = [json.loads(l) for l in (tmp_path / 'killed' / 'metrics.jsonl').read_text().splitlines()]
    steps = [r['step'] for r in rows if 'l1' in r]
    assert steps == sorted(set(steps)) and steps[-1] == 10            # no duplicated rows after the resume

def test_resume_falls_back_past_an_unreadable_checkpoint(tmp_path):
    common = TINY + ['--set', 'checkpoint_every=2', '--set', 'eval_every=100']
    assert run_cli('train-codec', '--run-dir', tmp_path / 'straight', *common, '--steps', '6').returncode == 0
    assert run_cli('train-codec', '--run-dir', tmp_path / 'broken', *common, '--steps', '4').returncode == 0
    newest = latest_checkpoint(tmp_path / 'broken')
    weights = newest / 'model.safetensors'
    weights.write_bytes(weights.read_bytes()[:1000])                    # cut short, as by a full disk
    r = run_cli('train-codec', '--run-dir', tmp_path / 'broken', *common, '--steps', '6', '--resume')
    assert r.returncode == 0, r.stderr[-2000:]
    older = sorted((tmp_path / 'broken' / 'checkpoints').glob('step_*'))[0].name
    assert f'resuming from {older}' in r.stderr and newest.name in r.stderr      # says which it skipped
    a, b = load_codec(tmp_path / 'straight'), load_codec(tmp_path / 'broken')
    assert torch.equal(state_fingerprint(a), state_fingerprint(b))     # the steps after the fallback were trained again

def test_ddp_two_cpu_processes_stay_identical(tmp_path):
    torchrun = str(Path(sys.executable).parent / 'torchrun')
    cmd = [torchrun, '--nproc_per_node', '2', '--master_port', str(29500 + os.getpid() % 1000), CLI, 'train-codec',
           '--run-dir', str(tmp_path / 'ddp'), *TINY, '--steps', '6', '--set', 'checkpoint_every=3', '--set', 'eval_every=3',
           '--set', 'mmd_weight=10', '--set', 'mmd_pattern=delay']      # the loss gathers rows across ranks
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('"ranks_identical": true') == 2, r.stdout[-2000:]
    rows = [json.loads(l) for l in (tmp_path / 'ddp' / 'metrics.jsonl').read_text().splitlines()]
    assert any(x.get('event') == 'ranks' and x['identical'] and x['world_size'] == 2 for x in rows)
    assert any('mmd' in x for x in rows)
    load_codec(tmp_path / 'ddp')

def test_foreign_checkpoints_are_refused_and_never_executed(tmp_path):
    marker = tmp_path / 'pwned'
    class Payload:
        def __reduce__(self): return (open, (str(marker), 'w'))
    folder = tmp_path / 'ck'; folder.mkdir()
    (folder / 'config.json').write_text(json.dumps({'format': 'mmd_music', 'version': 1, 'kind': 'codec', 'config': {}}))
    (folder / 'model.safetensors').write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match='not a readable safetensors'): load_codec(folder)
    (tmp_path / 'codec.pt').write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError, match='not a file'): load_codec(tmp_path / 'codec.pt')
    (folder / 'model.safetensors').write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError): load_codec(folder)
    (folder / 'config.json').write_text('{"weights": "elsewhere"}')
    with pytest.raises(CheckpointError, match='not an mmd_music checkpoint'): load_codec(folder)
    assert not marker.exists()

def test_train_codec_cli_errors(tmp_path):
    r = run_cli('train-codec', '--run-dir', tmp_path / 'r', '--data', tmp_path / 'nothing', '--quiet')
    assert r.returncode == 2 and 'no such folder' in r.stderr and 'Traceback' not in r.stderr
    r = run_cli('train-codec', '--run-dir', tmp_path / 'r', *TINY, '--resume')
    assert r.returncode == 2 and 'nothing to resume' in r.stderr
    r = run_cli('train-codec', '--run-dir', tmp_path / 'r', *TINY, '--set', 'no_such_field=1')
    assert r.returncode == 2 and 'unknown training config fields' in r.stderr

def test_reconstruction_improves_on_held_out_clips(tmp_path):
    """100 steps of the cpu preset (batch 4 x 0.5 s) on a freshly rendered 6-minute corpus: mel distance and SI-SNR on the
    valid split improve from their values right after k-means (seen: mel 2.89 -> 1.93, SI-SNR -79 -> -47 dB; usage falls
    at first)."""
    from mmd_music.corpus import build_corpus
    build_corpus(tmp_path / 'corpus', hours=0.1, seed=1, progress=False, workers=2)
    cfg = train_config('cpu', data=str(tmp_path / 'corpus' / 'manifest.jsonl'), steps=100, batch_size=4, segment_seconds=0.5, quantizer_warmup=0, kmeans_batches=8,
                       valid_fraction=0.34, test_fraction=0.0, eval_every=100, eval_clips=32, checkpoint_every=100,
                       examples=0, num_workers=0)
    train_codec(cfg, tmp_path / 'run', progress=False)
    rows = [json.loads(l) for l in (tmp_path / 'run' / 'metrics.jsonl').read_text().splitlines()]
    valid = [r for r in rows if r.get('event') == 'valid']
    assert [r['step'] for r in valid] == [0, 100]        # right after k-means, and at the end
    first, last = valid
    assert first['clips'] == last['clips'] >= 16
    assert last['mel_distance'] < 0.85 * first['mel_distance'], (first, last)
    assert last['si_snr'] > first['si_snr'] + 10, (first, last)

def test_ddp_equals_one_process_with_the_same_global_batch(tmp_path):
    """A step of two processes of 2 clips equals a step of one process of 4 clips (the same clips, gradients and
    codebook statistics averaged over the ranks), to float rounding: a rank that saw other clips, a loss term summed
    instead of averaged over ranks, or codebooks updated from one rank's batch would not pass. One step: after it,
    Adam's first updates (about lr times the gradient's sign) turn rounding in near-zero gradients into differences
    of lr, which later steps amplify. (Adam and the balancer are blind to one common factor on every gradient.)"""
    from mmd_music.audio import AudioClips
    from mmd_music.codec import Codec, codec_config, save_codec
    torch.manual_seed(0)
    codec = Codec(codec_config('cpu', dead_fraction=0.0))        # no random revival of dead codes: it would differ by design
    clips = AudioClips(MANIFEST, 'train', 1.0, valid_fraction=0.2, test_fraction=0.1)
    with torch.no_grad(): z = torch.cat([codec.encoder(clips[i]['wav'][None]) for i in range(8)])
    codec.quantizer.init_from(z.transpose(1, 2).reshape(-1, z.shape[1]))
    save_codec(codec, tmp_path / 'start')
    common = ['train-codec', '--data', str(MANIFEST), '--steps', '1', '--batch-size', '4', '--num-workers', '0', '--quiet',
              '--set', f"init_from={tmp_path / 'start'}", '--set', 'codec.dead_fraction=0', '--set', 'quantizer_warmup=0',
              '--set', 'valid_fraction=0.2', '--set', 'test_fraction=0.1', '--set', 'eval_every=100', '--set', 'examples=0',
              '--set', 'adversarial_start=100', '--set', 'mmd_weight=1']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([CLI, *common, '--run-dir', str(tmp_path / 'one')], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    torchrun = str(Path(sys.executable).parent / 'torchrun')
    r = subprocess.run([torchrun, '--nproc_per_node', '2', '--master_port', str(30500 + os.getpid() % 1000), CLI, *common,
                        '--run-dir', str(tmp_path / 'two')], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    start, one, two = (load_codec(tmp_path / n).state_dict() for n in ('start', 'one', 'two'))
    moved = max(float((one[k].float() - start[k].float()).abs().max()) for k in one)
    apart = max(float((one[k].float() - two[k].float()).abs().max()) for k in one)
    assert moved > 1e-4 and apart < 1e-3 * moved, (moved, apart)
