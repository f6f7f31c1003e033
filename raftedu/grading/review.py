"""What a person should look at: a static reading of the answer cells, before and apart from running them.

The sandbox makes a verdict unforgeable; it does not make every answer
honest. Two readings of the cells' syntax trees (nothing is executed here):

* :func:`suspicious_lines` -- code that loads code at run time or reaches into
  the machinery (``exec``/``eval``/``compile``, ``marshal``, ``importlib``,
  ``ctypes``, ``inspect``/``gc``/frames, ``/proc``, processes and signals,
  the environment, files). Such a submission gets status ``review`` with
  the lines quoted; it keeps its computed points, so the instructor decides.
* :func:`copied_functions` -- functions whose normalized syntax tree
  (docstrings dropped, local names numbered) is one of raftedu's reference
  rules: status ``copied``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

__all__ = ["copied_functions", "normalized", "suspicious_lines"]

_CALLS = {"exec": "runs code from a string", "eval": "runs code from a string", "compile": "compiles code at run time",
          "__import__": "imports a module by name at run time", "breakpoint": "starts a debugger",
          "open": "opens a file", "get_ipython": "uses IPython's shell (magics or shell commands)",
          "globals": "reads the module's global table", "setattr": "sets attributes by name",
          "delattr": "deletes attributes by name"}
_MODULES = {"marshal": "loads compiled code", "importlib": "imports modules by name", "ctypes": "calls C directly",
            "inspect": "inspects frames and source", "gc": "walks the garbage collector's objects",
            "subprocess": "starts processes", "multiprocessing": "starts processes", "signal": "handles signals",
            "socket": "opens network connections", "pty": "opens terminals", "threading": "starts threads",
            "_thread": "starts threads", "builtins": "changes the builtins", "types": "builds code or functions",
            "code": "runs an interpreter", "codeop": "compiles code", "pickle": "loads pickled objects",
            "shutil": "copies or deletes files", "resource": "changes resource limits", "atexit": "runs code at exit",
            "site": "changes the import system", "sysconfig": "reads installation paths", "dis": "reads bytecode",
            "zipimport": "imports from archives", "runpy": "runs modules", "pkgutil": "reads packages",
            "tempfile": "writes files"}
_OS = {"fork", "forkpty", "system", "popen", "kill", "killpg", "setsid", "setpgid", "execv", "execve", "execl",
       "execlp", "execvp", "execvpe", "spawnv", "spawnl", "posix_spawn", "_exit", "environ", "getenv", "putenv",
       "open", "write", "read", "dup", "dup2", "pipe", "remove", "unlink", "rename", "replace", "rmdir", "chmod",
       "listdir", "scandir", "walk", "getppid", "getpid", "setuid", "setgid", "truncate"}
_SYS = {"_getframe", "modules", "settrace", "setprofile", "addaudithook", "meta_path", "path_hooks", "path",
        "exit", "exc_info", "__stdout__", "__stderr__", "__stdin__"}
_ATTRS = {"__code__", "__globals__", "__closure__", "__subclasses__", "__builtins__", "__bases__", "__mro__",
          "__func__", "__self__", "__loader__", "__spec__", "f_back", "f_globals", "f_locals", "f_code", "tb_frame",
          "gi_frame", "cr_frame", "ag_frame", "co_code", "__reduce__", "__reduce_ex__", "__getattribute__",
          "__setattr__", "__import__", "__wrapped__"}
_STRINGS = ("/proc", "raft.py", "kv.py", "site-packages", "raftedu-secret", "RAFTEDU_", "solutions", ".pth",
            "/dev/fd", "submissions")


def _source(cell: str) -> str:
    """A cell as Python: IPython's magics and ``!`` lines become the calls IPython makes of them."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return str(TransformerManager().transform_cell(cell))
    except Exception:
        return cell


def _parse(cell: str) -> ast.Module | None:
    try:
        return ast.parse(_source(cell))
    except (SyntaxError, ValueError):
        return None


