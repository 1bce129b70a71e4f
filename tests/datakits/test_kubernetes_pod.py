"""The Kubernetes runtime: the pod it builds, and whole runs through the provider's PodManager.

No cluster exists here, so only the cluster boundary is replaced: ``FakeCoreV1Api`` stands in for
``kubernetes.client.CoreV1Api`` (create/read/log/delete a pod). When the pod is first read it
"runs" the kit: a Python function that gets the pod's environment, reads its inputs from the
``file://`` object-storage URIs and writes its outputs there, as a real image would through fsspec.
Everything else is real: ``PodManager``'s start, log following and completion logic, the object
storage round trip through Airflow's ``ObjectStoragePath``, DuckDB loads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
from kubernetes.client import ApiClient
from kubernetes.client import models as k8s
from kubernetes.client.exceptions import ApiException

from airflow_platform import compat
from airflow_platform.datakits import contract
from airflow_platform.datakits.runtimes import ContainerJob
from airflow_platform.datakits.runtimes.kubernetes import KubernetesRuntime
from airflow_platform.operators import DataKitOperator
from tests.datakits.task_log import task_log

TaskFailed, _ = compat.task_exceptions()
POD_MANAGER_LOGGER = "airflow.providers.cncf.kubernetes.utils.pod_manager.PodManager"

#: A kit: pod environment -> (exit code, log lines, pod status reason).
Kit = Callable[[dict[str, str]], tuple[int, list[str], str | None]]


class _LogStream:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, amt: Any = None, decode_content: bool = True) -> Iterator[bytes]:
        # Split mid-line on purpose: PodManager must put lines back together.
        for i in range(0, len(self._data), 7):
            yield self._data[i : i + 7]

    def release_conn(self) -> None:
        pass


class FakeCoreV1Api:
    """The cluster boundary: just enough of ``CoreV1Api`` for ``PodManager``."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.api_client = ApiClient()  # used only to serialise the pod, no connection
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self._result: tuple[int, list[str], str | None] | None = None
        self._finished = datetime.now(timezone.utc)

    def create_namespaced_pod(self, body: dict[str, Any], namespace: str, **_: Any) -> k8s.V1Pod:
        assert namespace == body["metadata"]["namespace"]
        self.created.append(body)
        return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=body["metadata"]["name"], namespace=namespace))

    def _run(self) -> tuple[int, list[str], str | None]:
        if self._result is None:
            env = {e["name"]: e["value"] for e in self.created[-1]["spec"]["containers"][0]["env"]}
            self._result = self.kit(env)
            self._finished = datetime.now(timezone.utc)
        return self._result

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> k8s.V1Pod:
        exit_code, _lines, reason = self._run()
        if name in self.deleted:
            raise ApiException(status=404, reason="Not Found")
        terminated = k8s.V1ContainerStateTerminated(exit_code=exit_code, finished_at=self._finished)
        status = k8s.V1ContainerStatus(
            name="base",
            image="kit",
            image_id="",
            ready=False,
            restart_count=0,
            state=k8s.V1ContainerState(terminated=terminated),
        )
        return k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
            status=k8s.V1PodStatus(
                phase="Succeeded" if exit_code == 0 else "Failed",
                reason=reason,
                container_statuses=[status],
            ),
        )

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str, **_: Any) -> _LogStream:
        _exit, lines, _reason = self._run()
        stamp = self._finished.strftime("%Y-%m-%dT%H:%M:%S")
        text = "".join(f"{stamp}.{i:09d}Z {line}\n" for i, line in enumerate(lines))
        return _LogStream(text.encode())

    def list_namespaced_event(self, **_: Any) -> k8s.CoreV1EventList:
        return k8s.CoreV1EventList(items=[])

    def delete_namespaced_pod(self, name: str, namespace: str, **_: Any) -> None:
        self.deleted.append(name)


def local(uri: str) -> Path:
    assert uri.startswith("file://"), uri
    return Path(uri[len("file://") :])


def copy_kit(env: dict[str, str]) -> tuple[int, list[str], str | None]:
    """Reads every input from object storage and writes it to the output of the same position."""
    inputs = json.loads(env["DATAKIT_INPUTS"])
    outputs = json.loads(env["DATAKIT_OUTPUTS"])
    lines = [f"config {env['DATAKIT_CONFIG']}"]
    for source, target in zip(inputs, outputs, strict=True):
        out = local(target["path"])
        out.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT * FROM read_parquet('{local(source['path'])}')) TO '{out}' (FORMAT parquet)"
            )
        lines.append(f"copied {source['name']} -> {target['name']}")
    return 0, lines, None


# --- the pod ---------------------------------------------------------------------------------------


def plan(**requirements: Any) -> contract.RunPlan:
    manifest = contract.parse_manifest(
        {
            "name": "customer-360",
            "version": "1.2.0",
            "image": "registry.local/kits/customer-360:1.2.0",
            "inputs": [{"name": "customers", "type": "table", "schema": "bronze"}],
            "outputs": [{"name": "customer_360", "type": "table", "schema": "gold"}],
            "configuration": {"batch_size": {"type": "integer", "default": 1000}},
            "requirements": requirements,
        }
    )
    return contract.plan_run(
        manifest=manifest, image=None, configuration={}, run_conf={}, inputs={}, outputs={}
    )


