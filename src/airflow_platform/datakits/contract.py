"""The DataKit run contract, shared by every runtime (DESIGN.md §5).

What an image may rely on: ``DATAKIT_CONFIG`` (the merged configuration as JSON), its inputs as
Parquet files, its outputs loaded into the warehouse only when the whole run succeeded, and
``DATAKIT_INPUTS`` / ``DATAKIT_OUTPUTS`` / ``DATAKIT_RUN_ID`` / ``DATAKIT_NAME`` / ``DATAKIT_VERSION``.
This module decides all of that before any container exists, so a bad configuration or a missing
input table fails a task without starting anything, and it owns the warehouse side: inputs are
exported through a read-only connection, outputs are loaded in one transaction, so a missing or
corrupt output file leaves every table as it was.

No Airflow import here: runtimes and the operator translate these errors into task failures.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_platform.exceptions import (
    PlatformError,
    ResourceNotFoundError,
    ServiceUnavailableError,
    ValidationError,
)

if TYPE_CHECKING:
    import duckdb

    from airflow_platform.schemas.datakits import DataKitManifest

#: Where the files are inside a container (docker runtime); Kubernetes pods get URIs instead.
CONTAINER_INPUTS = "/datakit/inputs"
CONTAINER_OUTPUTS = "/datakit/outputs"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class DataKitError(PlatformError):
    """A run that cannot go on; the message is what the task log shows."""


class DataKitConfigError(DataKitError, ValidationError):
    """The merged configuration does not fit the kit's schema: retrying cannot help."""


class DataKitOutputError(DataKitError):
    """An output file is missing or unreadable; the warehouse was left unchanged."""


class DataKitImageNotFoundError(DataKitError, ResourceNotFoundError):
    """The image is neither on the engine nor pullable."""


class DataKitTimeoutError(DataKitError):
    """The container ran past the task's ``timeout`` and was stopped."""


class WarehouseBusyError(DataKitError, ServiceUnavailableError):
    """Another process held the warehouse's lock for longer than the bounded wait."""


class WarehouseFullError(DataKitError, ServiceUnavailableError):
    """The warehouse's disk ran out of space: the load was rolled back; freeing space fixes it."""


# --- what to run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Port:
    """An input or output of one run: the file name stem and the warehouse table behind it."""

    name: str
    schema: str
    table: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def quoted(self) -> str:
        return f'"{self.schema}"."{self.table}"'


@dataclass(frozen=True)
class Resources:
    """Container limits from a kit's ``requirements``, in the units engines take."""

    nano_cpus: int | None = None
    memory_bytes: int | None = None
    cpu: str | None = None  # the Kubernetes quantities as written, for pods
    memory: str | None = None
    gpu: bool = False
    network: bool = False


@dataclass(frozen=True)
class RunPlan:
    """Everything decided before a container starts."""

    name: str
    version: str
    image: str
    configuration: dict[str, Any]
    inputs: list[Port]
    outputs: list[Port]
    resources: Resources = field(default_factory=Resources)

    def environment(
        self, run_id: str, input_paths: Mapping[str, str], output_paths: Mapping[str, str]
    ) -> dict[str, str]:
        """The contract's variables; paths are container paths (docker) or URIs (object storage)."""
        return {
            "DATAKIT_CONFIG": json.dumps(self.configuration, sort_keys=True, default=str),
            "DATAKIT_INPUTS": json.dumps(
                [{"name": p.name, "path": input_paths[p.name]} for p in self.inputs]
            ),
            "DATAKIT_OUTPUTS": json.dumps(
                [{"name": p.name, "path": output_paths[p.name]} for p in self.outputs]
            ),
            "DATAKIT_RUN_ID": run_id,
            "DATAKIT_NAME": self.name,
            "DATAKIT_VERSION": self.version,
        }


