"""Confirmation tokens: an agent marks time billed only after it has seen the dry run.

A dry run of ``mark_billed`` hands out a token bound to its selection and to the entries the
warehouse selected; the apply must bring it back with the same selection, once, within
:data:`TOKEN_TTL`. The tokens live in the server process only: a restarted server forgets
them, and a dry run is simply asked for again.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

TOKEN_TTL = timedelta(minutes=15)


class ConfirmationRefused(ValueError):
    """A token that is unknown, used, expired, or for another selection."""


@dataclass(frozen=True)
class _Issued:
    selection: tuple[Any, ...]
    entry_ids: tuple[int, ...]
    expires: datetime


class Confirmations:
    """The tokens handed out by dry runs and not yet used."""

    def __init__(self) -> None:
        self._issued: dict[str, _Issued] = {}
        self._lock = threading.Lock()

    def issue(self, selection: tuple[Any, ...], entry_ids: Sequence[int]) -> str:
        token = secrets.token_urlsafe(18)
        now = datetime.now(UTC)
        with self._lock:
            self._issued = {key: issued for key, issued in self._issued.items()
                            if issued.expires > now}
            self._issued[token] = _Issued(selection, tuple(entry_ids), now + TOKEN_TTL)
        return token

    def redeem(self, token: str, selection: tuple[Any, ...]) -> tuple[int, ...]:
        """The entry ids the dry run selected; the token is used up, whatever comes next."""
        with self._lock:
            issued = self._issued.pop(token, None)
        if issued is None or issued.expires <= datetime.now(UTC):
            raise ConfirmationRefused(
                "confirm_token is unknown, used or expired: call mark_billed without it for a "
                "fresh dry run and token")
        if issued.selection != selection:
            raise ConfirmationRefused(
                "confirm_token belongs to another selection: call mark_billed with the same "
                "customer, project and period as the dry run that gave it")
        return issued.entry_ids
