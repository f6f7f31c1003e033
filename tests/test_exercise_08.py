"""Exercise 08, a linearizable key-value store: the solution gets full marks, the starter and a do-nothing store 0,
every mutant fails the check meant for it, and building on (or delegating to) the reference KVNode scores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from gradecheats import assert_solution_full_and_cheats_nothing  # tests/ is on sys.path (conftest.py)
from mutants08 import MUTANTS08, MyKV  # tests/ is on sys.path (conftest.py)
from raftedu.grading.kv_store import judge_kv, probe_kv, rebuild
from raftedu.grading.notebooks import solution_namespace
from raftedu.kv import KVNode, KVServer
from raftedu.kvmodel import KVStore, Op

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("08")
SECRET = "test-secret-for-hidden-cases"


def test_the_solution_scores_full_marks_public_and_hidden() -> None:
    report = grading.run_checks("08", {"MyKV": MyKV}, hidden=True, secret=SECRET)
    assert report.score == EX.max_score == 21, report.table()
    assert {c.name for c in EX.checks if c.public} == {"single_client", "retried_write", "stale_read",
                                                        "new_leader_read", "faults", "reads_wait_for_apply"}


def test_the_released_starter_scores_zero() -> None:
    starter = solution_namespace(ROOT / "exercises" / "08_kv_store.ipynb", EX.functions)
    report = grading.run_checks("08", starter, hidden=True, secret=SECRET)
    assert report.score == 0 and {r.status for r in report.results} == {"not_implemented"}, report.table()


class DoesNothing(KVServer):
    """Applies nothing, answers no read."""

    def apply_command(self, op: Any) -> Any:
        return None

    def start_read(self, w: Any) -> None:
        pass

    def on_read_confirmed(self, m: Any) -> None:
        pass

    def serve_reads(self) -> None:
        pass


class AnswersAtOnce(DoesNothing):
    """Every server, leader or not, answers every call "ok" from its own store at once: no Raft behind the answers."""

    def receive(self, msg: Any, now: int) -> None:
        from raftedu.kv import ClientCall, Waiting

        if isinstance(msg, ClientCall):
            self.now = now
            self.answer(Waiting(msg.src, msg.call, msg.op), True, self.store.execute(msg.op))
            return
        super().receive(msg, now)


@pytest.mark.parametrize("cls", [DoesNothing, AnswersAtOnce], ids=lambda c: c.__name__)
def test_a_store_that_does_nothing_or_skips_raft_scores_zero(cls: type) -> None:
    report = grading.run_checks("08", {"MyKV": cls}, hidden=True, secret=SECRET)
    assert report.score == 0, report.table()
    assert all(r.status == "fail" and r.hint for r in report.results), report.table()


def test_a_failure_quotes_the_checker_and_replays() -> None:
    local = next(m for m in MUTANTS08 if m.name == "local_read")
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "stale_read"), {"MyKV": local.node_class},
                                    functions=EX.functions, locked=EX.reference_rules)
    assert "not linearizable -- the checker says" in result.hint and "key 'x'" in result.hint, result.hint
    assert "replay_kv('stale_read', 3, MyKV)" in result.hint, result.hint
    svc = grading.kv_store.replay_kv("stale_read", 3, local.node_class)
    assert svc.check().linearizable is False


def test_kinds_of_mutants() -> None:
    assert len(MUTANTS08) >= 6
    assert {m.catch for m in MUTANTS08} <= {c.name for c in EX.checks}
    assert {m.breaks.split(" step")[0] for m in MUTANTS08} == {"§6.3 sessions", "§6.4 ReadIndex"}


@pytest.mark.parametrize("mutant", MUTANTS08, ids=lambda m: m.name)
def test_every_mutant_loses_points_on_the_check_meant_for_it(mutant: Any) -> None:
    check = next(c for c in EX.checks if c.name == mutant.catch)
    result = grading.core.run_check(check, {"MyKV": mutant.node_class}, functions=EX.functions,
                                    locked=EX.reference_rules)
    assert result.status == "fail" and result.points == 0 and result.hint, result
    solution = grading.core.run_check(check, {"MyKV": MyKV}, functions=EX.functions, locked=EX.reference_rules)
    assert solution.passed, solution


class SubclassesTheReference(KVNode):
    """The reference itself, under the student's name."""


class Delegates(KVServer):
    """Forwards every rule to the reference KVNode's methods."""

    def apply_command(self, op: Any) -> Any:
        return KVNode.apply_command(self, op)  # type: ignore[arg-type]

    def start_read(self, w: Any) -> None:
        KVNode.start_read(self, w)  # type: ignore[arg-type]

    def on_read_confirmed(self, m: Any) -> None:
        KVNode.on_read_confirmed(self, m)  # type: ignore[arg-type]

    def serve_reads(self) -> None:
        KVNode.serve_reads(self)  # type: ignore[arg-type]


class StoreSessions(MyKV):  # type: ignore[misc, valid-type]
    """Lets the reference store keep the sessions: KVStore.apply instead of writing them."""

    def apply_command(self, op: Any) -> Any:
        return self.store.apply(op)


@pytest.mark.parametrize("cls", [SubclassesTheReference, Delegates, StoreSessions], ids=lambda c: c.__name__)
def test_building_on_the_reference_is_refused(cls: type) -> None:
    report = grading.run_checks("08", {"MyKV": cls}, only=["single_client", "retried_write"])
    assert report.score == 0 and {r.status for r in report.results} == {"copied"}, report.table()
    assert "KV" in report.results[0].hint, report.table()
    assert KVNode.start_read.__code__.co_filename.endswith("kv.py"), "the switch-off ends with the check"
    assert KVStore().apply(Op.put("x", 1)).revision == 1


