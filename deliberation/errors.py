"""Domain errors: what a service refuses, with a message a person can act on.

The API turns them into JSON 4xx responses and the web UI shows them inline; the HTTP
status lives here so both speak the same language.
"""


class AgoraError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(AgoraError):
    status_code = 400
    code = "invalid"


class NotFound(AgoraError):
    status_code = 404
    code = "not_found"


class PermissionDenied(AgoraError):
    status_code = 403
    code = "forbidden"


class ConversationClosed(AgoraError):
    status_code = 403
    code = "conversation_closed"


class RateLimited(AgoraError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Conflict(AgoraError):
    status_code = 409
    code = "conflict"


class DuplicateStatement(Conflict):
    code = "duplicate_statement"

    def __init__(self, message: str, *, existing_id: int) -> None:
        super().__init__(message, field="text")
        self.existing_id = existing_id


class NearDuplicateStatement(DuplicateStatement):
    """Not the same text, but the same claim: the author may confirm theirs is different."""

    code = "near_duplicate_statement"
