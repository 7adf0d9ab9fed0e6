"The comparison runner end to end: killed mid-run and restarted, it completes and its report names every run."
import json, signal, subprocess, time
from pathlib import Path
from conftest import CLI, FIXTURE, run_cli
from mmd_music.checkpoint import latest_checkpoint

def test_comparison_resumes_after_a_kill(tmp_path):
    out = tmp_path / 'exp'
    cmd = [CLI, 'experiment', '--preset', 'tiny', '--data', str(FIXTURE / 'manifest.jsonl'), '--out', str(out), '--quiet']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and latest_checkpoint(out / 'codec-mmd') is None and proc.poll() is None: time.sleep(0.2)
    proc.send_signal(signal.SIGKILL); proc.wait()
    assert latest_checkpoint(out / 'codec-none') is not None, 'killed before the first codec finished a checkpoint'
    assert not (out / 'results.json').exists()
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads((out / 'results.json').read_text())
    assert [(x['codec'], x['lm']) for x in result['rows']] == [(c, p) for c in ('none', 'mmd', 'mmd_delay') for p in ('delay', 'flatten')]
    report = (out / 'report.md').read_text()
    for x in result['rows']:
        assert f"`{x['lm_run']}/{x['lm_checkpoint']}`" in report and f"`{x['codec_run']}/{x['codec_checkpoint']}`" in report
        assert all((out / s).exists() for s in x['samples'])
    by = {(x['codec'], x['lm']): x for x in result['rows']}
    for c in ('none', 'mmd', 'mmd_delay'):
        d = by[c, 'delay']
        assert d['factorisation_gap_se'] > 0 and f"{d['factorisation_gap']:.3f} ± {d['factorisation_gap_se']:.3f}" in report
    assert (out / 'report.png').exists() and 'report: ' in r.stdout
    # other settings in the same folder are refused, nothing overwritten
    r = run_cli('experiment', '--preset', 'tiny', '--data', FIXTURE / 'manifest.jsonl', '--out', out, '--seed', '3', '--quiet')
    assert r.returncode == 2 and 'other settings' in r.stderr
