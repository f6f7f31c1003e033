"""The ``raftedu`` command: copy the ``course``, ``shrink`` a notebook, build the ``site`` or a ``lite`` site, ``release`` exercises, ``grade`` a class, ``check`` one notebook, run an ``experiment``.

Run ``raftedu --help`` (or ``python -m raftedu --help``) for the subcommands
and ``raftedu SUBCOMMAND --help`` for their options.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXERCISE_IDS = "01 to 12"
"""The exercises ``raftedu grade`` knows, for its help text (kept equal to the grader's list by
tests/test_grading_release.py; importing the grader here would slow every command down)."""

__all__ = ["main", "build_parser", "EXTRAS"]

EXTRAS = {"site": "docs", "release": "grader", "lite": "lite"}
"""The extra each command needs beyond a plain ``pip install raftedu`` (the others need none)."""

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

_EPILOG_GRADE = """\
examples:
  raftedu grade submissions/ --exercise 02 --out grades/grades.csv --jobs 2
  raftedu grade submitted/ --exercise 04 --out grades.csv --timeout 120 --memory-mb 1024
  raftedu grade submissions/ -e 02 -o grades/grades.csv --secret-file ~/.raftedu-course-secret
  raftedu grade /shared/submissions/ -e 02 -o grades.csv --scheduler tcp://scheduler-host:8786

SUBMISSIONS is a folder: each NN_*.ipynb / *.ipynb in it is one student (named
after the file), each sub-folder is one student (named after the folder; the
notebook may sit anywhere inside). Writes the CSV, grades.jsonl (the journal a
rerun resumes from), feedback/<student>.md and gradescope/<student>.json.

Each submission is judged by a trusted process of its own that runs every
check -- the simulator, the scenarios, the safety monitor, every count -- and
treats the student's server as a black box: student code runs only in a
sandboxed worker (bubblewrap: own PID, network and user namespaces, read-only
system, no host files, nothing outlives it), which answers one call at a time
and never sees a case, a seed or your secret. Without bubblewrap (apt-get
install bubblewrap) the worker runs unsandboxed and every row's notes say so.
Hidden cases derive from your secret (--secret-file, or $RAFTEDU_GRADING_SECRET;
else one is made once and kept in .raftedu-secret beside --out).

