"""Every use of waitress internals, in this one package: the graceful drain, waitress's errors,
the bounds a hostile client meets below the app, the status service's faults, and a cheaper
response head.

waitress has no public drain API: its own shutdown waits a fixed 5 s for the
worker threads and then drops whatever they were doing, and the errors it
answers itself (a malformed request, a body over the limit) are plain text
without a request id or CORS headers. Nor does it bound what one connection
makes it hold: every request of a pipelined burst is queued and answered into
memory whether the client reads or not, empty lines before a request line are
read for ever, and a body over the limit is read after a "100 Continue" before
it is refused. All of it is changed here through parts of waitress that it
does not document (docs/security.md lists the bounds).

Nothing here is trusted by name: at start-up, before the port is taken,
proofs.py runs each guard, the faults and the drain through a real waitress
server on a loopback port and checks what a client sees. A guard the security
notes promise that does not hold stops the start with one line naming it; the
faults and the cheaper heads are switched off, with a warning, where they do
not hold. The tests drive the same parts against a real server on every
waitress of the test matrix.

One module a concern: `parser` refuses ambiguous framing, `channel` bounds each
connection, `errors` answers waitress's own errors, `faults` enacts the status
service's connection faults, `head` writes the response heads, `probe` and
`proofs` prove all of it at start-up, and `drain` runs the server and its
graceful shutdown.
"""

from .channel import MAX_BUFFERED_ANSWER, MAX_EMPTY_LINE_BYTES, MAX_QUEUED_REQUESTS
from .drain import LAST_CALL_SECONDS, DrainReport, GracefulServer, pending_input

__all__ = [
    "LAST_CALL_SECONDS",
    "MAX_BUFFERED_ANSWER",
    "MAX_EMPTY_LINE_BYTES",
    "MAX_QUEUED_REQUESTS",
    "DrainReport",
    "GracefulServer",
    "pending_input",
]
