"""Pieces the whole suite reuses: Airflow environments, free ports, real servers, services.

Kept apart from ``conftest.py`` so that fixtures elsewhere (and benchmarks) can import them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
AIRFLOW_BIN = str(VENV_BIN / "airflow")
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-test-password"
AIRFLOW2_AUTH_BACKENDS = ",".join(
    (
        "airflow_platform.auth.airflow2_backend",
        "airflow.api.auth.backend.session",
        "airflow.api.auth.backend.basic_auth",
    )
)


def airflow_major() -> int:
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0])


def require_services() -> bool:
    return os.environ.get("PLATFORM_REQUIRE_SERVICES") == "1"


def missing_service(name: str, why: str) -> None:
    """Skip a test whose service is absent, or fail it when CI says services are required."""
    message = f"{name} is not available: {why}"
    if require_services():
        pytest.fail(f"{message} (PLATFORM_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def airflow_env(home: Path, sql_alchemy_conn: str | None = None, port: int | None = None) -> dict[str, str]:
    """The environment of an isolated Airflow installation in ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    secret_file = home / ".secret-key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48))
    secret = secret_file.read_text().strip()
    # One Fernet key for the test process and every server of this home: what one encrypts (webhook
    # secrets, connection passwords) the others decrypt, whichever loaded Airflow's config first.
    fernet_file = home / ".fernet-key"
    if not fernet_file.exists():
        from cryptography.fernet import Fernet

        fernet_file.write_text(Fernet.generate_key().decode())
    fernet_key = fernet_file.read_text().strip()
    # The installation's own DAG folder (DataKit deployments write into it), examples symlinked in.
    dags = home / "dags"
    dags.mkdir(exist_ok=True)
    if not (dags / "examples").exists():
        (dags / "examples").symlink_to(REPO / "dags_examples")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn or f"sqlite:///{home}/airflow.db",
        "AIRFLOW__WEBSERVER__SECRET_KEY": secret,
        "AIRFLOW__CORE__FERNET_KEY": fernet_key,
        "AIRFLOW__WEBSERVER__WORKERS": "1",
        "AIRFLOW__API__SECRET_KEY": secret,
        "AIRFLOW__API_AUTH__JWT_SECRET": secret,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__PLATFORM__WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
        # Webhook receivers in the tests listen on 127.0.0.1; every other non-public address stays refused.
        "AIRFLOW__PLATFORM__WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        # The servers deliver webhooks themselves (a dispatcher thread per process), as in production.
        "AIRFLOW__PLATFORM__WEBHOOK_DISPATCHER": "True",
    }
    if airflow_major() >= 3:
        env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB_AUTH_MANAGER
        if port:
            env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    else:
        env["AIRFLOW__API__AUTH_BACKENDS"] = AIRFLOW2_AUTH_BACKENDS
    return env


