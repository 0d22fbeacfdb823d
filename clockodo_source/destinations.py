"""Turning a `--destination` name into a dlt destination, with the fixes users expect.

dlt 1.31 rejects a PostgreSQL DSN without a password ("missing password"), although trust and
peer authentication need none; such a DSN is given an empty password here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination import Destination
from dlt.destinations.impl.postgres.configuration import PostgresCredentials


def _postgres_credentials() -> PostgresCredentials | None:
    """Configured PostgreSQL credentials lacking only a password, completed; else None."""
    try:
        configured: Any = dlt.secrets.get("destination.postgres.credentials")
    except ConfigFieldMissingException:
        return None
    if isinstance(configured, str):
        credentials = PostgresCredentials(configured)
    elif isinstance(configured, Mapping):
        credentials = PostgresCredentials()
        credentials.update(dict(configured))
    else:
        return None
    if credentials.password:
        return None
    credentials.password = ""
    return credentials


def resolve(name: str) -> Destination[Any, Any] | str:
    """The destination to hand to `dlt.pipeline` for a `--destination` name."""
    if name == "postgres":
        credentials = _postgres_credentials()
        if credentials is not None:
            return dlt.destinations.postgres(credentials=credentials)
    return name