def parse_manifest(manifest: Mapping[str, Any]) -> DataKitManifest:
    """The manifest as the registry validates it (port schemas defaulted, config fields typed)."""
    from pydantic import ValidationError as PydanticValidationError

    from airflow_platform.schemas.datakits import DataKitManifest

    try:
        return DataKitManifest.model_validate(dict(manifest))
    except PydanticValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {err['msg']}" for err in e.errors()
        )
        raise DataKitConfigError(f"The DataKit manifest is not valid: {problems}") from None


def plan_run(
    *,
    manifest: DataKitManifest | None,
    image: str | None,
    configuration: Mapping[str, Any] | None,
    run_conf: Mapping[str, Any] | None,
    inputs: Mapping[str, str] | None,
    outputs: Mapping[str, str] | None,
    name: str | None = None,
) -> RunPlan:
    """Merge and check everything a run needs; raises ``DataKitConfigError`` on any mistake.

    With a manifest, ``image`` (when given) overrides the registered one, e.g. to pin a digest.
    Without one (an unregistered image) nothing is checked and every run-conf key passes through.
    """
    if manifest is None:
        if not image:
            raise DataKitConfigError("DataKitOperator needs a manifest, datakit= and version=, or image=")
        return RunPlan(
            name=name or _image_name(image),
            version=_image_tag(image),
            image=image,
            configuration={**(configuration or {}), **(run_conf or {})},
            inputs=_ports_without_manifest(inputs or {}, "inputs"),
            outputs=_ports_without_manifest(outputs or {}, "outputs"),
        )
    req = manifest.requirements
    resources = Resources(
        nano_cpus=cpu_nanos(req.cpu) if req.cpu else None,
        memory_bytes=memory_bytes(req.memory) if req.memory else None,
        cpu=req.cpu,
        memory=req.memory,
        gpu=req.gpu,
        network=req.network,
    )
    return RunPlan(
        name=manifest.name,
        version=manifest.version,
        image=image or manifest.image,
        configuration=merge_configuration(manifest, configuration, run_conf),
        inputs=_ports(manifest.inputs, inputs or {}, "inputs"),
        outputs=_ports(manifest.outputs, outputs or {}, "outputs"),
        resources=resources,
    )