def _why(node: ast.AST) -> str | None:
    """Why ``node`` needs a look, or None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
        return _CALLS[node.func.id]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            if top in _MODULES:
                return f"imports {top} ({_MODULES[top]})"
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "sys"):
            bad = [a.name for a in node.names if a.name in (_OS if node.module == "os" else _SYS) or a.name == "*"]
            if bad:
                return f"imports {', '.join(bad)} from {node.module}"
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "os" and node.attr in _OS:
            return f"uses os.{node.attr}"
        if isinstance(node.value, ast.Name) and node.value.id == "sys" and node.attr in _SYS:
            return f"uses sys.{node.attr}"
        if node.attr in _ATTRS:
            return f"reaches into {node.attr}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        hit = next((s for s in _STRINGS if s in node.value), None)
        if hit:
            return f"names {hit!r}"
    return None


def suspicious_lines(cells: Iterable[tuple[int, str]], limit: int = 12) -> list[str]:
    """One line per finding, ``cell K line L: <code> -- <why>``, for the cells given as (number, source)."""
    found: list[str] = []
    for number, source in cells:
        tree = _parse(source)
        if tree is None:
            continue
        lines = _source(source).splitlines()
        seen: set[int] = set()
        for node in ast.walk(tree):
            why = _why(node)
            line = getattr(node, "lineno", 0)
            if why and line not in seen:
                seen.add(line)
                text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                found.append(f"cell {number} line {line}: {text[:120]} -- {why}")
                if len(found) >= limit:
                    return found
    return found


class _Numbered(ast.NodeTransformer):
    """Local names and arguments numbered in order of appearance; docstrings dropped."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(self._name(node.id), node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.copy_location(ast.arg(self._name(node.arg)), node)


def normalized(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """A function's body as a string that ignores its name, docstring, local names, annotations and layout."""
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    args = ast.arguments(posonlyargs=list(fn.args.posonlyargs), args=list(fn.args.args),
                         vararg=fn.args.vararg, kwonlyargs=list(fn.args.kwonlyargs), kw_defaults=fn.args.kw_defaults,
                         kwarg=fn.args.kwarg, defaults=fn.args.defaults)
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        a.annotation = None
    tree = _Numbered().visit(ast.Module(body=[ast.FunctionDef("f", args, body, [], None)], type_ignores=[]))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


_MIN_NODES = 80
"""Reference methods smaller than this many syntax nodes are not matched: a short rule written right is written alike
(exercise 02's log_is_up_to_date has 40 nodes, handle_request_vote_reply 65; handle_request_vote 258)."""


@functools.lru_cache(maxsize=8)
def _references(rules: tuple[str, ...]) -> dict[str, str]:
    """Normalized body -> ``Class.method`` for each reference rule large enough to be recognised."""
    package = Path(__file__).resolve().parent.parent
    wanted: dict[str, set[str]] = {}
    for rule in rules:
        cls, _, name = rule.rpartition(".")
        wanted.setdefault(cls or "RaftNode", set()).add(name)
    out: dict[str, str] = {}
    for module in ("raft.py", "kv.py"):
        tree = ast.parse((package / module).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name in wanted:
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in wanted[node.name] \
                            and sum(1 for _ in ast.walk(item)) >= _MIN_NODES:
                        out[normalized(item)] = f"{node.name}.{item.name}"
    return out


def copied_functions(cells: Iterable[tuple[int, str]], rules: Iterable[str]) -> list[str]:
    """One line per function in the cells that is one of raftedu's reference ``rules`` up to names and docstrings."""
    reference = _references(tuple(sorted(rules)))
    found = []
    for number, source in cells:
        tree = _parse(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                hit = reference.get(normalized(node))
                if hit:
                    found.append(f"cell {number}: {node.name} is raftedu's own {hit} (the same code up to names and "
                                 "docstrings), not an answer")
    return found
