# The two commands of the README. Both set up .venv first (scripts/setup.sh, idempotent).
.PHONY: setup demo test

setup:
	@bash scripts/setup.sh

demo: setup   ## the main job on the built-in demo corpus
	.venv/bin/mmd-music demo

test: setup   ## export-sync check, nbdev-test, pytest
	@bash scripts/test.sh
