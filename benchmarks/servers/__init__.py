"""The benchmarked WSGI apps, each a module run as `python -m benchmarks.servers.NAME`.

Each imports only what its app needs, so that its cold start measures the app.
"""
