"""`python -m config.stack`: the production stack on one box (`make serve`).

    python -m config.stack conf [--dir var/serve] [--web-count 2] ...   # render, print the dir
    python -m config.stack ctl status                                   # supervisorctl
    python -m config.stack rolling-restart                              # web processes, one by one

`conf` writes, under the run directory: `supervisord.conf` (deploy/supervisord.conf.template:
N web processes, Celery worker and beat, the stream worker, the transcoder and nginx, with the
environment that ties them together) and `nginx/nginx.conf` (one nginx: nginx-rtmp
(rtmp.conf), the HLS origin (origin.conf.template), the edge cache (edge.conf) and the front
(front.conf.template) balancing HTTP and WebSockets over the web processes). The environment
of the command that renders is the stack's (DATABASE_URL, REDIS_URL, SECRET_KEY, Stripe keys):
supervisord passes it on; what is unset gets the one-box defaults of ONE_BOX_DEFAULTS.

`rolling-restart` restarts the web processes one at a time, each only once the one before is
back and answering /healthz: the sockets of the process going down reconnect to the others
through the clients' jittered backoff, never all at once to one process.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = BASE_DIR / "deploy" / "supervisord.conf.template"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
ROLES = "web,worker,beat,stream_worker,transcoder"

# A trial box without TLS in front: cookies not marked Secure, no HTTPS redirect, simulated
# payments while no Stripe key is set. A real deployment terminates TLS (deploy/README.md) and
# sets these back (or leaves them unset in the environment it runs `conf` with).
ONE_BOX_DEFAULTS = {
    "DEBUG": "0",
    "SECURE_COOKIES": "0",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_HSTS_SECONDS": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "ALLOW_SIMULATED_PAYMENTS": "1",
}


def _ports(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def _env_line(values: dict[str, str]) -> str:
    """supervisord's `environment=` value: KEY="value",... (quotes and % escaped)."""
    parts = []
    for key, value in sorted(values.items()):
        if "\n" in value or '"' in value:
            raise ValueError(f"{key}: newlines and double quotes cannot be passed")
        parts.append(f'{key}="{value.replace("%", "%%")}"')
    return ",".join(parts)