def merge_configuration(
    manifest: DataKitManifest, configuration: Mapping[str, Any] | None, run_conf: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Manifest defaults ← the task's ``configuration`` ← the run conf's keys that the schema declares.

    An unknown key in the task's configuration is a mistake in the DAG and is refused; the run
    conf is shared by every task of a run, so its other keys are simply not this kit's.
    """
    schema = manifest.configuration
    unknown = sorted(set(configuration or {}) - set(schema))
    if unknown:
        raise DataKitConfigError(
            f"Unknown configuration key(s) for {manifest.name} {manifest.version}: {', '.join(unknown)} "
            f"(the kit declares: {', '.join(sorted(schema)) or 'none'})",
            details={"unknown": unknown},
        )
    merged = {key: spec.default for key, spec in schema.items() if spec.default is not None}
    merged.update(configuration or {})
    merged.update({key: value for key, value in (run_conf or {}).items() if key in schema})
    problems = []
    for key, spec in schema.items():
        if key not in merged or merged[key] is None:
            merged.pop(key, None)
            if spec.required:
                problems.append(f"{key}: required, and no value was given")
            continue
        problem = spec.problem_with(merged[key])
        if problem:
            problems.append(f"{key}={merged[key]!r}: {problem}")
    if problems:
        raise DataKitConfigError(
            f"Invalid configuration for {manifest.name} {manifest.version}: {'; '.join(problems)}",
            details={"problems": problems},
        )
    return merged


def _ports(declared: list[Any], overrides: Mapping[str, str], kind: str) -> list[Port]:
    names = {p.name for p in declared}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise DataKitConfigError(
            f"{kind} override(s) for undeclared port(s): {', '.join(unknown)} "
            f"(the kit declares: {', '.join(sorted(names)) or 'none'})"
        )
    ports = []
    for port in declared:
        schema = port.schema_ or ("bronze" if kind == "inputs" else "silver")
        ports.append(_port(port.name, overrides.get(port.name), schema, kind))
    return ports


def _ports_without_manifest(mapping: Mapping[str, str], kind: str) -> list[Port]:
    return [_port(name, table, "main", kind) for name, table in mapping.items()]


def _port(name: str, table_ref: str | None, default_schema: str, kind: str) -> Port:
    if not _IDENT.match(name):
        raise DataKitConfigError(f"{kind} name {name!r} is not an identifier")
    schema, _, table = (table_ref or f"{default_schema}.{name}").rpartition(".")
    schema = schema or default_schema
    if not (_IDENT.match(schema) and _IDENT.match(table)):
        raise DataKitConfigError(f"{kind}[{name!r}] = {table_ref!r} is not a 'schema.table' of the warehouse")
    return Port(name=name, schema=schema, table=table)


def _image_name(image: str) -> str:
    last = image.split("@")[0].rsplit("/", 1)[-1]
    return last.split(":")[0]


def _image_tag(image: str) -> str:
    last = image.split("@")[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


# --- Kubernetes quantities ------------------------------------------------------------------


def _quantity(value: str) -> Decimal:
    from airflow_platform.schemas.datakits import parse_quantity

    try:
        return parse_quantity(str(value))
    except ValueError as e:
        raise DataKitConfigError(str(e)) from None


def cpu_nanos(quantity: str) -> int:
    """``"2000m"`` → 2_000_000_000 (Docker's ``nano_cpus``)."""
    return int(_quantity(quantity) * 1_000_000_000)


def memory_bytes(quantity: str) -> int:
    """``"4Gi"`` → 4294967296, ``"512M"`` → 512000000 (Docker's ``mem_limit``)."""
    return int(_quantity(quantity))


# --- the warehouse ----------------------------------------------------------------------------


def _is_busy(error: Exception) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text


def connect(path: str, *, read_only: bool, lock_wait_s: float) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file, retrying on another process's lock for ``lock_wait_s``.

    DuckDB lets one process write a file or many read it; the web server's readers hold it for
    moments, so a short jittered retry gets in without making anyone wait long.
    """
    import duckdb

    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait_s
    pause = 0.02
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as e:
            remaining = deadline - time.monotonic()
            if not _is_busy(e) or remaining <= 0:
                if _is_busy(e):
                    raise WarehouseBusyError(
                        f"The warehouse {path} stayed locked by another process for {lock_wait_s:g}s",
                        details={"path": path},
                    ) from None
                raise
            time.sleep(min(remaining, pause * random.uniform(0.5, 1.0)))
            pause = min(pause * 1.6, 0.5)


@contextlib.contextmanager
def _writing(warehouse: str, lock_wait_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """The write connection, announced to the web tier's readers so they let the file go at once
    (``analytics.access``); without that they would hold it until their keep-alive ends."""
    from airflow_platform.analytics.access import open_for_writing
    from airflow_platform.exceptions import ServiceUnavailableError

    try:
        with open_for_writing(warehouse, wait_s=lock_wait_s) as con:
            yield con
    except ServiceUnavailableError:
        raise WarehouseBusyError(
            f"The warehouse {warehouse} stayed locked by another process for {lock_wait_s:g}s",
            details={"path": warehouse},
        ) from None


def stage_inputs(warehouse: str, ports: list[Port], directory: Path, *, lock_wait_s: float) -> dict[str, int]:
    """Export each input table as ``<directory>/<name>.parquet``; answers rows per input.

    Read-only: the warehouse is never written here, and every table is checked before any file
    is written, so a missing table fails the run with nothing staged.
    """
    if not ports:
        return {}
    if not os.path.exists(warehouse):
        raise ResourceNotFoundError(
            f"The warehouse {warehouse} does not exist yet, so the input table(s) "
            f"{', '.join(p.qualified for p in ports)} cannot be read"
        )
    directory.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    with connect(warehouse, read_only=True, lock_wait_s=lock_wait_s) as con:
        existing = {
            (s, t)
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        missing = [p.qualified for p in ports if (p.schema, p.table) not in existing]
        if missing:
            raise ResourceNotFoundError(
                f"Input table(s) not in the warehouse: {', '.join(missing)}", details={"missing": missing}
            )
        for port in ports:
            target = directory / f"{port.name}.parquet"
            # Identifiers were checked against _IDENT when the port was planned; paths are quoted.
            copy = f"COPY (SELECT * FROM {port.quoted}) TO {_literal(str(target))} (FORMAT parquet)"  # noqa: S608
            con.execute(copy)
            rows[port.name] = _count(con, f"SELECT count(*) FROM {port.quoted}")  # noqa: S608
    return rows


def load_outputs(
    warehouse: str, ports: list[Port], directory: Path, *, lock_wait_s: float
) -> list[dict[str, Any]]:
    """Load every ``<directory>/<name>.parquet`` into its table, all in one transaction.

    Missing files are found before the warehouse is opened; an unreadable one fails inside the
    transaction, which is rolled back. Either every output table is replaced, or none is.
    """
    if not ports:
        return []
    missing = [f"{p.name}.parquet" for p in ports if not (directory / f"{p.name}.parquet").is_file()]
    if missing:
        raise DataKitOutputError(
            f"The DataKit did not write its output file(s) {', '.join(missing)} under "
            f"{CONTAINER_OUTPUTS}; the warehouse is unchanged",
            details={"missing": missing},
        )
    import duckdb

    loaded: list[dict[str, Any]] = []
    try:
        with _writing(warehouse, lock_wait_s) as con:
            con.execute("BEGIN TRANSACTION")
            current = None
            try:
                for port in ports:
                    current = port
                    source = _literal(str(directory / f"{port.name}.parquet"))
                    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{port.schema}"')
                    load = f"CREATE OR REPLACE TABLE {port.quoted} AS SELECT * FROM read_parquet({source})"  # noqa: S608
                    con.execute(load)
                    rows = _count(con, f"SELECT count(*) FROM {port.quoted}")  # noqa: S608
                    loaded.append({"name": port.name, "table": port.qualified, "rows": rows})
                con.execute("COMMIT")
            except duckdb.Error as e:
                # A failed COMMIT has already ended the transaction; the rollback is for the other cases.
                with contextlib.suppress(duckdb.Error):
                    con.execute("ROLLBACK")
                if _disk_full(e):
                    raise
                name = current.name if current else "?"
                raise DataKitOutputError(
                    f"Output {name}.parquet could not be loaded ({_first_line(e)}); "
                    f"the warehouse is unchanged",
                    details={"output": name},
                ) from None
    except (duckdb.Error, OSError) as e:
        if not _disk_full(e):
            raise
        raise _full_error(warehouse, e) from None
    return loaded


def _disk_full(error: BaseException) -> bool:
    """ENOSPC, as an OSError or as DuckDB's IO error text (DuckDB keeps no errno)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    return "No space left on device" in text or "Disk quota exceeded" in text


def _full_error(warehouse: str, error: BaseException) -> WarehouseFullError:
    folder = os.path.dirname(os.path.abspath(warehouse))
    return WarehouseFullError(
        f"The disk of the warehouse is full: no space left in {folder} ({_first_line(error)}). "
        f"The load was rolled back and the warehouse keeps its previous data; free space on that disk "
        f"(or move [platform] warehouse_path) and retry",
        details={"path": warehouse, "reason": "disk_full"},
    )


def table_rows(warehouse: str, table: str, *, lock_wait_s: float = 30) -> int | None:
    """Rows of ``schema.table``, or None when the warehouse or the table does not exist (read-only)."""
    schema, _, name = table.rpartition(".")
    schema = schema or "main"
    if not (_IDENT.match(schema) and _IDENT.match(name)):
        raise ValidationError(f"{table!r} is not a 'schema.table'")
    if not os.path.exists(warehouse):
        return None
    with connect(warehouse, read_only=True, lock_wait_s=lock_wait_s) as con:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()
        if not found or not found[0]:
            return None
        return _count(con, f'SELECT count(*) FROM "{schema}"."{name}"')  # noqa: S608


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
