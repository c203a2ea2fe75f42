"""The model variants in one place: what each takes as node attributes and what its data must carry.

    CSO  structure only                      node attribute: one-hot of the element
    CPD  + coarse site PhDOS (2×2×2 q-grid)  + the dataset record's `cpd` rows (51 bins per atom)
    FPD  + fine site PhDOS (el-ph q-grid)    + the dataset record's `fpd` rows
    MPD  + site PhDOS of a universal         + the dataset record's `mpd` rows; computed for any structure
           interatomic potential (SevenNet-0)   at prediction time (`betenet.phonons`), no DFT needed

Everything that depends on the variant — the network's input width, which dataset field feeds it,
what build-dataset must require, the error for a structure without it — asks this registry, so a new
variant (e.g. phonons from an interatomic potential) is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from betenet.model.errors import MissingFeatureError


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    site_phdos_field: str | None = None  # dataset record field of the per-atom node attributes
    from_potential: bool = False  # the site PhDOS comes from an interatomic potential: computable for any structure

    @property
    def needs_site_phdos(self) -> bool:
        return self.site_phdos_field is not None

    @property
    def required_features(self) -> tuple[str, ...]:
        """Dataset features (build-dataset `require`) every training record of this variant must have."""
        return ("a2f",) + ((self.site_phdos_field,) if self.site_phdos_field else ())

    def site_phdos_of(self, record):
        """The record's site PhDOS rows for this variant (None for CSO)."""
        return getattr(record, self.site_phdos_field) if self.site_phdos_field else None

    def missing_site_phdos(self, structure_id: str, hint: str = "") -> MissingFeatureError:
        """The one error for a structure without the site PhDOS this variant needs."""
        return MissingFeatureError(
            f"structure {structure_id!r} has no '{self.site_phdos_field}' site PhDOS, which a {self.name} model "
            f"needs ({self.description}); {hint or 'use a CSO model, or data that carries it'}"
        )

    def require_site_phdos(self, phdos, structure_id: str, hint: str = ""):
        if self.needs_site_phdos and phdos is None:
            raise self.missing_site_phdos(structure_id, hint)
        return phdos


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("CSO", "crystal structure only"),
        Variant("CPD", "coarse site-projected phonon DOS, 2×2×2 q-grid", site_phdos_field="cpd"),
        Variant("FPD", "fine site-projected phonon DOS, el-ph q-grid", site_phdos_field="fpd"),
        Variant("MPD", "site-projected phonon DOS of a universal interatomic potential", site_phdos_field="mpd",
                from_potential=True),
    )
}
VARIANT_NAMES = tuple(VARIANTS)
SITE_PHDOS_FIELDS = tuple(v.site_phdos_field for v in VARIANTS.values() if v.site_phdos_field)


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Invalid variant={name!r}, use one of {VARIANT_NAMES}") from None
