#!/usr/bin/env bash
# Every test: the library and README must be what the notebooks export, every notebook must run
# (nbdev-test), and tests/ must pass (pytest, whose summary line ends the output).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" MPLBACKEND=Agg PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning}
start=$SECONDS
echo "== export-sync check"; python scripts/check_sync.py
# one thread per notebook process: two processes of two threads each on 2 cores stall at every barrier of their
# thread teams (measured: 315 s for all notebooks, against about 480 s with two threads each)
echo "== nbdev-test"; OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} nbdev-test --n-workers 2 --timing
echo "== pytest (notebooks done after $((SECONDS - start)) s)"; python -m pytest -q tests
