# The two commands of the README. Both set everything up first (idempotent).
.PHONY: main test setup setup-dev

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev

# Main job: DFT for fcc Al + the committed DFT campaign → dataset → ensemble → evaluation + screening
main: setup
	.venv/bin/betenet pipeline fixtures/main-job/Al_fcc.cif --preset test \
		--documents fixtures/campaign-fast/documents.json.gz \
		--screen fixtures/campaign-fast/structures --members 4 --max-epochs 100

test: setup-dev
	.venv/bin/python -m pytest
