"""The one launcher of the platform's processes for tests: uvicorn web processes, the
stream worker, the RTMP transcoder supervisor and nginx, on the test database and the test
Redis, each in its own session so that stopping it stops its children."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings

from tests import support

ROOT = Path(__file__).resolve().parent.parent.parent
# Short presence expiry in the servers, so a killed process's viewers leave within seconds.
SERVER_PRESENCE_TTL_S = 2
TEST_SECRET_KEY = "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session (and its children); SIGKILL after 10 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def kill_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Server:
    """A web process: pages, WebSockets, ingest and origin, static files."""

    port: int
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    def ws_url(self, slug: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/events/{slug}/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def kill(self) -> None:
        kill_process(self.proc)

    def stop(self) -> None:
        stop_process(self.proc)


_collected_static: list[Path] = []
_collect_lock = threading.Lock()


def collected_static_root() -> Path:
    """A STATIC_ROOT that `collectstatic` filled as production's is (hashed names, gzip copies),
    once per test process; removed when the process exits."""
    with _collect_lock:
        if not _collected_static:
            root = Path(tempfile.mkdtemp(prefix="pc-static-"))
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            env = {**os.environ, "DEBUG": "0", "SECRET_KEY": TEST_SECRET_KEY,
                   "STATIC_HASHED": "1", "STATIC_ROOT": str(root)}  # fmt: skip
            manage(env, "collectstatic", "--noinput", "-v0")
            _collected_static.append(root)
        return _collected_static[0]


def server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a web process (or a worker beside it) on the test database and
    Redis, with `env` added. Its static files are production's (hashed, compressed)."""
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": TEST_SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "LIVE_PRESENCE_TTL_SECONDS": str(SERVER_PRESENCE_TTL_S),
        "SERVE_STATIC": "1",  # the page's scripts, for the browser tests
        "STATIC_HASHED": "1",
        "STATIC_ROOT": str(collected_static_root()),
        # Every test client comes from 127.0.0.1: no per-address seat cap, but where a test
        # asks for one (tests/liveroom/hub/test_seat_caps.py).
        "LIVE_SEATS_PER_ADDRESS_PERCENT": "0",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }


def _answers_healthz(server: Server) -> bool:
    if server.proc.poll() is not None:
        raise RuntimeError("the web process exited at start")
    try:
        # An http://127.0.0.1 URL we built.
        with urllib.request.urlopen(f"{server.origin}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def start_server(*, env: dict[str, str] | None = None, log_file: Path | None = None) -> Server:
    """A web process as production starts it (`python -m config.serve`), against the test
    database, with `env` added to its environment, on a free port; returned once it answers
    /healthz. Its output goes to `log_file` when given (a test that reads the server's log),
    else to the test's."""
    environment = server_env(env)
    port = support.free_port()
    log = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115 (the child's)
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=environment, start_new_session=True, stdout=log, stderr=log,
    )  # fmt: skip
    if log is not None:
        log.close()  # the child has its own copy
    server = Server(port=port, proc=proc, env=environment)
    try:
        support.wait_for(lambda: _answers_healthz(server), 30, what="the web process /healthz")
    except BaseException:
        server.stop()
        raise
    return server


def start_stream_worker(env: dict[str, str], *, interval_s: float) -> subprocess.Popen[bytes]:
    """`manage.py stream_worker` with `env` (a server's), polling every `interval_s`."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "stream_worker", "--interval", str(interval_s)],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip


def start_transcoder(
    env: dict[str, str], *, log_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """`manage.py transcoder`, the RTMP transcoder supervisor, with `env` (a server's, with
    RTMP_PLAY_URL and TRANSCODER_INGEST_URL pointing at the test's nginx-rtmp and server).
    Its output goes to `log_file` when given, else to the test's."""
    log = open(log_file, "ab") if log_file is not None else None  # noqa: SIM115 (the child's)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "transcoder"], cwd=ROOT, env=env, start_new_session=True,
        stdout=log, stderr=log,
    )  # fmt: skip
    if log is not None:
        log.close()  # the child has its own copy
    return proc


def start_nginx(conf: Path, *, prefix: Path) -> subprocess.Popen[bytes]:
    """nginx with the whole config `conf` (which must say `daemon off;`), its relative paths
    and start-up errors under `prefix`; in its own session. Stop it with stop_nginx."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen(
        [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
        start_new_session=True,
    )  # fmt: skip


def stop_nginx(proc: subprocess.Popen) -> None:
    """A graceful stop (SIGQUIT): nginx-rtmp closes its sessions and calls on_publish_done."""
    stop_process(proc, signal.SIGQUIT)


@dataclass
class PrivateRedis:
    """A redis-server of a test's own (never the shared one), on its own port, keeping
    nothing on disk: a fault test stops and starts it at will."""

    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--loglevel", "warning"],
            start_new_session=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        support.wait_for(self._answers, 10, what="the private redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False


@dataclass
class Postgres:
    """A PostgreSQL server of a test's own (fault tests): its data in a temporary folder, on
    its own port, user `postgres` trusted on loopback. Never the shared server."""

    port: int
    folder: Path
    proc: subprocess.Popen[bytes]
    command: list[str] = field(default_factory=list)

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT)  # a fast shutdown
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self) -> None:
        """A fast shutdown (every connection cut, as `pg_ctl restart -m fast` does) and a
        start on the same data and port; returns once it accepts connections again."""
        stop_process(self.proc, signal.SIGINT)
        self.proc = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "postgres.log", "ab"),  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        support.wait_for(self._accepts, 30, interval=0.1, what="the restarted PostgreSQL")

    def _accepts(self) -> bool:
        probe = subprocess.run(
            [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
        )
        return probe.returncode == 0


def _postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no PostgreSQL {name} under /usr/lib/postgresql/*/bin")
    return str(found[-1])


def start_postgres(*, max_connections: int, settings: dict[str, str] | None = None) -> Postgres:
    """initdb in a new temporary folder and a postgres on a free port with `max_connections`
    (none reserved for superusers, so the limit is the limit) and `settings` (`-c` options);
    returned once it accepts connections. Run as the `postgres` user when we are root
    (PostgreSQL refuses to run as root)."""
    import tempfile

    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="pc-test-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    subprocess.run(
        [*as_user, _postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
         "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = support.free_port()
    options = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(folder),
        "max_connections": str(max_connections),
        "superuser_reserved_connections": "0",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        **(settings or {}),
    }
    args = [f"-c{key}={value}" for key, value in options.items()]
    command = [*as_user, _postgres_bin("postgres"), "-D", str(data), "-p", str(port), *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL, stderr=open(folder / "postgres.log", "ab"),  # noqa: SIM115
        start_new_session=True,
    )  # fmt: skip
    server = Postgres(port=port, folder=folder, proc=proc, command=command)

    def accepts() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited at start: see {folder / 'postgres.log'}")
        probe = subprocess.run(
            [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"], check=False
        )
        return probe.returncode == 0

    try:
        support.wait_for(accepts, 30, interval=0.1, what="the test's PostgreSQL")
    except BaseException:
        server.stop()
        raise
    return server


def manage(env: dict[str, str], *args: str) -> str:
    """`manage.py <args>` with `env` (a server's); its output, or an error with it."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def prepare_database(env: dict[str, str], setup: str) -> dict:
    """Migrate the database `env` names (a test's own PostgreSQL), then run `setup` (Python
    for `manage.py shell` whose last printed line is JSON) there; that JSON."""
    manage(server_env(env), "migrate", "--noinput", "-v0")
    return json.loads(manage(server_env(env), "shell", "-c", setup).splitlines()[-1])
