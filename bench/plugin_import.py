"""How much importing the platform plugin adds to an Airflow process's start.

Each sample is a fresh interpreter that imports ``airflow`` and then the plugin module (as
Airflow's plugin loader does); the figure is the median plugin import time divided by the median
``import airflow`` time of the same samples.

    make bench NAME=plugin_import
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

SAMPLES = int(os.environ.get("BENCH_SAMPLES", "9"))

PROBE = """
import time
t0 = time.perf_counter()
import airflow
t1 = time.perf_counter()
import airflow_platform.plugin
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def main() -> None:
    env = {**os.environ, "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME", tempfile.mkdtemp())}
    airflow_s, plugin_s = [], []
    for _ in range(SAMPLES):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
        )
        a, p = (float(x) for x in out.stdout.split()[-2:])
        airflow_s.append(a)
        plugin_s.append(p)
    a_med, p_med = statistics.median(airflow_s), statistics.median(plugin_s)
    print(f"samples: {SAMPLES}")
    print(f"import airflow: median {a_med * 1000:.1f} ms")
    print(f"import airflow_platform.plugin (after airflow): median {p_med * 1000:.2f} ms")
    print(f"plugin_import_ratio: {p_med / a_med:.4f}")


if __name__ == "__main__":
    main()