On a Dask cluster (--scheduler), each worker grades as --jobs does here, so it
needs the submissions at the same path, this same raftedu and bubblewrap: every
worker is asked before grading starts, and one that cannot stops the command
with a line saying why (nothing is graded).
"""


def _positive(kind: type) -> object:
    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="raftedu",
        description="raftedu: learn Raft by watching a simulated cluster and breaking it. "
                    "Course tools for instructors and students.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"raftedu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{course,shrink,site,lite,release,grade,check,experiment}")

    co = sub.add_parser("course", help="copy the lessons and exercises into a folder of your own (students)",
                        description="Copy the lessons (notebooks/), the exercises (exercises/) and a README into "
                                    "DIR, then open them with `jupyter lab DIR`. Files you edited are never "
                                    "overwritten.")
    co.add_argument("dir", nargs="?", default="raft-course", help="where to put the course (default: raft-course)")
    co.add_argument("--update", action="store_true",
                    help="bring files you did not edit up to this raftedu's version; keep the ones you edited")

    sh = sub.add_parser("shrink", help="remove saved widget state from notebooks (each widget can hold megabytes)",
                        description="Remove the widget state saved in notebooks (metadata.widgets: plotly's whole "
                                    "bundle once per widget) and the outputs that show widgets; keep everything "
                                    "else. Running the notebook again draws the widgets again.")
    sh.add_argument("notebooks", nargs="+", help="the notebooks to shrink, in place")

    si = sub.add_parser("site", help="build the documentation site: guides, every lesson with its figures, the API",
                        description="Execute every lesson and build the documentation site (Sphinx, MyST-NB, the book "
                                    "theme): guides, lessons and exercises with every figure drawn without a kernel, "
                                    "the API reference, search. Then check every page's links, and that no page "
                                    'loads anything from another host. Needs pip install "raftedu[docs]".')
    si.add_argument("out", nargs="?", default="build/site", help="output folder (default: build/site)")
    si.add_argument("--root", help="folder holding docs/, notebooks/ and exercises/ (default: the installed course)")
    si.add_argument("--no-execute", action="store_true", help="convert without executing (pages without outputs)")
    si.add_argument("--recorded", action="store_true",
                    help="show the recorded outputs of lessons that start real programs (lesson 13: etcd) even when "
                         "they could run here (they always do when the program is missing)")
    si.add_argument("--record", metavar="LESSON", action="append", default=[],
                    help="first run LESSON (e.g. 13_real_etcd.ipynb) here and keep its outputs in "
                         "docs/recorded/ (needs the programs it starts); may be repeated")

    li = sub.add_parser("lite", help="build a JupyterLite site: the course running entirely in the browser",
                        description="Write a static JupyterLite site (JupyterLab and Python in the browser) holding "
                                    "the lessons and exercises, raftedu's wheel and the widget extensions. Needs "
                                    'pip install "raftedu[lite]".')
    li.add_argument("out", nargs="?", default="build/lite", help="output folder (default: build/lite)")
    li.add_argument("--root", help="folder holding notebooks/ and exercises/ (default: the installed course)")
    li.add_argument("--wheel", help="the raftedu wheel to carry (default: built from --root, a checkout)")

    rel = sub.add_parser("release", help="generate exercises/ from solutions/ (instructors)",
                         description="Generate the student notebooks in exercises/ from the single source in "
                                     "solutions/: solutions become `raise NotImplementedError()` with hints, hidden "
                                     "tests are removed, outputs and widget state are stripped.")
    rel.add_argument("--solutions", default="solutions", help="folder of NN_topic.ipynb sources (default: solutions)")
    rel.add_argument("--exercises", default="exercises", help="folder to write (default: exercises)")
    rel.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if exercises/ differs from what release would produce")

    gr = sub.add_parser("grade", help="grade a folder of submitted notebooks (instructors)",
                        description="Grade every submission: its cells run in a sandboxed worker (a bare IPython "
                                    "shell) with time and memory limits; public and hidden checks run in a trusted "
                                    "process that asks the worker only what the student's nodes and functions do. "
                                    "Results are written as they come; a rerun resumes.",
                        epilog=_EPILOG_GRADE, formatter_class=argparse.RawDescriptionHelpFormatter)
    gr.add_argument("submissions", help="folder of submissions (or one notebook)")
    gr.add_argument("--exercise", "-e", required=True, help=f"exercise id: {EXERCISE_IDS} (the NN of exercises/NN_topic.ipynb)")
    gr.add_argument("--out", "-o", default="grades.csv", help="CSV to write (default: grades.csv)")
    gr.add_argument("--jobs", "-j", type=_positive(int), default=1, help="submissions graded in parallel (default 1)")
    gr.add_argument("--feedback", help="folder for <student>.md feedback (default: feedback/ beside --out)")
    gr.add_argument("--gradescope", help="folder for <student>.json in Gradescope's format (default: gradescope/ beside --out)")
    gr.add_argument("--no-resume", action="store_true", help="grade everyone again, ignoring the journal")
    gr.add_argument("--no-progress", action="store_true", help="no progress bar")
    gr.add_argument("--cell-timeout", type=_positive(float), default=30.0, help="seconds per notebook cell (default 30)")
    gr.add_argument("--check-timeout", type=_positive(float), default=20.0, help="seconds per check (default 20)")
    gr.add_argument("--timeout", type=_positive(float), default=240.0, help="seconds per submission (default 240)")
    gr.add_argument("--memory-mb", type=_positive(int), default=2048, help="memory limit per submission, MiB (default 2048)")
    gr.add_argument("--sandbox", choices=("bubblewrap", "unsandboxed"), default=None,
                    help="where student code runs (default: bubblewrap when it works here, else unsandboxed -- "
                         "weaker, and said in every row's notes)")
    gr.add_argument("--scheduler", metavar="ADDRESS",
                    help='a Dask scheduler, e.g. tcp://scheduler-host:8786: its workers grade the submissions (pip '
                         'install "raftedu[dask]"; every worker needs this same raftedu, bubblewrap, and the '
                         'submissions at the same path; each is checked before grading starts)')
    gr.add_argument("--secret-file", help="file whose first line is your secret: hidden cases and seeds derive from it "
                                          "(default: $RAFTEDU_GRADING_SECRET, else one made once and kept in "
                                          ".raftedu-secret beside --out)")

    ch = sub.add_parser("check", help="run the public checks on one notebook from a terminal (students)",
                        description="Execute one notebook the way the grader does and print the public checks "
                                    "table. In a notebook, call raftedu.grading.check('02') instead.")
    ch.add_argument("notebook", help="the notebook, e.g. exercises/02_request_vote.ipynb")
    ch.add_argument("--exercise", "-e", help="exercise id (default: from the file name, NN_topic.ipynb)")
    xp = sub.add_parser("experiment", help="run an even/odd experiment, here or on a Dask cluster, and write its table",
                        description="Run one experiment of raftedu.experiments (lesson 06) and write its table as "
                                    "CSV: the same table, row for row, whether it runs here (--workers) or on a Dask "
                                    "cluster (--scheduler).",
                        epilog=_EPILOG_EXPERIMENT, formatter_class=argparse.RawDescriptionHelpFormatter)
    xp.add_argument("kind", choices=sorted(_EXPERIMENTS), help="crash: crash k of N; partitions: every split; "
                    "availability: Monte Carlo, decided by the simulator; recovery: time to a new leader and commit")
    xp.add_argument("--out", "-o", required=True, help="CSV to write")
    xp.add_argument("--sizes", type=_sizes, help="cluster sizes, e.g. 1-10 or 3,5,7 (default: the experiment's own)")
    xp.add_argument("--trials", type=_positive(int), help="trials per cell (crash, partitions, recovery)")
    xp.add_argument("--victims", help="crash: random, leader or followers (default random)")
    xp.add_argument("--p", type=_probabilities, help="availability: probabilities a node is down, e.g. 0.01,0.05")
    xp.add_argument("--samples", type=_positive(int), help="availability: samples per (N, p)")
    xp.add_argument("--seed", type=int, default=0, help="seed of the whole experiment (default 0)")
    xp.add_argument("--workers", type=_positive(int), default=1, help="processes here (default 1)")
    xp.add_argument("--scheduler", metavar="ADDRESS",
                    help='a Dask scheduler, e.g. tcp://scheduler-host:8786: its workers run the trials (pip install '
                         '"raftedu[dask]"; each worker needs this same raftedu installed)')
    xp.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


_EXPERIMENTS = {  # kind -> (function name in raftedu.experiments, options it takes beyond sizes, seed and how to run)
    "crash": ("crash_trials", ("trials", "victims")),
    "partitions": ("partition_experiment", ("trials",)),
    "availability": ("availability_monte_carlo", ("p", "samples")),
    "recovery": ("recovery_times", ("trials",)),
}
_KEYWORD = {"p": "ps"}

_EPILOG_EXPERIMENT = """\
examples:
  raftedu experiment crash --sizes 1-10 --trials 100 --out crash.csv --workers 2
  raftedu experiment availability --p 0.01,0.05 --samples 2000 --out availability.csv

