"""Accepting connections in batches, so that a crowd arriving at once is taken in quickly.

waitress accepts one connection each time its loop finds the listening
socket readable, and each turn of the loop looks at every open connection:
a thousand clients connecting at once wait a thousand turns, the listen
backlog fills, and a greeting sent meanwhile waits for its SYN to be retried
(a second or more). A listener here accepts until the kernel has no more
connections waiting, up to ACCEPT_BATCH a turn and never past the
connection limit. proofs.py checks it through a real server at start-up.
"""

import errno
import functools

from waitress.server import BaseWSGIServer

# At most this many connections a turn of the loop: a flood cannot hold the
# loop from the connections it already has for long.
ACCEPT_BATCH = 128
# accept() errors that concern one connection only: the next may be fine.
_ONE_CONNECTION = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})


def accept_batch(listener: BaseWSGIServer) -> None:
    """Accept the connections waiting on `listener`, as waitress would each one."""
    limit = listener.adj.connection_limit
    for _ in range(ACCEPT_BATCH):
        if len(listener._map) >= limit:
            # readable() stops the listening before the next turn, with its warning.
            return
        try:
            conn, addr = listener.socket.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            if error.errno in _ONE_CONNECTION:
                continue
            raise
        try:
            listener.set_socket_options(conn)
        except OSError:
            # The client left before its options were set: as waitress does, let it go.
            conn.close()
            continue
        listener.channel_class(
            listener, conn, listener.fix_addr(addr), listener.adj, map=listener._map
        )


def batched(listener: BaseWSGIServer) -> None:
    """Make `listener` accept in batches."""
    # An attribute of the listener, not a subclass swapped in: swapping an
    # object's class makes Python keep its attributes in a plain dict, and
    # the loop reads the listener's attributes on every turn (measured: 5,000
    # machine instructions a request).
    listener.handle_accept = functools.partial(accept_batch, listener)  # type: ignore[method-assign]
