"""The service's errors, each a Problem that knows its HTTP status, and how they quote input.

Every error a request can meet derives from simple_flask_blueprint's Problem
(status, detail, headers), which one handler answers as problem+json. The
messages name the broken rule and quote the input that broke it through
shown(), so that a huge input makes a short message. No web framework here.
"""

from simple_flask_blueprint.core.problems import Problem

# Seconds a client is asked to wait before trying a store again.
STORE_RETRY_SECONDS = 1


def shown(text: str, limit: int = 40) -> str:
    """Quote `text` for an error message, cut to `limit` characters so the message stays short."""
    if len(text) > limit:
        return repr(text[:limit]) + f" (cut, {len(text)} characters in all)"
    return repr(text)


class StatusError(Problem, ValueError):
    """A status request broke one of the service's rules; the detail says which (400)."""

    status = 400


class SequenceConflict(Problem):
    """A key already bound to one list was used with another (409)."""

    status = 409

    def __init__(self, key: str, bound: str, asked: str):
        super().__init__(
            f"sequence key {key!r} is bound to the list {bound}; "
            f"this request asks for {asked}. Use another key, or DELETE "
            f"/status/sequences/{key} first"
        )
        self.key = key
        self.bound = bound
        self.asked = asked


class StoreUnavailable(Problem):
    """The sequence store cannot be reached: 503, never an answer guessed without it."""

    status = 503

    def __init__(self, detail: str, retry_after: int = STORE_RETRY_SECONDS):
        super().__init__(detail, [("Retry-After", str(retry_after))])
        self.retry_after = retry_after


class SlotsFull(Problem):
    """Every sleep slot is taken (503); `retry_after` is the whole seconds until one frees."""

    status = 503

    def __init__(self, slots: int, retry_after: int):
        super().__init__(
            f"all {slots} sleep slots are taken; retry in {retry_after} s, or without sleep",
            [("Retry-After", str(retry_after))],
        )
        self.slots = slots
        self.retry_after = retry_after
