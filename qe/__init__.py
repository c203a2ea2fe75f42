"""betenet.qe: the Quantum ESPRESSO engine.

Input writers, one per program (`pw`, `ph`, `q2r`, `matdyn`, `lambda_x`; `epw` by the EPW work),
pure functions from a pymatgen Structure / ASE Atoms and a parameter dict to input text, layered with
`params.deep_merge`. `grids` (k/q from a density), `pseudo` (pseudopotential families), `programs`
(binary, file names, pools, parsers per program), `runner` (`run_program`). The fcc-Al reference chain
that fixtures, tests and benchmarks run lives in `tests/al_chain.py`.
"""
