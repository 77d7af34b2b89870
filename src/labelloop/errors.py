"""The one exception tree of labelloop.

Every error a user can cause or meet is a :class:`LabelloopError` carrying a
human message, a machine-readable ``code`` and structured ``details``. The faces
map the branches once: :data:`HTTP_STATUS` for the API (problem+json) and
:data:`EXIT_CODES` for the command line.

    LabelloopError                 root; never raised directly
    ├── NotFoundError              a named thing does not exist          404 / exit 1
    ├── ConflictError              state forbids the change              409 / exit 1
    ├── InvalidInputError          a request or argument is malformed    422 / exit 1
    ├── PermissionDeniedError      authenticated, but not allowed        403 / exit 1
    │   └── AuthenticationError    no or bad credentials                 401 / exit 1
    ├── ConfigError                labelloop.yaml or settings are wrong  422 / exit 1
    ├── MissingDependencyError     an optional extra is not installed    500 / exit 1
    ├── StorageError               the database or blob store failed     503 / exit 1
    └── StageExecutionError        a pipeline stage raised               500 / exit 1

Bad *rows* are not exceptions: they are quarantined with a reason code (see
``labelloop.domain.reasons``) and the run goes on.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_CODES",
    "HTTP_STATUS",
    "AuthenticationError",
    "ConfigError",
    "ConflictError",
    "InvalidInputError",
    "LabelloopError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "StageExecutionError",
    "StorageError",
    "lookup",
]


class LabelloopError(Exception):
    """Root of every labelloop error: a message, a stable code, details."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message


class NotFoundError(LabelloopError):
    """A project, source, record or other named thing does not exist."""

    code = "not_found"


class ConflictError(LabelloopError):
    """The current state forbids the change (e.g. deciding twice on a row)."""

    code = "conflict"


class InvalidInputError(LabelloopError):
    """A request, argument or body is malformed; the message says what to fix."""

    code = "invalid_input"


class PermissionDeniedError(LabelloopError):
    """The caller is known but its role does not allow the action."""

    code = "permission_denied"


class AuthenticationError(PermissionDeniedError):
    """No credentials, or credentials that match no user."""

    code = "unauthenticated"


class ConfigError(LabelloopError):
    """``labelloop.yaml`` or the settings are invalid; names the file and key."""

    code = "config_error"


class MissingDependencyError(LabelloopError):
    """An optional part was asked for but its extra is not installed."""

    code = "missing_dependency"

    @classmethod
    def for_extra(cls, what: str, extra: str) -> MissingDependencyError:
        """Build the error with the exact ``pip install`` hint for ``extra``."""
        return cls(
            f"{what} needs the '{extra}' extra: pip install 'labelloop[{extra}]'",
            extra=extra,
        )


class StorageError(LabelloopError):
    """The database or blob store could not be reached or refused the operation."""

    code = "storage_error"


class StageExecutionError(LabelloopError):
    """A pipeline stage raised; wraps the original with the stage's name."""

    code = "stage_failed"


#: HTTP status for each branch; the most specific class wins.
HTTP_STATUS: dict[type[LabelloopError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    ConfigError: 422,
    MissingDependencyError: 500,
    StorageError: 503,
    StageExecutionError: 500,
    LabelloopError: 500,
}

#: CLI exit code for each branch (2 is reserved for usage errors by the parser).
EXIT_CODES: dict[type[LabelloopError], int] = {LabelloopError: 1}


def lookup(table: dict[type[LabelloopError], int], error: LabelloopError) -> int:
    """Return the entry of ``table`` for the most specific class of ``error``."""
    for klass in type(error).__mro__:
        if klass in table:
            return table[klass]
    return table[LabelloopError]
