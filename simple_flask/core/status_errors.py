"""The status service's one error, StatusError, and how its messages quote bad input."""


class StatusError(ValueError):
    """A status request broke one of the service's rules; the message says which."""


def shown(text: str, limit: int = 40) -> str:
    """Quote `text` for an error message, cut short so a huge input makes a short message."""
    if len(text) > limit:
        return repr(text[:limit]) + f" (cut, {len(text)} characters in all)"
    return repr(text)
