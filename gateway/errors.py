"""One error tree for the whole gateway.

Every failure a caller can see is a ``GatewayError`` with a stable ``code`` and an HTTP
``status``; modules translate foreign exceptions into these at their boundary (``raise ... from
exc``, so the cause stays in the server log). Messages must never contain ticket text: they name
fields, files and limits, not content.

    GatewayError
    ├── RequestError                the request cannot be served as sent (4xx)
    │   ├── InvalidRequestError         422 invalid_request
    │   │   ├── TextEmptyError          422 text_empty
    │   │   └── LabelsInvalidError      422 labels_invalid
    │   ├── InvalidJsonError            400 invalid_json
    │   ├── RubricInvalidError          400 rubric_invalid  (a file: file:line; or a draft)
    │   ├── UnauthorizedError           401 unauthorized
    │   │   └── SignatureInvalidError   401 signature_invalid  (a helpdesk webhook's signature)
    │   ├── ForbiddenError              403 forbidden
    │   ├── NotFoundError               404 not_found
    │   │   ├── RubricNotFoundError     404 rubric_not_found
    │   │   ├── ItemNotFoundError       404 item_not_found  (a review item, a request id)
    │   │   └── ConnectionNotFoundError 404 connection_not_found  (a helpdesk connection)
    │   ├── MethodNotAllowedError       405 method_not_allowed
    │   ├── ConflictError               409 conflict
    │   │   ├── LeaseHeldError          409 lease_held  (another reviewer holds the item)
    │   │   └── LabelUnknownError       409 label_unknown  (not in the rubric as it is now)
    │   ├── TooLargeError               413
    │   │   ├── TextTooLongError        413 text_too_long
    │   │   ├── BatchTooLargeError      413 batch_too_large
    │   │   ├── RequestTooLargeError    413 request_too_large
    │   │   └── ContextTooLongError     413 context_too_long  (prompt + ticket > the model's window)
    │   └── RateLimitedError            429 rate_limited  (+ Retry-After)
    ├── ServiceError                the gateway or what it depends on cannot answer now (5xx)
    │   ├── InternalError               500 internal_error  (a bug)
    │   │   └── IncompleteResultsError  500 internal_error  (a result slot was never filled)
    │   ├── ProviderError               502 provider_error
    │   ├── NotReadyError               503 not_ready
    │   ├── ProviderUnavailableError    503 provider_unavailable
    │   ├── StoreUnavailableError       503 store_unavailable  (the labelled-data store)
    │   ├── SharedStateUnavailableError 503 shared_state_unavailable  (Redis; answered locally)
    │   ├── HelpdeskUnavailableError    503 helpdesk_unavailable  (429/5xx after retries: retried)
    │   ├── HelpdeskRejectedError       502 helpdesk_rejected  (a 4xx from its API: not retried)
    │   └── RequestTimeoutError         504 timeout
    └── SetupError                  the deployment's settings or files are unusable
        ├── ConfigError                 config_invalid  (settings, keys file, prompt)
        ├── ModelFileError              model_file_invalid  (an embedded model's files)
        ├── NotEnoughLabelsError        not_enough_labels  (rubric train: labels named)
        ├── PromotionRefusedError       promotion_refused  (rubric promote: the numbers)
        ├── evals.SuiteError            suite_invalid  (an eval suite file)
        └── evals.DataMissingError      suite_data_missing  (a suite's dataset is absent)

A ``SetupError`` stops start-up (``/healthz`` says ``failed`` with it) or a CLI command (exit 2);
it reaches an HTTP caller only as the reason of a 503 ``not_ready``.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway reports."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- 4xx


class RequestError(GatewayError):
    """The caller's request cannot be served as sent; sending it again will not help."""

    status = 400
    code = "invalid_request"


class InvalidRequestError(RequestError):
    status = 422
    code = "invalid_request"


class TextEmptyError(InvalidRequestError):
    code = "text_empty"


class LabelsInvalidError(InvalidRequestError):
    code = "labels_invalid"


class InvalidJsonError(RequestError):
    status = 400
    code = "invalid_json"


class RubricInvalidError(RequestError):
    """A rubric that fails to parse or validate; ``problems`` are ``file:line: field: msg``."""

    status = 400
    code = "rubric_invalid"

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class UnauthorizedError(RequestError):
    status = 401
    code = "unauthorized"


