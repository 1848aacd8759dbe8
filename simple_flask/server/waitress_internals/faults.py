"""The status service's connection faults, enacted below the app: a reset or a close."""

import contextlib
import logging
import socket
import struct

from waitress.channel import HTTPChannel
from waitress.task import WSGITask
from waitress.utilities import logger as waitress_logger

from ...core.status_faults import Fault
from ...wsgi.environ import FAULTS, connection_fault, faults_of
from .head import fast_heads

# A request the app marked with a connection fault (simple_flask.wsgi.environ)
# gets no byte of the app's answer: the task drops every write, and the
# channel closes the connection once the task ends, after any earlier
# pipelined answer has gone out: cleanly (FIN) for `close`, with SO_LINGER
# {on, 0} first for `reset`, so the kernel sends RST. proofs.py checks both
# through a real server at start-up.

# Faults whose answer is short of its Content-Length on purpose: waitress's
# warning about it ("application returned too few bytes") would be noise.
_QUIET_FAULTS = frozenset({Fault.RESET, Fault.CLOSE, Fault.TRUNCATE})
# A logger that drops every record, for the tasks of those requests.
_SILENT = logging.Logger("simple_flask.fault_task")
_SILENT.disabled = True
_LINGER_RESET = struct.pack("ii", 1, 0)


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


def task_channel(base: type[HTTPChannel], heads: bool) -> type[HTTPChannel]:
    """Return a subclass of channel class `base` whose tasks are waitress's WSGI tasks.

    With `heads`, they build their response heads with .head's build_head().
    """
    task = fast_heads(WSGITask) if heads else WSGITask
    return type(base.__name__, (base,), {"task_class": task})


def fault_channel(base: type[HTTPChannel], heads: bool) -> type[HTTPChannel]:
    """Return a subclass of channel class `base` that enacts connection faults.

    With `heads`, its tasks build their response heads with .head's build_head().
    """
    task = fast_heads(FaultTask) if heads else FaultTask

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
