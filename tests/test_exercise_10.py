"""Exercise 10, snapshots and log compaction: the solution gets full marks through the sandboxed grader, the starter, a
do-nothing answer and a cheat get nothing, every mutant loses the check meant for it with a hint naming the broken
rule, and a remote run of the student's snapshotting node is the same run as a local one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from gradecheats import (assert_reference_methods_pass, autograde_output, grade_variants, rule_cheats,
                         solution_worker)  # tests/ is on sys.path (conftest.py)
from mutants10 import MUTANTS10
from raftedu import Cluster, RaftNode
from raftedu.grading.notebooks import solution_namespace
from raftedu.grading.snapshots import SNAPSHOT_RULES, compaction_cases, install_cases

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("10")
SOLUTION = solution_namespace(ROOT / "solutions" / "10_snapshots.ipynb", EX.functions)
SECRET = "test-secret-for-hidden-cases"


def test_the_exercise_asks_for_the_eight_snapshot_methods_and_grades_each_kind_of_evidence() -> None:
    assert EX.functions == SNAPSHOT_RULES == ("take_snapshot", "compact", "entry_at", "send_append_entries",
                                              "append_below_snapshot", "handle_install_snapshot", "load_snapshot",
                                              "handle_install_snapshot_reply")
    assert "send_snapshot" in EX.reference_rules and "Server.entry_at" in EX.reference_rules
    names = {c.name: c for c in EX.checks}
    for public in ("compaction_rules", "install_snapshot_rules", "catch_up_by_snapshot", "restart_from_snapshot",
                   "snapshots_under_faults", "sessions_survive_snapshots"):
        assert names[public].public and not names[public].manual
    for hidden in ("snapshot_rules_hidden", "catch_up_hidden", "restart_hidden", "snapshots_under_faults_hidden",
                   "sessions_survive_snapshots_hidden"):
        assert not names[hidden].public
        assert names[hidden].plan("first-secret-123") != names[hidden].plan("second-secret-456")
    assert names["why_keep_the_suffix"].manual
    assert len(compaction_cases()) >= 12 and len(install_cases()) >= 15


def test_the_reference_methods_pass_the_checks_too() -> None:
    assert_reference_methods_pass("10", SECRET)


def test_hidden_situations_are_ones_raft_can_be_in() -> None:
    """The cases drawn from a secret never make the reference node fail (a leader never conflicts with committed
    entries, §5.4), and most of them make the node send something."""
    import random

    from raftedu.grading.snapshots import _run_snap_case, random_snap_case

    sent = [_run_snap_case(RaftNode, random_snap_case(random.Random(seed)))["messages sent"] for seed in range(400)]
    assert sum(1 for s in sent if s) > 350


def test_an_install_the_node_does_not_report_is_recorded_in_figure_5_3s_order() -> None:
    """A correct receiver that notes nothing and rebuilds its log as a plain list: the simulator records the discarded
    log before the install (step 7, then 8), so the monitor does not see the old entries kept after the snapshot
    (before the fix: "Log Matching broken at t=2288 ms" on this seed)."""
    from raftedu.grading.scenarios import drive_scenario, node_class
    from raftedu.raft import InstallSnapshotReply

    def quiet_install(self: Any, m: Any) -> None:
        if m.term < self.current_term:
            return self.send(InstallSnapshotReply(self.current_term, self.id, m.src, 0))
        self.become_follower(m.src)
        self.reset_election_timer()
        s = m.snapshot
        if s.index <= self.commit_index:
            return self.send(InstallSnapshotReply(self.current_term, self.id, m.src, self.commit_index))
        keep = s.index <= self.last_log_index and self.term_at(s.index) == s.term
        self.state.log = [self.entry_at(i) for i in range(s.index + 1, self.last_log_index + 1)] if keep else []
        self.state.snapshot, self.state.offset, self.state.offset_term = s, s.index, s.term
        self.load_snapshot(s)
        self.send(InstallSnapshotReply(self.current_term, self.id, m.src, s.index))

    cls = node_class(dict({name: SOLUTION[name] for name in EX.functions}, handle_install_snapshot=quiet_install))
    run, stopped = drive_scenario("faults_snapshots", cls, 654579, raise_failures=False)
    assert stopped == "" and sum(1 for e in run.cluster.trace if e.kind == "install") >= 1


def test_a_node_rereads_its_configuration_after_an_install_without_help_from_load_snapshot() -> None:
    """The configuration cache (``_scanned``) is keyed on the log's offset: a follower that had read a configuration
    from a conflicting entry, and whose log ended exactly at the index of the snapshot it installs, takes the
    snapshot's configuration -- without load_snapshot resetting a private cache (the hint asked students to, before)."""
    from raftedu.grading.scenarios import node_class
    from raftedu.grading.snapshots import _is, make_snap_node
    from raftedu.raft import ConfigChange, Entry

    node = make_snap_node(node_class({"load_snapshot": SOLUTION["load_snapshot"]}), log_terms=[1, 1, 2, 2, 2], commit_index=2)
    node.state.log[3] = Entry(2, ConfigChange((1, 2, 3)))  # an old leader's uncommitted change at index 4
    node.enable(membership=True)
    assert (node.config_index, node.voters) == (4, {1, 2, 3})
    node.receive(_is(5, [1, 1, 2, 3, 3], config_n=4, config_index=3), 200)  # entry 5 has term 3: discard the log
    assert node.state.offset == 5 and list(node.state.log) == []
    assert (node.config_index, node.voters) == (3, {1, 2, 3, 4})


