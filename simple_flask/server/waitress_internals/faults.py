"""The status service's connection faults, enacted below the app: a reset or a close."""

import contextlib
import logging
import socket
import struct

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import WSGITask
from waitress.utilities import logger as waitress_logger

from ...core.status_faults import Fault
from ...wsgi.faults import FAULTS, connection_fault, faults_of
from .head import with_head

# A request the app marked with a connection fault (simple_flask.wsgi.faults)
# gets no byte of the app's answer: the task drops every write, and the
# channel closes the connection once the task ends, after any earlier
# pipelined answer has gone out: cleanly (FIN) for `close`, with SO_LINGER
# {on, 0} first for `reset`, so the kernel sends RST. GracefulServer wraps
# its channel class in fault_channel().

# The internals the fault classes rely on, checked by check_compatible().
FAULT_INTERNALS: dict[type, tuple[str, ...]] = {
    WSGITask: ("execute", "write", "finish", "environ", "wrote_header", "logger"),
    HTTPChannel: ("task_class", "handle_close", "service"),
    wasyncore.dispatcher: ("socket", "close"),
}
# Faults whose answer is short of its Content-Length on purpose: waitress's
# warning about it ("application returned too few bytes") would be noise.
_QUIET_FAULTS = frozenset({Fault.RESET, Fault.CLOSE, Fault.TRUNCATE})
# A logger that drops every record, for the tasks of those requests.
_SILENT = logging.Logger("simple_flask.fault_task")
_SILENT.disabled = True
_LINGER_RESET = struct.pack("ii", 1, 0)


def missing_fault_internals() -> list[str]:
    """Return the waitress internals the fault classes use that are missing (none, normally)."""
    missing = [
        f"{owner.__module__}.{owner.__qualname__}.{name}"
        for owner, names in FAULT_INTERNALS.items()
        for name in names
        # An attribute set in __init__ has its name among that code's names.
        if not (hasattr(owner, name) or name in owner.__init__.__code__.co_names)
    ]
    # The channel closes the connection after a task that set close_on_finish.
    service = getattr(HTTPChannel, "service", None)
    if service is None or "close_on_finish" not in service.__code__.co_names:
        missing.append("waitress.channel.HTTPChannel.service reading task.close_on_finish")
    return missing


class FaultTask(WSGITask):
    """A WSGI task that sends nothing for a request marked with a connection fault."""

    @property
    def logger(self) -> logging.Logger:
        environ = self.environ
        if environ is not None and _QUIET_FAULTS.intersection(faults_of(environ)):
            return _SILENT
        return waitress_logger

    def write(self, data: bytes) -> None:
        environ = self.environ
        # Most requests carry no fault: one dict lookup, and waitress's own write.
        if environ is None or FAULTS not in environ:
            WSGITask.write(self, data)
            return
        fault = connection_fault(environ)
        if fault is None:
            WSGITask.write(self, data)
            return
        # Neither the status line nor a body byte: the channel drops the
        # connection when the task ends.
        self.close_on_finish = True
        if fault is Fault.RESET:
            self.channel.reset_on_close = True


def fault_channel(base: type[HTTPChannel]) -> type[HTTPChannel]:
    """Return a subclass of channel class `base` that enacts connection faults.

    Its tasks build their response heads with .head's build_head() when this
    waitress builds them alike.
    """
    task = with_head(FaultTask)

    class FaultChannel(base):
        task_class = task
        reset_on_close = False

        def handle_close(self) -> None:
            sock = self.socket
            if self.reset_on_close and sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            super().handle_close()

    return FaultChannel
