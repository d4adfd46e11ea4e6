"""One exception family for Charter.

Errors are raised deep, where the cause is known, and converted once at the edges:
the CLI prints ``error: <message>`` and exits non-zero; the server returns the
OpenAI error shape ``{"error": {"message", "type", "code"}}`` with ``status``.
Every message says what to do about the problem. Messages never contain secrets.

Errors about Charter's own machinery (a model server, the database) name internals an
operator needs: base URLs, database hosts and paths, variable names. Such classes carry a
``public`` message too, which is what a caller without the admin role is shown, with a
reference under which the full message is logged (``for_viewer``).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any


class CharterError(Exception):
    """Base of every error Charter raises on purpose.

    ``status`` is the HTTP status the server answers with, ``type`` and ``code``
    fill the OpenAI error shape, and ``exit_code`` is what the CLI exits with.
    """

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"
    exit_code: int = 1
    # What a caller who is not an administrator is told instead of ``message``, for
    # errors whose message names internals (None: ``message`` is fit for anyone).
    public: str | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI-style error body, with the full message."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}

    def for_viewer(self, admin: bool) -> dict[str, Any]:
        """The error body for one caller: the full message for an administrator; for
        anyone else, when the message names internals, the public message and a
        reference under which the full one is logged."""
        if admin or self.public is None:
            return self.to_dict()
        reference = secrets.token_hex(4)
        logging.getLogger("charter.errors").warning("reference %s: %s", reference,
                                                    self.message)
        message = (f"{self.public}; an administrator can find the details in the server "
                   f"log under reference {reference}")
        return {"error": {"message": message, "type": self.type, "code": self.code}}


class InvalidInputError(CharterError):
    """The caller sent something Charter cannot use (bad argument, bad request body)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_input"
    exit_code = 2


class ConfigError(InvalidInputError):
    """A setting has a value Charter cannot use."""

    code = "invalid_setting"
    public = "a Charter setting has a value Charter cannot use"


class NotFoundError(CharterError):
    """A named thing (model alias, document, review) does not exist."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"
    exit_code = 2


class UnknownAliasError(NotFoundError):
    """No model alias with that name."""

    code = "model_not_found"


class AuthError(CharterError):
    """Missing, unknown or revoked credentials."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"
    exit_code = 2


class ForbiddenError(CharterError):
    """The principal is known but lacks the role or clearance for this action."""

    status = 403
    type = "invalid_request_error"
    code = "forbidden"
    exit_code = 2


class PayloadTooLargeError(InvalidInputError):
    """A request body over the configured limit."""

    status = 413
    code = "payload_too_large"


class ConversationTooLargeError(InvalidInputError):
    """A chat request over the message or character limit."""

    code = "conversation_too_large"


class ContextOverflowError(InvalidInputError):
    """A conversation longer than the model's context window can read."""

    code = "context_length_exceeded"


class CancelledRequestError(CharterError):
    """The client went away before the answer was ready; generation was stopped."""

    status = 499
    type = "invalid_request_error"
    code = "cancelled"


class RateLimitedError(CharterError):
    """Too many requests for this key in the current minute."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limited"


class ConflictError(CharterError):
    """The request conflicts with what is stored (duplicate name, stale version)."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"
    exit_code = 2


class ModelFileError(InvalidInputError):
    """A model file is missing or is not what it claims to be."""

    code = "invalid_model_file"
    public = "a model file this alias needs is missing or cannot be loaded"


class BackendError(CharterError):
    """A model backend failed after Charter's retries."""

    status = 502
    type = "server_error"
    code = "backend_error"
    public = "the model server behind this alias failed; retry later"


class BackendUnavailableError(BackendError):
    """A model backend could not be reached in time."""

    status = 503
    code = "backend_unavailable"
    public = "the model server behind this alias did not answer in time; retry later"


class BackendAuthError(BackendError):
    """A model backend rejected Charter's credentials."""

    status = 502
    code = "backend_auth_failed"
    public = "the model server behind this alias refused Charter's credentials"


class BackendRateLimitError(BackendError):
    """A model backend kept answering 429 after Charter's retries."""

    status = 429
    type = "rate_limit_error"
    code = "backend_rate_limited"
    public = "the model server behind this alias is rate limiting; retry later"


class QuotaExceededError(CharterError):
    """A principal's quota is used up on every route that could serve the request."""

    status = 429
    type = "rate_limit_error"
    code = "quota_exceeded"


class StorageError(CharterError):
    """The database cannot be used."""

    status = 503
    code = "storage_error"
    public = "the database cannot be used right now; retry the request"


class DatabaseUnavailableError(StorageError):
    """The database URL cannot be reached."""

    code = "database_unavailable"


class SchemaVersionError(StorageError):
    """The database schema is newer than this Charter knows, or not yet migrated."""

    code = "schema_version"


class AuditIntegrityError(StorageError):
    """The audit hash chain does not verify."""

    code = "audit_integrity"
