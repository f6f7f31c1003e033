"""How long grading takes: a student's public checks, one full grade, a 30-submission batch with 2 jobs.

Run from the repository root: ``python benchmarks/bench_grading.py`` (``--batch 0``
skips the batch, ``--only 06`` times one exercise). Prints a Markdown table; the README quotes it.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and every child it waited for (the judge processes; the workers
    they kill are counted by the judges, in ``stats["worker_cpu_s"]``)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """Median and max wall seconds of ``repeat`` calls, and the median CPU seconds (this process + children)."""
    times, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), cpu_seconds()
        fn()
        times.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
    return statistics.median(times), max(times), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per single-submission figure")
    parser.add_argument("--batch", type=int, default=30, help="submissions in the batch (0: skip)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None, help="exercise ids to time (default: all)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}\n")
    print("| exercise | public checks, in the notebook (median / max) | full grade of one submission: trusted judge "
          "process + sandboxed worker + every check (median / max wall) | its CPU time: judge + worker = all "
          "(median) | calls across the boundary | time per call (waiting for the worker) |")
    print("|---|---|---|---|---|---|")
    for ex in EXERCISES.values():
        if args.only and ex.id not in args.only:
            continue
        ns = solution_namespace(ex.id)
        public = timed(lambda: run_checks(ex.id, ns), args.repeat)
        path = ROOT / "solutions" / f"{ex.notebook}.ipynb"
        graded: list = []
        full = timed(lambda: graded.append(grade_one(Submission(path.stem, path, path.parent), ex, secret=SECRET)),
                     args.repeat)
        stats = graded[-1].stats
        calls, waiting = stats.get("calls", 0), stats.get("waiting_s", 0.0)
        # the worker is killed, not waited for, so its CPU is not among this process's children: the judge reads it
        worker = statistics.median(g.stats.get("worker_cpu_s", 0.0) for g in graded)
        per_call = f"{waiting / calls * 1e6:.0f} µs" if calls else "-"
        print(f"| {ex.id} | {public[0]:.2f} s / {public[1]:.2f} s | {full[0]:.2f} s / {full[1]:.2f} s | "
              f"{full[2]:.2f} + {worker:.2f} = {full[2] + worker:.2f} s | {calls:,} | {per_call} |")
    if args.batch:
        fixtures = ROOT / "tests" / "fixtures" / "submissions_02"
        kinds = ["correct.ipynb", "wrong_log_length_only.ipynb", "starter_untouched.ipynb"]
        with tempfile.TemporaryDirectory() as tmp:
            subs = Path(tmp) / "subs"
            subs.mkdir()
            for k in range(args.batch):
                shutil.copy(fixtures / kinds[k % len(kinds)], subs / f"student{k:02d}.ipynb")
            start, cpu = time.perf_counter(), cpu_seconds()
            results = grade(subs, "02", Path(tmp) / "grades.csv", jobs=args.jobs, limits=Limits(), progress=False,
                            secret=SECRET)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            cpu += sum(r.stats.get("worker_cpu_s", 0.0) for r in results)  # killed workers: counted by their judges
        print(f"\n| batch | submissions | --jobs | wall time | per submission | CPU time (all processes) | "
              f"CPU / {args.jobs} cores |\n|---|---|---|---|---|---|---|\n"
              f"| exercise 02 (correct / wrong / starter mix) | {len(results)} | {args.jobs} | {wall:.1f} s | "
              f"{wall / len(results):.2f} s | {cpu:.1f} s | {cpu / args.jobs:.1f} s |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
