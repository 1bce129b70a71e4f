"""``DataKitOperator``: run a DataKit image against the warehouse, on Docker or Kubernetes.

A task of this operator plans the run first (manifest, merged configuration, input and output
tables) and fails before anything starts when the plan is wrong. It then exports the inputs as
Parquet, runs the image with the DataKit run contract (DESIGN.md §5), streams the image's output
into the task log while it runs, and loads the outputs into the warehouse in one transaction. It
never touches Airflow's metadata DB, as Airflow 3 tasks cannot: a named kit's manifest is read from
the registry's files, and connections come through ``BaseHook.get_connection``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_platform import compat
from airflow_platform.exceptions import PlatformError

if TYPE_CHECKING:
    from airflow.models.baseoperator import BaseOperator

    from airflow_platform.datakits.contract import RunPlan
    from airflow_platform.datakits.runtimes import Runtime
else:
    BaseOperator = compat.base_operator()

RUNTIMES = ("docker", "kubernetes")


class DataKitOperator(BaseOperator):
    """Run a DataKit: a versioned container image that reads and writes warehouse tables.

    Name the kit in one of three ways: ``manifest=`` (the registered manifest, inline; what the
    deployment DAGs do), ``datakit=`` + ``version=`` (read from the registry's files when the task
    runs), or ``image=`` alone (an unregistered image: no schema, so every configuration key passes).

    :param datakit: Name of a registered kit (with ``version``).
    :param version: Registered version of ``datakit``, e.g. ``"1.0.0"``.
    :param image: The image to run. With a manifest it overrides the registered image (e.g. to pin
        a digest). (templated)
    :param manifest: The registered manifest as a dict (the register body of the API reference).
    :param configuration: Values for the kit's configuration keys, on top of the manifest's
        defaults; keys of the DAG run's ``conf`` that the kit declares come on top of these. Unknown
        keys and wrong types fail the task before any container starts. (templated)
    :param inputs: Input port → ``"schema.table"`` of the warehouse, replacing the manifest's
        ``<schema>.<port>``. Without a manifest, the inputs to export. (templated)
    :param outputs: Output port → ``"schema.table"`` to load the port's file into. (templated)
    :param runtime: ``"docker"`` (default) or ``"kubernetes"``.
    :param warehouse_path: The DuckDB warehouse file; default ``[platform] warehouse_path``.
    :param network: Give the container a network: True (the engine's default network), a Docker
        network name, or False. Default: the manifest's ``requirements.network`` (else none).
    :param timeout: Seconds the container may run; it is stopped and the task fails after that.
    :param docker_conn_id: Airflow connection whose host is the Docker engine URL.
    :param docker_url: Docker engine URL, e.g. ``unix:///var/run/docker.sock``; default
        ``[platform] datakit_docker_url``, then ``DOCKER_HOST``.
    :param namespace: Kubernetes namespace of the pod (the tenant's). (templated)
    :param kubernetes_conn_id: Airflow Kubernetes connection; default: in-cluster / kube config.
    :param object_storage_uri: Kubernetes only: where the run's Parquet files go, e.g.
        ``s3://bucket/datakits`` (``s3://conn_id@bucket/...`` names an Airflow connection); default
        ``[platform] datakit_object_storage_uri``. (templated)
    :param environment: Extra environment variables for the container; the contract's
        ``DATAKIT_*`` variables cannot be overridden. (templated)
    :param service_account_name: Kubernetes only: the pod's service account (object storage access).
    :param pull_missing: Docker only: pull the image when the engine does not have it.
    """

    template_fields: Sequence[str] = (
        "image",
        "configuration",
        "inputs",
        "outputs",
        "environment",
        "namespace",
        "object_storage_uri",
    )
    template_fields_renderers = {
        "configuration": "json",
        "inputs": "json",
        "outputs": "json",
        "environment": "json",
    }
    ui_color = "#e4f0e8"

    def __init__(
        self,
        *,
        datakit: str | None = None,
        version: str | None = None,
        image: str | None = None,
        manifest: Mapping[str, Any] | None = None,
        configuration: Mapping[str, Any] | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
        runtime: str = "docker",
        warehouse_path: str | None = None,
        network: bool | str | None = None,
        timeout: float | None = None,
        docker_conn_id: str | None = None,
        docker_url: str | None = None,
        namespace: str | None = None,
        kubernetes_conn_id: str | None = None,
        object_storage_uri: str | None = None,
        environment: Mapping[str, str] | None = None,
        service_account_name: str | None = None,
        pull_missing: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        if manifest is None and not datakit and not image:
            raise ValueError("DataKitOperator needs manifest=, datakit= with version=, or image=")
        if datakit and not version and manifest is None:
            raise ValueError("datakit= needs version= (a registered version, e.g. '1.0.0')")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be more than zero seconds")
        self.datakit = datakit
        self.version = version
        self.image = image
        self.manifest = dict(manifest) if manifest is not None else None
        self.configuration = dict(configuration or {})
        self.inputs = dict(inputs or {})
        self.outputs = dict(outputs or {})
        self.runtime = runtime
        self.warehouse_path = warehouse_path
        self.network = network
        self.timeout = timeout
        self.docker_conn_id = docker_conn_id
        self.docker_url = docker_url
        self.namespace = namespace
        self.kubernetes_conn_id = kubernetes_conn_id
        self.object_storage_uri = object_storage_uri
        self.environment = dict(environment or {})
        self.service_account_name = service_account_name
        self.pull_missing = pull_missing
        self._runtime: Runtime | None = None

    # -- planning ------------------------------------------------------------------------------

    def _manifest(self) -> dict[str, Any] | None:
        if self.manifest is not None:
            return self.manifest
        if not self.datakit:
            return None
        from airflow_platform.datakits.files import read_manifest

        return read_manifest(self.datakit, str(self.version))

    def plan(self, context: Mapping[str, Any]) -> RunPlan:
        """The checked run: raises before any container or file exists when something is wrong."""
        from airflow_platform.datakits import contract

        raw = self._manifest()
        manifest = contract.parse_manifest(raw) if raw is not None else None
        return contract.plan_run(
            manifest=manifest,
            image=self.image,
            configuration=self.configuration,
            run_conf=_run_conf(context),
            inputs=self.inputs,
            outputs=self.outputs,
            name=self.datakit,
        )

    def _make_runtime(self) -> Runtime:
        from airflow_platform import config

        if self.runtime == "kubernetes":
            from airflow_platform.datakits.runtimes.kubernetes import KubernetesRuntime

            uri = self.object_storage_uri or config.get("datakit_object_storage_uri")
            if not uri:
                raise ValueError(
                    "runtime='kubernetes' needs object_storage_uri= or [platform] datakit_object_storage_uri "
                    "(e.g. s3://bucket/datakits)"
                )
            return KubernetesRuntime(
                namespace=self.namespace,
                object_storage_uri=uri,
                kubernetes_conn_id=self.kubernetes_conn_id,
                service_account_name=self.service_account_name,
            )
        from airflow_platform.datakits.runtimes.docker import DockerRuntime

        return DockerRuntime(
            base_url=self.docker_url
            or (None if self.docker_conn_id else config.get("datakit_docker_url"))
            or None,
            docker_conn_id=self.docker_conn_id,
            pull_missing=self.pull_missing,
        )

    # -- running -------------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_platform import config
        from airflow_platform.datakits import contract
        from airflow_platform.datakits.runtimes import ContainerJob

        task_failed, task_failed_for_good = compat.task_exceptions()
        try:
            plan = self.plan(context)
        except contract.DataKitConfigError as e:
            raise task_failed_for_good(e.message) from None
        except PlatformError as e:  # e.g. the named version is not registered
            raise task_failed(e.message) from None
        warehouse = self.warehouse_path or config.warehouse_path()
        lock_wait = float(config.get_int("datakit_lock_wait_seconds"))
        network = self.network if self.network is not None else plan.resources.network
        job = ContainerJob(
            plan=plan,
            run_id=str(context.get("run_id") or "manual"),
            dag_id=getattr(context.get("dag"), "dag_id", None) or getattr(self, "dag_id", None),
            task_id=self.task_id,
            environment={str(k): str(v) for k, v in self.environment.items()},
            timeout=self.timeout,
            network=network,
        )
        self.log.info(
            "DataKit %s %s: image %s on %s; inputs %s; outputs %s",
            plan.name,
            plan.version,
            plan.image,
            self.runtime,
            ", ".join(f"{p.name}<-{p.qualified}" for p in plan.inputs) or "none",
            ", ".join(f"{p.name}->{p.qualified}" for p in plan.outputs) or "none",
        )
        runtime = self._make_runtime()
        workdir = _make_workdir(config.get("datakit_work_dir") or None)
        self._runtime = runtime
        try:
            staged = contract.stage_inputs(warehouse, plan.inputs, workdir / "inputs", lock_wait_s=lock_wait)
            for port in plan.inputs:
                self.log.info("Input %s: %s rows from %s", port.name, staged[port.name], port.qualified)
            result = runtime.run(job, workdir, self._log_line)
            if getattr(runtime, "stopped", False):
                raise task_failed(f"DataKit {plan.name} was stopped (the task was killed)")
            if result.exit_code != 0:
                tail = "\n".join(result.log_tail) or "(no output)"
                raise task_failed(
                    f"DataKit {plan.name} {plan.version} ({plan.image}) exited with code {result.exit_code}"
                    f"{_signal_hint(result.exit_code)}. Last log lines:\n{tail}"
                )
            loaded = contract.load_outputs(
                warehouse, plan.outputs, workdir / "outputs", lock_wait_s=lock_wait
            )
        except contract.DataKitTimeoutError as e:
            tail = "\n".join(e.details.get("log_tail") or []) or "(no output)"
            raise task_failed(f"{e.message}. Last log lines:\n{tail}") from None
        except PlatformError as e:
            raise task_failed(e.message) from None
        finally:
            self._runtime = None
            shutil.rmtree(workdir, ignore_errors=True)
        for item in loaded:
            self.log.info("Output %s: %s rows loaded into %s", item["name"], item["rows"], item["table"])
        return {"outputs": loaded, "exit_code": 0, "image": plan.image}

    def _log_line(self, line: str) -> None:
        self.log.info("%s", line)

    def on_kill(self) -> None:
        runtime = self._runtime
        if runtime is not None:
            self.log.info("Stopping the DataKit's container")
            runtime.stop()


def _signal_hint(exit_code: int) -> str:
    """128+N means signal N came from outside the kit: most often the engine stopping (a restart)."""
    if exit_code == 143:
        return " (SIGTERM: stopped from outside, e.g. by the Docker engine shutting down or restarting)"
    if exit_code == 137:
        return " (SIGKILL: killed from outside, e.g. out of memory, or by the engine stopping it)"
    return ""


def _run_conf(context: Mapping[str, Any]) -> dict[str, Any]:
    dag_run = context.get("dag_run")
    conf = getattr(dag_run, "conf", None) if dag_run is not None else None
    return dict(conf) if isinstance(conf, Mapping) else {}


def _make_workdir(base: str | None) -> Path:
    """A private folder per run; ``outputs/`` is world-writable since the image may not run as us."""
    if base:
        os.makedirs(base, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="datakit-", dir=base))
    path.chmod(0o755)
    (path / "inputs").mkdir(mode=0o755)
    (path / "outputs").mkdir()
    (path / "outputs").chmod(0o777)
    return path