def test_the_scenarios_do_what_they_say_with_the_reference() -> None:
    """The catch-up run sends one InstallSnapshot and installs it; the public fault seeds install snapshots too."""
    from raftedu.grading.scenarios import drive_scenario

    for name, seed in (("snapshot_catch_up", 1), ("faults_snapshots", 2), ("faults_snapshots", 3)):
        run, stopped = drive_scenario(name, RaftNode, seed)
        kinds = [e.kind for e in run.cluster.trace]
        assert stopped == "" and "install" in kinds and "snapshot" in kinds, (name, seed)


def test_the_faults_judge_asks_for_a_snapshot_only_once_a_server_applied_three_entries() -> None:
    """A secret seed whose faults let the reference apply only two entries (seed 144970: the benchmark's secret drew
    it) passes; the same run judged as if an entry at index 3 had been applied without a snapshot fails."""
    from raftedu.grading.core import Failed
    from raftedu.grading.scenarios import SCENARIOS, Facts, drive_scenario
    from raftedu.raft import Event

    run, stopped = drive_scenario("faults_snapshots", RaftNode, 144970)
    events = run.cluster.trace.events
    assert stopped == "" and "snapshot" not in {e.kind for e in events}
    assert max(e.index for e in events if e.kind == "apply") < 3
    marks = [(label, upto, time) for _, label, upto, time in run.marks]  # as the judge reads them
    SCENARIOS["faults_snapshots"].judge([Facts(events, marks)], "")
    applied = next(e for e in events if e.kind == "apply")
    more = [*events, Event(applied.time, "apply", node=applied.node, index=3, entry=applied.entry)]
    with pytest.raises(Failed, match="up to index 3"):
        SCENARIOS["faults_snapshots"].judge([Facts(more, marks)], "")


def test_the_kinds_of_mutants() -> None:
    assert len({m.fn for m in MUTANTS10}) >= 20
    assert {m.function for m in MUTANTS10} == set(EX.functions)
    assert {m.catch for m in MUTANTS10} <= {c.name for c in EX.checks}
    assert {m.catch for m in MUTANTS10} >= {"compaction_rules", "install_snapshot_rules", "catch_up_by_snapshot",
                                            "restart_from_snapshot", "snapshots_under_faults"}


@pytest.mark.parametrize("mutant", MUTANTS10, ids=lambda m: m.name)
def test_every_mutant_loses_the_check_meant_for_it_with_a_hint_naming_the_rule(mutant: Any) -> None:
    namespace = dict(SOLUTION, **{mutant.function: mutant.fn})
    check = next(c for c in EX.checks if c.name == mutant.catch)
    result = grading.core.run_check(check, namespace, functions=EX.functions, secret=SECRET)
    assert result.status == mutant.status and result.points == 0, result
    assert mutant.names in result.hint, result.hint


