"""The start-up check that waitress has every internal this package relies on."""

import importlib.metadata
import inspect

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from .faults import missing_fault_internals

SUPPORTED_MAJOR = 3


def check_compatible() -> None:
    """Raise RuntimeError naming each missing piece unless waitress has every internal used here."""
    version = importlib.metadata.version("waitress")
    missing = []
    if int(version.split(".")[0]) != SUPPORTED_MAJOR:
        missing.append(f"major version {SUPPORTED_MAJOR}")
    expected = {
        HTTPChannel: (
            "request",
            "will_close",
            "close_when_flushed",
            "total_outbufs_len",
            "error_task_class",
            "parser_class",
            "readable",
            "handle_read",
            "handle_write",
            "handle_close",
            "received",
            "service",
            "send_continue",
            "sent_continue",
            "requests_lock",
            "outbuf_lock",
            "last_activity",
            "connected",
            "server",
        ),
        HTTPRequestParser: (
            "headers_finished",
            "completed",
            "error",
            "empty",
            "expect_continue",
            "parse_header",
            "received",
            "chunked",
            "headers",
            "version",
        ),
        BaseWSGIServer: ("channel_class", "pull_trigger", "accepting", "add_task"),
        ErrorTask: ("execute", "set_close_on_finish", "write", "content_length", "status"),
        wasyncore.dispatcher: ("close", "_map", "socket"),
    }
    # Methods overridden here that call waitress's own: they must be the
    # class's own, not ones inherited from wasyncore.
    own = {
        HTTPChannel: (
            "readable",
            "handle_read",
            "handle_write",
            "received",
            "service",
            "send_continue",
        ),
        HTTPRequestParser: ("parse_header", "received"),
    }
    for owner, names in expected.items():
        for name in names:
            # _map is set in __init__; its name is in the code that sets it.
            found = hasattr(owner, name) or name in owner.__init__.__code__.co_names
            if name in own.get(owner, ()):
                found = name in vars(owner)
            if not found:
                missing.append(f"{owner.__module__}.{owner.__qualname__}.{name}")
    for name in ("requests",):
        if name not in HTTPChannel.__init__.__code__.co_names:
            missing.append(f"waitress.channel.HTTPChannel.{name}")
    # The Content-Length / Transfer-Encoding check relies on waitress popping
    # Transfer-Encoding for HTTP/1.1 and setting `chunked`, in parse_header.
    parse_header = getattr(HTTPRequestParser, "parse_header", None)
    constants = parse_header.__code__.co_consts if parse_header else ()
    if parse_header and not {"TRANSFER_ENCODING", "CONTENT_LENGTH"} <= set(constants):
        missing.append("waitress.parser.HTTPRequestParser.parse_header (framing headers)")
    for function, parameters in [
        (wasyncore.loop, ("timeout", "use_poll", "map", "count")),
        (ThreadedTaskDispatcher.shutdown, ("cancel_pending", "timeout")),
    ]:
        if not set(parameters) <= set(inspect.signature(function).parameters):
            missing.append(f"{function.__module__}.{function.__qualname__}{parameters}")
    missing.extend(missing_fault_internals())
    if missing:
        raise RuntimeError(
            f"waitress {version} lacks what graceful shutdown needs: {', '.join(missing)}"
        )
