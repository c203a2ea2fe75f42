"""atomate2-style powerups: change settings across a whole electron-phonon Flow after `make()`.

jobflow's `Flow.update_maker_kwargs` reaches the Jobs that exist; the el-ph branch is created later
by the stability gate (and the q-split) from the `ElectronPhononMaker` they carry, so the same update
is recorded there too (`maker_updates`) and applied when those Jobs are made.
"""

from __future__ import annotations

import dataclasses

from jobflow import Flow, Maker

from betenet.workflows.flows import ElectronPhononMaker


def update_qe_makers(flow: Flow, maker_class: type[Maker], **updates) -> Flow:
    """Set `updates` on every `maker_class` Maker of `flow` (now and in its dynamic parts); in place.

    Example: `update_qe_makers(flow, PhMaker, max_errors=10, walltime_s=3500)`.
    """
    known = {f.name for f in dataclasses.fields(maker_class)}
    unknown = set(updates) - known
    if unknown:
        raise ValueError(f"{maker_class.__name__} has no field(s) {sorted(unknown)}; fields: {sorted(known)}")
    flow.update_maker_kwargs({"_set": updates}, class_filter=maker_class, dict_mod=True)
    for job in _jobs(flow):
        job.function_args = tuple(_record(arg, maker_class, updates) for arg in job.function_args)
    return flow


def _jobs(flow: Flow):
    for item in flow.jobs:
        if isinstance(item, Flow):
            yield from _jobs(item)
        else:
            yield item


def _record(arg, maker_class: type[Maker], updates: dict):
    if not isinstance(arg, ElectronPhononMaker):
        return arg
    merged = {**arg.maker_updates, maker_class.__name__: {**arg.maker_updates.get(maker_class.__name__, {}), **updates}}
    return dataclasses.replace(arg, maker_updates=merged)