def test_a_failing_case_says_the_situation_the_inputs_and_the_rule() -> None:
    mutant = next(m for m in MUTANTS10 if m.name == "keeps a conflicting suffix")
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "install_snapshot_rules"),
                                    dict(SOLUTION, handle_install_snapshot=mutant.fn), functions=EX.functions)
    assert "S2 (follower, term 3, log terms [1, 1, 2, 2, 2, 2]" in result.hint, result.hint
    assert "at 200 ms it gets InstallSnapshot(S1→S2: term=3, snapshot=Snapshot(index=4, term=3" in result.hint
    assert "log (index, term): expected []" in result.hint and "rule: handle_install_snapshot" in result.hint


def test_calling_raftedus_helper_of_a_students_method_is_refused_by_that_name() -> None:
    """send_snapshot is raftedu's half of send_append_entries, not a method the student writes: the refusal says it
    is switched off while this exercise is graded, never "while your send_snapshot is graded"."""
    def send_append_entries(self: Any, peer: int) -> None:
        if self.next_index[peer] - 1 < self.state.offset:
            self.sent_at[peer] = self.now
            return self.send_snapshot(peer)
        return SOLUTION["send_append_entries"](self, peer)

    result = grading.core.run_check(next(c for c in EX.checks if c.name == "install_snapshot_rules"),
                                    dict(SOLUTION, send_append_entries=send_append_entries), functions=EX.functions,
                                    locked=EX.reference_rules)
    assert result.status == "copied" and result.points == 0, result
    assert "RaftNode.send_snapshot is switched off while this exercise is graded (it does part of a method you " \
           "write)" in result.hint and "your send_snapshot" not in result.hint, result.hint


def test_a_broken_safety_property_names_the_methods_to_look_at(capsys: pytest.CaptureFixture[str]) -> None:
    mutant = next(m for m in MUTANTS10 if m.name == "snapshot of the whole log")
    namespace = dict(SOLUTION, take_snapshot=mutant.fn)
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "restart_from_snapshot"), namespace,
                                    functions=EX.functions)
    assert result.unsafe == "Snapshot index ≤ commit index", result
    assert "look at: take_snapshot snapshots up to lastApplied" in result.hint, result.hint
    assert result.hint.endswith("or open c in the explorer") and "replay('10', 'snapshot_restart', seed=1)" in \
        result.hint
    capsys.readouterr()
    c = grading.replay("10", "snapshot_restart", seed=1, namespace=namespace)
    assert isinstance(c, Cluster) and any(e.kind == "snapshot" for e in c.trace)
    said = capsys.readouterr().out  # the verdict once: not the check's heading again, not the line just run
    assert said.startswith("scenario snapshot_restart, seed 1 stopped: Snapshot index ≤ commit index broken"), said
    assert said.count("seed 1") == 1 and "replay" not in said, said


def test_a_retried_write_after_a_restart_from_snapshots_is_applied_once_by_the_solution_not_by_a_mutant() -> None:
    """Dissertation §6.3 across snapshots (scenario ``session_survives``, a key-value server on the student's rules):
    the solution's snapshot carries the store's session table, so the retry is answered from it and the history is
    linearizable; a load_snapshot that sets the applied commands itself instead of calling restore_state restarts the
    store empty, applies the retry a second time, and fails with a hint citing §6.3 -- while it passes the checks on
    a plain RaftNode (whose state machine is that list of commands): why the key-value scenario is needed."""
    from mutants10 import load_hands_back_commands_only

    from raftedu.grading.core import Failed
    from raftedu.grading.scenarios import SCENARIOS, Facts, drive_scenario
    from raftedu.grading.snapshots import kv_rules_class

    solution = {name: SOLUTION[name] for name in EX.functions}
    judged = []
    for funcs in (solution, dict(solution, load_snapshot=load_hands_back_commands_only)):
        run, stopped = drive_scenario("session_survives", kv_rules_class(funcs), 1, raise_failures=False)
        assert stopped == "" and {e.kind for e in run.cluster.trace} >= {"snapshot", "restore"}
        marks = [(label, upto, at) for _, label, upto, at in run.marks]
        try:
            SCENARIOS["session_survives"].judge([Facts(run.cluster.trace.events, marks)], stopped)
            judged.append("pass")
        except Failed as e:
            judged.append(str(e))
    assert judged[0] == "pass", judged[0]
    assert "replay('10', 'session_survives', seed=1)" in grading.core.run_check(
        next(c for c in EX.checks if c.name == "sessions_survive_snapshots"),
        dict(SOLUTION, load_snapshot=load_hands_back_commands_only), functions=EX.functions).hint
    c = grading.replay("10", "session_survives", seed=1,  # the hint's line reruns the key-value run
                       namespace=dict(SOLUTION, load_snapshot=load_hands_back_commands_only))
    assert any(e.kind == "restore" for e in c.trace) and type(c.nodes[1]).__mro__[1].__name__ == "KVNode"
    assert "§6.3" in judged[1] and "did not answer the retry from its session table" in judged[1] and "restore_state()" in judged[1], judged[1]
    for name in ("compaction_rules", "restart_from_snapshot"):  # why a KV scenario is needed for this rule
        check = next(c for c in EX.checks if c.name == name)
        result = grading.core.run_check(check, dict(SOLUTION, load_snapshot=load_hands_back_commands_only),
                                        functions=EX.functions, secret=SECRET)
        assert result.status == "pass", (name, result)


