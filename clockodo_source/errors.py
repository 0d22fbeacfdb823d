"""Exceptions the connector raises, each carrying what a user needs to act on it."""

from __future__ import annotations


class ClockodoError(Exception):
    """Base class: every connector failure the CLI turns into one line on stderr."""


class ConfigurationError(ClockodoError, ValueError):
    """Bad input found before any request is made (option name and a valid example in the text)."""


class ClockodoApiError(ClockodoError):
    """A non-success answer from the Clockodo API, normalised over its three error body shapes."""

    def __init__(
        self, status: int, endpoint: str, message: str, error_type: str | None = None
    ) -> None:
        self.status = status
        self.endpoint = endpoint
        self.message = message
        self.error_type = error_type
        super().__init__(self.describe())

    def describe(self) -> str:
        kind = f" {self.error_type}" if self.error_type else ""
        return f"Clockodo API answered {self.status}{kind} for {self.endpoint}: {self.message}"


class ClockodoNetworkError(ClockodoError):
    """The API could not be reached at all (DNS, refused connection, repeated timeouts)."""


class WriteOutcomeUnknown(ClockodoNetworkError):
    """A call that changes data was sent but no answer came back: it may or may not have been
    applied, so it is never retried blindly; reading the data again tells."""


class BillingError(ClockodoError):
    """A billing write that was refused or failed (and audited): what happened, what to do."""
