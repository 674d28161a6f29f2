"""Parse cost of each DAG file, measured the way Airflow's dag-processor measures it, against an empty DAG file.

The dag-processor parses each file in a fresh process that has already imported Airflow and pre-imported the
``airflow`` modules the file names (``[dag_processor] parsing_pre_import_modules``); the duration it records
(what ``airflow dags report`` shows) is ``DagBag.process_file`` of that one file. This script does the same in a
fresh interpreter per sample: import the DagBag, pre-import the file's Airflow modules, then parse the file
with a ``BundleDagBag`` as the processor does and read its ``FileLoadStat.duration``. The baseline is an empty
DAG file (one DAG, no tasks) parsed the same way; samples are interleaved so a noisy moment hits every side
alike, and medians compared.

Target: each DAG file at most +100 ms over the empty file.

    .venv/bin/python bench/parse_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 100.0

EMPTY_DAG = '''"""An empty DAG: the baseline a DAG file's parse time is compared with."""
from airflow.sdk import DAG

with DAG(dag_id="bench_empty", schedule=None):
    pass
'''

# One sample: what the dag-processor's child does before and while parsing one file, timed by the DagBag itself.
PARSE_ONE = """
import importlib, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.utils.file import iter_airflow_imports
path = sys.argv[1]
for module in iter_airflow_imports(path):
    importlib.import_module(module)
bag = BundleDagBag(dag_folder=path, bundle_path=Path(path).parent, bundle_name="bench", load_op_links=False)
if bag.import_errors:
    raise SystemExit(f"import errors: {bag.import_errors}")
(stat,) = bag.dagbag_stats
print(stat.duration.total_seconds())
"""


def once(path: Path, env: dict[str, str]) -> float:
    """Milliseconds the DagBag took to parse ``path`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", PARSE_ONE, str(path)], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1]) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = os.environ.copy()
    env.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow" / "bench"))
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        files = {"(empty DAG file)": empty, **{p.name: p for p in sorted((ROOT / "dags").glob("*.py"))}}
        for path in files.values():  # warm-up: byte-code caches written, files in the page cache
            once(path, env)
        samples: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(args.runs):  # interleaved
            for name, path in files.items():
                samples[name].append(once(path, env))

    baseline = statistics.median(samples.pop("(empty DAG file)"))
    print(f"empty DAG file: {baseline:.1f} ms (DagBag parse duration, median of {args.runs})")
    print(f"{'DAG file':<28} {'parse ms':>9} {'extra ms':>9} {'ratio':>7}  target +{TARGET_MS:.0f} ms")
    worst = 0.0
    for name, values in samples.items():
        total = statistics.median(values)
        extra = total - baseline
        worst = max(worst, extra)
        verdict = "ok" if extra <= TARGET_MS else "OVER"
        print(f"{name:<28} {total:>9.1f} {extra:>+9.1f} {total / baseline:>6.1f}x  {verdict}")
    print(f"worst extra: {worst:+.1f} ms ({'within' if worst <= TARGET_MS else 'over'} the +{TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
