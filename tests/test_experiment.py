"The claims experiment end to end: killed mid-run and restarted, it completes, its report names every run, and an ablation follows."
import json, shutil, signal, subprocess, time
from pathlib import Path
from conftest import CLI, FIXTURE, run_cli
from mmd_music.checkpoint import latest_checkpoint

def test_claims_experiment_resumes_after_a_kill(tmp_path):
    out = tmp_path / 'claims'
    cmd = [CLI, 'experiment', '--preset', 'tiny', '--data', str(FIXTURE / 'manifest.jsonl'), '--out', str(out), '--quiet']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    # killed once the second seed's codec fine-tunes have begun: the weight selection and a seed of fine-tunes are done
    while time.time() < deadline and latest_checkpoint(out / 'codecs' / 'none_s2') is None and proc.poll() is None: time.sleep(0.2)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert latest_checkpoint(out / 'weights' / 'none') is not None, 'killed before the first codec finished a checkpoint'
    assert not (out / 'results.json').exists()
    started = {p.name for p in (out / 'weights').iterdir()}
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--quiet', '--ablations', 'bogus')
    assert r.returncode == 2 and "unknown ablations ['bogus']" in r.stderr
    # the LM stage's shards wait for the codec stage; a malformed shard is named
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--quiet', '--shard', '0/2')
    assert r.returncode == 2 and 'codec stage has not finished' in r.stderr
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--quiet', '--shard', 'half')
    assert r.returncode == 2 and 'takes I/N' in r.stderr
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--quiet', '--ablations', 'kernel=gaussian_paper')
    assert r.returncode == 0, r.stderr[-3000:]
    assert {p.name for p in (out / 'weights').iterdir()} == started       # nothing trained twice under another name
    ablations = json.loads((out / 'ablations' / 'results.json').read_text())
    assert list(ablations['variants']) == ['kernel=gaussian_paper'] and 'ablations: ' in r.stdout   # no reference needed for it
    assert ablations['variants']['kernel=gaussian_paper']['change'] == dict(kernel='gaussian_paper')
    result = json.loads((out / 'results.json').read_text())
    report = (out / 'report.md').read_text()
    assert sorted(result['runs']) == sorted(f'{a}_s{s}' for a in ('none', 'mmd', 'mmd_delay') for s in (1, 2))
    for run in result['runs'].values():
        for key in ('codec', 'lm_delay', 'lm_flatten'):
            assert Path(run[key]).exists() and f"`{run[key]}`" in report      # every figure names its checkpoints
    for c in result['claims']:
        assert f"| {c['claim']} |" in report and f"**{c['verdict']}**" in report
    assert (out / 'gap_against_tc.png').exists() and 'report: ' in r.stdout
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--quiet', '--shard', '1/2')
    assert r.returncode == 0 and 'shard 1/2: LMs trained and measured for mmd_s1, none_s2, mmd_delay_s2' in r.stdout, r.stderr[-3000:]
    # other settings in the same folder are refused, nothing overwritten
    other = tmp_path / 'other'; shutil.copytree(FIXTURE, other)
    before = (out / 'results.json').read_text()
    r = run_cli('experiment', '--preset', 'tiny', '--data', other / 'manifest.jsonl', '--out', out, '--quiet')
    assert r.returncode == 2 and 'other settings' in r.stderr and 'data' in r.stderr
    assert (out / 'results.json').read_text() == before