def test_a_key_value_snapshot_crosses_the_boundary_with_its_sessions_and_a_malformed_one_is_refused() -> None:
    """The codec carries a :class:`~raftedu.kv.StoreSnapshot` inside ``Snapshot.state`` (commands, store, sessions),
    so the sandboxed worker's key-value server and the trusted simulator hold the same snapshot; what the codec does
    not write is a DecodeError, never a crash of the grader."""
    from raftedu import nodehost
    from raftedu.kv import StoreSnapshot
    from raftedu.kvmodel import KVStore, Op
    from raftedu.raft import ConfigChange, Snapshot

    store = KVStore()
    ops = (Op.put("x", 1, client=101, seq=1), Op.delete("y", client=102, seq=4), Op.put("x", 2, client=101, seq=2))
    for op in ops:
        store.apply(op)
    snap = Snapshot(3, 2, StoreSnapshot(ops, store.copy()), ConfigChange((1, 2, 3)), 0)
    back = nodehost.decode(nodehost.encode(snap), nodehost.registry())
    assert back == snap and type(back.state) is StoreSnapshot and back.state.store == store
    assert back.state.store.apply(Op.put("x", 2, client=101, seq=2)).duplicate  # the session table came along
    for bad in ({"kv": {"t": [1, 2]}}, {"kv": {"t": [{"t": []}, 0, {"t": [{"t": ["k", 1]}]}, {"t": []}]}},
                {"kv": {"t": [{"t": []}, 0, {"t": []}, {"t": [{"t": [101, 1, "not a result"]}]}]}}):
        with pytest.raises(nodehost.DecodeError, match="key-value snapshot"):
            nodehost.decode(bad, nodehost.registry())


# ---- through the trusted grader: the student's node in the sandboxed worker -----------------------------------


@pytest.mark.kernel
def test_a_remote_snapshotting_node_runs_the_same_run_as_a_local_one(tmp_path: Path) -> None:
    """Snapshots taken by the node itself and on the simulator's order, installs and restarts from a snapshot: the
    same trace, event for event, whether the student's node runs here or in the sandboxed worker (each snapshot
    recorded once: the remote node's event, state and disk share one decoded snapshot)."""
    from raftedu.grading.boundary import RemoteFunctions
    from raftedu.grading.scenarios import node_class

    with solution_worker(tmp_path, "10") as worker:
        remote = RemoteFunctions(worker).node_class("rules")
        local = node_class({name: SOLUTION[name] for name in EX.functions})
        traces = []
        for cls in (local, remote):
            c = Cluster(3, seed=4, node_class=cls, snapshot_every=4)
            c.run_until(lambda c: c.leader() is not None, within=3_000)
            x = next(i for i in c.ids if i != c.leader())
            c.crash(x)
            for k in range(9):
                c.request(f"w{k}")
                c.run(30)
            c.request("extra")
            c.run(100)
            c.snapshot(c.leader())  # the simulator's order, across the boundary
            c.restart(x)
            c.run(400)
            for i in c.ids:
                c.crash(i)
            c.restart_all()
            c.run(800)
            traces.append([e.astuple() for e in c.trace])
        assert traces[0] == traces[1]
        kinds = [row[1] for row in traces[1]]
        assert {"snapshot", "install", "restore"} <= set(kinds), set(kinds)
        # the key-value server on the student's rules (kind "kvrules"): its snapshots carry the store and sessions
        from raftedu.grading.scenarios import drive_scenario
        from raftedu.grading.snapshots import kv_rules_class

        runs = [drive_scenario("session_survives", kv_rules_class(funcs), 1)
                for funcs in ({name: SOLUTION[name] for name in EX.functions}, RemoteFunctions(worker))]
        assert [[e.astuple() for e in run.cluster.trace] for run, _ in runs][0] == \
            [[e.astuple() for e in run.cluster.trace] for run, _ in runs][1]
        assert getattr(runs[1][0].node_class, "kind", "") == "kvrules"  # the nodes were in the worker
        said = [m[1] for m in runs[1][0].marks]
        assert said[-3].startswith("answered 4 of 4; last read 2;") and said[-2] == "history linearizable: ", said


