"""Parse cost of each DAG file on top of `import airflow.sdk`.

For every file in dags/, a fresh interpreter times `runpy.run_path(dag_file)` (which imports airflow.sdk and the
project's operators); another fresh interpreter times `import airflow.sdk` alone. Both are repeated and the
medians compared in this same run, so machine noise hits both sides. Target: at most +100 ms per DAG file.

    .venv/bin/python bench/parse_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0

BASELINE = "import time; t=time.perf_counter(); import airflow.sdk; print(time.perf_counter()-t)"
DAG_FILE = "import time, runpy; t=time.perf_counter(); runpy.run_path({path!r}); print(time.perf_counter()-t)"


def once(code: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = os.environ.copy()
    env.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow" / "bench"))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")

    dag_files = sorted((ROOT / "dags").glob("*.py"))
    codes = {"baseline": BASELINE, **{p.name: DAG_FILE.format(path=str(p)) for p in dag_files}}
    for code in codes.values():  # warm-up: byte-code caches written, files in the page cache
        once(code, env)
    samples: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(args.runs):  # interleaved, so a noisy moment hits every side alike
        for name, code in codes.items():
            samples[name].append(once(code, env))
    baseline = statistics.median(samples["baseline"])
    print(f"import airflow.sdk alone: {baseline:.0f} ms (median of {args.runs})")
    print(f"{'DAG file':<28} {'import ms':>10} {'extra ms':>9} {'ratio':>6}  target +{TARGET_MS:.0f} ms")
    worst = 0.0
    for path in dag_files:
        total = statistics.median(samples[path.name])
        extra = total - baseline
        worst = max(worst, extra)
        verdict = "ok" if extra <= TARGET_MS else "OVER"
        print(f"{path.name:<28} {total:>10.0f} {extra:>+9.0f} {total / baseline:>6.2f}  {verdict}")
    print(f"worst extra: {worst:+.0f} ms ({'within' if worst <= TARGET_MS else 'over'} the +{TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
