"""Docker for the DataKit tests and benchmarks: the engine, and small images built locally.

No registry is reachable, so images are made with ``docker import`` of a root file system: busybox
(Debian's busybox-static) plus a shell script as the entrypoint. Each image carries a label with
the hash of its recipe and is rebuilt only when the recipe changes, so a session builds once.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import harness

BUSYBOX = os.environ.get("BUSYBOX", "/bin/busybox")
RECIPE_LABEL = "io.airflow-platform.recipe"
EXAMPLE_KIT = harness.REPO / "datakits_examples" / "customer_cleanse"
EXAMPLE_IMAGE = "platform-datakits/customer-cleanse:1.0.0"
TEST_IMAGE = "platform-test/datakit-busybox:1"

#: The test kit: what it does is chosen by the MODE variable (the operator's ``environment=``).
TEST_ENTRYPOINT = r"""#!/bin/sh
echo "kit: mode=${MODE:-copy}"
case "${MODE:-copy}" in
  copy)    # COPY="in:out in2:out2": each input file becomes an output file
    echo "DATAKIT_CONFIG=$DATAKIT_CONFIG"
    echo "DATAKIT_INPUTS=$DATAKIT_INPUTS"
    echo "DATAKIT_OUTPUTS=$DATAKIT_OUTPUTS"
    echo "DATAKIT_RUN_ID=$DATAKIT_RUN_ID DATAKIT_NAME=$DATAKIT_NAME DATAKIT_VERSION=$DATAKIT_VERSION"
    for pair in $COPY; do
      cp "/datakit/inputs/${pair%%:*}.parquet" "/datakit/outputs/${pair##*:}.parquet" || exit 4
      echo "copied ${pair%%:*} -> ${pair##*:}"
    done ;;
  corrupt) # COPY as above, then BROKEN names an output that gets garbage
    for pair in $COPY; do
      cp "/datakit/inputs/${pair%%:*}.parquet" "/datakit/outputs/${pair##*:}.parquet"
    done
    echo "this is not parquet" > "/datakit/outputs/$BROKEN.parquet" ;;
  skip)    echo "writing nothing" ;;
  fail)    i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i+1)); done; echo "giving up" >&2; exit 3 ;;
  sleep)   echo "sleeping"; sleep 600 ;;
  wait)    # streams a line, then waits until the test answers by creating outputs/go
    echo "waiting for go"
    n=0; while [ ! -e /datakit/outputs/go ] && [ $n -lt 6000 ]; do sleep 0.05; n=$((n+1)); done
    rm -f /datakit/outputs/go
    echo "got go" ;;
  limits)
    cg=/sys/fs/cgroup
    echo "memory $(cat $cg/memory.max 2>/dev/null || cat $cg/memory/memory.limit_in_bytes)"
    if [ -e $cg/cpu.max ]; then echo "cpu $(cat $cg/cpu.max)"
    else echo "cpu $(cat $cg/cpu/cpu.cfs_quota_us) $(cat $cg/cpu/cpu.cfs_period_us)"; fi
    echo "net $(ls /sys/class/net | tr '\n' ' ')"
    echo "env EXTRA=$EXTRA" ;;
esac
"""


def docker_client() -> Any:
    """A client of the local engine, or None when there is none (or no docker library)."""
    try:
        import docker

        client = docker.from_env(version="auto", timeout=30)
        client.ping()
    except Exception:
        return None
    return client


def require_docker() -> Any:
    client = docker_client()
    if client is None:
        harness.missing_service("Docker", "no Docker engine answers (run scripts/services.sh start)")
    return client


def _recipe(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def _current(client: Any, tag: str, recipe: str) -> bool:
    import docker.errors

    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return bool((image.labels or {}).get(RECIPE_LABEL) == recipe)


def build_busybox_image(client: Any, tag: str, entrypoint: str) -> str:
    """A busybox image whose entrypoint is ``entrypoint`` (a sh script); built only when changed."""
    if not Path(BUSYBOX).is_file():
        harness.missing_service("busybox-static", f"{BUSYBOX} is missing (apt-get install busybox-static)")
    busybox = Path(BUSYBOX).read_bytes()
    script = entrypoint.encode()
    recipe = _recipe(busybox, script)
    if _current(client, tag, recipe):
        return tag
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("tmp", 0o1777), ("datakit/inputs", 0o755), ("kit", 0o755)):
            _add_dir(tar, directory, mode)
        _add_dir(tar, "datakit/outputs", 0o777)
        _add_file(tar, "bin/busybox", busybox, 0o755)
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type = tarfile.SYMTYPE
                link.linkname = "busybox"
                tar.addfile(link)
        _add_file(tar, "kit/entrypoint.sh", script, 0o755)
    client.api.import_image_from_data(
        buffer.getvalue(),
        repository=tag.rsplit(":", 1)[0],
        tag=tag.rsplit(":", 1)[1],
        changes=[
            "ENV PATH=/bin",
            'ENTRYPOINT ["/bin/sh", "/kit/entrypoint.sh"]',
            f"LABEL {RECIPE_LABEL}={recipe}",
        ],
    )
    return tag


def _add_dir(tar: tarfile.TarFile, name: str, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def build_example_kit() -> str:
    """``datakits_examples/customer_cleanse/build.sh`` (fast when the image is current)."""
    if shutil.which("docker") is None:
        harness.missing_service("Docker", "no docker client on PATH (needed by build.sh)")
    result = subprocess.run(
        ["bash", str(EXAMPLE_KIT / "build.sh")], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"build.sh failed:\n{result.stdout}\n{result.stderr}")
    return EXAMPLE_IMAGE


def containers_labelled(client: Any, run_id: str) -> list[Any]:
    """Containers (running or not) of one DataKit run, found by the runtime's run-id label."""
    return list(
        client.containers.list(all=True, filters={"label": f"io.airflow-platform.datakit.run_id={run_id}"})
    )


# --- fixtures (imported by the test modules that use them) ----------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    client = require_docker()
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_kit_image(docker_engine: Any) -> str:
    return build_busybox_image(docker_engine, TEST_IMAGE, TEST_ENTRYPOINT)


@pytest.fixture(scope="session")
def example_kit_image(docker_engine: Any) -> str:
    return build_example_kit()
