"""How long grading takes: a student's public checks, one full grade, a 30-submission batch with 2 jobs.

Run from the repository root: ``python benchmarks/bench_grading.py`` (``--batch 0``
skips the batch). Prints a Markdown table; the README quotes it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from raftedu.grading import EXERCISES, Limits, grade, run_checks
from raftedu.grading.notebooks import solution_namespace as notebook_definitions
from raftedu.grading.runner import Submission, grade_one

ROOT = Path(__file__).resolve().parents[1]
SECRET = "benchmark-secret-0001"


def solution_namespace(exercise: str) -> dict:
    """The solution notebook's definitions, executed in this process (what a student's kernel holds)."""
    ex = EXERCISES[exercise]
    return notebook_definitions(ROOT / "solutions" / f"{ex.notebook}.ipynb", ex.functions)


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median and max seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per single-submission figure")
    parser.add_argument("--batch", type=int, default=30, help="submissions in the batch (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}\n")
    print("| exercise | public checks, in the notebook (median / max) | full grade of one submission: "
          "worker process + notebook + every probe, judged in the parent (median / max) |")
    print("|---|---|---|")
    for ex in EXERCISES.values():
        ns = solution_namespace(ex.id)
        public = timed(lambda: run_checks(ex.id, ns), args.repeat)
        path = ROOT / "solutions" / f"{ex.notebook}.ipynb"
        full = timed(lambda: grade_one(Submission(path.stem, path, path.parent), ex, secret=SECRET), args.repeat)
        print(f"| {ex.id} | {public[0]:.2f} s / {public[1]:.2f} s | {full[0]:.2f} s / {full[1]:.2f} s |")
    if args.batch:
        fixtures = ROOT / "tests" / "fixtures" / "submissions_02"
        kinds = ["correct.ipynb", "wrong_log_length_only.ipynb", "starter_untouched.ipynb"]
        with tempfile.TemporaryDirectory() as tmp:
            subs = Path(tmp) / "subs"
            subs.mkdir()
            for k in range(args.batch):
                shutil.copy(fixtures / kinds[k % len(kinds)], subs / f"student{k:02d}.ipynb")
            start = time.perf_counter()
            results = grade(subs, "02", Path(tmp) / "grades.csv", jobs=args.jobs, limits=Limits(), progress=False,
                            secret=SECRET)
            wall = time.perf_counter() - start
        print(f"\n| batch | submissions | --jobs | wall time | per submission |\n|---|---|---|---|---|\n"
              f"| exercise 02 (correct / wrong / starter mix) | {len(results)} | {args.jobs} | {wall:.1f} s | "
              f"{wall / len(results):.2f} s |")


if __name__ == "__main__":
    main()
