"""The Kubernetes runtime: one pod per run, through the cncf.kubernetes provider's ``PodManager``.

A pod cannot mount the worker's folder, so the run's files go through object storage: inputs are
uploaded to ``<object_storage_uri>/<dag_id>/<run_id>/<task_id>/inputs/<name>.parquet`` before the
pod starts, the pod gets those URIs in ``DATAKIT_INPUTS`` / ``DATAKIT_OUTPUTS`` and writes its outputs
there, and the outputs come back to the work folder before they are loaded (by the same code as
on Docker). The run's prefix is deleted afterwards. The pod needs its own access to the bucket
(a service account with workload identity, or credentials the kit reads from a secret).

Not run against a live cluster here: the tests drive this code through a stand-in ``CoreV1Api`` at
the cluster boundary (``kube_client=``); the pod it builds, the object-storage round trip, log
streaming and the exit-code handling are real.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_platform.datakits.contract import DataKitError, DataKitTimeoutError
from airflow_platform.datakits.runtimes import ContainerJob, LogTail, RunResult

CONTAINER_NAME = "base"  # the name KubernetesPodOperator gives the main container
LABEL_PREFIX = "airflow-platform.io"
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


class KubernetesRuntime:
    """Runs a kit as a pod in ``namespace`` (the tenant's namespace)."""

    def __init__(
        self,
        *,
        namespace: str | None = None,
        object_storage_uri: str,
        kubernetes_conn_id: str | None = None,
        service_account_name: str | None = None,
        startup_timeout_s: int = 300,
        kube_client: Any = None,
    ) -> None:
        self.namespace = namespace or "default"
        self.object_storage_uri = object_storage_uri.rstrip("/")
        self.kubernetes_conn_id = kubernetes_conn_id
        self.service_account_name = service_account_name
        self.startup_timeout_s = startup_timeout_s
        self._kube_client = kube_client
        self._pod: Any = None
        self._lock = threading.Lock()
        self.stopped = False

    @property
    def kube_client(self) -> Any:
        """``CoreV1Api`` from the provider's hook (the Airflow connection, or in-cluster config)."""
        if self._kube_client is None:
            from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

            hook = (
                KubernetesHook(conn_id=self.kubernetes_conn_id)
                if self.kubernetes_conn_id
                else KubernetesHook()
            )
            self._kube_client = hook.core_v1_client
        return self._kube_client

    # -- object storage --------------------------------------------------------------------------

    def run_prefix(self, job: ContainerJob) -> str:
        parts = [job.dag_id or "adhoc", job.run_id, job.task_id or job.plan.name]
        return "/".join([self.object_storage_uri, *(_path_part(p) for p in parts)])

    def uris(self, job: ContainerJob) -> tuple[dict[str, str], dict[str, str]]:
        prefix = self.run_prefix(job)
        return (
            {p.name: f"{prefix}/inputs/{p.name}.parquet" for p in job.plan.inputs},
            {p.name: f"{prefix}/outputs/{p.name}.parquet" for p in job.plan.outputs},
        )

    # -- the pod ------------------------------------------------------------------------------------

    def build_pod(self, job: ContainerJob) -> Any:
        """The pod of one run: image, contract variables with URIs, limits, labels, no retries."""
        from kubernetes.client import models as k8s

        plan = job.plan
        inputs, outputs = self.uris(job)
        environment = {**job.environment, **plan.environment(job.run_id, inputs, outputs)}
        res = plan.resources
        quantities: dict[str, str] = {}
        if res.cpu:
            quantities["cpu"] = res.cpu
        if res.memory:
            quantities["memory"] = res.memory
        limits = dict(quantities)
        if res.gpu:
            limits["nvidia.com/gpu"] = "1"
        labels = {
            f"{LABEL_PREFIX}/datakit": _label(plan.name),
            f"{LABEL_PREFIX}/version": _label(plan.version),
            f"{LABEL_PREFIX}/run-id": _label(job.run_id),
            # For a NetworkPolicy of the namespace: pods cannot switch their network off themselves.
            f"{LABEL_PREFIX}/network": "allowed" if job.network or res.network else "none",
        }
        if job.dag_id:
            labels[f"{LABEL_PREFIX}/dag-id"] = _label(job.dag_id)
        if job.task_id:
            labels[f"{LABEL_PREFIX}/task-id"] = _label(job.task_id)
        container = k8s.V1Container(
            name=CONTAINER_NAME,
            image=plan.image,
            image_pull_policy="IfNotPresent",
            env=[k8s.V1EnvVar(name=k, value=v) for k, v in sorted(environment.items())],
            resources=k8s.V1ResourceRequirements(requests=quantities or None, limits=limits or None),
        )
        return k8s.V1Pod(
            api_version="v1",
            kind="Pod",
            metadata=k8s.V1ObjectMeta(
                name=f"datakit-{_dns(plan.name)[:40]}-{uuid.uuid4().hex[:8]}",
                namespace=self.namespace,
                labels=labels,
                annotations={f"{LABEL_PREFIX}/run-id": job.run_id},
            ),
            spec=k8s.V1PodSpec(
                containers=[container],
                restart_policy="Never",
                # The kit talks to object storage, never to the Kubernetes API.
                automount_service_account_token=False,
                service_account_name=self.service_account_name,
                active_deadline_seconds=int(job.timeout) if job.timeout else None,
            ),
        )

    def run(self, job: ContainerJob, workdir: Path, on_line: Callable[[str], None]) -> RunResult:
        from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

        inputs, outputs = self.uris(job)
        pod = self.build_pod(job)
        manager = PodManager(kube_client=self.kube_client)
        tail = LogTail()

        def formatter(container: str, message: str) -> str:
            # PodManager logs each line itself (into the task log); this only keeps the tail.
            message = message.rstrip("\r\n")
            tail.add(message)
            return message

        try:
            self._upload(workdir / "inputs", inputs)
            with self._lock:
                if self.stopped:
                    raise DataKitError("The task was stopped before its pod was created")
                self._pod = manager.create_pod(pod)
            asyncio.run(
                manager.await_pod_start(
                    pod, schedule_timeout=self.startup_timeout_s, startup_timeout=self.startup_timeout_s
                )
            )
            manager.fetch_container_logs(pod, CONTAINER_NAME, follow=True, log_formatter=formatter)
            remote = manager.await_pod_completion(pod, container_name=CONTAINER_NAME)
            if (remote.status.reason or "") == "DeadlineExceeded":
                raise DataKitTimeoutError(
                    f"The DataKit ran longer than its timeout of {job.timeout:g}s and was stopped",
                    details={"log_tail": tail.lines},
                )
            exit_code = _exit_code(remote)
            if exit_code == 0:
                self._download(outputs, workdir / "outputs")
        except Exception:
            if self.stopped:  # on_kill deleted the pod under PodManager's feet
                raise DataKitError("The task was stopped; its pod was deleted") from None
            raise
        finally:
            self.stop_pod(manager)
            self._delete_prefix(job)
        return RunResult(exit_code=exit_code, log_tail=tail.lines)

    def stop_pod(self, manager: Any = None) -> None:
        with self._lock:
            pod, self._pod = self._pod, None
        if pod is None:
            return
        if manager is None:
            from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

            manager = PodManager(kube_client=self.kube_client)
        manager.delete_pod(pod)

    def stop(self) -> None:
        self.stopped = True
        self.stop_pod()

    # -- files ------------------------------------------------------------------------------------

    def _upload(self, directory: Path, uris: dict[str, str]) -> None:
        from airflow_platform import compat

        for name, uri in uris.items():
            target = compat.object_storage_path(uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            with (directory / f"{name}.parquet").open("rb") as src, target.open("wb") as dst:
                _copy(src, dst)

    def _download(self, uris: dict[str, str], directory: Path) -> None:
        from airflow_platform import compat

        directory.mkdir(parents=True, exist_ok=True)
        for name, uri in uris.items():
            source = compat.object_storage_path(uri)
            if not source.exists():
                continue  # reported by the loader as a missing output, with every other one
            with source.open("rb") as src, (directory / f"{name}.parquet").open("wb") as dst:
                _copy(src, dst)

    def _delete_prefix(self, job: ContainerJob) -> None:
        from airflow_platform import compat

        prefix = compat.object_storage_path(self.run_prefix(job))
        if prefix.exists():
            prefix.rmdir(recursive=True)


def _exit_code(pod: Any) -> int:
    for status in pod.status.container_statuses or []:
        if status.name == CONTAINER_NAME and status.state and status.state.terminated:
            return int(status.state.terminated.exit_code)
    phase = pod.status.phase
    raise DataKitError(
        f"The pod ended in phase {phase} without its container finishing ({pod.status.reason})"
    )


def _copy(src: Any, dst: Any, chunk: int = 4 * 1024 * 1024) -> None:
    while block := src.read(chunk):
        dst.write(block)


def _label(value: str) -> str:
    """A valid label value: at most 63 characters, alphanumeric at both ends."""
    return _LABEL_VALUE.sub("_", value)[:63].strip("_.-") or "none"


def _dns(value: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", value.lower()).strip("-") or "kit"


def _path_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]", "_", value) or "_"
