"""What the docker runtime asks the engine for, without an engine (the run itself: tests/operators)."""

from __future__ import annotations

from pathlib import Path

from airflow_platform.datakits import contract
from airflow_platform.datakits.runtimes import ContainerJob
from airflow_platform.datakits.runtimes.docker import DockerRuntime, _lines


def job(network: bool | str = False, **requirements: object) -> ContainerJob:
    manifest = contract.parse_manifest(
        {
            "name": "kit",
            "version": "1.0.0",
            "image": "registry.local/kit:1.0.0",
            "inputs": [{"name": "a", "type": "table"}],
            "outputs": [{"name": "b", "type": "table"}],
            "requirements": requirements,
        }
    )
    plan = contract.plan_run(
        manifest=manifest, image=None, configuration={}, run_conf={}, inputs={}, outputs={}
    )
    return ContainerJob(plan=plan, run_id="r1", dag_id="d", task_id="t", network=network)


def runtime(default_network_is_isolated: bool = False) -> DockerRuntime:
    """A runtime that never asks an engine: whether its default network is isolated is given."""
    rt = DockerRuntime()
    rt.default_network_is_isolated = default_network_is_isolated  # type: ignore[misc]
    return rt


def test_container_kwargs(tmp_path: Path) -> None:
    kwargs = runtime().container_kwargs(job(cpu="1500m", memory="1Gi", gpu=True), tmp_path)
    assert kwargs["image"] == "registry.local/kit:1.0.0"
    assert kwargs["network_mode"] == "none"
    assert kwargs["nano_cpus"] == 1_500_000_000
    assert kwargs["mem_limit"] == 2**30
    (gpu,) = kwargs["device_requests"]
    assert (gpu["Count"], gpu["Capabilities"]) == (1, [["gpu"]])
    assert kwargs["init"] is True and kwargs["auto_remove"] is True
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in kwargs["mounts"]}
    assert mounts == {
        "/datakit/inputs": (str(tmp_path / "inputs"), True),
        "/datakit/outputs": (str(tmp_path / "outputs"), False),
    }
    assert kwargs["environment"]["DATAKIT_INPUTS"] == '[{"name": "a", "path": "/datakit/inputs/a.parquet"}]'
    assert kwargs["labels"]["io.airflow-platform.datakit.run_id"] == "r1"
    assert kwargs["name"].startswith("datakit-kit-")


def test_network_choices(tmp_path: Path) -> None:
    rt = runtime()
    assert "network_mode" not in rt.container_kwargs(job(network=True), tmp_path)  # the engine's default
    assert rt.container_kwargs(job(network="etl-net"), tmp_path)["network_mode"] == "etl-net"
    no_limits = rt.container_kwargs(job(), tmp_path)
    assert not {"nano_cpus", "mem_limit", "device_requests"} & set(no_limits)


def test_no_network_on_an_engine_without_a_bridge(tmp_path: Path) -> None:
    """``dockerd --bridge=none`` gives every container a loopback-only namespace: no ``none`` needed.

    (tests/operators checks inside a real container that only ``lo`` is there.)"""
    assert "network_mode" not in runtime(default_network_is_isolated=True).container_kwargs(job(), tmp_path)
    assert (
        runtime(default_network_is_isolated=True).container_kwargs(job(network="etl-net"), tmp_path)[
            "network_mode"
        ]
        == "etl-net"
    )


class _Network:
    def __init__(self, name: str) -> None:
        self.name = name


class _Engine:
    """The two answers ``networks.list`` can give (an engine API stand-in: no engine is needed here)."""

    def __init__(self, names: list[str] | None) -> None:
        self.names = names
        self.networks = self

    def list(self) -> list[_Network]:
        if self.names is None:
            raise OSError("engine unreachable")
        return [_Network(n) for n in self.names]


def test_default_network_is_isolated_asks_the_engine() -> None:
    for names, isolated in ((["host", "none"], True), (["bridge", "host", "none"], False), (None, False)):
        rt = DockerRuntime()
        rt.client = _Engine(names)  # type: ignore[misc]
        assert rt.default_network_is_isolated is isolated, names


def test_log_frames_become_lines() -> None:
    frames = [b"first li", b"ne\nsecond\r\nthi", b"rd\n", b"no newline at the end"]
    assert list(_lines(frames)) == ["first line", "second", "third", "no newline at the end"]
