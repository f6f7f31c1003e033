"""Where worker processes may run, and how they are started.

Three places decide differently, and experiments and sweeps ask this module
instead of each guessing:

* In the browser (JupyterLite's Pyodide, ``sys.platform == "emscripten"``)
  there are no processes at all: work runs one task after another.
* Inside a Jupyter kernel on Python 3.12 or later, forking is unsafe (the
  kernel runs threads; Python 3.12 warns, 3.14 no longer forks by default):
  workers start with ``forkserver``. Such workers import what they run by
  name, so a node class or function defined in the notebook itself
  (``__main__``) cannot reach them; then work runs in the kernel, one task
  after another, and the note says how to get workers back.
* Everywhere else Python's default start method is kept (``fork`` on Linux
  before 3.14), so scripts and tests behave as they always did.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any


def in_browser() -> bool:
    """True under Pyodide (JupyterLite): no processes, no OS timers."""
    return sys.platform == "emscripten"


def in_kernel() -> bool:
    """True inside a running Jupyter (IPython) kernel."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return get_ipython is not None and getattr(get_ipython(), "kernel", None) is not None


def _defined_in_notebook(obj: Any) -> str | None:
    """The name of ``obj`` (or of the first thing inside a tuple/list) if it lives in ``__main__``."""
    if isinstance(obj, (tuple, list)):
        return next((name for name in map(_defined_in_notebook, obj) if name), None)
    if (isinstance(obj, type) or callable(obj)) and getattr(obj, "__module__", None) == "__main__":
        return getattr(obj, "__qualname__", repr(obj))
    return None


def start_method(*payload: Any) -> tuple[str | None, str]:
    """How to start workers that will run ``payload`` (the classes/functions sent to them).

    Returns ``(method, note)``: ``method`` is a :mod:`multiprocessing` start
    method name, ``"default"`` for Python's own choice, or None when the work
    must run in this process; ``note`` says why when it is not the default.
    """
    if in_browser():
        return None, "no worker processes in the browser (Pyodide): the tasks run one after another"
    if in_kernel() and sys.version_info >= (3, 12):
        name = _defined_in_notebook(payload)
        if name is not None:
            return None, (f"{name} is defined in this notebook, and worker processes started safely from a kernel "
                          "(forkserver) cannot see the notebook's names: the tasks run here, one after another. "
                          "Put it in a .py file next to the notebook and import it to use workers.")
        return "forkserver", "workers start with forkserver (forking a kernel's threads is unsafe on Python 3.12+)"
    return "default", ""


def process_pool(workers: int, *payload: Any) -> tuple[Executor | None, str]:
    """A process pool of ``workers`` suited to where we run (see :func:`start_method`), or None and the reason."""
    method, note = start_method(*payload)
    if method is None:
        return None, note
    context = None if method == "default" else multiprocessing.get_context(method)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context), note


def map_on(executor: Any, fn: Any, items: list[Any]) -> Iterator[Any]:
    """``fn(x)`` for each of ``items``, in order, yielded as each becomes ready: here (``executor`` None), on a
    :class:`concurrent.futures.Executor`, or on a Dask ``distributed.Client`` (anything with ``map`` and
    ``gather``). ``fn`` and the items must pickle when the executor runs other processes or machines."""
    if executor is None:
        yield from map(fn, items)
    elif hasattr(executor, "gather") and hasattr(executor, "map"):  # a Dask client
        for future in executor.map(fn, items, pure=False):
            yield future.result()
    elif isinstance(executor, Executor):
        yield from executor.map(fn, items)
    else:
        raise TypeError(f"executor must be a concurrent.futures executor or a Dask distributed.Client; got {executor!r}")
