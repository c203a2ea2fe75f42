"""The optional MLIP pre-gate: before any QE, a universal interatomic potential's phonons of the structure;
grossly unstable → the document is stored with status 'skipped' and the potential's numbers, and no DFT runs.

It only removes what is hopeless, never decides stability: the DFT gate (threshold
`stability_threshold_meV`, 0.5 meV, with its cause and remedy ladder) does that. The potentials' phonons are
noisy near zero (DFT-stable metals of the campaign go down to −9.3 meV: bcc Ba with SevenNet-l3i5, Mo −6.1 meV with
SevenNet-0), so the pre-gate's threshold
`mlip_pregate_threshold_meV` (15 meV) lies far below the DFT gate's; benchmarks/RESULTS.md (MLIP pre-gate)
has what it skipped on the campaign's DFT-stable structures and on genuinely unstable ones. A 'skipped'
document is never a DFT 'unstable': run without the pre-gate and the DFT result replaces it (same calc_id).
"""

from __future__ import annotations

from pymatgen.core import Structure

from betenet.phonons.mlip import MlipPhononCalculator, PhononSettings
from betenet.store.documents import MlipPregateData


def pregate_finding(structure: Structure, potential: str, threshold_meV: float,
                    calculator: MlipPhononCalculator | None = None) -> MlipPregateData:
    """The potential's lowest phonon frequency of `structure` and where (cached per structure); `calculator`:
    one already loaded (a batch), whose potential must be `potential`."""
    calculator = calculator or MlipPhononCalculator(PhononSettings(potential=potential))
    if calculator.settings.potential != potential:
        raise ValueError(f"calculator of {calculator.settings.potential!r} given for the potential {potential!r}")
    phonons = calculator.phonons(structure)
    low = phonons.lowest
    return MlipPregateData(
        potential=phonons.potential, potential_version=phonons.potential_version,
        lowest_frequency_meV=low.frequency_meV, q_crystal=low.q_crystal, branch=low.branch, mesh=low.mesh,
        threshold_meV=threshold_meV, supercell=phonons.supercell, displacement_A=phonons.settings.displacement_A,
        wall_s=phonons.wall_s,
    )


def skip_reason(finding: MlipPregateData) -> str | None:
    """Why no DFT runs (the potential's lowest mode below −threshold), or None."""
    if finding.lowest_frequency_meV >= -finding.threshold_meV:
        return None
    q = ", ".join(f"{x:.3f}" for x in finding.q_crystal)
    return (f"MLIP pre-gate: {finding.potential} ({finding.potential_version}) finds {finding.lowest_frequency_meV:.1f} meV "
            f"at q = ({q}) (branch {finding.branch}), below −{finding.threshold_meV:g} meV; no DFT was run "
            "(not a DFT verdict: run without --set mlip_pregate=… to compute it)")
