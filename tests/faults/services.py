"""Private services for the fault tests: a PostgreSQL, a Redis and a Docker engine of their own.

The fault tests stop and start these on purpose, so they never touch the shared services other
tests use (127.0.0.1:5432, :6379, /var/run/docker.sock). Each lives in a temporary folder, listens
on loopback (or a socket in that folder) and is stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests import harness

PG_USER = "platform"
PG_PASSWORD = "platform"


def _wait(
    what: str, ready: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up within {timeout}s")


def _stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    for candidate in (f"/usr/lib/postgresql/15/bin/{name}", shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    return None


@dataclass
class PrivatePostgres:
    """A throwaway cluster run by the ``postgres`` OS user when we are root (initdb refuses root)."""

    root: Path
    port: int = field(default_factory=harness.free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd="/")

    def init(self) -> None:
        initdb = _pg_bin("initdb")
        assert initdb
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(PG_PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        result = self._as_owner(
            initdb, "-D", str(self.data), "-U", PG_USER, f"--pwfile={pwfile}", "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync",
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
            )

    def start(self) -> None:
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl
        result = self._as_owner(
            pg_ctl, "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-t", "60", "start"
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{self.log_tail()}")
        _wait("PostgreSQL", self.answers, 30)

    def stop(self, mode: str = "fast") -> None:
        pg_ctl = _pg_bin("pg_ctl")
        assert pg_ctl
        if (self.data / "postmaster.pid").exists():
            self._as_owner(pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def answers(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(self.url, connect_timeout=2).close()
        except psycopg2.Error:
            return False
        return True

    def log_tail(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        harness.missing_service("PostgreSQL", "initdb/pg_ctl not found (scripts/services.sh install)")
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        harness.missing_service("PostgreSQL", "running as root and there is no 'postgres' OS user for initdb")
    # Not under a private (0700) pytest tmp folder: the postgres user must reach it.
    root = Path(tempfile.mkdtemp(prefix="platform-faults-pg-"))
    pg = PrivatePostgres(root)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


# --- Redis --------------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    root: Path
    port: int = field(default_factory=harness.free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.root)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _wait("Redis", self.answers, 20, self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False


@contextlib.contextmanager
def private_redis(root: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None and not Path("/usr/bin/redis-server").exists():
        harness.missing_service("Redis", "no redis-server binary (scripts/services.sh install)")
    server = PrivateRedis(root)
    try:
        server.start()
        yield server
    finally:
        server.kill()


# --- Docker -------------------------------------------------------------------------------------


@dataclass
class PrivateDocker:
    """A second dockerd with its own data root, exec root and managed containerd.

    ``--exec-root`` gives the managed containerd its own state and socket, so this engine shares
    nothing with the machine's engine. No bridge, no iptables: containers get loopback only.
    """

    root: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 60) -> None:
        for sub in ("data", "exec"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # A crashed dockerd leaves its containerd's pid file behind, and that pid may linger as a
        # zombie (no init reaps it here): the new dockerd would wait on it until it gives up.
        pidfile = self.root / "exec" / "containerd" / "containerd.pid"
        with contextlib.suppress(OSError, ValueError):
            if not _alive(int(pidfile.read_text().strip())):
                pidfile.unlink()
        log = (self.root / "dockerd.log").open("ab")
        self.process = subprocess.Popen(
            ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
             "--pidfile", str(self.root / "dockerd.pid"), "-H", self.url, "--bridge=none",
             "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait("dockerd", self.answers, timeout, self.process)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{self.log_tail()}") from None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the engine; SIGKILL is a crash (containerd and the container's shim may outlive it)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        self.process.wait(timeout=60)
        if sig == signal.SIGKILL:
            # The managed containerd of a crashed dockerd: leaving it would make the next one wait on it.
            pidfile = self.root / "exec" / "containerd" / "containerd.pid"
            with contextlib.suppress(OSError, ValueError):
                pid = int(pidfile.read_text().strip())
                if _alive(pid) and Path(f"/proc/{pid}/comm").read_text().strip() == "containerd":
                    _stop_pid(pid, signal.SIGKILL)

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.url, version="auto", timeout=30)

    def answers(self) -> bool:
        try:
            client = self.client()
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False

    def log_tail(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def cleanup(self) -> None:
        """Shims of killed runs, then the mounts dockerd leaves under its data root."""
        for pid_dir in Path("/proc").iterdir():
            if not pid_dir.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                cmdline = (pid_dir / "cmdline").read_bytes().decode(errors="replace")
                if str(self.root) in cmdline and "containerd-shim" in cmdline:
                    _stop_pid(int(pid_dir.name), signal.SIGKILL, timeout=5)
        mounts = [
            line.split()[1]
            for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(self.root))
        ]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def private_docker_unavailable() -> str | None:
    if shutil.which("dockerd") is None:
        return "no dockerd binary"
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    return None


@contextlib.contextmanager
def private_docker() -> Iterator[PrivateDocker]:
    why = private_docker_unavailable()
    if why:
        harness.missing_service("Docker (private engine)", why)
    engine = PrivateDocker(Path(tempfile.mkdtemp(prefix="platform-faults-docker-")))
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
        engine.cleanup()
