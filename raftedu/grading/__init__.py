"""Graded exercises: instant public checks for students, a bulk grader for instructors, one source for both.

* :func:`check` -- run an exercise's public checks from a notebook and print a table;
* :func:`replay` -- rerun a failing scenario with your code and get the cluster back;
* :func:`my_node` -- the node class the checks run (a failing safety check's line replays its run shrunk with it);
* :func:`run_checks` -- the same checks as data (a :class:`Report`), public and hidden;
* :func:`release` -- generate ``exercises/`` from ``solutions/``;
* :func:`grade` -- grade a folder of submissions (CSV, feedback, Gradescope JSON).

Every check is a probe (runs student code, returns raw observations) and a
judge (decides from the observations alone). The bulk grader runs the probes
in a worker process and the judges in its own, which never runs student
code; hidden cases come from the instructor's secret (DESIGN.md principle
10, README "Whom to trust: what runs where").

Imports only the layers below (raft, sim, trace, checks); never widgets or viz.
"""

from .core import STATUSES, Check, CheckResult, Failed, Report
from .exercises import EXERCISES, Exercise, get_exercise
from .notebooks import release
from .scenarios import node_class
from .runner import Limits, grade
from .student import check, my_node, replay, run_checks

__all__ = [
    "EXERCISES",
    "STATUSES",
    "Check",
    "CheckResult",
    "Exercise",
    "Failed",
    "Limits",
    "Report",
    "check",
    "get_exercise",
    "grade",
    "my_node",
    "node_class",
    "release",
    "replay",
    "run_checks",
]