@pytest.mark.kernel
def test_the_grader_gives_the_solution_full_marks_and_starter_nothing_cheats_nothing(tmp_path: Path) -> None:
    unsafe = ("def take_snapshot(self):  # mutants10.snapshot_whole_log: uncommitted entries in the snapshot\n"
              "    index = self.last_log_index\n"
              "    config_index, config = self.config_at(index)\n"
              "    state = tuple(self.entry_at(i).command if i > self.state.offset else\n"
              "                  self.state.snapshot.state[i - 1] for i in range(1, index + 1))\n"
              "    snapshot = Snapshot(index, self.term_at(index), state, config, config_index)\n"
              "    self.compact(max(self.state.offset, index - self.snapshot_tail))\n"
              "    self.state.snapshot = snapshot\n"
              "    self.base_index, self.base_config = config_index, config\n")
    started = time.monotonic()
    results = grade_variants(tmp_path, "10", "10_snapshots.ipynb",
                             dict(rule_cheats(SNAPSHOT_RULES), unsafe={"take_snapshot": unsafe}))
    assert time.monotonic() - started < 1_200  # generous: the batch always finishes
    r = results["solution"]
    assert r.status == "ok" and r.score == r.max_score == EX.max_score and r.notes == [], (r.status, r.notes, r.checks)
    assert r.stats["calls"] > 500 and r.stats["sandbox"] in ("bubblewrap", "unsandboxed")
    assert results["starter"].score == 0
    assert results["nothing"].score == 0 and {c["status"] for c in results["nothing"].checks} <= {"fail", "error",
                                                                                                   "manual"}
    said = " | ".join(c["hint"] for c in results["nothing"].checks)  # the worker names raftedu's method that raised
    assert "raised in raftedu's " in said and "(raised in raftedu's _settle" not in said, said[:800]
    for kind in ("delegates", "pasted"):
        said = " | ".join(results[kind].notes) + " | " + " | ".join(c["hint"] for c in results[kind].checks)
        assert results[kind].score == 0 and results[kind].status == "copied", (kind, results[kind].status, said[:500])
    said = " | ".join(c["hint"] for c in results["delegates"].checks)
    assert "not available while exercise 10 is graded" in said, said[:500]
    bad = {c["name"]: c for c in results["unsafe"].checks}
    hint = bad["restart_from_snapshot"]["hint"]
    assert bad["restart_from_snapshot"]["points"] == 0 and "Snapshot index ≤ commit index broken" in hint, hint
    assert "look at: take_snapshot snapshots up to lastApplied" in hint, hint
    passing = [c for c in results["unsafe"].checks if c["status"] == "pass"]
    assert passing and all(c["points"] == c["max_points"] / 2 for c in passing), passing  # the unsafe rule


@pytest.mark.kernel
def test_the_solution_notebook_runs_top_to_bottom_with_its_test_cells(tmp_path: Path) -> None:
    """What nbgrader's autograde does: every cell, hidden tests included (the secret in the environment), runs
    without an error or a byte on stderr; the demo's follower catches up by a snapshot and every log stays short."""
    text = autograde_output(tmp_path, "10_snapshots.ipynb", SECRET)
    assert "installed 1 snapshot(s); it applied 20 entries" in text, text[-2000:]
    assert "public checks passed — the grader runs more" in text, text[-2000:]