def test_pod_spec() -> None:
    runtime = KubernetesRuntime(namespace="analytics", object_storage_uri="s3://lake/datakits/")
    job = ContainerJob(
        plan=plan(cpu="2000m", memory="4Gi", gpu=True),
        run_id="scheduled__2024-01-15T00:00:00+00:00",
        dag_id="datakit__customer-360__production",
        task_id="run_datakit",
        environment={"EXTRA": "1", "DATAKIT_NAME": "cannot override"},
        timeout=600,
    )
    pod = runtime.build_pod(job)
    body = ApiClient().sanitize_for_serialization(pod)  # what the API server would receive
    assert json.loads(json.dumps(body)) == body

    assert pod.metadata.namespace == "analytics"
    assert pod.metadata.name.startswith("datakit-customer-360-")
    assert len(pod.metadata.name) <= 63
    assert pod.metadata.labels == {
        "airflow-platform.io/datakit": "customer-360",
        "airflow-platform.io/version": "1.2.0",
        "airflow-platform.io/run-id": "scheduled__2024-01-15T00_00_00_00_00",
        "airflow-platform.io/network": "none",
        "airflow-platform.io/dag-id": "datakit__customer-360__production",
        "airflow-platform.io/task-id": "run_datakit",
    }
    spec = pod.spec
    assert spec.restart_policy == "Never"
    assert spec.active_deadline_seconds == 600
    assert spec.automount_service_account_token is False
    (container,) = spec.containers
    assert container.name == "base"
    assert container.image == "registry.local/kits/customer-360:1.2.0"
    assert container.resources.requests == {"cpu": "2000m", "memory": "4Gi"}
    assert container.resources.limits == {"cpu": "2000m", "memory": "4Gi", "nvidia.com/gpu": "1"}
    env = {e.name: e.value for e in container.env}
    prefix = "s3://lake/datakits/datakit__customer-360__production/scheduled__2024-01-15T00_00_00+00_00/run_datakit"
    assert json.loads(env["DATAKIT_INPUTS"]) == [
        {"name": "customers", "path": f"{prefix}/inputs/customers.parquet"}
    ]
    assert json.loads(env["DATAKIT_OUTPUTS"]) == [
        {"name": "customer_360", "path": f"{prefix}/outputs/customer_360.parquet"}
    ]
    assert json.loads(env["DATAKIT_CONFIG"]) == {"batch_size": 1000}
    assert env["DATAKIT_RUN_ID"] == "scheduled__2024-01-15T00:00:00+00:00"
    assert env["DATAKIT_NAME"] == "customer-360"
    assert env["EXTRA"] == "1"


def test_pod_without_requirements_has_no_resources() -> None:
    runtime = KubernetesRuntime(object_storage_uri="s3://lake")
    pod = runtime.build_pod(ContainerJob(plan=plan(network=True), run_id="r"))
    assert pod.metadata.namespace == "default"
    assert pod.spec.containers[0].resources.limits is None
    assert pod.spec.active_deadline_seconds is None
    assert pod.metadata.labels["airflow-platform.io/network"] == "allowed"


# --- runs through PodManager ---------------------------------------------------------------------------


@pytest.fixture
def warehouse(tmp_path: Path) -> str:
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as con:
        con.execute("CREATE SCHEMA bronze; CREATE SCHEMA silver")
        con.execute("CREATE TABLE bronze.customers AS SELECT range AS id, 'c' || range AS name FROM range(4)")
        con.execute("CREATE TABLE silver.customers AS SELECT 'old' AS name")
    return path


def run_on_fake_cluster(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warehouse: str,
    kit: Kit,
    made: list[DataKitOperator] | None = None,
    **kwargs: Any,
) -> tuple[FakeCoreV1Api, Any]:
    fake = FakeCoreV1Api(kit)
    monkeypatch.setattr(KubernetesRuntime, "kube_client", property(lambda self: fake))
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKIT_WORK_DIR", str(tmp_path / "work"))
    manifest = {
        "name": "copy-kit",
        "version": "1.0.0",
        "image": "registry.local/kits/copy:1.0.0",
        "inputs": [{"name": "customers", "type": "table", "schema": "bronze"}],
        "outputs": [{"name": "customers", "type": "table", "schema": "silver"}],
        "configuration": {"batch_size": {"type": "integer", "default": 10}},
        "requirements": {"cpu": "500m", "memory": "512Mi"},
    }
    op = DataKitOperator(
        task_id="kit",
        manifest=manifest,
        runtime="kubernetes",
        namespace="team-a",
        warehouse_path=warehouse,
        **{"object_storage_uri": f"file://{tmp_path}/bucket", **kwargs},
    )
    context = {
        "run_id": f"manual__{uuid.uuid4().hex[:6]}",
        "dag_run": SimpleNamespace(conf={"batch_size": 99}),
    }
    if made is not None:
        made.append(op)
    try:
        return fake, op.execute(context)
    except Exception as e:
        return fake, e


