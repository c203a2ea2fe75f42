"""Which documents go into a dataset: the filters of `betenet build-dataset` as one Mongo query.

`StoreQuery` turns the usual filters (status, stability, method, elements, size, creation date) plus
free Mongo criteria (`where`) into the criteria dict a maggma Store understands, identically on the
embedded store and on a MongoDB server. Every field named in the criteria is checked against
`ElectronPhononDoc` first: MongoDB silently matches nothing for a misspelt field, which would turn a
typo into an empty (or, with `$ne`, a complete) dataset.
"""

from __future__ import annotations

import types
import typing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from betenet.store.documents import ElectronPhononDoc, Status

STATUSES = typing.get_args(Status)  # every status a document can have, 'unsupported' (magnetic) too
METHODS = ("dfpt", "epw")
# Logical operators whose value is a list of criteria (each checked like a top-level filter).
_LOGICAL = ("$and", "$or", "$nor")


class QueryFieldError(ValueError):
    """A criterion names a field that electron-phonon documents do not have."""


class NoMatchingDocumentsError(LookupError):
    """The query matched no document in the store."""


@dataclass(frozen=True)
class StoreQuery:
    """Filters on electron-phonon documents. `None` / empty means "do not filter on this"."""

    status: str | None = "ok"
    stable_only: bool = True
    method: str | None = None
    elements: tuple[str, ...] = ()
    exclude_elements: tuple[str, ...] = ()
    max_sites: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    where: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"Invalid status={self.status!r}, use one of {STATUSES} (or None for any)")
        if self.method is not None and self.method not in METHODS:
            raise ValueError(f"Invalid method={self.method!r}, use one of {METHODS}")
        if self.max_sites is not None and self.max_sites < 1:
            raise ValueError(f"Invalid max_sites={self.max_sites!r}, must be ≥ 1")
        if not isinstance(self.where, dict):
            raise ValueError(f"`where` must be a dict of Mongo criteria, got {type(self.where).__name__}")
        check_criteria_fields(self.where)

    def criteria(self) -> dict[str, Any]:
        """The Mongo criteria (dates as naive UTC: both MongoDB and montydb store them that way)."""
        crit: dict[str, Any] = {}
        if self.status is not None:
            crit["status"] = self.status
        if self.stable_only:
            crit["stability.stable"] = True
        if self.method is not None:
            crit["method"] = self.method
        elements: dict[str, Any] = {}
        if self.elements:
            elements["$all"] = list(self.elements)
        if self.exclude_elements:
            elements["$nin"] = list(self.exclude_elements)
        if elements:
            crit["elements"] = elements
        if self.max_sites is not None:
            crit["nsites"] = {"$lte": self.max_sites}
        dates = {}
        if self.created_after is not None:
            dates["$gte"] = _naive_utc(self.created_after)
        if self.created_before is not None:
            dates["$lt"] = _naive_utc(self.created_before)
        if dates:
            crit["created_at"] = dates
        if self.where:
            # the user's criteria are ANDed with the filters, never silently replacing one of them
            crit = {"$and": [crit, self.where]} if crit else dict(self.where)
        return crit

    def to_json(self) -> dict[str, Any]:
        """What the dataset manifest records (dates as ISO text)."""
        obj = asdict(self)
        for name in ("created_after", "created_before"):
            if obj[name] is not None:
                obj[name] = obj[name].isoformat()
        obj["elements"], obj["exclude_elements"] = list(self.elements), list(self.exclude_elements)
        return obj


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


# ---------------------------------------------------------------------------------------------------
# Field checking against the document schema
# ---------------------------------------------------------------------------------------------------


def check_criteria_fields(criteria: dict[str, Any], model: type[BaseModel] = ElectronPhononDoc) -> None:
    """Raise QueryFieldError for any field path in `criteria` that `model` documents cannot have."""
    for key, value in criteria.items():
        if key in _LOGICAL:
            if not isinstance(value, list):
                raise QueryFieldError(f"{key} needs a list of criteria, got {type(value).__name__}")
            for sub in value:
                check_criteria_fields(sub, model)
        elif key.startswith("$"):
            raise QueryFieldError(f"top-level operator {key!r} is not supported; use {_LOGICAL} or field criteria")
        elif key != "_id":
            _check_path(key, model)


def _check_path(path: str, model: type[BaseModel]) -> None:
    annotation: Any = model
    walked: list[str] = []
    for part in path.split("."):
        models, opaque, is_list = _unwrap(annotation)
        if opaque:
            return  # a pymatgen dict or a free dict: anything may lie below
        if is_list and part.isdigit():
            annotation = _list_item(annotation)
            walked.append(part)
            continue
        if not models:
            raise QueryFieldError(
                f"field {path!r}: {'.'.join(walked) or 'the document'} has no sub-field {part!r} "
                "(it is a plain value)"
            )
        owner = next((m for m in models if part in m.model_fields), None)
        if owner is None:
            known = sorted({name for m in models for name in m.model_fields})
            where = ".".join(walked) or "ElectronPhononDoc"
            raise QueryFieldError(
                f"unknown field {path!r}: {where} has no field {part!r}; known fields: {', '.join(known)}"
            )
        annotation = owner.model_fields[part].annotation
        walked.append(part)


def _flatten(annotation: Any) -> list[Any]:
    """The concrete types inside Optional / Union / Annotated / list."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _flatten(arg)]
    return [annotation]


def _unwrap(annotation: Any) -> tuple[list[type[BaseModel]], bool, bool]:
    """(pydantic models a sub-field may belong to, opaque?, is a list?) for one annotation."""
    models, opaque, is_list = [], False, False
    for kind in _flatten(annotation):
        origin = typing.get_origin(kind)
        if origin in (list, tuple):
            is_list = True
            for item in typing.get_args(kind):
                sub_models, sub_opaque, _ = _unwrap(item)
                models += sub_models
                opaque |= sub_opaque
        elif origin is dict or kind is dict or isinstance(kind, typing.TypeVar) or kind is Any:
            opaque = True
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            models.append(kind)
    return models, opaque, is_list


def _list_item(annotation: Any) -> Any:
    for kind in _flatten(annotation):
        if typing.get_origin(kind) in (list, tuple):
            args = [a for a in typing.get_args(kind) if a is not Ellipsis]
            return typing.Union[tuple(args)] if len(args) > 1 else args[0]
    return annotation
