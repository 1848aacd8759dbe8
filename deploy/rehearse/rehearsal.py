"""The rehearsal itself: the topology started, the replicas restarted under load, the report.

rehearse() starts Redis, the replicas and nginx, puts the load on, rolls and
kills replicas, stops everything, reads the logs and returns the report.
"""

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from simple_flask.testing.redis_server import RedisServer, RedisUnavailable

from .load import KILL, ROLLING, WORK_MS, Load
from .nginx import LIMITED, PASSED_OVER, Nginx
from .programs import READY_TIMEOUT, Unavailable, find_program, program_version
from .replicas import READY_PATH, Replica, read_access_logs, replica_environment
from .report import summarize

# As many replicas as the shipped manifests run.
REPLICAS = 3


def restart(replica: Replica, how: str, pause: Callable[[], None] = lambda: None) -> dict:
    """Stop `replica` (SIGTERM and wait, or SIGKILL), `pause`, start it; return the timings."""
    began = time.monotonic()
    status = replica.stop() if how == "SIGTERM" else replica.kill()
    stopped = time.monotonic()
    pause()
    restarted = time.monotonic()
    replica.start()
    replica.wait_ready()
    ready = time.monotonic()
    back = replica.wait_in_rotation()
    return {
        "replica": replica.number,
        "signal": how,
        "exit_status": status,
        "stopped_s": round(stopped - began, 3),
        "ready_s": round(ready - restarted, 3),
        # From ready until nginx sent it a request again (None: not within the bound).
        "back_in_rotation_s": round(time.monotonic() - ready, 3) if back else None,
    }


def rehearse(
    threads: int = 4,
    settle: float = 2.0,
    kill_window: float = 3.0,
    progress: Callable[[str], None] = lambda text: None,
) -> dict:
    """Run the rehearsal and return its report (see summarize()); raise Unavailable if it cannot."""
    versions = {
        "nginx": program_version([find_program("nginx"), "-v"]),
        "redis-server": program_version([find_program("redis-server"), "--version"]),
    }
    began = time.monotonic()
    restarts: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="simple_flask_rehearsal_") as scratch:
        directory = Path(scratch)
        with contextlib.ExitStack() as running:
            redis = RedisServer(directory, program=find_program("redis-server"))
            running.callback(redis.stop)
            try:
                redis.start(READY_TIMEOUT)
            except RedisUnavailable as error:
                raise Unavailable(str(error)) from error
            environment = replica_environment(redis.url)
            replicas = [Replica(n, directory, environment) for n in range(1, REPLICAS + 1)]
            for replica in replicas:
                running.callback(lambda replica=replica: replica.process and replica.stop())
                replica.start()
            for replica in replicas:
                replica.wait_ready()
            nginx = Nginx(directory, [replica.port for replica in replicas])
            running.callback(nginx.stop)
            nginx.start()
            progress(f"nginx on {nginx.address}, replicas on {[r.port for r in replicas]}")

            load = running.enter_context(Load(nginx.port, threads))
            time.sleep(settle)
            with load.in_phase(ROLLING):
                for replica in replicas:
                    progress(f"rolling restart: replica {replica.number}")
                    restarts.append(restart(replica, "SIGTERM"))
            time.sleep(settle)
            with load.in_phase(KILL):
                progress(f"kill -9: replica {replicas[0].number}")
                restarts.append(restart(replicas[0], "SIGKILL", lambda: time.sleep(kill_window)))
            time.sleep(settle)
            load.stopping.set()
            progress("stopping")
        # Everything has stopped: its logs are complete.
        clients, served_by = read_access_logs(replicas)
        passed_over, limited = nginx.logged(PASSED_OVER), nginx.logged(LIMITED)
    for walk in load.walks:
        walk.replicas = {served_by[rid] for rid in walk.request_ids if rid in served_by}
    return summarize(
        load,
        restarts,
        clients,
        passed_over,
        limited,
        {
            **versions,
            "replicas": REPLICAS,
            "client_threads": threads,
            "client_addresses": load.addresses,
            "readiness_path": READY_PATH,
            "work_ms": WORK_MS,
            "ports": {
                "nginx": nginx.port,
                "redis": redis.port,
                "replicas": [replica.port for replica in replicas],
            },
        },
        time.monotonic() - began,
    )
