"""The whole topology rehearsed on this machine: nginx, Redis and three replicas, under load.

    python -m deploy.rehearse            # from the checkout's root; a report on stdout
    python -m deploy.rehearse --json     # the same report as one JSON object

Debian's nginx and redis-server and three replicas of the service
(`python start.py`) run on free loopback ports, every file in one temporary
directory: nginx from deploy/nginx/simple_flask.conf with one upstream line
per replica, the replicas trusting nginx (127.0.0.1) for X-Forwarded-For and
keeping failure sequences in the Redis (SIMPLE_FLASK_STATE_URL). Client
threads send keep-alive GETs and POSTs through nginx, each from a loopback
address of its own (127.0.0.2, 127.0.0.3, ...: the site's limits are per
client address), while the rehearsal

1. restarts the replicas one at a time: SIGTERM, wait for the exit, start it
   again on its port, wait until its readiness route answers 200 and nginx
   sends it requests again;
2. kills one replica with SIGKILL, keeps the load on for a while, then starts
   it again the same way;

and a walker follows failure sequences through nginx the whole time. Then
it stops everything it started, reads the replicas' access logs, deletes the
directory and reports: requests and failures per phase and method, latency,
the restarts, the sequence walks, the client addresses the replicas logged.

Exit status: 0 when every check of the report holds (no GET failed during
the rolling restart, every sequence walk outside the SIGKILL window in order,
the replicas logged the clients' addresses, nginx refused none of the load for
its per-client limits), 1 when one does not, 2 when nginx or redis-server is
missing or a part of the topology did not start.

The modules, each importing only those before it: programs.py (finding nginx
and redis-server, the bounds on every wait), nginx.py (the site and nginx),
replicas.py (the replicas and their access logs), load.py (the client threads
and the sequence walker), report.py (the report and its text), rehearsal.py
(the sequence of restarts), __main__.py (the command line).
"""
