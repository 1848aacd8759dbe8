"""What tests of this service need to run it.

Free loopback ports, stopping processes, a real redis-server.
"""