def run_airflow(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    result = subprocess.run(
        [AIRFLOW_BIN, *args], env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def prepare_airflow_home(env: dict[str, str]) -> None:
    """``airflow db migrate`` (which also migrates the platform on Airflow 3) and an admin user."""
    run_airflow(env, "db", "migrate")
    # Schema on Airflow 2 (Airflow 3's `db migrate` did it already), and FAB permissions on both.
    platform_admin(env, "db", "migrate")
    create_users(env, [(ADMIN_USER, "Admin", ADMIN_PASSWORD)])


def platform_admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(VENV_BIN / "airflow-platform"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow-platform {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


_CREATE_USERS = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    for username, role, password in json.loads(sys.argv[1]):
        if sm.find_user(username=username) is None:
            email = f"{username}@example.com"
            made = sm.add_user(username, username, "Test", email, sm.find_role(role), password)
            assert made, f"could not create {username}"
"""


def create_users(env: dict[str, str], users: list[tuple[str, str, str]]) -> None:
    """FAB users (username, role, password) in one process: far faster than `airflow users create`."""
    import json

    result = subprocess.run(
        [sys.executable, "-c", _CREATE_USERS, json.dumps(users)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"creating users failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def create_key(env: dict[str, str], user: str, *args: str) -> str:
    """A platform API key made with `airflow-platform keys create` (the shell route)."""
    return platform_admin(env, "keys", "create", "--user", user, "--quiet", *args).stdout.strip()


@dataclass
class AirflowServer:
    """A real Airflow web/API server on a loopback port, in its own process group."""

    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    extra_processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        if airflow_major() >= 3:
            args = ["api-server", "--host", "127.0.0.1", "--port", str(self.port)]
        else:
            # Its own pid file: Airflow 2 refuses a second webserver on one AIRFLOW_HOME otherwise.
            pid_file = self.log_path.with_suffix(".pid")
            args = ["webserver", "--hostname", "127.0.0.1", "--port", str(self.port), "--pid", str(pid_file)]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [AIRFLOW_BIN, *args],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Airflow server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/api/v1/platform/health", timeout=2).status_code < 500:
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Airflow server did not answer within {timeout}s:\n{self.log_tail()}")

    def start_scheduler(self) -> None:
        """Run DAGs too: the scheduler (and Airflow 3's separate DAG processor) on this installation.

        Airflow 3 runs tasks with the LocalExecutor (it works on SQLite), Airflow 2 with the
        SequentialExecutor (the only one SQLite allows there).
        """
        executor = "LocalExecutor" if airflow_major() >= 3 else "SequentialExecutor"
        env = {
            **os.environ,
            **self.env,
            "AIRFLOW__CORE__EXECUTOR": executor,
            # Executors start `airflow tasks run ...` by name: this venv's airflow must come first.
            "PATH": f"{Path(AIRFLOW_BIN).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        }
        commands = [["scheduler"]] + ([["dag-processor"]] if airflow_major() >= 3 else [])
        for command in commands:
            log = self.log_path.with_name(f"{self.log_path.stem}-{command[0]}.log").open("ab")
            self.extra_processes.append(
                subprocess.Popen(
                    [AIRFLOW_BIN, *command],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def stop_scheduler(self) -> None:
        for proc in self.extra_processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        self.extra_processes.clear()

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 240, interval: float = 1) -> Any:
        """``check()``'s first truthy value; fails with the scheduler's log after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"{what} within {timeout}s\n{self.scheduler_log_tail()}")

    def scheduler_log_tail(self, chars: int = 4000) -> str:
        parts = []
        for name in ("scheduler", "dag-processor"):
            path = self.log_path.with_name(f"{self.log_path.stem}-{name}.log")
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text(errors="replace")[-chars:])
        return "\n".join(parts)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        for proc in [self.process, *self.extra_processes]:
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@contextlib.contextmanager
def running_server(env: dict[str, str], port: int, log_dir: Path) -> Iterator[AirflowServer]:
    server = AirflowServer(env=env, port=port, log_path=log_dir / f"server-{port}.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- services ---------------------------------------------------------------------------------

DEFAULT_PG_URL = "postgresql://platform:platform@127.0.0.1:5432/postgres"


def postgres_url() -> str | None:
    """The PostgreSQL server to test against, or None when none answers."""
    url = os.environ.get("PLATFORM_TEST_PG_URL", DEFAULT_PG_URL)
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=3).close()
    except Exception:
        return None
    return url


@contextlib.contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    import psycopg2

    name = f"platform_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    prefix, _, _ = base_url.rpartition("/")
    try:
        yield f"{prefix}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str | None:
    """The Redis server to test against, or None when none answers."""
    url = os.environ.get("PLATFORM_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


def airflow_json(env: dict[str, str], *args: str) -> Any:
    """``airflow ... -o json`` parsed; Airflow 3 may print warnings on stdout before the JSON."""
    import json

    out = run_airflow(env, *args, "-o", "json").stdout
    start = min(i for i in (out.find("[{"), out.find("[]"), out.find('{"')) if i >= 0)
    return json.loads(out[start:])


def python_json(env: dict[str, str], code: str, forbid_db: bool = False, timeout: float = 120) -> Any:
    """Run ``code`` in a fresh interpreter of this venv with ``env``; its last stdout line is JSON.

    With ``forbid_db`` the metadata DB points at a path that cannot exist, so any query fails: what
    runs must read files only (as DAG parsing must on Airflow 3).
    """
    import json

    full_env = {**os.environ, **env}
    if forbid_db:
        full_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:////nonexistent-platform-dir/no.db"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"python failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