on a Dask cluster (pip install "raftedu[dask]" on every machine):
  dask scheduler                                  # prints its address, e.g. tcp://scheduler-host:8786
  dask worker tcp://scheduler-host:8786 --nthreads 1    # on each machine, as many as you like
  raftedu experiment crash --sizes 1-10 --trials 1000 --out crash.csv --scheduler tcp://scheduler-host:8786
"""


def _sizes(text: str) -> list[int]:
    try:
        if "-" in text:
            low, high = (int(t) for t in text.split("-"))
            return list(range(low, high + 1))
        return [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are a range like 1-10 or a list like 3,5,7; got {text!r}") from None


def _probabilities(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"probabilities are a list like 0.01,0.05; got {text!r}") from None


def _experiment(args: argparse.Namespace) -> int:
    from . import experiments

    name, takes = _EXPERIMENTS[args.kind]
    given = {k: getattr(args, k) for k in ("trials", "victims", "p", "samples") if getattr(args, k) is not None}
    if wrong := sorted(set(given) - set(takes)):
        raise ValueError(f"--{wrong[0]} does not apply to the {args.kind} experiment; it takes "
                         + ", ".join(f"--{t}" for t in takes))
    options = {_KEYWORD.get(k, k): v for k, v in given.items()}
    if args.sizes is not None:
        options["ns"] = args.sizes
    client = _dask_client(args.scheduler) if args.scheduler else None
    try:
        run = {"executor": client.get_executor()} if client is not None else {"workers": args.workers}
        table = getattr(experiments, name)(seed=args.seed, progress=not args.no_progress, **options, **run)
    finally:
        if client is not None:
            client.close()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    where = f"on the Dask cluster at {args.scheduler}" if client is not None else f"here ({args.workers} worker(s))"
    print(f"{args.kind}: {len(table)} row(s) → {args.out}, run {where}")
    return 0


def _dask_client(address: str) -> Any:
    """A Dask client of the scheduler at ``address``; a clear error when Dask is missing or nobody answers."""
    try:
        from distributed import Client
    except ModuleNotFoundError:
        raise ModuleNotFoundError('--scheduler needs Dask: pip install "raftedu[dask]"') from None
    try:
        return Client(address, timeout="10s")
    except (OSError, ValueError) as e:
        raise OSError(f"no Dask scheduler answered at {address} within 10 s ({type(e).__name__}: {e}); start one "
                      "with `dask scheduler` and give the address it prints") from None


def _course(args: argparse.Namespace) -> int:
    from .course import copy_course

    result = copy_course(args.dir, update=args.update)
    print(result.summary())
    print(f"next: jupyter lab {args.dir}   (then open notebooks/00_start_here.ipynb)")
    return 0


def _site(args: argparse.Namespace) -> int:
    from .course import course_root
    from .site import build_site, check_site, record_lesson

    base = Path(args.root) if args.root else Path(str(course_root()))
    for lesson in args.record:
        path = base / "notebooks" / Path(lesson).name
        if not path.is_file():
            raise FileNotFoundError(f"no lesson {path}; --record takes a file name of notebooks/, e.g. 13_real_etcd.ipynb")
        print(f"recorded {path.name}'s outputs in {record_lesson(path, base / 'docs' / 'recorded' / (path.stem + '.json'))}")
    pages = build_site(args.out, root=base, execute=not args.no_execute, recorded="always" if args.recorded else "auto")
    for p in pages:
        print(f"{p.path}: {p.figures} figure(s)" + "".join(f"; {n}" for n in p.notes))
    problems = check_site(args.out)
    for problem in problems:
        print(f"broken: {problem}", file=sys.stderr)
    print(f"open {Path(args.out) / 'index.html'}" + (f" ({len(problems)} broken link(s) or online load(s))" if problems else ""))
    failed = [p.source for p in pages if any(n.startswith(("execution failed", "not executed")) for n in p.notes)]
    return 1 if failed or problems else 0


def _shrink(args: argparse.Namespace) -> int:
    import json

    for name in args.notebooks:
        path = Path(name)
        before = path.stat().st_size
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(nb, dict) or "cells" not in nb:
            raise ValueError(f"{path} is not a Jupyter notebook (no cells)")
        nb.get("metadata", {}).pop("widgets", None)
        for cell in nb["cells"]:
            if "outputs" in cell:
                cell["outputs"] = [o for o in cell["outputs"] if _WIDGET_VIEW not in o.get("data", {})]
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path}: {before / 1e6:.2f} MB -> {path.stat().st_size / 1e6:.2f} MB")
    return 0


def _lite(args: argparse.Namespace) -> int:
    from .lite import build_lite

    try:
        site = build_lite(args.out, root=args.root, wheel=args.wheel)
    except (FileNotFoundError, RuntimeError) as err:
        print(f"raftedu lite: {err}", file=sys.stderr)
        return 1
    print(f"{len(site.notebooks)} notebooks and {site.wheel} in {site.out}")
    for name, why in site.left_out.items():
        print(f"left out {name}: {why}")
    print(f"serve it: python -m http.server -d {args.out}   (then open http://localhost:8000/lab/index.html)")
    return 0


def _release(args: argparse.Namespace) -> int:
    from .grading.notebooks import release

    changed = release(args.solutions, args.exercises, check=args.check)
    if args.check:
        if changed:
            print("exercises/ is out of date; run `raftedu release`. Differs: " + ", ".join(changed))
            return 1
        print(f"{args.exercises}/ is exactly what `raftedu release` produces")
        return 0
    print(f"wrote {len(changed)} notebook(s)" + ("".join(f"\n  {c}" for c in changed) if changed else " (all up to date)"))
    return 0


def _limits(args: argparse.Namespace) -> object:
    from .grading.runner import Limits

    return Limits(cell_timeout=args.cell_timeout, check_timeout=args.check_timeout,
                  submission_timeout=args.timeout, memory_mb=args.memory_mb)


def _grade(args: argparse.Namespace) -> int:
    from collections import Counter

    from .grading.runner import grade, grading_secret

    from .grading.runner import find_submissions

    limits = _limits(args)
    if args.scheduler and args.jobs != 1:
        raise ValueError("--jobs sets how many submissions are graded at once here; on a Dask cluster each worker's "
                         "threads do (dask worker ADDRESS --nthreads N)")
    find_submissions(args.submissions, args.exercise)  # a wrong folder or exercise is refused before anything is written
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    key, source = grading_secret(Path(args.out).parent, secret_file=args.secret_file)
    print(f"hidden cases come from your secret ({source})")
    from .grading.sandbox import MODES, mode

    if args.scheduler:
        client = _dask_client(args.scheduler)
        print(f"grading on the Dask cluster at {args.scheduler}: each worker is checked first")
    else:
        client, how = None, mode(args.sandbox)
        print(f"student code runs {MODES[how]}")
    try:
        results = grade(args.submissions, args.exercise, args.out, jobs=args.jobs, limits=limits,
                        feedback=args.feedback, gradescope=args.gradescope, resume=not args.no_resume,
                        progress=not args.no_progress, secret=key, sandbox=args.sandbox if client else how,
                        executor=client)
    except RuntimeError as e:  # a Dask worker that cannot grade, or bubblewrap asked for and missing
        raise OSError(str(e)) from None
    finally:
        if client is not None:
            client.close()
    counts = Counter(r.status for r in results)
    mean = sum(r.score for r in results) / len(results)
    modes = sorted({r.stats["sandbox"] for r in results if "sandbox" in r.stats})
    print(f"graded {len(results)} submission(s) → {args.out} (mean {mean:.1f}/{results[0].max_score:g}); "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f"; sandbox: {', '.join(modes) or '-'}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from .grading.core import CheckResult, Report
    from .grading.exercises import get_exercise
    from .grading.runner import Submission, grade_one

    path = Path(args.notebook)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}")
    ex = get_exercise(args.exercise or path.stem)
    r = grade_one(Submission(path.stem, path, path.parent), ex)
    report = Report(ex.id, [CheckResult(**c) for c in r.checks if c["public"]])
    print(report.table())
    for note in r.notes:
        print("note:", note)
    return 0 if report.passed else 1


def _missing(command: str, error: ModuleNotFoundError) -> str:
    """What to install when a command meets a missing module."""
    extra = EXTRAS.get(command)
    if error.name is None:
        return str(error)  # the command's own message (e.g. --scheduler's) already says what to install
    what = f"{error.name} is not installed"
    if extra is None:
        return f"{what}; it comes with raftedu itself: pip install --force-reinstall raftedu"
    return f'{what}; `raftedu {command}` needs the "{extra}" extra: pip install "raftedu[{extra}]"'


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``raftedu`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"course": _course, "shrink": _shrink, "site": _site, "lite": _lite, "release": _release,
                "grade": _grade, "check": _check, "experiment": _experiment}[args.command](args)
    except ModuleNotFoundError as e:
        print(f"raftedu {args.command}: error: {_missing(args.command, e)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:
        print(f"raftedu {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
