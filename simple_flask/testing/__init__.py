"""What tests of this service, and tests of its clients, need to run it.

Free loopback ports, stopping processes, client threads, a real redis-server,
and the status service itself: running_service() runs it for a block, and the
pytest plugin (pytest_plugin.py) offers it as the `status_service` fixture.
"""

from .service import ServiceError, StatusService, running_service, sequence_key

__all__ = ["ServiceError", "StatusService", "running_service", "sequence_key"]
