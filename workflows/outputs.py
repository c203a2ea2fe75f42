"""What each QE Job returns: a small pydantic task document (units in names), built from the
project's parsers. The flow passes `dir_name` between Jobs and the last Job turns the task documents
into an `ElectronPhononDoc`."""

from __future__ import annotations

from typing import Any

from emmet.core.types.pymatgen_types.structure_adapter import StructureType
from pydantic import BaseModel, Field

from betenet.store.documents import A2FData, PhononDosData, QELambdaRow


class QETaskDoc(BaseModel):
    program: str = Field(description="pw / ph / q2r / matdyn / lambda")
    label: str
    dir_name: str = Field(description="Run directory (absolute).")
    job_uuid: str | None = None
    qe_version: str | None = None
    wall_time_s: float = Field(description="QE wall time summed over custodian attempts, s.")
    processor_cores: int | None = Field(default=None, description="Cores pw.x/ph.x reported running on (MPI "
                                        "processes × threads); None for the other programs and older documents.")
    attempts: int = 1
    corrections: list[dict[str, Any]] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict, description="Final namelist values.")
    # pw.x
    structure: StructureType | None = Field(default=None, description="Final structure (after vc-relax).")
    total_energy_Ry: float | None = None
    fermi_energy_eV: float | None = None
    kgrid: tuple[int, int, int] | None = None
    total_magnetization_muB: float | None = Field(default=None, description="∫m, μB per cell (nspin=2 runs).")
    absolute_magnetization_muB: float | None = Field(default=None, description="∫|m|, μB per cell (nspin=2 runs).")
    # ph.x
    qgrid: tuple[int, int, int] | None = None
    n_qpoints: int | None = None
    qpoint_range: tuple[int, int] | None = Field(default=None, description="start_q, last_q of a split run.")
    lowest_frequency_meV: float | None = Field(
        default=None, description="At the computed q-points, Γ's acoustic modes left out (no ASR in ph.x)."
    )
    gamma_acoustic_meV: float | None = Field(
        default=None, description="Largest |acoustic frequency| ph.x printed at Γ (0 with the sum rule obeyed)."
    )
    # matdyn.x (qe_lambda: also lambda.x's rows)
    phonon_dos: PhononDosData | None = None
    a2f_all: list[A2FData] = Field(default_factory=list)
    qe_lambda: list[QELambdaRow] = Field(default_factory=list)
    extra_dirs: list[str] = Field(default_factory=list, description="Further run folders (batches).")
