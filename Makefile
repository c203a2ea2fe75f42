# The two commands of the README. Both set everything up first (idempotent).
.PHONY: main test test-hpc setup setup-dev setup-hpc default-ensemble

setup:
	scripts/setup

setup-dev:
	scripts/setup --dev

setup-hpc: setup-dev
	scripts/setup-hpc

# Main job: DFT for fcc Al + the committed DFT campaign (α²F) beside the JARVIS moment labels → mixed dataset →
# ensemble trained on a grouped held-out split → held-out evaluation beside the baselines + screening.
# Spin–orbit-flagged documents are kept: the JARVIS labels are scalar-relativistic too.
main: setup
	.venv/bin/betenet pipeline fixtures/main-job/Al_fcc.cif --preset test \
		--documents fixtures/campaign/documents.json.gz --labels fixtures/jarvis/jarvis_supercon.jsonl.gz \
		--allow-flag spin_orbit_neglected --screen fixtures/campaign/structures --members 4 --workers 2

# The ensemble shipped in model/default_ensemble (used by predict/screen without --ensemble), from committed data
default-ensemble: setup
	.venv/bin/python -m betenet.screening.default_ensemble

# The suite in .venv, then the jobflow-remote tests in .venv-hpc (they skip in .venv: pymongo pin)
test: setup-hpc
	.venv/bin/python -m pytest
	.venv-hpc/bin/python -m pytest tests/test_workflow_submit.py tests/test_model_member_jobs.py -k jobflow_remote

# jobflow-remote end to end alone (local worker, secantusdb server) in its own environment .venv-hpc
test-hpc: setup-hpc
	.venv-hpc/bin/python -m pytest tests/test_workflow_submit.py tests/test_model_member_jobs.py -k jobflow_remote