def test_the_judge_rebuilds_the_history_and_refuses_forged_rows() -> None:
    case = {"scenario": "single_client", "seed": 1}
    observed = probe_kv({"MyKV": MyKV}, case)
    judge_kv(case, observed)
    ops = rebuild(observed["clients"])
    assert len(ops) == 10 and all(o.result is not None for o in ops)
    forged = dict(observed, clients=[r[:6] + [True, 99, 1] if r[1] == "answer" and r[5] is True else r
                                     for r in observed["clients"]])
    with pytest.raises(grading.Failed, match="answered"):
        judge_kv(case, forged)
    with pytest.raises(grading.Failed, match="not one a client sends"):
        judge_kv(case, dict(observed, clients=[[0, "answer", "x"] + [0] * 6]))
    with pytest.raises(grading.Failed, match="no trace came back"):
        judge_kv(case, {"clients": []})
    empty = dict(observed, clients=[])
    with pytest.raises(grading.Failed, match="never got to send"):
        judge_kv(case, empty)


class _ReferenceUnderAnotherName(KVServer):
    """KVNode's rules on KVServer (kv_class refuses KVNode itself), for the reference-passes test only."""

    apply_command = KVNode.apply_command
    start_read = KVNode.start_read
    on_read_confirmed = KVNode.on_read_confirmed
    serve_reads = KVNode.serve_reads
    check_round = KVNode.check_round
    own_term_committed = KVNode.own_term_committed
    read_mode = "readindex"
    lease_until = -1


def test_the_reference_kv_node_passes_every_scenario_too() -> None:
    """The judges ask for linearizability, not the solution's shape: raftedu's own KVNode passes them (seed 1 each)."""
    from raftedu.grading import kv_store

    for check in EX.checks:
        for case in check.plan(None)[:1]:
            if "scenario" not in case:
                check.judge(case, grading.kv_store.probe_apply_lag({"MyKV": _ReferenceUnderAnotherName}, case))
                continue
            run, stopped = kv_store._drive(case["scenario"], KVNode, case["seed"])
            events = run.service.cluster.trace.events
            check.judge(case, {"clients": kv_store._client_rows(events),
                               "raft": grading.observe.encode_events(kv_store._raft_events(events)),
                               "marks": [list(m) for m in run.marks], "stopped": stopped})


# ---- through the trusted grader (a worker runs the notebook; the parent judges) -------------------------------

CHEATS08 = {
    "subclasses_the_reference": ("copied", "subclasses KVNode",
                                 "class MyKV(raftedu.kv.KVNode):\n    pass"),
    "delegates_to_the_reference": ("copied", "not available while exercise 08 is graded",
                                   "class MyKV(KVServer):\n"
                                   "    def apply_command(self, op):\n"
                                   "        return raftedu.kv.KVNode.apply_command(self, op)\n"
                                   "    def start_read(self, w):\n"
                                   "        raftedu.kv.KVNode.start_read(self, w)\n"
                                   "    def on_read_confirmed(self, m):\n"
                                   "        raftedu.kv.KVNode.on_read_confirmed(self, m)\n"
                                   "    def serve_reads(self):\n"
                                   "        raftedu.kv.KVNode.serve_reads(self)"),
    # patching the checker in the sandbox changes nothing: the judge's checker runs in the grader
    "patches_the_checker": ("unsafe", "not linearizable",
                            "import raftedu.linearizability as lin, raftedu.grading.kv_store as ks\n"
                            "ok = lin.check(lin.History())\n"
                            "lin.check = ks.check_linearizable = lambda history, *a, **k: ok\n"
                            "class MyKV(KVServer):\n"
                            "    def apply_command(self, op):\n        return self.store.execute(op)\n"
                            "    def start_read(self, w):\n        self.answer(w, True, self.preview(w.op))\n"
                            "    def on_read_confirmed(self, m):\n        pass\n"
                            "    def serve_reads(self):\n        pass"),
}


@pytest.mark.kernel
def test_the_grader_gives_the_solution_full_marks_and_cheats_nothing(tmp_path: Path) -> None:
    assert_solution_full_and_cheats_nothing(tmp_path, "08", "08_kv_store.ipynb", "MyKV", CHEATS08, EX.max_score)


def test_the_kv_rules_run_on_a_raft_server_of_ones_own() -> None:
    """The capstone's composition: exercise 08's rules on kv_on(exercise 06's server), judged like 08."""
    import json

    from raftedu.kv import kv_on

    server = solution_namespace(ROOT / "solutions" / "06_whole_server.ipynb", ("MyServer",))["MyServer"]
    nb = json.load(open(ROOT / "solutions" / "08_kv_store.ipynb", encoding="utf-8"))
    source = "".join(nb["cells"][2]["source"]).replace("class MyKV(KVServer):", "class MyKV(kv_on(MyServer)):")
    namespace: dict[str, Any] = {"MyServer": server, "kv_on": kv_on}
    exec("".join(nb["cells"][1]["source"]), namespace)
    exec(source, namespace)
    composed = namespace["MyKV"]
    for scenario in ("single_client", "stale_read", "new_leader_read", "faults", "liveness"):
        case = {"scenario": scenario, "seed": 1}
        judge_kv(case, probe_kv({"MyKV": composed}, case, build=lambda funcs: funcs["MyKV"]))
    with pytest.raises(TypeError, match="not RaftNode"):
        kv_on(KVNode)
