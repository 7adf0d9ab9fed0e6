import math, os, subprocess, sys
from pathlib import Path
import pytest, torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / 'data' / 'fixtures' / 'demo'
CLI = str(Path(sys.executable).parent / 'mmd-music')

def run_cli(*args, cwd=None, timeout=600):
    "Run the installed `mmd-music` console script; returns the CompletedProcess."
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)

def tone(seconds=1.0, sr=32000, freq=440.0, amp=0.5, channels=1):
    t = torch.arange(int(seconds * sr)) / sr
    return (amp * torch.sin(2 * math.pi * freq * t))[None].repeat(channels, 1)

@pytest.fixture
def fixture_manifest(): return FIXTURE / 'manifest.jsonl'
