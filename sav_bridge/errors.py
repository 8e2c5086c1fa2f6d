"""The one exception tree of sav-bridge.

    SavBridgeError
    ├── ConfigError            bad or missing configuration key (start-up stops)
    ├── PolicyError            a policy document that does not validate (file, line, key)
    ├── UnknownHelpdesk        no plugin registered under that name
    ├── BadJob                 a job whose own payload cannot be read (dead-lettered at once)
    ├── Unavailable            a dependency (the database) cannot be reached (start-up stops)
    ├── SchemaMismatch         the database's schema is newer than this release knows (start-up stops)
    ├── WebhookRejected        an inbound request we refuse; carries its HTTP status
    │   ├── Unauthorized       missing/forged signature, stale timestamp (401)
    │   ├── PayloadTooLarge    body over the limit (413)
    │   ├── UnsupportedMediaType  a content type the sender's contract does not use (415)
    │   └── MalformedRequest   not what the sender's contract says (400)
    └── DeliveryError          a call to the outside world failed
        ├── RetryableError     try again later (429, 5xx, timeouts); may say when
        │   └── Paused         the destination waits for a person (X access refused): no attempt used up
        └── PermanentError     retrying cannot help (4xx, refused by policy of the vendor)

Foreign errors (httpx, vendor status codes) are translated in `sav_bridge.http`, the one place that
decides what is retryable.
"""

from __future__ import annotations


class SavBridgeError(Exception):
    """Base of every error sav-bridge raises on purpose."""


class ConfigError(SavBridgeError):
    """A configuration key is missing or wrong; the message names the key, never its value."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config: {key}: {problem}")


class PolicyError(SavBridgeError):
    """A posting-policy document is invalid; the message points at the file, line and key."""

    def __init__(self, source: str, line: int | None, key: str, problem: str) -> None:
        self.source = source
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")


class UnknownHelpdesk(SavBridgeError):
    """No plugin is registered in the `sav_bridge.helpdesks` entry-point group under this name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"unknown helpdesk {name!r}; installed: {', '.join(sorted(known)) or 'none'}")


class Unavailable(SavBridgeError):
    """Something the gateway depends on cannot be reached or opened; the message names where, not secrets.

    Distinct from `ConfigError` so that the command line can say "try again later" (exit code 3)
    rather than "fix the configuration" (exit code 2).
    """

    def __init__(self, dependency: str, detail: str) -> None:
        self.dependency = dependency
        self.detail = detail
        super().__init__(f"{dependency}: {detail}")


class SchemaMismatch(SavBridgeError):
    """The database's schema is at a revision this release does not know (a newer release upgraded it and
    the image was rolled back): running on it could lose data, so start-up stops and nothing is changed."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"database: {detail}")


class WebhookRejected(SavBridgeError):
    """An inbound request is refused before anything is stored."""

    status_code = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Unauthorized(WebhookRejected):
    """The request is not provably from the vendor: signature missing or wrong, timestamp stale."""

    status_code = 401


class PayloadTooLarge(WebhookRejected):
    """The body is over the configured limit."""

    status_code = 413


class UnsupportedMediaType(WebhookRejected):
    """The body is declared as something other than what the sender's contract says (not JSON)."""

    status_code = 415


class MalformedRequest(WebhookRejected):
    """The request is authentic but does not follow the vendor's contract."""

    status_code = 400


class BadJob(SavBridgeError):
    """A job's own payload cannot be read (a missing key, a wrong type): every attempt would fail the
    same way, so the outbox sends it to the dead letters at once instead of retrying it."""


class DeliveryError(SavBridgeError):
    """A call to X or a helpdesk failed."""

    def __init__(self, destination: str, detail: str, status: int | None = None) -> None:
        self.destination = destination
        self.detail = detail
        self.status = status
        super().__init__(f"{destination}: {detail}")


class RetryableError(DeliveryError):
    """Worth trying again; `retry_after` (seconds) is the vendor's own hint when it gave one."""

    def __init__(
        self, destination: str, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(destination, detail, status)
        self.retry_after = retry_after


class Paused(RetryableError):
    """The destination is paused until a person acts (X refused the gateway's access): the job waits,
    rescheduled after `retry_after`, without using up its attempts, and never goes to the dead letters.
    `since` names the pause (when it began), so that whoever tells people about it does so once."""

    def __init__(
        self,
        destination: str,
        detail: str,
        status: int | None = None,
        retry_after: float | None = None,
        since: float = 0.0,
    ) -> None:
        super().__init__(destination, detail, status, retry_after)
        self.since = since


class PermanentError(DeliveryError):
    """Retrying the same call cannot succeed; a person has to act."""
