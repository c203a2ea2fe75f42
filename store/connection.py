"""Where the configured store is and whether it can be used, decided in a second with nothing heavier
than pymongo imported (the documents' pymatgen/emmet/jobflow imports take seconds of their own).

A server gets `SERVER_TIMEOUT_MS` to answer and a ping; the embedded store's folder must be creatable.
Anything else is a `StoreUnavailableError`: one line naming the store, what happened and what to check.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from pymongo import MongoClient
from pymongo.errors import ConfigurationError, ConnectionFailure, PyMongoError

from betenet.settings import BetenetSettings

# A server that does not answer within this fails the command: long enough for a loaded server or a slow
# network's first connection, short enough that a wrong URI is reported in seconds rather than pymongo's 30 s.
SERVER_TIMEOUT_MS = 3000
MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
CLIENT_TIMEOUTS = {"serverSelectionTimeoutMS": SERVER_TIMEOUT_MS, "connectTimeoutMS": SERVER_TIMEOUT_MS}


class StoreUnavailableError(Exception):
    """The configured store cannot be reached, opened or written; the message names it and what to check."""


def redacted_uri(uri: str) -> str:
    """The URI without its user:password (for messages)."""
    url = urlparse(uri)
    if "@" not in url.netloc:
        return uri
    return url._replace(netloc=url.netloc.rsplit("@", 1)[1]).geturl()


def embedded_store_path(settings: BetenetSettings) -> Path:
    return (Path(settings.home) / "store").resolve()


def database_name(settings: BetenetSettings) -> str:
    """The URI's path names the database when it has one (mongodb://host/db), else settings.database."""
    path = urlparse(settings.store_uri or "").path.strip("/")
    return path or settings.database


def _first_line(err: BaseException) -> str:
    """pymongo's message without the topology dump it appends ('…, Timeout: 3.0s, Topology Description: …')."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return re.split(r" \(configured timeouts|, Timeout: ", text)[0]


def server_error(uri: str, database: str, err: PyMongoError, doing: str) -> StoreUnavailableError:
    """One line for a failed server operation: which server, what happened, what to check."""
    uri = redacted_uri(uri)
    if isinstance(err, ConfigurationError):
        return StoreUnavailableError(f"{uri} is not a usable MongoDB URI ({_first_line(err)}): give --store / "
                                     "BETENET_STORE_URI as mongodb://host:port/database")
    where = f"the MongoDB server {uri} (database {database})"
    if isinstance(err, ConnectionFailure):
        return StoreUnavailableError(f"cannot reach {where} while {doing} (within {SERVER_TIMEOUT_MS / 1000:g} s: "
                                     f"{_first_line(err)}): check that the server runs and that --store / "
                                     "BETENET_STORE_URI names its host and port")
    return StoreUnavailableError(f"{where} refused {doing}: {_first_line(err)}; check the user, password and "
                                 "database in --store / BETENET_STORE_URI")


def check_uri(uri: str) -> None:
    if not uri.startswith(MONGO_SCHEMES):  # pymongo would take 'localhost:27017/x' as a host name
        raise StoreUnavailableError(f"{redacted_uri(uri)} is not a usable MongoDB URI (no mongodb:// scheme): give "
                                    "--store / BETENET_STORE_URI as mongodb://host:port/database")


def ping_server(client: MongoClient, uri: str, database: str) -> None:
    try:
        client.admin.command("ping")
    except PyMongoError as err:
        raise server_error(uri, database, err, "connecting") from err


def create_embedded_folder(settings: BetenetSettings) -> Path:
    path = embedded_store_path(settings)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreUnavailableError(f"cannot create the embedded store at {path} ({err.strerror}): give --home / "
                                    "BETENET_HOME a folder you can write, or --store a MongoDB server") from err
    return path


def check_store(settings: BetenetSettings) -> None:
    """Can the configured store be used? StoreUnavailableError (one line) when not."""
    if not settings.store_uri:
        create_embedded_folder(settings)
        return
    check_uri(settings.store_uri)
    try:
        client = MongoClient(settings.store_uri, **CLIENT_TIMEOUTS)
    except PyMongoError as err:
        raise server_error(settings.store_uri, database_name(settings), err, "connecting") from err
    try:
        ping_server(client, settings.store_uri, database_name(settings))
    finally:
        client.close()
