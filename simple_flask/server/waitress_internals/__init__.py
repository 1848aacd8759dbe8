"""Every use of waitress internals, in this one package: the graceful drain, waitress's errors,
the bounds a hostile client meets below the app, the status service's faults, and a cheaper
response head.

waitress has no public drain API: its own shutdown waits a fixed 5 s for the
worker threads and then drops whatever they were doing, and the errors it
answers itself (a malformed request, a body over the limit) are plain text
without a request id or CORS headers. Nor does it bound what one connection
makes it hold: every request of a pipelined burst is queued and answered into
memory whether the client reads or not, empty lines before a request line are
read for ever, Content-Length beside Transfer-Encoding is let through, and a
body over the limit is read after a "100 Continue" before it is refused.
All of it is changed here through attributes that waitress 3.0 does not
document (docs/security.md lists the bounds). `check_compatible()` runs at
start-up and fails loudly when one of them is missing, and
tests/simple_flask/server/test_waitress_internals.py drives each of them
against a real server, so a waitress upgrade cannot silently break
them; setup.py keeps waitress below its next major version. The status
service's connection faults (a reset or a close instead of an answer) are
enacted here too, and each answer's status line and headers are written by
a function that does less work for the same bytes than waitress's own
method, used only when a start-up check finds that this waitress writes
the same heads.

One module a concern: `compat` checks that waitress has every internal used
here, `channel` bounds each connection and answers waitress's own errors,
`faults` enacts the status service's connection faults, `head` writes the
response heads, and `drain` runs the server and its graceful shutdown.
"""

from .channel import MAX_BUFFERED_ANSWER, MAX_EMPTY_LINE_BYTES, MAX_QUEUED_REQUESTS
from .compat import SUPPORTED_MAJOR, check_compatible
from .drain import LAST_CALL_SECONDS, DrainReport, GracefulServer, pending_input
from .faults import missing_fault_internals

__all__ = [
    "LAST_CALL_SECONDS",
    "MAX_BUFFERED_ANSWER",
    "MAX_EMPTY_LINE_BYTES",
    "MAX_QUEUED_REQUESTS",
    "SUPPORTED_MAJOR",
    "DrainReport",
    "GracefulServer",
    "check_compatible",
    "missing_fault_internals",
    "pending_input",
]
