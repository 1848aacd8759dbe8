"""What real HTTP clients do with the status service's retry answers and faults.

`python -m benchmarks.clients` starts `simple-flask serve` on a loopback
port, sends each scenario (a failure sequence under a fresh key) with each
client, and prints a Markdown table: what the client reported, and how many
attempts the server's attempt log saw. docs/status-service.md shows the
table; tests/test_clients_table.py runs the scenarios again and compares.

The modules: scenarios.py (what is sent, and what a client reports),
runners.py (the clients, their settings and versions), table.py (the
attempt log, the notes, the run and the table), __main__.py (the server
and the command line).
"""
