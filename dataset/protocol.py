"""One dataset, one protocol: the requested preset, the pseudopotential family and the QE version.

A model trained on labels of two protocols learns their difference as if it were physics (a 2³ test
q-grid against a production grid, an LDA Al against a PBE Al), so `build_dataset` refuses documents of
different protocols unless told to mix them, and the manifest records what went in either way.

What the documents say about their protocol: `parameters.preset` (what the user asked for: the remedy
ladder's per-material changes — a denser k-grid, a higher ecutrho — are within it and do not count),
`parameters.qe_version`, and `parameters.pseudos` (file name and md5 per element). Documents do not name
their pseudopotential family, so the family is checked through the files: one element given by two
different files (md5) is two families. Two families that share no element of the dataset cannot be told
apart this way; their presets or QE versions usually differ, and those are checked too.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from betenet.store.documents import ElectronPhononDoc

NAMED_PER_GROUP = 5  # offending documents named per protocol value in the error


class MixedProtocolError(ValueError):
    """The documents of a dataset come from more than one protocol (the message names them)."""


def _aspects(doc: ElectronPhononDoc) -> dict[str, str]:
    """aspect → value for one document: 'preset', 'QE version', '<El> pseudopotential' per element."""
    params = doc.parameters
    aspects = {"preset": params.preset, "QE version": params.qe_version or "unknown"}
    for pseudo in params.pseudos:
        aspects[f"{pseudo.element} pseudopotential"] = f"{pseudo.filename} (md5 {pseudo.md5})"
    return aspects


def _values(docs: list[ElectronPhononDoc]) -> dict[str, dict[str, list[str]]]:
    """aspect → value → calc_ids having it."""
    table: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for doc in docs:
        for aspect, value in _aspects(doc).items():
            table[aspect][value].append(doc.calc_id)
    return table


def protocol_summary(docs: list[ElectronPhononDoc]) -> dict:
    """What the manifest keeps: every preset, QE version and pseudopotential file with its document count,
    whether they mix, and the label sources (α²F from betenet documents, by route)."""
    table = _values(docs)
    counts = {aspect: {value: len(ids) for value, ids in sorted(values.items())} for aspect, values in table.items()}
    return {
        "mixed": any(len(values) > 1 for values in table.values()),
        "presets": counts["preset"],
        "qe_versions": counts["QE version"],
        "pseudopotentials": {aspect.split()[0]: values for aspect, values in sorted(counts.items())
                             if aspect.endswith("pseudopotential")},
        "label_sources": label_sources(docs),
    }


def label_sources(docs: list[ElectronPhononDoc]) -> dict[str, int]:
    return dict(Counter(f"betenet {doc.method} documents (α²F and its moments)" for doc in docs))


def check_single_protocol(docs: list[ElectronPhononDoc]) -> None:
    """MixedProtocolError naming, for every aspect that differs, the documents outside its commonest value."""
    conflicts, table = [], _values(docs)
    for aspect, values in sorted(table.items()):
        if len(values) < 2:
            continue
        ranked = sorted(values.items(), key=lambda item: (-len(item[1]), item[0]))
        (common, common_ids), others = ranked[0], ranked[1:]
        parts = []
        for value, ids in others:
            named = ", ".join(sorted(ids)[:NAMED_PER_GROUP]) + (f" and {len(ids) - NAMED_PER_GROUP} more"
                                                                if len(ids) > NAMED_PER_GROUP else "")
            parts.append(f"{value} in {len(ids)} ({named})")
        conflicts.append(f"{aspect} {common} in {len(common_ids)} document(s) but " + "; ".join(parts))
    if conflicts:
        commonest_preset = max(table["preset"].items(), key=lambda item: len(item[1]))[0]
        raise MixedProtocolError(
            "the matching documents come from different protocols: " + " | ".join(conflicts)
            + f" — narrow the query (e.g. --where '{{\"parameters.preset\": \"{commonest_preset}\"}}') or mix them "
            "knowingly with --allow-mixed (the manifest then records every protocol)")
