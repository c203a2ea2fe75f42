"""Import the JARVIS-DFT electron-phonon set (moment labels only) into a dataset directory.

Input: ``jarvis_supercon.jsonl`` (one object per line: ``jid``, ``formula``, ``poscar`` — POSCAR text
with its line breaks written as the two characters backslash-n —, ``lambda``, ``omega_log_K``,
``Tc_K``, ``leaderboard_split``). Every material becomes one record: id = jid, structure from the
POSCAR, labels ``lambda`` / ``omega_log_K`` / ``tc_K`` as given, ``omega_2_K``/``a2f``/PhDOS null,
split = the leaderboard split ("train", "val" or null), ``extra.jid``.

Unusual labels are kept, never dropped or edited: they are real entries of the source. What happens
to them is decided where they are used, and the record says why it is unusual in ``extra.label_flags``:
- ``"lambda<=0"``: λ ≤ 0 (one row, Si4Ti2: λ = −0.047, ω_log = 0 K, Tc = 0 K). The model's λ, computed
  from a non-negative α²F, is ≥ 0, so such a label simply pulls it to 0; ω_log = 0 K is undefined
  (ω_log needs λ > 0) and the moment loss ignores non-positive ω_log labels (`betenet.model.loss`).
- ``"lambda>4"``: λ above 4 (39 rows, up to 18.3, all with ω_log below 50 K: soft, nearly unstable
  modes dominate). Training keeps them; the moment loss is a Huber loss, so a few such outliers pull
  linearly rather than quadratically. Evaluations report which rows they are.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from betenet.dataset.format import Dataset, DatasetFormatError, DatasetRecord, write_dataset

SOURCE = ("JARVIS-DFT superconductor set (Choudhary & Garrity, npj Comput. Mater. 8, 244 (2022); QE DFPT, "
          "PBEsol, GBRV) — labels λ, ω_log, Tc only; split = jarvis_leaderboard dft_3d_Tc_supercon")
HUGE_LAMBDA = 4.0
_SPLITS = {"train": "train", "val": "val", "test": "test", None: None}


def label_flags(lambda_: float | None) -> list[str]:
    if lambda_ is None:
        return []
    if lambda_ <= 0:
        return ["lambda<=0"]
    if lambda_ > HUGE_LAMBDA:
        return [f"lambda>{HUGE_LAMBDA:g}"]
    return []


def _poscar_atoms(text: str, where: str):
    from ase.io import read

    try:
        return read(io.StringIO(text.replace("\\n", "\n")), format="vasp")
    except Exception as err:  # ase raises many types for malformed POSCARs
        raise DatasetFormatError(f"{where}: cannot parse the POSCAR: {err}") from err


def read_jarvis(path: Path | str):
    """Records and structures of the JSONL file (gzip-compressed when the name ends in .gz), in file order."""
    path = Path(path)
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    records, structures = [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(f"{where}: invalid JSON: {err}", path) from err
        missing = [k for k in ("jid", "formula", "poscar") if k not in row]
        if missing:
            raise DatasetFormatError(f"{where}: missing field(s) {missing}", path)
        split = row.get("leaderboard_split")
        if split not in _SPLITS:
            raise DatasetFormatError(f"{where}: leaderboard_split {split!r} is not train/val/test/null", path)
        lam = row.get("lambda")
        records.append(
            DatasetRecord(
                id=row["jid"],
                formula=row["formula"],
                lambda_=lam,
                omega_log_K=row.get("omega_log_K"),
                tc_K=row.get("Tc_K"),
                split=_SPLITS[split],
                source="JARVIS-DFT",
                extra={"jid": row["jid"], "label_flags": label_flags(lam)},
            )
        )
        structures[row["jid"]] = _poscar_atoms(row["poscar"], where)
    if not records:
        raise DatasetFormatError("no records in the file", path)
    return records, structures


def import_jarvis(path: Path | str, out: Path | str, *, overwrite: bool = False) -> Dataset:
    """Write the JARVIS JSONL file as a dataset directory at `out`; returns the dataset read back."""
    records, structures = read_jarvis(path)
    # moment-only labels from another database: the manifest names that source as the dataset's only one
    query = {"file": Path(path).name, "label_sources": {f"{SOURCE} (moments only, no α²F)": len(records)}}
    return write_dataset(out, records, structures, source=SOURCE, query=query, overwrite=overwrite)
