"""The task of each request, enacting below the app what the app cannot: faults and late answers.

A request the app marked with a fault the server answers itself
(simple_flask.wsgi.environ) gets no byte of the app's answer. For `reset`
and `close` the task drops every write, and the channel closes the
connection once the task ends, after any earlier pipelined answer has gone
out: cleanly (FIN) for `close`, with SO_LINGER {on, 0} first for `reset`, so
the kernel sends RST. For `garbage`, `bad_chunk` and `cut_head` the task
sends the malformed bytes below instead, then the connection closes.

An answer marked with a Delivery is written, whole, into a Capture, and
handed to the channel to send when each piece is due (delivery.py). The
task says so to the app (SERVING, see there), so that the app does not
wait itself. proofs.py checks all of it through a real server at start-up.
"""

import contextlib
import logging
import socket
import struct

from waitress.channel import HTTPChannel
from waitress.task import WSGITask
from waitress.utilities import logger as waitress_logger

from ...core.status_faults import Fault
from ...wsgi.environ import (
    AFTER_DELIVERY,
    DELIVERY,
    FAULTS,
    SERVING,
    faults_of,
    server_fault,
)
from .delivery import Capture
from .head import fast_heads

# What the server sends for each malformed answer, then it closes the connection.
MALFORMED = {
    # No status line at all: an HTTP/1.1 client finds no "HTTP/" where one must be.
    Fault.GARBAGE: b"\x00\xff this is no HTTP answer \xff\x00\r\n\r\n",
    # A chunk size that is no hexadecimal number.
    Fault.BAD_CHUNK: (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nno chunk\r\n"
    ),
    # The head stops in the middle of a header, and never ends. Some clients
    # (http.client, curl) take the close for the end of the head: the length
    # it names first makes them fail on the body that never comes.
    Fault.CUT_HEAD: b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\nContent-Type: text/pl",
}
# Faults whose answer is short of its Content-Length on purpose: waitress's
# warning about it ("application returned too few bytes") would be noise.
_QUIET_FAULTS = frozenset(
    {Fault.RESET, Fault.CLOSE, Fault.TRUNCATE, Fault.GARBAGE, Fault.BAD_CHUNK, Fault.CUT_HEAD}
)
# A logger that drops every record, for the tasks of those requests.
_SILENT = logging.Logger("simple_flask.fault_task")
_SILENT.disabled = True
_LINGER_RESET = struct.pack("ii", 1, 0)


class ServiceTask(WSGITask):
    """A WSGI task that enacts the faults the app asks for, and, where `defers`, late answers."""

    # Whether answers marked with a Delivery leave late from the event loop (see delivery.py).
    defers = False
    capture: Capture | None = None

    @property
    def logger(self) -> logging.Logger:
        environ = self.environ
        if environ is not None and _QUIET_FAULTS.intersection(faults_of(environ)):
            return _SILENT
        return waitress_logger

    def write(self, data: bytes) -> None:
        environ = self.environ
        # Most requests carry no mark: two dict lookups, and waitress's own write.
        if environ is None or (FAULTS not in environ and DELIVERY not in environ):
            WSGITask.write(self, data)
            return
        if self.defers and self.capture is None and DELIVERY in environ:
            # From now on the answer is kept, whole, to leave later.
            self.capture = self.channel = Capture(self.channel)
        fault = server_fault(environ)
        if fault is None:
            WSGITask.write(self, data)
            return
        # Not a byte of the app's answer: the channel drops the connection
        # when the task ends, after the malformed bytes if any.
        if not self.wrote_header:
            self.wrote_header = True
            malformed = MALFORMED.get(fault)
            if malformed is not None:
                self.channel.write_soon(malformed)
        self.close_on_finish = True
        if fault is Fault.RESET:
            channel = self.capture.channel if self.capture is not None else self.channel
            channel.reset_on_close = True

    def service(self) -> None:
        SERVING.defers = self.defers
        WSGITask.service(self)
        capture = self.capture
        if capture is None:
            return
        channel = self.channel = capture.channel
        # The connection closes once the answer has left, not now.
        close, self.close_on_finish = self.close_on_finish, False
        environ = self.environ
        after = environ.get(AFTER_DELIVERY)
        channel.deliver(capture.pieces, environ[DELIVERY], self.request, close, after)


def task_channel(base: type[HTTPChannel], heads: bool) -> type[HTTPChannel]:
    """Return a subclass of channel class `base` whose tasks are waitress's WSGI tasks.

    With `heads`, they build their response heads with .head's build_head().
    """
    task = fast_heads(WSGITask) if heads else WSGITask
    return type(base.__name__, (base,), {"task_class": task})


def fault_channel(base: type[HTTPChannel], heads: bool, defers: bool = False) -> type[HTTPChannel]:
    """Return a subclass of channel class `base` that enacts faults; late answers where `defers`.

    With `heads`, its tasks build their response heads with .head's build_head().
    """
    task: type[WSGITask] = type(ServiceTask.__name__, (ServiceTask,), {"defers": defers})
    if heads:
        task = fast_heads(task)

    class FaultChannel(base):  # type: ignore[valid-type,misc]
        task_class = task
        reset_on_close = False

        def handle_close(self) -> None:
            sock = self.socket
            if self.reset_on_close and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            super().handle_close()

    return FaultChannel