def snapshot(path: str) -> dict[str, Any]:
    with duckdb.connect(path, read_only=True) as con:
        names = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall()
        return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall()) for (n,) in names}


def test_run_through_object_storage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: str) -> None:
    with task_log(POD_MANAGER_LOGGER) as log:
        fake, result = run_on_fake_cluster(monkeypatch, tmp_path, warehouse, copy_kit)
    assert result == {
        "outputs": [{"name": "customers", "table": "silver.customers", "rows": 4}],
        "exit_code": 0,
        "image": "registry.local/kits/copy:1.0.0",
    }
    tables = snapshot(warehouse)
    assert tables["silver.customers"] == tables["bronze.customers"]
    (pod,) = fake.created
    assert pod["metadata"]["namespace"] == "team-a"
    assert fake.deleted == [pod["metadata"]["name"]]  # the pod is always deleted
    assert list((tmp_path / "bucket").rglob("*.parquet")) == []  # and the run's files
    assert list((tmp_path / "work").iterdir()) == []
    lines = log.lines()
    assert 'config {"batch_size": 99}' in lines  # the pod's output, in the task log
    assert "copied customers -> customers" in lines


def test_pod_failure_carries_the_log_tail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: str
) -> None:
    before = snapshot(warehouse)

    def failing(env: dict[str, str]) -> tuple[int, list[str], str | None]:
        return 2, [f"step {i}" for i in range(25)] + ["boom"], None

    fake, error = run_on_fake_cluster(monkeypatch, tmp_path, warehouse, failing)
    assert isinstance(error, TaskFailed)
    message = str(error)
    assert "exited with code 2" in message
    assert message.endswith("\n".join([f"step {i}" for i in range(6, 25)] + ["boom"]))
    assert snapshot(warehouse) == before
    assert len(fake.deleted) == 1
    assert list((tmp_path / "bucket").rglob("*.parquet")) == []


def test_deadline_exceeded_is_a_timeout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: str
) -> None:
    before = snapshot(warehouse)

    def slow(env: dict[str, str]) -> tuple[int, list[str], str | None]:
        return 137, ["working"], "DeadlineExceeded"

    fake, error = run_on_fake_cluster(monkeypatch, tmp_path, warehouse, slow, timeout=30)
    assert isinstance(error, TaskFailed)
    assert "longer than its timeout of 30s" in str(error)
    assert fake.created[0]["spec"]["activeDeadlineSeconds"] == 30
    assert snapshot(warehouse) == before
    assert len(fake.deleted) == 1


def test_missing_output_object(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: str) -> None:
    before = snapshot(warehouse)

    def lazy(env: dict[str, str]) -> tuple[int, list[str], str | None]:
        return 0, ["did nothing"], None

    # The bucket from [platform] datakit_object_storage_uri this time.
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKIT_OBJECT_STORAGE_URI", f"file://{tmp_path}/bucket")
    _fake, error = run_on_fake_cluster(monkeypatch, tmp_path, warehouse, lazy, object_storage_uri=None)
    assert isinstance(error, TaskFailed)
    assert "did not write its output file(s) customers.parquet" in str(error)
    assert snapshot(warehouse) == before


def test_stop_deletes_the_pod() -> None:
    fake = FakeCoreV1Api(copy_kit)
    runtime = KubernetesRuntime(object_storage_uri="s3://lake", kube_client=fake)
    runtime.stop()  # nothing started: nothing to do
    assert fake.deleted == []
    runtime._pod = k8s.V1Pod(metadata=k8s.V1ObjectMeta(name="datakit-x-1", namespace="default"))
    runtime.stop()
    assert fake.deleted == ["datakit-x-1"]
    assert runtime.stopped


def test_on_kill_during_a_run_deletes_the_pod(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: str
) -> None:
    before = snapshot(warehouse)
    operators: list[DataKitOperator] = []

    def killed(env: dict[str, str]) -> tuple[int, list[str], str | None]:
        operators[0].on_kill()  # as Airflow does on SIGTERM, while the pod runs
        return 143, ["terminated"], None

    fake, error = run_on_fake_cluster(monkeypatch, tmp_path, warehouse, killed, made=operators)
    assert isinstance(error, TaskFailed)
    assert "stopped" in str(error)
    assert len(fake.deleted) == 1
    assert snapshot(warehouse) == before
    assert list((tmp_path / "bucket").rglob("*.parquet")) == []
    assert list((tmp_path / "work").iterdir()) == []


def test_kubernetes_needs_object_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__PLATFORM__DATAKIT_WORK_DIR", str(tmp_path / "work"))
    op = DataKitOperator(task_id="k", image="x:1", runtime="kubernetes", warehouse_path=str(tmp_path / "w"))
    with pytest.raises(ValueError, match="object_storage_uri"):  # none given, none configured
        op.execute({"run_id": "r"})
    assert not (tmp_path / "work").exists() or list((tmp_path / "work").iterdir()) == []