class SignatureInvalidError(UnauthorizedError):
    """A helpdesk webhook whose signature (or secret) does not verify, or is too old."""

    code = "signature_invalid"


class ForbiddenError(RequestError):
    status = 403
    code = "forbidden"


class NotFoundError(RequestError):
    status = 404
    code = "not_found"


class RubricNotFoundError(NotFoundError):
    code = "rubric_not_found"


class ItemNotFoundError(NotFoundError):
    code = "item_not_found"


class ConnectionNotFoundError(NotFoundError):
    code = "connection_not_found"


class MethodNotAllowedError(RequestError):
    status = 405
    code = "method_not_allowed"


class ConflictError(RequestError):
    status = 409
    code = "conflict"


class LeaseHeldError(ConflictError):
    code = "lease_held"


class LabelUnknownError(ConflictError):
    """A label the rubric no longer has (edited since the ticket was classified)."""

    code = "label_unknown"


class TooLargeError(RequestError):
    status = 413
    code = "request_too_large"


class TextTooLongError(TooLargeError):
    code = "text_too_long"


class BatchTooLargeError(TooLargeError):
    code = "batch_too_large"


class RequestTooLargeError(TooLargeError):
    code = "request_too_large"


class ContextTooLongError(TooLargeError):
    """The prompt and the ticket exceed the context window of the configured model (the
    provider said so). The caller's input: a shorter text, or a model with a larger window.
    Not retried, no fallback to another model, and no local answer in its place."""

    code = "context_too_long"


class RateLimitedError(RequestError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


# --------------------------------------------------------------------------- 5xx


class ServiceError(GatewayError):
    """The gateway, or a service it depends on, cannot answer now."""

    status = 503
    code = "unavailable"


class InternalError(ServiceError):
    """A bug: reported without detail to the caller, with its type in the log."""

    status = 500
    code = "internal_error"


class IncompleteResultsError(InternalError):
    """A list of result slots came back with a slot never filled (``gateway.slots``)."""


class ProviderError(ServiceError):
    """A model provider failed in a way retrying will not fix (bad request, auth)."""

    status = 502
    code = "provider_error"


class NotReadyError(ServiceError):
    status = 503
    code = "not_ready"


class ProviderUnavailableError(ServiceError):
    """Every provider attempt (retries and fallbacks) failed on transient faults."""

    status = 503
    code = "provider_unavailable"


class StoreUnavailableError(ServiceError):
    """The labelled-data store (SQLite file or PostgreSQL server) cannot be reached."""

    status = 503
    code = "store_unavailable"


class SharedStateUnavailableError(ServiceError):
    """Redis (the replicas' shared cache, flight locks and rate limits) did not answer, or
    refused a command. Raised at the ``gateway.shared`` boundary and caught by its callers,
    which answer from this process' own cache and limits: it never reaches an HTTP caller.
    ``link_down``: the server is unreachable (connection, timeout), not one command refused."""

    status = 503
    code = "shared_state_unavailable"

    def __init__(self, message: str, *, link_down: bool = True) -> None:
        super().__init__(message)
        self.link_down = link_down


class HelpdeskUnavailableError(ServiceError):
    """A helpdesk (or Slack) API still answered 429/5xx, or not at all, after its retries."""

    status = 503
    code = "helpdesk_unavailable"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class HelpdeskRejectedError(ServiceError):
    """A helpdesk (or Slack) API refused the call (a 4xx other than 429): retrying won't help."""

    status = 502
    code = "helpdesk_rejected"


class RequestTimeoutError(ServiceError):
    status = 504
    code = "timeout"


# --------------------------------------------------------------------------- set-up


class SetupError(GatewayError):
    """The deployment's settings or files are unusable: fix them and restart."""

    status = 500
    code = "setup_invalid"


class ConfigError(SetupError):
    code = "config_invalid"


class ModelFileError(SetupError):
    """An embedded-model file is missing or does not match its pinned hash."""

    status = 503
    code = "model_file_invalid"


class NotEnoughLabelsError(SetupError):
    """``rubric train``: some labels have too few examples; the message names them."""

    code = "not_enough_labels"


class PromotionRefusedError(SetupError):
    """``rubric promote``: the evidence does not say the head is better; the message says why."""

    code = "promotion_refused"
