"""One error tree for the whole gateway.

Every failure a caller can see is a ``GatewayError`` with a stable ``code`` and an HTTP
``status``; modules translate foreign exceptions into these at their boundary. Messages must
never contain ticket text: they name fields, files and limits, not content.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway reports."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(GatewayError):
    status = 422
    code = "invalid_request"


class TextEmptyError(InvalidRequestError):
    code = "text_empty"


class TextTooLongError(GatewayError):
    status = 413
    code = "text_too_long"


class BatchTooLargeError(GatewayError):
    status = 413
    code = "batch_too_large"


class LabelsInvalidError(InvalidRequestError):
    code = "labels_invalid"


class RubricNotFoundError(GatewayError):
    status = 404
    code = "rubric_not_found"


class RubricInvalidError(GatewayError):
    """A rubric file or inline rubric that fails to parse or validate."""

    status = 400
    code = "rubric_invalid"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class UnauthorizedError(GatewayError):
    status = 401
    code = "unauthorized"


class ForbiddenError(GatewayError):
    status = 403
    code = "forbidden"


class RateLimitedError(GatewayError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RequestTimeoutError(GatewayError):
    status = 504
    code = "timeout"


class ConfigError(GatewayError):
    """The deployment's configuration is unusable (reported at start-up)."""

    status = 500
    code = "config_invalid"


class NotReadyError(GatewayError):
    status = 503
    code = "not_ready"


class ModelFileError(GatewayError):
    """An embedded-model file is missing or does not match its pinned hash."""

    status = 503
    code = "model_file_invalid"


class ProviderError(GatewayError):
    """A model provider failed in a way retrying will not fix (bad request, auth)."""

    status = 502
    code = "provider_error"


class ProviderUnavailableError(GatewayError):
    """Every provider attempt (retries and fallbacks) failed on transient faults."""

    status = 503
    code = "provider_unavailable"
