"""Parsers: QE output files in, typed results out (pure functions; the only I/O is reading the file).

Every parser raises `ParseError` (a ValueError naming the file and what was missing) for an empty,
truncated, foreign or malformed file.
"""

from betenet.parsers._common import processor_cores
from betenet.parsers.a2f import A2FSpectrum, parse_a2f_dos
from betenet.parsers.errors import ParseError
from betenet.parsers.lambda_x import LambdaXOutput, LambdaXRow, parse_lambda_output
from betenet.parsers.matdyn import (
    MatdynLambda,
    PhononDos,
    PhononFrequencies,
    parse_matdyn_dos,
    parse_matdyn_freq,
    parse_matdyn_lambda,
)
from betenet.parsers.ph import ElphSmearing, Irrep, PhOutput, PhQPoint, parse_ph_output
from betenet.parsers.pw import PwOutput, parse_pw_output

__all__ = [
    "A2FSpectrum",
    "ElphSmearing",
    "Irrep",
    "LambdaXOutput",
    "LambdaXRow",
    "MatdynLambda",
    "ParseError",
    "PhOutput",
    "PhQPoint",
    "PhononDos",
    "PhononFrequencies",
    "PwOutput",
    "parse_a2f_dos",
    "parse_lambda_output",
    "parse_matdyn_dos",
    "parse_matdyn_freq",
    "parse_matdyn_lambda",
    "parse_ph_output",
    "parse_pw_output",
    "processor_cores",
]
