"""DataKits on the wire: the manifest (the reference's register body), deployments and their status.

The manifest is also the file format (``datakit.yaml``) and what a deployment spec embeds, so the
DataKitOperator runs exactly what was registered. Validation is strict where a mistake would only
show up later inside a container: names, versions, image references, port names, configuration
defaults and Kubernetes quantities.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_platform.schemas.common import RequestModel, WireModel
from airflow_platform.schemas.tenants import DNS_LABEL, QUANTITY, _check_emails

#: Semantic Versioning 2.0.0, the regular expression semver.org recommends.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
#: An OCI image reference: [registry[:port]/]path[:tag][@digest] (distribution/reference grammar).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
#: Ports become warehouse tables and file names: SQL identifiers, lower case.
IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
#: ``schema.table`` of the warehouse, for input/output overrides.
TABLE_REF = r"^[A-Za-z_][A-Za-z0-9_]{0,62}\.[A-Za-z_][A-Za-z0-9_]{0,62}$"
#: Names that are paths of the API, not kits.
RESERVED_NAMES = frozenset({"deployments"})
DATAKIT_TYPES = ("transformation", "ingestion", "export", "quality")
CONFIG_TYPES = ("integer", "number", "string", "boolean", "array", "object")
PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "@annually",
)

_SUFFIX = {
    "m": Decimal("0.001"), "": Decimal(1), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
    "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18), "Ki": Decimal(2**10),
    "Mi": Decimal(2**20), "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}  # fmt: skip


def parse_quantity(quantity: str) -> Decimal:
    """A Kubernetes quantity as a number: ``"500m"`` → 0.5 (CPUs), ``"4Gi"`` → 4294967296 (bytes)."""
    match = QUANTITY.match(quantity)
    if not match:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity (e.g. '500m', '2', '4Gi')")
    number = quantity[: len(quantity) - len(match.group(3) or "")]
    try:
        return Decimal(number) * _SUFFIX[match.group(3) or ""]
    except InvalidOperation:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity") from None


def matches_type(value: Any, kind: str) -> bool:
    """JSON-schema style type check (a bool is not an integer; an integer is a number)."""
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


class DataKitPort(RequestModel):
    """An input or output table of a kit."""

    name: str = Field(
        pattern=IDENTIFIER, description="Port name; the file is /datakit/{inputs,outputs}/<name>.parquet."
    )
    type: Literal["table"] = Field("table", description="Only warehouse tables for now.")
    schema_: str | None = Field(
        default=None, alias="schema", pattern=IDENTIFIER,
        description="Warehouse schema of the table. Default: bronze for inputs, silver for outputs.",
    )  # fmt: skip
    description: str | None = Field(default=None, max_length=500)


class ConfigField(RequestModel):
    """One configuration key of a kit: its type, default and constraints."""

    type: Literal["integer", "number", "string", "boolean", "array", "object"]
    default: Any = None
    description: str | None = Field(default=None, max_length=500)
    required: bool = Field(False, description="A deployment must give a value when there is no default.")
    enum: list[Any] | None = Field(default=None, max_length=100)
    minimum: float | None = None
    maximum: float | None = None

    @model_validator(mode="after")
    def _default_fits(self) -> ConfigField:
        if self.default is not None:
            problem = self.problem_with(self.default)
            if problem:
                raise ValueError(f"default {self.default!r}: {problem}")
        if self.enum is not None:
            wrong = [v for v in self.enum if not matches_type(v, self.type)]
            if wrong:
                raise ValueError(f"enum values {wrong!r} are not of type {self.type}")
        return self

    def problem_with(self, value: Any) -> str | None:
        """Why ``value`` does not fit this field, or None."""
        if not matches_type(value, self.type):
            return f"expected {self.type}, got {type(value).__name__}"
        if self.enum is not None and value not in self.enum:
            return f"must be one of {self.enum!r}"
        if self.minimum is not None and self.type in ("integer", "number") and value < self.minimum:
            return f"must be ≥ {self.minimum:g}"
        if self.maximum is not None and self.type in ("integer", "number") and value > self.maximum:
            return f"must be ≤ {self.maximum:g}"
        return None


class Requirements(RequestModel):
    cpu: str | None = Field(default=None, description="CPU limit as a Kubernetes quantity, e.g. '2000m'.")
    memory: str | None = Field(default=None, description="Memory limit as a Kubernetes quantity, e.g. '4Gi'.")
    gpu: bool = False
    network: bool = Field(False, description="Containers get no network unless a kit asks for it.")

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and parse_quantity(value) <= 0:
            raise ValueError(f"{value!r} must be more than zero")
        return value


class DataKitManifest(RequestModel):
    """The register body and ``datakit.yaml``. Once registered, a version never changes."""

    name: str = Field(pattern=DNS_LABEL, max_length=50, description="DNS-1123 label; the kit's id.")
    version: str = Field(max_length=64, description="Semantic version, e.g. 1.2.0.")
    description: str = Field("", max_length=2000)
    image: str = Field(max_length=512, description="Container image reference, e.g. registry/kits/x:1.2.0.")
    type: Literal["transformation", "ingestion", "export", "quality"] = "transformation"
    inputs: list[DataKitPort] = Field(default_factory=list, max_length=50)
    outputs: list[DataKitPort] = Field(default_factory=list, max_length=50)
    configuration: dict[str, ConfigField] = Field(default_factory=dict, max_length=200)
    requirements: Requirements = Field(default_factory=Requirements)
    tags: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError(f"{value!r} is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0)")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not IMAGE.match(value):
            raise ValueError(f"{value!r} is not an image reference (e.g. registry.local/kits/name:1.0.0)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,49}$", t)]
        if bad:
            raise ValueError(f"tags are 1-50 letters, digits, '-', '_', '.', ':': {bad!r}")
        return sorted(set(value), key=value.index)

    @field_validator("configuration")
    @classmethod
    def _config_keys(cls, value: dict[str, ConfigField]) -> dict[str, ConfigField]:
        bad = [k for k in value if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", k)]
        if bad:
            raise ValueError(f"configuration keys are identifiers: {bad!r}")
        return value

    @model_validator(mode="after")
    def _ports(self) -> DataKitManifest:
        for kind, ports, default_schema in (
            ("input", self.inputs, "bronze"),
            ("output", self.outputs, "silver"),
        ):
            names = [p.name for p in ports]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} names must be unique: {', '.join(twice)} appear more than once")
            for port in ports:
                if port.schema_ is None:
                    port.schema_ = default_schema
        return self

    def canonical(self) -> dict[str, Any]:
        """The manifest as stored and hashed: every default filled in, keys in a fixed order."""
        return self.model_dump(mode="json", by_alias=True)


class DataKitVersionInfo(WireModel):
    version: str
    image: str
    digest: str = Field(description="SHA-256 of the canonical manifest.")
    created_by: str
    created_at: datetime
    deployments: list[str] = Field(default_factory=list, description="Deployments running this version.")


class DataKit(WireModel):
    """A kit as the registry shows it: the manifest of one version plus registry facts."""

    id: str = Field(description="The kit's id: its name.")
    name: str
    version: str = Field(description="The version this manifest is of (the latest unless asked).")
    latest_version: str
    description: str
    image: str
    type: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    configuration: dict[str, dict[str, Any]]
    requirements: dict[str, Any]
    tags: list[str]
    tenant_id: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime
    versions: list[DataKitVersionInfo] = Field(default_factory=list)


class DataKitList(WireModel):
    datakits: list[DataKit]
    total_entries: int


class Notifications(RequestModel):
    on_success: list[str] = Field(default_factory=list, max_length=50)
    on_failure: list[str] = Field(default_factory=list, max_length=50)
    on_retry: list[str] = Field(default_factory=list, max_length=50)

    _emails = field_validator("on_success", "on_failure", "on_retry")(_check_emails)


class DeployRequest(RequestModel):
    environment: str = Field("production", pattern=DNS_LABEL, max_length=40)
    version: str | None = Field(default=None, description="A registered version; default: the latest.")
    namespace: str | None = Field(
        default=None, pattern=DNS_LABEL, description="Kubernetes namespace; default: the tenant's."
    )
    configuration: dict[str, Any] = Field(
        default_factory=dict, description="Checked against the kit's schema."
    )
    schedule: str | None = Field(
        default=None,
        max_length=120,
        description="Cron expression or Airflow preset; none = manual runs only.",
    )
    notifications: Notifications = Field(default_factory=Notifications)
    runtime: Literal["docker", "kubernetes"] = "docker"
    inputs: dict[str, str] = Field(default_factory=dict, description="Port → 'schema.table' overrides.")
    outputs: dict[str, str] = Field(default_factory=dict, description="Port → 'schema.table' overrides.")
    paused: bool = Field(False, description="Deploy with the DAG paused.")
    timeout_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)

    @field_validator("inputs", "outputs")
    @classmethod
    def _tables(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [t for t in value.values() if not re.match(TABLE_REF, t)]
        if bad:
            raise ValueError(f"tables are 'schema.table': {bad!r}")
        return value


class RollbackRequest(RequestModel):
    version: str = Field(description="An earlier registered version.")
    environment: str = Field("production", pattern=DNS_LABEL, max_length=40)


class DeploymentEvent(WireModel):
    action: str
    version: str
    username: str
    at: datetime


class Deployment(WireModel):
    id: str = Field(description="The deployment's id: its DAG id.")
    dag_id: str
    datakit: str
    version: str
    environment: str
    namespace: str | None = None
    configuration: dict[str, Any]
    schedule: str | None = None
    notifications: dict[str, list[str]]
    runtime: str
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)
    paused: bool = False
    timeout_seconds: int | None = None
    tenant_id: str | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class DeploymentList(WireModel):
    deployments: list[Deployment]
    total_entries: int


class DagRunSummary(WireModel):
    run_id: str
    state: str | None = None
    logical_date: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class DeploymentStatus(Deployment):
    """A deployment plus what Airflow says about its DAG."""

    status: Literal["pending", "active", "paused", "failing", "import_error"] = Field(
        description="pending: the DAG is not parsed yet; failing: the last run failed."
    )
    dag_present: bool
    is_paused: bool | None = None
    import_error: str | None = None
    last_runs: list[DagRunSummary] = Field(default_factory=list)
    next_run: datetime | None = None
    history: list[DeploymentEvent] = Field(default_factory=list)


def dag_id_for(datakit: str, environment: str) -> str:
    return f"datakit__{datakit}__{environment}"


def configuration_problems(
    schema: dict[str, dict[str, Any]], values: dict[str, Any], *, complete: bool = False
) -> list[str]:
    """What is wrong with ``values`` for a kit's configuration ``schema`` (empty when nothing is).

    Unknown keys and wrong types are always refused; with ``complete`` (the merged configuration a
    run gets), a ``required`` key without a value is too.
    """
    fields = {key: ConfigField.model_validate(spec) for key, spec in schema.items()}
    problems = [f"{key}: unknown key (the kit declares {', '.join(sorted(fields)) or 'none'})"
                for key in values if key not in fields]  # fmt: skip
    for key, value in values.items():
        field = fields.get(key)
        if field is not None and value is not None:
            problem = field.problem_with(value)
            if problem:
                problems.append(f"{key}: {problem}")
    if complete:
        problems += [
            f"{key}: required" for key, f in fields.items() if f.required and values.get(key) is None
        ]
    return problems


def valid_schedule(schedule: str) -> bool:
    """A cron expression (5 fields, or 6 with seconds) or one of Airflow's presets."""
    if schedule in PRESETS:
        return True
    from croniter import croniter

    return len(schedule.split()) in (5, 6) and bool(croniter.is_valid(schedule))
