"""One registry entry per QE program: binary, file names, parallelism and the parsers of its outputs.

Parsers are named by dotted path ("module:function") and imported only when asked for, so the engine
never depends on the parsers at import time. `file_parsers` maps files a program leaves in its run
folder (glob patterns) to their parsers, for the programs whose results are not in stdout.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Program:
    name: str
    binary: str
    input_filename: str  # default names; run_program(label=...) renames them per run
    output_filename: str
    takes_pools: bool  # accepts -nk
    parser: str | None  # "module:function" for the stdout file, None when stdout has no results
    file_parsers: dict[str, str] = field(default_factory=dict)
    mpi: bool = True  # launched under settings.mpi_command
    stdin_input: bool = False  # reads its input from standard input instead of `-in file`

    def load_parser(self) -> Callable:
        if self.parser is None:
            raise LookupError(f"{self.binary} has no stdout parser; its results are in {sorted(self.file_parsers)}")
        return load_callable(self.parser)

    def parser_for_file(self, filename: str) -> Callable:
        """The parser of a file this program leaves behind, e.g. matdyn's 'a2F.dos3'."""
        for pattern, dotted in self.file_parsers.items():
            if fnmatch.fnmatchcase(filename, pattern):
                return load_callable(dotted)
        raise LookupError(f"no parser registered for {filename!r} of {self.binary}; known: {sorted(self.file_parsers)}")


def load_callable(dotted: str) -> Callable:
    """Import "package.module:function" and return the function, with a clear error if absent."""
    module_name, _, attribute = dotted.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise LookupError(f"parser {dotted} is not available: {err}") from err


PROGRAMS: dict[str, Program] = {
    program.name: program
    for program in (
        Program("pw", "pw.x", "pw.in", "pw.out", True, "betenet.parsers.pw:parse_pw_output"),
        Program("ph", "ph.x", "ph.in", "ph.out", True, "betenet.parsers.ph:parse_ph_output"),
        # q2r.x and lambda.x are seconds-long serial steps: no MPI start-up for them.
        Program("q2r", "q2r.x", "q2r.in", "q2r.out", False, None, mpi=False),
        Program(
            "matdyn",
            "matdyn.x",
            "matdyn.in",
            "matdyn.out",
            False,
            None,
            file_parsers={
                "phonon.dos": "betenet.parsers.matdyn:parse_matdyn_dos",
                "matdyn.freq": "betenet.parsers.matdyn:parse_matdyn_freq",
                "lambda": "betenet.parsers.matdyn:parse_matdyn_lambda",
                "a2F.dos*": "betenet.parsers.a2f:parse_a2f_dos",
            },
        ),
        Program(
            "lambda", "lambda.x", "lambda.in", "lambda.out", False,
            "betenet.parsers.lambda_x:parse_lambda_output", mpi=False, stdin_input=True,
        ),
        Program(
            "epw",
            "epw.x",
            "epw.in",
            "epw.out",
            True,
            "betenet.parsers.epw:parse_epw_output",
            file_parsers={
                "*.a2f.[0-9][0-9].*": "betenet.parsers.epw:parse_epw_a2f",
                "*.phdos.[0-9][0-9].*": "betenet.parsers.epw:parse_epw_phdos",
                "linewidth.phself.*": "betenet.parsers.epw:parse_epw_linewidths",
                "*.wout": "betenet.parsers.epw:parse_wannier90_wout",
                "*_hr.dat": "betenet.parsers.epw:parse_wannier_hr",
            },
        ),
    )
}


def get_program(name: str) -> Program:
    """Registry entry by name ('pw') or binary ('pw.x')."""
    key = name[:-2] if name.endswith(".x") else name
    if key not in PROGRAMS:
        raise ValueError(f"Invalid program={name!r}, use one of {tuple(PROGRAMS)}")
    return PROGRAMS[key]
