"""One definition per role (deploy/bin/pledgecast) for both process managers: the systemd units
of many boxes (deploy/systemd/) and the one-box supervisord stack (deploy/supervisord.conf.
template); each role the script knows starts a process that runs (here: its usage checked)."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from config.stack import ROLES
from streaming import deployconf

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SCRIPT = DEPLOY / "bin" / "pledgecast"


def _units() -> dict[str, configparser.ConfigParser]:
    units = {}
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        units[path.name] = parser
    return units


def test_every_role_has_a_unit_that_runs_it_through_the_one_script():
    started = {}
    for name, unit in _units().items():
        command = unit["Service"]["ExecStart"].split()
        assert command[0] == "/srv/pledgecast/deploy/bin/pledgecast", name
        started[command[1]] = name
        assert unit["Service"]["EnvironmentFile"] == "/etc/pledgecast/env"
        assert unit["Service"]["Restart"] == "always"
        assert unit["Install"]["WantedBy"] == "pledgecast.target"
    assert set(started) == set(ROLES.split(","))
    assert started["web"] == "pledgecast-web@.service"  # one instance per port


def test_the_one_box_stack_runs_the_same_script_for_every_role():
    template = (DEPLOY / "supervisord.conf.template").read_text()
    commands = re.findall(r"^command=@BASE_DIR@/deploy/bin/pledgecast (\w+)", template, re.M)
    assert set(commands) == set(ROLES.split(","))


def test_the_script_refuses_an_unknown_role_with_its_usage():
    for args in ([], ["janitor"], ["web"]):
        done = subprocess.run(
            ["sh", str(SCRIPT), *args], capture_output=True, text=True, check=False
        )
        assert done.returncode != 0
        assert "usage" in done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_reads_every_unit_without_a_complaint():
    units = [str(p) for p in sorted((DEPLOY / "systemd").iterdir())]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True, text=True, check=False, timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )  # fmt: skip
    # The only thing it may miss here is the installed checkout (/srv/pledgecast).
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "/srv/pledgecast/deploy/bin/pledgecast is not executable" not in line
    ]
    assert complaints == []


def test_the_front_balances_over_the_web_processes_and_refuses_a_bad_address():
    conf = deployconf.render_front_conf(
        listen="127.0.0.1:8080",
        lb_listen="127.0.0.1:8090",
        edge="127.0.0.1:8092",
        web=["127.0.0.1:8001", "127.0.0.1:8002"],
        static_root=Path("/srv/static"),
    )
    upstream = conf.split("}", 1)[0]
    assert "least_conn;" in upstream
    assert "server 127.0.0.1:8001 max_fails=3 fail_timeout=5s;" in upstream
    assert "server 127.0.0.1:8002 max_fails=3 fail_timeout=5s;" in upstream
    # Only a refused connection moves a request on: never a slow answer.
    assert conf.count("proxy_next_upstream error;") == 3
    assert "alias /srv/static/;" in conf
    for bad in ([], ["127.0.0.1:8001; server evil:80"], ["nohost"]):
        with pytest.raises(ValueError, match=r"front\.conf"):
            deployconf.render_front_conf(
                listen="127.0.0.1:8080", lb_listen="127.0.0.1:8090", edge="127.0.0.1:8092",
                web=bad,
            )  # fmt: skip
