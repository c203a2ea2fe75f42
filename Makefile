# The two commands of the README. Both set everything up first (idempotent).
.PHONY: main test setup setup-dev

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev

main: setup
	.venv/bin/betenet demo

test: setup-dev
	.venv/bin/python -m pytest
