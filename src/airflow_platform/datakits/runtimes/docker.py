"""The Docker runtime: one container per run on a Docker engine, through the ``docker`` library.

The work folder is bind-mounted (inputs read-only at ``/datakit/inputs``, outputs at
``/datakit/outputs``), so the engine must see the worker's file system: the engine is on the
worker's machine. The container gets no network unless the kit asks for it, runs under the
engine's init (``--init``) so that stopping it reaches the kit's processes at once, and is removed
by the engine when it exits (``--rm``), or by the runtime if it never ran.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_platform.datakits.contract import (
    CONTAINER_INPUTS,
    CONTAINER_OUTPUTS,
    DataKitError,
    DataKitImageNotFoundError,
    DataKitTimeoutError,
)
from airflow_platform.datakits.runtimes import ContainerJob, LogTail, RunResult

#: Seconds a stopped container gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 10
LABEL_PREFIX = "io.airflow-platform.datakit"


class DockerRuntime:
    """Runs a kit on a Docker engine.

    The engine is ``base_url`` (``unix://...``, ``tcp://...``), else the host of Airflow connection
    ``docker_conn_id``, else ``DOCKER_HOST`` / the default socket. Nothing connects until a run.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        docker_conn_id: str | None = None,
        stop_grace_s: int = STOP_GRACE_S,
        pull_missing: bool = True,
    ) -> None:
        self.base_url = base_url
        self.docker_conn_id = docker_conn_id
        self.stop_grace_s = stop_grace_s
        self.pull_missing = pull_missing
        self._container: Any = None
        self._lock = threading.Lock()
        self.timed_out = False
        self.stopped = False

    @cached_property
    def client(self) -> Any:
        import docker

        base_url = self.base_url
        if base_url is None and self.docker_conn_id:
            from airflow_platform import compat

            base_url = compat.get_connection(self.docker_conn_id).host or None
        if base_url is None:
            return docker.from_env(version="auto")
        return docker.DockerClient(base_url=base_url, version="auto")

    @cached_property
    def default_network_is_isolated(self) -> bool:
        """True when the engine has no ``bridge`` network (``dockerd --bridge=none``).

        There a container's default network namespace holds only loopback, the same isolation as
        ``network_mode="none"``, which such an engine sets up markedly slower (≈85 ms a run here). Any
        doubt (the engine cannot list its networks) answers False, so the operator asks for ``none``.
        """
        try:
            return not any(n.name == "bridge" for n in self.client.networks.list())
        except Exception:  # an engine that cannot answer gets the explicit setting
            return False

    # -- the run -------------------------------------------------------------------------------

    def container_kwargs(self, job: ContainerJob, workdir: Path) -> dict[str, Any]:
        """What ``containers.create`` gets: mounts, contract variables, limits, network, labels."""
        from docker.types import DeviceRequest, Mount

        plan = job.plan
        inputs = {p.name: f"{CONTAINER_INPUTS}/{p.name}.parquet" for p in plan.inputs}
        outputs = {p.name: f"{CONTAINER_OUTPUTS}/{p.name}.parquet" for p in plan.outputs}
        environment = {**job.environment, **plan.environment(job.run_id, inputs, outputs)}
        labels = {
            f"{LABEL_PREFIX}.name": plan.name,
            f"{LABEL_PREFIX}.version": plan.version,
            f"{LABEL_PREFIX}.run_id": job.run_id,
        }
        if job.dag_id:
            labels[f"{LABEL_PREFIX}.dag_id"] = job.dag_id
        if job.task_id:
            labels[f"{LABEL_PREFIX}.task_id"] = job.task_id
        kwargs: dict[str, Any] = {
            "image": plan.image,
            "name": _container_name(plan.name),
            "environment": environment,
            "mounts": [
                Mount(target=CONTAINER_INPUTS, source=str(workdir / "inputs"), type="bind", read_only=True),
                Mount(target=CONTAINER_OUTPUTS, source=str(workdir / "outputs"), type="bind"),
            ],
            "labels": labels,
            "init": True,
            "auto_remove": True,
            "detach": True,
        }
        if job.network is False and not self.default_network_is_isolated:
            kwargs["network_mode"] = "none"
        elif isinstance(job.network, str):
            kwargs["network_mode"] = job.network
        resources = plan.resources
        if resources.nano_cpus:
            kwargs["nano_cpus"] = resources.nano_cpus
        if resources.memory_bytes:
            kwargs["mem_limit"] = resources.memory_bytes
        if resources.gpu:
            kwargs["device_requests"] = [DeviceRequest(count=1, capabilities=[["gpu"]])]
        return kwargs

    def run(self, job: ContainerJob, workdir: Path, on_line: Callable[[str], None]) -> RunResult:
        import docker.errors
        import requests.exceptions

        kwargs = self.container_kwargs(job, workdir)
        container = self._create(kwargs)
        tail = LogTail()
        timer = None
        try:
            if self.stopped:  # on_kill came while the container was being created
                raise DataKitError("The task was stopped before its container started")
            # As `docker run --rm` does: the wait for removal is registered, and the output
            # attached, before the container starts, so the daemon removes it as soon as it exits
            # (no extra round trip) and neither its exit code nor its first lines can be missed.
            waiter = self._register_wait(container)
            stream = container.attach(stdout=True, stderr=True, stream=True, logs=True)
            container.start()
            if job.timeout:
                timer = threading.Timer(job.timeout, self._expire)
                timer.daemon = True
                timer.start()
            for line in _lines(stream):
                tail.add(line)
                on_line(line)
            exit_code = self._exit_code(waiter)
            with self._lock:
                self._container = None  # the engine has removed it
        except docker.errors.APIError as e:
            if self.timed_out or self.stopped:
                exit_code = -1
            else:
                raise DataKitError(f"The Docker engine refused the run: {e.explanation or e}") from None
        except (requests.exceptions.RequestException, docker.errors.DockerException) as e:
            # The engine died or restarted under the run (its streams broke or it refuses connections):
            # the kit's result is unknown, so the run fails; a retry starts from scratch.
            raise DataKitError(
                f"Lost the Docker engine{self._where()} during the run ({_first_line(e)}); the container "
                f"was stopped with it or is removed when the engine comes back. Retry the task."
            ) from None
        finally:
            if timer is not None:
                timer.cancel()
            self._remove()
        if self.timed_out:
            raise DataKitTimeoutError(
                f"The DataKit ran longer than its timeout of {job.timeout:g}s and was stopped",
                details={"log_tail": tail.lines},
            )
        return RunResult(exit_code=exit_code, log_tail=tail.lines)

    def _register_wait(self, container: Any) -> Any:
        """``POST /containers/{id}/wait?condition=removed``, returning once the daemon has it.

        docker-py's ``wait()`` blocks until the answer, so it could only be called after ``start``,
        when an auto-removed container may already be gone. The engine sends the headers as soon
        as the wait is registered (API >= 1.30), so a streamed request returns then; the body, with
        the exit code, comes when the container has been removed.
        """
        api = self.client.api
        response = api._post(
            api._url("/containers/{0}/wait", container.id),
            params={"condition": "removed"},
            timeout=None,
            stream=True,
        )
        api._raise_for_status(response)
        return response

    @staticmethod
    def _exit_code(waiter: Any) -> int:
        answer = json.loads(waiter.content or b"{}")
        error = (answer.get("Error") or {}).get("Message")
        if error:
            raise DataKitError(f"The Docker engine could not wait for the container: {error}")
        return int(answer.get("StatusCode", -1))

    def _create(self, kwargs: dict[str, Any]) -> Any:
        import docker.errors

        image = kwargs["image"]
        try:
            container = self.client.containers.create(**kwargs)
        except docker.errors.ImageNotFound:
            if not self.pull_missing:
                raise DataKitImageNotFoundError(
                    f"Image {image} is not on the Docker engine", details={"image": image}
                ) from None
            try:
                self.client.images.pull(image)
            except docker.errors.APIError as e:
                raise DataKitImageNotFoundError(
                    f"Image {image} is not on the Docker engine and could not be pulled: "
                    f"{_first_line(e.explanation or e)}",
                    details={"image": image},
                ) from None
            container = self.client.containers.create(**kwargs)
        except docker.errors.DockerException as e:
            raise DataKitError(
                f"The Docker engine could not create the container: {_first_line(e)}"
            ) from None
        with self._lock:
            self._container = container
        return container

    def _expire(self) -> None:
        self.timed_out = True
        self._stop_container()

    def _stop_container(self) -> None:
        import docker.errors

        with self._lock:
            container = self._container
        if container is None:
            return
        try:
            container.stop(timeout=self.stop_grace_s)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError:
            with contextlib.suppress(docker.errors.APIError):
                container.kill()

    def _remove(self) -> None:
        import docker.errors
        import requests.exceptions

        with self._lock:
            container, self._container = self._container, None
        if container is None:
            return
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if "already in progress" not in str(e):
                raise
        except (requests.exceptions.RequestException, docker.errors.DockerException):
            # No engine to ask: the run's own error says so. The container is auto-removed, so the
            # engine reaps it when it starts again (a daemon restart removes stopped --rm containers).
            pass

    def _where(self) -> str:
        return f" at {self.base_url}" if self.base_url else ""

    def stop(self) -> None:
        self.stopped = True
        self._stop_container()
        self._remove()


def _container_name(kit: str) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in kit)[:40].strip("-_.") or "kit"
    return f"datakit-{safe}-{uuid.uuid4().hex[:10]}"


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Whole lines from the engine's log frames, which split lines wherever writes did."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield raw.rstrip(b"\r").decode("utf-8", errors="replace")
    if pending:
        yield pending.decode("utf-8", errors="replace")


def _first_line(error: object) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def default_base_url() -> str | None:
    """``[platform] datakit_docker_url``, or None for ``DOCKER_HOST`` / the default socket."""
    from airflow_platform import config

    return config.get("datakit_docker_url") or os.environ.get("DOCKER_HOST") or None