def render(args: argparse.Namespace) -> Path:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    for key, value in ONE_BOX_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import django

    django.setup()
    from streaming import deployconf  # after setup: it reads the settings

    run = Path(args.dir).resolve()
    nginx_dir = run / "nginx"
    for folder in (run / "logs", nginx_dir / "edge-cache", nginx_dir / "origin-cache"):
        folder.mkdir(parents=True, exist_ok=True)
    web = [f"127.0.0.1:{args.web_port + i}" for i in range(args.web_count)]
    lb = args.lb
    (nginx_dir / "rtmp.conf").write_text(
        deployconf.render_rtmp_conf(
            listen=args.rtmp, web=f"http://{lb}", access_log=str(nginx_dir / "rtmp_access.log")
        )
    )
    (nginx_dir / "origin.conf").write_text(
        deployconf.render_origin_conf(
            listen=args.origin, upstream=lb, cache_dir=str(nginx_dir / "origin-cache")
        )
    )
    (nginx_dir / "edge.conf").write_text(
        deployconf.render_edge_conf(
            listen=args.edge, origin=args.origin, cache_dir=str(nginx_dir / "edge-cache")
        )
    )
    (nginx_dir / "front.conf").write_text(
        deployconf.render_front_conf(
            listen=args.listen,
            lb_listen=lb,
            edge=args.edge,
            web=web,
            access_log=str(nginx_dir / "access.log"),
        )
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {name}_temp_path {nginx_dir / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (nginx_dir / "nginx.conf").write_text(
        f"load_module {RTMP_MODULE};\n"
        f"daemon off;\n{user}worker_processes auto;\npid {nginx_dir / 'nginx.pid'};\n"
        f"error_log {nginx_dir / 'error.log'} notice;\n"
        # Two connections per proxied WebSocket (the client's, the web process's): 65,536 a
        # worker, and the open files they need.
        "worker_rlimit_nofile 200000;\n"
        "events { worker_connections 65536; }\n"
        f"include {nginx_dir / 'rtmp.conf'};\n"
        "http {\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        f"{temp}\n"
        f"    include {nginx_dir / 'origin.conf'};\n"
        f"    include {nginx_dir / 'edge.conf'};\n"
        f"    include {nginx_dir / 'front.conf'};\n}}\n"
    )
    _, rtmp_port = _ports(args.rtmp)
    environment = {
        "SERVE_ROLES": ROLES,
        # The web processes believe X-Forwarded-For from this nginx only.
        "TRUSTED_PROXIES": "127.0.0.1/32",
        "SERVE_STATIC": "0",
        "TRANSCODER_INGEST_URL": f"http://{lb}/streaming/ingest",
        "RTMP_PLAY_URL": f"rtmp://127.0.0.1:{rtmp_port}/live",
        "PYTHONUNBUFFERED": "1",
    }
    environment = {key: os.environ.get(key, value) for key, value in environment.items()}
    environment.update({key: os.environ[key] for key in ONE_BOX_DEFAULTS})
    # deploy/bin/pledgecast's settings for this stack.
    environment["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    environment["BEAT_SCHEDULE_FILE"] = str(run / "celerybeat-schedule")
    values = {
        "RUN_DIR": str(run),
        "BASE_DIR": str(BASE_DIR),
        "NGINX": shutil.which("nginx") or "/usr/sbin/nginx",
        "WEB_COUNT": str(args.web_count),
        "WEB_PORT": str(args.web_port),
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        if not re.fullmatch(r"[A-Za-z0-9_./:@+-]+", value):
            raise ValueError(f"{key}: unsafe characters in {value!r}")
        text = text.replace(f"@{key}@", value)
    text = text.replace(
        "silent=false\n", f"silent=false\nenvironment={_env_line(environment)}\n", 1
    )
    conf = run / "supervisord.conf"
    conf.write_text(text)
    conf.chmod(0o600)  # the environment may hold keys
    return run


def createdb() -> str:
    """Create DATABASE_URL's PostgreSQL database when it does not exist yet (a fresh box)."""
    from urllib.parse import urlsplit

    import psycopg
    from psycopg import sql

    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return "not PostgreSQL: nothing to create"
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if found:
            return f"database {name} exists"
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"database {name} created"


def ctl(run: Path, *command: str) -> subprocess.CompletedProcess[str]:
    supervisorctl = str(Path(sys.executable).parent / "supervisorctl")
    return subprocess.run(  # noqa: S603 -- our own supervisorctl and arguments
        [supervisorctl, "-c", str(run / "supervisord.conf"), *command],
        capture_output=True,
        text=True,
        check=False,
    )


def _answers(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            url = f"http://127.0.0.1:{port}/healthz"  # loopback, our own process
            with urllib.request.urlopen(url, timeout=2) as response:  # nosec B310
                if response.status in (200, 503):  # answering; 503 is the stack's state
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def rolling_restart(run: Path, *, web_port: int, web_count: int, timeout_s: float) -> int:
    for port in range(web_port, web_port + web_count):
        name = f"web:web_{port}"
        done = ctl(run, "restart", name)
        print(done.stdout.strip() or done.stderr.strip())
        if not _answers(port, timeout_s):
            print(f"{name} did not come back within {timeout_s:.0f} s: stopping here")
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The production stack on one box.")
    sub = parser.add_subparsers(dest="command", required=True)
    conf = sub.add_parser("conf", help="render supervisord.conf and nginx.conf")
    restart = sub.add_parser("rolling-restart", help="restart the web processes one by one")
    control = sub.add_parser("ctl", help="supervisorctl on the stack")
    sub.add_parser("createdb", help="create DATABASE_URL's database if missing")
    for each in (conf, restart, control):
        each.add_argument("--dir", default=str(BASE_DIR / "var" / "serve"))
    for each in (conf, restart):
        each.add_argument("--web-count", type=int, default=2)
        each.add_argument("--web-port", type=int, default=8001)
    conf.add_argument("--listen", default="127.0.0.1:8080", help="the front (browsers)")
    conf.add_argument("--lb", default="127.0.0.1:8090", help="internal: the web processes")
    conf.add_argument("--origin", default="127.0.0.1:8091", help="internal: the HLS origin")
    conf.add_argument("--edge", default="127.0.0.1:8092", help="internal: the HLS edge cache")
    conf.add_argument("--rtmp", default="0.0.0.0:1935", help="RTMP ingest (encoders)")
    conf.add_argument("--worker-concurrency", type=int, default=2)
    restart.add_argument("--timeout", type=float, default=60.0)
    control.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "conf":
        if args.web_count < 1:
            parser.error("--web-count must be at least 1")
        print(render(args))
        return 0
    if args.command == "createdb":
        print(createdb())
        return 0
    run = Path(args.dir).resolve()
    if args.command == "ctl":
        done = ctl(run, *args.args)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode
    return rolling_restart(
        run, web_port=args.web_port, web_count=args.web_count, timeout_s=args.timeout
    )


if __name__ == "__main__":
    sys.exit(main())
