"""Every failure ends the same way: one line on stderr, a non-zero exit, no traceback.

Exit codes: 1 the server or the network said no, 2 bad usage (click's own), 130 interrupted.
With ``--output json`` the line is the error as JSON, for scripts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar, cast

import typer

from airflow_platform import exceptions as exc

F = TypeVar("F", bound=Callable[..., Any])

_HINTS: dict[type[exc.PlatformError], str] = {
    exc.AuthenticationError: "check `airflow-cli config list` or $AIRFLOW_PLATFORM_API_KEY",
    exc.APIConnectionError: "check `airflow-cli config get base_url` or $AIRFLOW_PLATFORM_URL",
}


def fail(
    message: str, *, as_json: bool = False, code: int = 1, error: exc.PlatformError | None = None
) -> NoReturn:
    if as_json:
        body: dict[str, Any] = {"code": error.code if error else "CLI_ERROR", "message": message}
        if error is not None:
            body.update(status=error.status, details=error.details, request_id=error.request_id)
        typer.echo(json.dumps({"error": body}, default=str), err=True)
    else:
        typer.secho(f"Error: {message}", err=True, fg="red")
    raise typer.Exit(code)


def describe(error: exc.PlatformError) -> str:
    text = " ".join(str(error).split())  # one line, whatever the server put in its message
    for cls, hint in _HINTS.items():
        if isinstance(error, cls):
            return f"{text} — {hint}"
    return text


def handle_errors(command: F) -> F:
    """Wrap a command so that expected failures print one line instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        output = kwargs.get("output")
        as_json = getattr(output, "value", output) == "json"
        try:
            return command(*args, **kwargs)
        except exc.PlatformError as error:
            fail(error.message if as_json else describe(error), as_json=as_json, error=error)
        except (ValueError, TimeoutError) as error:
            fail(" ".join(str(error).split()), as_json=as_json)
        except KeyboardInterrupt:
            fail("Interrupted.", as_json=as_json, code=130)

    return cast(F, wrapper)
