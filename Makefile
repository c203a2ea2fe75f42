# The two commands of the README. Both set everything up first (idempotent).
.PHONY: main test test-hpc setup setup-dev setup-hpc

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev

setup-hpc: setup-dev
	scripts/setup-hpc

# Main job: DFT for fcc Al + the committed DFT campaign → dataset → ensemble → evaluation + screening
main: setup
	.venv/bin/betenet pipeline fixtures/main-job/Al_fcc.cif --preset test \
		--documents fixtures/campaign-fast/documents.json.gz \
		--screen fixtures/campaign-fast/structures --members 4 --max-epochs 100

# The suite in .venv, then the jobflow-remote tests in .venv-hpc (they skip in .venv: pymongo pin)
test: setup-hpc
	.venv/bin/python -m pytest
	.venv-hpc/bin/python -m pytest tests/test_workflow_submit.py tests/test_model_member_jobs.py -k jobflow_remote

# jobflow-remote end to end alone (local worker, secantusdb server) in its own environment .venv-hpc
test-hpc: setup-hpc
	.venv-hpc/bin/python -m pytest tests/test_workflow_submit.py tests/test_model_member_jobs.py -k jobflow_remote
