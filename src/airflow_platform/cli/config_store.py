"""Where ``airflow-cli`` keeps its settings: one JSON file in the user's config directory.

The file holds an API key, so it is written mode 600 (its directory 700), atomically, and never
logged. The environment overrides it (``AIRFLOW_PLATFORM_URL``, ``AIRFLOW_PLATFORM_API_KEY``…), so
CI and one-off shells need no file at all.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import typer

APP_NAME = "airflow-platform"


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    help: str
    secret: bool = False


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("base_url", "AIRFLOW_PLATFORM_URL", "Server URL, e.g. https://airflow.example.com"),
        Setting("api_key", "AIRFLOW_PLATFORM_API_KEY", "Platform API key (afp_…)", secret=True),
        Setting("client_id", "AIRFLOW_PLATFORM_CLIENT_ID", "OAuth2 client id (when no api_key)"),
        Setting("client_secret", "AIRFLOW_PLATFORM_CLIENT_SECRET", "OAuth2 client secret", secret=True),
        Setting("tenant", "AIRFLOW_PLATFORM_TENANT", "Tenant to act in (X-Tenant-ID)"),
        Setting("timeout", "AIRFLOW_PLATFORM_TIMEOUT", "Seconds to wait for each answer"),
    )
}

Source = Literal["env", "file", "unset"]


def config_path() -> Path:
    return Path(typer.get_app_dir(APP_NAME)) / "config.json"


def mask(value: str) -> str:
    """Enough of a secret to tell two apart, not enough to use."""
    return value[:8] + "…" if len(value) > 12 else "****"


def check_value(name: str, value: str) -> str:
    """Refuse settings that can only fail later, with the reason now."""
    value = value.strip()
    if name == "base_url" and not value.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, not {value!r}")
    if name == "timeout":
        try:
            if float(value) <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"timeout must be a positive number of seconds, not {value!r}") from None
    if not value:
        raise ValueError(f"{name} cannot be empty; use `config unset {name}`")
    return value.rstrip("/") if name == "base_url" else value


class ConfigStore:
    def __init__(self, path: Path | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.path = path or config_path()
        self.environ = os.environ if environ is None else environ

    def load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ValueError(f"Cannot read {self.path}: {error}") from None
        return {k: str(v) for k, v in data.items() if k in SETTINGS} if isinstance(data, dict) else {}

    def save(self, data: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".config-", suffix=".json")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(dict(sorted(data.items())), handle, indent=2)
                handle.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        os.chmod(self.path, 0o600)

    def set(self, name: str, value: str) -> None:
        data = self.load()
        data[name] = check_value(name, value)
        self.save(data)

    def unset(self, name: str) -> bool:
        data = self.load()
        found = data.pop(name, None) is not None
        if found:
            self.save(data)
        return found

    def effective(self, name: str) -> tuple[str | None, Source]:
        """The value in force and where it comes from: the environment wins over the file."""
        env_value = self.environ.get(SETTINGS[name].env)
        if env_value:
            return env_value, "env"
        value = self.load().get(name)
        return (value, "file") if value else (None, "unset")
