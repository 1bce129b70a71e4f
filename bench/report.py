"""Collects benchmark figures into ``bench/RESULTS.md`` (not a benchmark: ``scripts/bench.sh`` skips it).

``scripts/bench.sh`` saves each run's output as ``bench/.work/logs/<name>-<airflow version>.log`` and
then calls ``python bench/report.py <name>-<version>.log ...``. Every ``name: value`` line of a log is a
figure (the last one is the benchmark's headline). Figures are merged into ``bench/results.json``
(kept in git beside RESULTS.md) per benchmark and Airflow version, so running one benchmark updates
its own rows and keeps the others with their own date and machine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
LOGS = BENCH / ".work" / "logs"
STORE = BENCH / "results.json"
OUT = BENCH / "RESULTS.md"
FIGURE = re.compile(r"^([a-z][a-z0-9_]*): (-?[0-9][0-9.]*(?:/[0-9]+)?)\s*$")

#: The goal of each headline figure, as the issues state it.
GOALS: dict[str, str] = {
    "plugin_import_ratio": "small (plugin import ÷ `import airflow`)",
    "sdk_overhead_ratio": "≈ 1.0",
    "auth_overhead_ratio": "≈ 1.0",
    "dag_factory_parse_s_per_1000": "≤ 1.0 s",
    "dag_factory_overhead_ratio": "≈ 1.0",
    "datakit_overhead_ratio": "≤ 1.3",
    "query_overhead_ratio": "≤ 1.10",
    "small_query_ratio": "≤ 2.0",
    "arrow_transfer_ratio": "≤ 2.0",
    "cancel_within_1s": "50/50",
    "platform_vs_airflow_rps_ratio": "≥ 3.0",
    "load_p99_ms_at_50rps": "≤ 100 ms",
    "load_errors_at_50rps": "0",
    "webhook_p95_s": "≤ 2.0 s",
}


def machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    os_name = platform.platform()
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "os": os_name,
        "python": platform.python_version(),
    }


def parse(log: Path) -> dict[str, Any] | None:
    name, _, version = log.stem.rpartition("-")
    figures = [
        m.groups() for line in log.read_text(errors="replace").splitlines() if (m := FIGURE.match(line))
    ]
    if not figures:
        return None
    seen: dict[str, str] = {}
    for key, value in figures:  # a figure printed twice (e.g. repeated as the last line) keeps its value
        seen[key] = value
    # What the benchmark printed besides its figures (per-endpoint latencies, ...), minus log records.
    details = [
        line.rstrip()
        for line in log.read_text(errors="replace").splitlines()
        if line.strip() and "[" not in line and not FIGURE.match(line) and len(line) < 200
    ][:40]
    return {
        "bench": name,
        "details": details,
        "airflow": version,
        "figures": seen,
        "headline": figures[-1][0],
        "date": dt.datetime.fromtimestamp(log.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        # Other engineers' runs share the machine: its load when the figures were taken.
        "load_avg": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "command": f"make bench NAME={name} AIRFLOW_VERSION={version}",
    }


def render(results: dict[str, Any]) -> str:
    rows = sorted(results.values(), key=lambda r: (r["bench"], r["airflow"]))
    machines = {json.dumps(r["machine"], sort_keys=True) for r in rows}
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`scripts/bench.sh` → `bench/report.py`) from real runs; every figure",
        "is the benchmark's own `name: value` output line. Each benchmark's docstring says what it",
        "measures. `make bench` runs them all with the default Airflow (3.3.2); `make bench NAME=<name>`",
        "re-runs one and updates its rows, so the date of each row says which run it comes from, and",
        "`AIRFLOW_VERSION=2.11.2 make bench NAME=<name>` adds or updates that version's rows.",
        "",
    ]
    if len(machines) == 1 and rows:
        m = rows[0]["machine"]
        lines += [
            f"Machine: {m['cores']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, {m['os']}, "
            f"Python {m['python']}.",
            "The machine is shared with other engineers' test runs: figures vary between runs.",
            "",
        ]
    lines += [
        "| benchmark | Airflow | figure | value | goal | date | load avg 1/5/15 min | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for key, value in r["figures"].items():
            mark = " (headline)" if key == r["headline"] else ""
            lines.append(
                f"| `{r['bench']}` | {r['airflow']} | `{key}`{mark} | {value} | {GOALS.get(key, '')} "
                f"| {r['date']} | {r.get('load_avg', '')} | `{r['command']}` |"
            )
    lines += ["", "## What each run printed", ""]
    for r in rows:
        if r.get("details"):
            lines += [f"`{r['bench']}` on Airflow {r['airflow']} ({r['date']}):", "", "```"]
            lines += r["details"]
            lines += ["```", ""]
    if len(machines) > 1:
        lines += ["", "Machines:", ""]
        for r in rows:
            m = r["machine"]
            lines.append(
                f"* `{r['bench']}` ({r['airflow']}): {m['cores']} cores, {m['cpu']}, "
                f"{m['ram_gib']} GiB, {m['os']}"
            )
    return "\n".join(lines) + "\n"


def main(args: list[str]) -> None:
    results: dict[str, Any] = json.loads(STORE.read_text()) if STORE.exists() else {}
    for arg in args:
        entry = parse(LOGS / arg if not Path(arg).is_absolute() else Path(arg))
        if entry is not None:
            results[f"{entry['bench']}@{entry['airflow']}"] = entry
    STORE.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    OUT.write_text(render(results))
    print(f"wrote {OUT.relative_to(BENCH.parent)} ({len(results)} benchmark runs)")


if __name__ == "__main__":
    main(sys.argv[1:])
