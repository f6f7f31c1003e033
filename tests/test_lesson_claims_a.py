"""What lessons 00, 02, 03, 04 and 05 say in prose is what their runs compute.

Each test finds a claim in a lesson's Markdown (so rewording the prose without rechecking it fails here) and
recomputes it with the same calls the lesson makes. Predict cells must be read back by the cell after the run.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

import raftedu.checks
import raftedu.explore
import raftedu.raft
import raftedu.scenarios
from raftedu import Cluster, Network, RaftNode, SafetyViolation
from raftedu.scenarios import figure_8, longer_log_older_term
from test_scenarios import CountsOldTermReplicas  # tests/ is on sys.path (conftest.py)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MINE = ["00_start_here.ipynb", "02_leader_election.ipynb", "03_log_replication.ipynb", "04_log_repair.ipynb",
        "05_safety.ipynb"]


def cells(name: str) -> list:
    return nbformat.read(NOTEBOOKS / name, as_version=4).cells


def prose(name: str) -> str:
    """The lesson's Markdown as one string, line breaks folded into spaces."""
    return re.sub(r"\s+", " ", " ".join(c.source for c in cells(name) if c.cell_type == "markdown"))


def claim(name: str, text: str) -> None:
    assert text in prose(name), f"{name} no longer says {text!r}: recheck the claim and this test"


@cache
def lesson(name: str) -> dict:
    """Run the lesson's own code cells (predictions left at None) and return their variables: the numbers the prose
    talks about, computed exactly as the student sees them."""
    namespace: dict = {"__name__": "lesson"}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        for cell in cells(name):
            if cell.cell_type == "code":
                exec(compile(cell.source, f"{name}:cell", "exec"), namespace)
    namespace["_stdout"] = out.getvalue()
    return namespace


def printed(ns: dict) -> str:
    """What ``lesson`` printed, its lines joined: ``raftedu.lessons.say`` wraps long lines between words."""
    return " ".join(ns["_stdout"].split())


# ---- every lesson: predictions are read back ------------------------------------------------------------------


def predictions_read_back(name: str) -> list[int]:
    """Check that every predict cell of lesson ``name`` follows its question and is read back by the next cell.

    Returns the positions of the predict cells (lessons 10 and 11 use this too).
    """
    nb = cells(name)
    predicts = [k for k, c in enumerate(nb) if c.cell_type == "code" and c.source.lstrip().startswith("my_prediction =")]
    assert predicts, f"{name} has no predict cell"
    for k in predicts:
        assert "Predict" in nb[k - 1].source, f"{name} cell {k}: the predict cell must follow its question"
        run = nb[k + 1]
        assert run.cell_type == "code" and "read_back(my_prediction" in run.source, \
            f"{name} cell {k + 1}: the run after a prediction must read it back"
    return predicts


@pytest.mark.parametrize("name", MINE)
def test_every_prediction_is_read_back_after_the_run(name):
    predictions_read_back(name)


@pytest.mark.parametrize("name", MINE)
def test_the_lesson_uses_the_shared_read_back(name):
    sources = [c.source for c in cells(name) if c.cell_type == "code"]
    assert any("from raftedu.lessons import read_back" in s for s in sources), f"{name} does not import read_back"
    assert not any("def read_back" in s for s in sources), f"{name} defines its own read_back: use raftedu.lessons"


def test_read_back_nudges_a_missing_prediction_and_quotes_both_values(capsys):
    from raftedu.lessons import read_back

    read_back(None, 6)
    nudge = capsys.readouterr().out
    assert "None" in nudge and "guess" in nudge and "6" in nudge
    read_back(5, 6)
    assert "You said 5; it is 6" in capsys.readouterr().out
    read_back(6, 6)
    assert "Right" in capsys.readouterr().out
    read_back(" true ", True)
    assert "Right" in capsys.readouterr().out


def test_say_breaks_long_lines_between_words_only(capsys):
    from raftedu.lessons import WIDTH, say

    words = [f"w{k}ord" for k in range(60)] + ["S2's", "(matchIndex,", "nextIndex)"]
    say(" ".join(words), "short")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 2 and lines[-1] == "short" and all(len(x) <= WIDTH for x in lines)
    assert " ".join(x.strip() for x in lines[:-1]).split() == words  # every word whole, none cut in two
    assert all(x.startswith("   ") for x in lines[1:-1])  # continuation lines indented
    say("first line\n  second, indented\n" + " ".join(words))  # a paragraph's own line breaks are kept
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["first line", "  second, indented"] and len(lines) > 3 and all(len(x) <= WIDTH for x in lines)


# ---- lesson 05 ----------------------------------------------------------------------------------------------


def test_05_defines_the_five_figure_3_properties_before_using_them():
    text = prose("05_safety.ipynb")
    first_use = text.index("## The election restriction")
    for prop in ("Election Safety", "Leader Append-Only", "Log Matching", "Leader Completeness", "State Machine Safety"):
        assert f"**{prop}**:" in text[:first_use], f"{prop} is not defined before the first section that uses it"


def test_05_length_only_vote_rule_breaks_leader_completeness():
    class LengthOnly(RaftNode):
        def log_is_up_to_date(self, last_log_index, last_log_term):
            return last_log_index >= self.last_log_index

    claim("05_safety.ipynb", "that is exactly what **Leader Completeness** forbids")
    with pytest.raises(SafetyViolation) as caught:
        longer_log_older_term(LengthOnly)
    assert caught.value.property == "Leader Completeness"


def _panels(branch: str, node_class: type[RaftNode] = RaftNode):
    panels = []
    c = figure_8(node_class, branch=branch, on_step=lambda label, cl: panels.append(
        (label, {i: (None if cl.nodes[i] is None else [e.term for e in cl.nodes[i].log]) for i in cl.ids},
         {i: cl.disks[i].log[-1].term for i in cl.ids})))
    return c, panels


def test_05_figure_8_d_claims():
    c, panels = _panels("d")
    claim("05_safety.ipynb", "In (c), x sits on a majority. Now S1 crashes and S5 restarts.")
    claim("05_safety.ipynb", "then crashes, and S5 restarts. Can S5 win an election now?")
    for branch_run in (c, _panels("e")[0]):  # S5 is down at the end of (c) and restarts before either ending
        crashed = next(e.time for e in branch_run.trace if e.kind == "crash" and e.node == 5)
        restarts = [e.time for e in branch_run.trace if e.kind == "restart" and e.node == 5 and e.time > crashed]
        campaign = next(e.time for e in branch_run.trace if e.kind == "role" and e.node == 5 and e.value == "candidate"
                        and e.time > crashed)
        assert restarts and restarts[0] <= campaign
    claim("05_safety.ipynb", "In (c), x sits on a majority")
    _, logs_c, last_c = panels[2]
    assert sum(log is not None and log[1:2] == [2] for log in logs_c.values()) == 3
    claim("05_safety.ipynb", "its last entry has term 3, later than the last terms of S2 and S3 (term 2) and S4 (term 1)")
    assert (last_c[5], last_c[2], last_c[3], last_c[4]) == (3, 2, 2, 1)
    claim("05_safety.ipynb", "x disappears from S2 and S3 — and from S1 as soon as it comes back")
    _, logs_d, last_d = panels[3]
    assert logs_d[1] is None and last_d[1] == 4  # (d): S1 is down, its disk still ends with z (term 4)
    assert all(logs_d[i] == [1, 3] for i in (2, 3, 4, 5))
    _, logs_later, _ = panels[4]  # (d, later): S1 restarted and was overwritten
    assert all(log == [1, 3] for log in logs_later.values())
    claim("05_safety.ipynb", "S1 did **not** count the replicas of x: x is from term 2, S1 leads term 4")
    assert c.trace and not any(e.kind == "commit" and e.node == 1 and e.index >= 2 for e in c.trace)


def test_05_figure_8_e_claims():
    c, panels = _panels("e")
    claim("05_safety.ipynb", "z is from S1's current term 4 and sits on S1, S2 and S3, so S1 commits index 3")
    _, logs_e, _ = panels[3]
    assert [i for i, log in logs_e.items() if log and log[2:3] == [4]] == [1, 2, 3]
    assert any(e.kind == "commit" and e.node == 1 and e.index == 3 and e.term == 4 for e in c.trace)
    claim("05_safety.ipynb", "their last term 4 is later than S5's 3")
    _, _, last = panels[4]
    assert (last[1], last[2], last[3], last[5]) == (4, 4, 4, 3)
    assert not any(e.kind == "role" and e.value == "leader" and e.node == 5 and e.term > 3 for e in c.trace)


def test_05_counting_old_replicas_is_caught_when_s5_becomes_leader():
    claim("05_safety.ipynb", "In (c) this leader counted S1, S2 and S3 and committed x")
    claim("05_safety.ipynb", "the checks stopped the run at the event where S5 became leader")
    commits = []
    with pytest.raises(SafetyViolation) as caught:
        figure_8(CountsOldTermReplicas, on_step=lambda label, cl: commits.append((label[:3], cl.nodes[1] and cl.nodes[1].commit_index)))
    assert ("(c)", 2) in commits
    v = caught.value
    assert v.property == "Leader Completeness" and (v.event.kind, v.event.node, v.event.value) == ("role", 5, "leader")


def test_05_the_up_to_date_check_is_on_request_and_the_stage_542_counterexample_breaks_it():
    """Lesson 05 says which checks run in every run and which one on request, and explains the one its model
    checker reports for the leader that counts old replicas (S1 counts S3's copy of x in term 3; S2's log with y
    is more up to date and lacks x). Only the cells concerned run here (the whole lesson costs seconds more)."""
    from raftedu.explore import model_check

    claim("05_safety.ipynb", "raftedu checks these five, and a few more, at every event of every run (one more on "
                             "request, below)")
    nb = cells("05_safety.ipynb")
    ns: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(nb[1].source, "05_safety.ipynb:cell 1", "exec"), ns)
    said = " ".join(out.getvalue().split())
    always = said.split("checked at every event of every run: ")[1].split(" checked too when asked")[0].split(", ")
    assert always == [p for p in raftedu.checks.PROPERTIES
                      if p not in ("Up-to-date logs hold what is committed", "Node failure")]
    assert said.endswith("ask): Up-to-date logs hold what is committed (and a node whose own code raises an exception "
                         "stops the run too, as a 'Node failure')")
    assert "Node failure" in raftedu.checks.PROPERTIES  # listed apart: not a property of Raft

    class Raises(RaftNode):
        def on_timer(self):
            raise RuntimeError("a bug in the node's own code")

    with pytest.raises(SafetyViolation) as failed:
        Cluster(3, seed=0, node_class=Raises).run(1_000)
    assert failed.value.property == "Node failure"
    assert Cluster(3, seed=0).monitor.up_to_date_check is False  # on request only
    assert "up_to_date_check: bool = True" in inspect.getsource(raftedu.explore.Counterexample)  # the search asks
    claim("05_safety.ipynb", "the broken leader fails a check beyond Figure 3, **Up-to-date logs hold what is "
                             "committed**")
    claim("05_safety.ipynb", "here S1 counted S3's copy of x (term 1) in term 3, while S2's log, ending in y of term 2, "
                             "is more up to date than theirs and lacks x")
    stage = next(c.source for c in nb if c.cell_type == "code" and c.source.startswith("stage_542 = "))
    exec(stage.split("\nfor ")[0], ns)
    assert "model_check(node_class, 3, depth=8, start=stage_542, until=100)" in stage
    ce = model_check(CountsOldTermReplicas, 3, depth=8, start=ns["stage_542"], until=100).counterexample
    assert ce.property == "Up-to-date logs hold what is committed" and ce.up_to_date_check  # the model checker asks
    c = ce.cluster()
    logs = {i: [(e.term, e.command) for e in c.nodes[i].log] for i in c.ids}
    assert logs[1] == logs[3] == [(1, "x")] and logs[2] == [(2, "y")]
    assert c.nodes[1].role == "leader" and c.nodes[1].current_term == 3 and c.nodes[1].commit_index == 1


def test_05_the_model_checks_keep_the_bounds_the_prose_states():
    from raftedu.explore import model_check

    claim("05_safety.ipynb", "The checks below keep the defaults, which each result line repeats: terms up to 3, two "
                             "client requests, one heartbeat, no crashes, no copies.")
    defaults = {k: p.default for k, p in inspect.signature(model_check).parameters.items()}
    assert (defaults["terms"], defaults["requests"], defaults["heartbeats"], defaults["crashes"],
            defaults["duplicates"]) == (3, 2, 1, 0, False)
    calls = [c.source for c in cells("05_safety.ipynb") if c.cell_type == "code" and "model_check(" in c.source]
    assert calls and not any(re.search(r"\b(terms|requests|heartbeats|crashes|duplicates)=", s) for s in calls)


def test_05_the_searched_story_says_again_for_a_repeated_item():
    """Lesson 05's search for the leader that counts old replicas prints a story in which S2's timer runs out twice
    at t=4 ms (both needed: the second starts the next term's election); the second line says "again". The search is
    the lesson's own call (seed 0, found in about a second of CPU, long before the budget)."""
    from raftedu.explore import _story, find_counterexample

    assert "find_counterexample(CountsOldReplicas, budget_s=60)" in "\n".join(
        c.source for c in cells("05_safety.ipynb") if c.cell_type == "code")
    found = find_counterexample(CountsOldTermReplicas, budget_s=60)
    lines = [line.split("   (")[0].split(": ", 1)[1] for line in str(found).split("\nreplay: ")[0].splitlines()[1:]]
    assert len(lines) == len(found.schedule) and len(set(lines)) == len(lines)  # no line reads as printed twice
    assert "S2's election timer runs out again" in lines and "S2's election timer runs out" in lines
    shorter = found.replay([i for k, i in enumerate(found.schedule) if k != len(found.schedule) - 1])
    assert shorter is None  # the repeated timeout is needed
    assert len(found.explain().story) == len(set(found.explain().story))
    assert _story([("timeout_now", 1), ("timeout_now", 1)], stepped=True) == (
        "S1's election timer runs out", "S1's election timer runs out again")


def test_05_older_entries_committed_indirectly_is_said_after_the_e_prediction_is_read_back():
    assert "a committed entry would now be gone" not in prose("05_safety.ipynb")  # cell 17's prediction, before it
    claim("05_safety.ipynb", "x was on a majority, and is gone all the same")
    claim("05_safety.ipynb", "Suppose the leader of term T commits an entry of its own term T (older entries it commits "
                             "come with it, §5.4.2, and sit before it in every log that holds it: Log Matching)")
    claim("05_safety.ipynb", "Merging states that differ only in the servers' names would save at most a factor of "
                             "3! = 6 (the orders of three servers), not that.")
    nb = cells("05_safety.ipynb")
    asked = next(k for k, c in enumerate(nb) if "Can S5 win an election now?" in c.source)
    said = next(k for k, c in enumerate(nb) if c.cell_type == "markdown" and "indirectly, with the first entry of the "
                "current term after them" in " ".join(c.source.split()))
    assert "read_back(my_prediction" in nb[asked + 2].source and said > asked + 2


def _fresh_run(node_class: type[RaftNode], plan: list[tuple]) -> tuple[list[tuple], str | None, set[str]]:
    """Model-checker steps from a fresh three-server cluster, chosen by ``plan`` (a timeout, a request, or the delivery
    of the newest message of a kind on a link) among the steps ``model_check`` offers with its default bounds: the
    steps, the property the last one broke (None: none did; a run that breaks earlier fails here), and every kind of
    step offered on the way, crashes and copies allowed."""
    from raftedu.explore import _apply_step, _replay_steps, _steps

    bounds = {k: p.default for k, p in inspect.signature(raftedu.explore.model_check).parameters.items()
              if k in ("terms", "requests", "crashes", "heartbeats", "duplicates")}
    path: list[tuple] = []
    kinds: set[str] = set()
    for k, want in enumerate(plan):
        c = _replay_steps(node_class, 3, path)
        kinds |= {s[0] for s in _steps(c, {**bounds, "crashes": 1, "duplicates": True}, path)}
        offered = _steps(c, bounds, path)
        if want[0] == "deliver":
            kind, src, dst = want[1:]
            match = [s for s in offered if s[0] == "deliver" and s[2].startswith(f"{kind} S{src}→S{dst} ")]
        else:
            match = [s for s in offered if s[0] == want[0] and (want[0] == "request" or s == want)]
        assert match, f"step {k + 1} {want} is not offered: {offered}"
        path.append(match[-1])
        try:
            _apply_step(c, match[-1])
        except SafetyViolation as v:
            assert k == len(plan) - 1, f"{v.property} broke already at step {k + 1}"
            return path, v.property, kinds
    return path, None, kinds


_TWO_LEADERS = [("timeout_now", 1), ("deliver", "RequestVote", 1, 2), ("deliver", "RequestVoteReply", 2, 1),
                ("request",),  # S1 leads term 1 and appends v1, which reaches no one
                ("timeout_now", 2), ("deliver", "RequestVote", 2, 3), ("deliver", "RequestVoteReply", 3, 2),
                ("request",)]  # S2 leads term 2 with S3's vote and appends v2
_LENGTH_ONLY_RUN = _TWO_LEADERS + [
    ("deliver", "AppendEntries", 2, 3), ("deliver", "AppendEntriesReply", 3, 2),  # v2 committed on S2, S3
    ("deliver", "RequestVote", 2, 1),  # S1 hears of term 2 and steps down
    ("timeout_now", 1), ("deliver", "RequestVote", 1, 3), ("deliver", "RequestVoteReply", 3, 1)]  # S3: as long
_COUNTS_OLD_RUN = _TWO_LEADERS + [
    ("deliver", "RequestVote", 2, 1), ("timeout_now", 1), ("deliver", "RequestVote", 1, 3),
    ("deliver", "RequestVoteReply", 3, 1),  # S1 leads term 3 with S3's vote
    ("deliver", "AppendEntries", 1, 3), ("deliver", "AppendEntriesReply", 3, 1),  # S3 lacks v1: rejected
    ("deliver", "AppendEntries", 1, 3), ("deliver", "AppendEntriesReply", 3, 1)]  # v1 on S1, S3: counted


def test_05_the_broken_rules_break_after_14_and_16_model_checker_steps_from_a_fresh_cluster():
    """Lesson 05 says how long the runs it knows are, from a fresh cluster, in the model checker's own steps and
    bounds, that a partition is no step of it, and how fast the states grow per step (measured to depth 4)."""
    from raftedu.explore import model_check

    claim("05_safety.ipynb", "The runs we know that break the rules of this lesson from a fresh cluster take 14 steps "
                             "(the length-only vote rule) and 16 (the leader that counts old replicas): three elections, "
                             "two client requests and the replication of one of them")
    claim("05_safety.ipynb", "The model checker has no partition step")
    length_only = type("LengthOnly", (RaftNode,), {
        "log_is_up_to_date": lambda self, last_log_index, last_log_term: last_log_index >= self.last_log_index})
    lengths = []
    for node_class, plan, property_ in ((length_only, _LENGTH_ONLY_RUN, "Leader Completeness"),
                                        (CountsOldTermReplicas, _COUNTS_OLD_RUN, "Up-to-date logs hold what is committed")):
        steps, broke, kinds = _fresh_run(node_class, plan)
        assert broke == property_
        assert _fresh_run(RaftNode, plan)[1] is None  # the same steps on the reference break nothing
        assert kinds <= {"deliver", "duplicate", "heartbeat", "request", "timeout_now", "crash", "restart"}
        assert sum(s[0] == "timeout_now" for s in steps) == 3 and sum(s[0] == "request" for s in steps) == 2
        lengths.append(len(steps))
    assert lengths == [14, 16]
    claim("05_safety.ipynb", "five steps are too few to elect a second leader, and the number of distinct states grows "
                             "four- to fivefold with each step")
    states = [model_check(RaftNode, 3, depth=d).states for d in range(2, 5)]
    assert all(4 <= b / a <= 5 for a, b in zip(states, states[1:])), states
    claim("05_safety.ipynb", "That is nine or more steps past what runs here in seconds: at four- to fivefold per step, "
                             "4⁹ ≈ 260,000 times the states or more.")
    depth = int(re.search(r"model_check\(RaftNode, 3, depth=(\d+)\)", "\n".join(
        c.source for c in cells("05_safety.ipynb") if c.cell_type == "code")).group(1))
    assert min(lengths) - depth == 9 and round(4 ** 9, -4) == 260_000


# ---- lesson 03 ----------------------------------------------------------------------------------------------


def test_03_defines_next_and_match_index_and_states_the_current_term_commit_rule():
    text = prose("03_log_replication.ipynb")
    first_use = text.index("## One command")
    for term in ("**nextIndex**", "**matchIndex**", "**term**", "**consistency check**"):
        assert term in text[:first_use]
    claim("03_log_replication.ipynb", "Once an entry of the leader's *current* term is stored on a majority")
    claim("03_log_replication.ipynb", "hold the same entries as the leader up to index prevLogIndex + len(entries)")
    assert "prefix of the leader's" not in text


def test_04_the_cut_off_follower_deposes_the_leader_without_winning():
    ns = lesson("04_log_repair.ipynb")
    c, leader, lagging, after = ns["c"], ns["leader"], ns["lagging"], ns["after"]
    claim("04_log_repair.ipynb", "its higher term deposed a healthy leader although it could never win itself")
    assert c.leader() not in (leader, lagging)
    assert ns["term_now"] > max(e.term for e in ns["during"] if e.node == leader and e.term is not None)
    assert ns["stepped_down"].node == leader and ns["campaign"].time <= ns["stepped_down"].time
    assert ns["votes"] and not any(e.value for e in ns["votes"])
    n = len(ns["timeouts"])
    assert n >= 1 and ("ran out once: it heard no leader, so it started an election nobody received" if n == 1 else
                       f"ran out {n} times: it heard no leader, so it started elections nobody received") in printed(ns)
    assert not any(e.kind == "role" and e.value == "leader" and e.node == lagging for e in after)
    claim("04_log_repair.ipynb", "The follower cut off in the first section was repaired the same way: the "
                                 "AppendEntries it rejected came from the *new* leader, which, like every new leader, "
                                 "started with nextIndex = its last index + 1")
    new = ns["elected"].node
    assert ns["rejected"] and {e.msg.dst for e in ns["rejected"]} == {new}
    first = next(e for e in after if e.kind == "progress" and e.node == new and e.peer == lagging)
    assert (first.index, first.value) == (0, len(c.nodes[new].log) + 1)


def test_04_the_first_section_does_not_answer_the_next_prediction_before_it_is_asked():
    """Lesson 04 asks how many AppendEntries the restarted follower rejects: nothing printed or said before that
    question may count rejections (the cut-off follower's are shown after the catch-up run, with its answer)."""
    nb = cells("04_log_repair.ipynb")
    asked = next(k for k, c in enumerate(nb) if "How many AppendEntries will the restarted follower reject" in c.source)
    before = " ".join(c.source for c in nb[:asked])
    assert "rejected" not in before.replace("rejections(", "") and "nextIndex)" not in before
    after = " ".join(c.source for c in nb[asked + 2:])
    assert "rejected = rejections(after, lagging)" in after
    ns = lesson("04_log_repair.ipynb")
    assert (f"the follower cut off in the first section: S{ns['lagging']} rejected {len(ns['rejected'])} AppendEntries, "
            f"from S{ns['elected'].node}, the leader elected after the heal") in printed(ns)


def test_04_catch_up_backs_off_next_index_in_one_step():
    ns = lesson("04_log_repair.ipynb")
    c3, behind, new, had = ns["c3"], ns["behind"], ns["new"], ns["had"]
    last = len(c3.nodes[new].log)
    steps = [(e.index, e.value) for e in c3.trace if e.kind == "progress" and e.node == new and e.peer == behind]
    claim("04_log_repair.ipynb", "the leader jumps nextIndex back in one step and the next AppendEntries carries "
                                      "every missing entry")
    assert steps == [(0, last + 1), (0, had + 1), (last, last + 1)]
    assert len(ns["missed"]) == 1 and len(c3.nodes[behind].log) == last > had
    claim("04_log_repair.ipynb", "A leader that had stayed in charge would not have needed a rejection at all")
    assert ns["rejections"](ns["same"].trace.events[ns["same_back"]:], ns["same_behind"]) == []


def test_04_the_leader_moves_next_index_forward_only_on_a_success_reply():
    """Lesson 04: raftedu's leader moves nextIndex forward only on a success reply (Figure 2's wording; etcd's
    StateReplicate moves it on send). Checked on every progress event of the lesson's three runs: each forward move
    is recorded by the success rule, at the delivery of a successful AppendEntriesReply from that follower."""
    claim("04_log_repair.ipynb", "raftedu's leader moves nextIndex forward only on a success reply, as Figure 2 writes it")
    claim("04_log_repair.ipynb", "That is raftedu's choice, not a safety rule. etcd's leader, while it replicates "
                                 "steadily to a follower (`StateReplicate` in etcd-io/raft's `tracker/progress.go`), "
                                 "moves Next past entries as soon as it sends them")
    ns = lesson("04_log_repair.ipynb")
    moved = 0
    for c in (ns["c"], ns["c3"], ns["same"]):
        events, nxt = c.trace.events, {}
        for k, e in enumerate(events):
            if e.kind != "progress":
                continue
            if e.rule.startswith("§5.3 leader (re)initializes"):
                nxt[(e.node, e.peer)] = e.value
                continue
            if e.value > nxt[(e.node, e.peer)]:
                moved += 1
                cause = next(x for x in reversed(events[:k]) if x.kind == "deliver")
                assert e.rule == "§5.3 success → update nextIndex and matchIndex"
                assert type(cause.msg).__name__ == "AppendEntriesReply" and cause.msg.success
                assert (cause.msg.src, cause.msg.dst) == (e.peer, e.node)
            nxt[(e.node, e.peer)] = e.value
    assert moved >= 3


def test_04_the_restarted_follower_does_not_know_its_committed_entry():
    """Lesson 04's log picture at the first rejection shows S1's entry 1 faint although every server stores it."""
    ns = lesson("04_log_repair.ipynb")
    c3, behind, missed = ns["c3"], ns["behind"], ns["missed"]
    claim("04_log_repair.ipynb", "S1's entry 1 is committed — every server stores it — but S1 has just restarted")
    assert behind == 1
    at = missed[0].time - 1  # the picture's time
    commits = {}
    for e in c3.trace:
        if e.time > at:
            break
        if e.kind == "commit":
            commits[e.node] = e.index
        elif e.kind == "restart":
            commits.pop(e.node, None)  # commitIndex is volatile: a restart forgets it
    assert commits.get(behind, 0) == 0 and commits[ns["new"]] >= 1


FIGURE_2_BOXES = ("State", "AppendEntries RPC", "RequestVote RPC", "Rules for Servers: all servers",
                  "Rules for Servers: followers", "Rules for Servers: candidates", "Rules for Servers: leaders")
NOT_IN_FIGURE_2 = {"conflict_hint": "§5.3's optional back-off optimisation, not a Figure 2 rule",
                   "set_commit_index": "a helper recording commitIndex changes"}


def figure_2_map() -> list[tuple[str, str, str, str]]:
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \| `([\w.]+)` \|$",
                      "\n".join(c.source for c in cells("04_log_repair.ipynb") if c.cell_type == "markdown"), re.M)
    return [r for r in rows if r[0] != "Figure 2 box"]


def test_04_figure_2_map_names_real_methods_that_cite_their_section():
    rows = figure_2_map()
    assert {box for box, *_ in rows} == set(FIGURE_2_BOXES)
    claim("04_log_repair.ipynb", "Every rule of the paper's Figure 2 is one method of `RaftNode` in `raftedu/raft.py`, "
                                 "and the persistent state is one class, `PersistentState`")
    for box, rule, section, name in rows:
        obj = raftedu.raft
        for part in name.split("."):
            assert hasattr(obj, part), f"Figure 2 map: {name} does not exist in raftedu/raft.py"
            obj = getattr(obj, part)
        assert section in inspect.getsource(obj), f"{name} (for '{rule}') does not cite {section}"
        if name == "PersistentState":
            assert inspect.isclass(obj) and rule.startswith("persistent state")
        else:  # a method of RaftNode
            assert name.startswith("RaftNode.") and inspect.isfunction(obj), f"{name} is not a method of RaftNode"


def test_04_figure_2_map_lists_every_method_that_cites_section_5():
    mapped = {name.split(".")[-1] for *_, name in figure_2_map()}
    for name, fn in vars(RaftNode).items():
        cites = re.search(r"(?<!issertation )§5", fn.__doc__ or "") if callable(fn) else None  # not the dissertation's ch. 5
        if cites and name not in NOT_IN_FIGURE_2:
            assert name in mapped, f"RaftNode.{name} cites §5 but lesson 04's Figure 2 map does not list it"


# ---- lesson 02 ----------------------------------------------------------------------------------------------


def test_02_windows_are_centred_on_the_election():
    ns = lesson("02_leader_election.ipynb")
    kick, first, (start, end) = ns["kick"], ns["first"], ns["window"]
    claim("02_leader_election.ipynb", "for the first ~150 ms nothing happens")
    assert kick.time >= 150 and not any(e.kind in ("timeout", "role", "send") for e in ns["c"].trace if e.time < kick.time)
    assert start <= kick.time < first.time <= end and end - start <= 4 * (first.time - kick.time)
    votes = [e.time for e in ns["c"].trace if e.kind == "deliver" and type(e.msg).__name__ in ("RequestVote", "RequestVoteReply")
             and e.msg.term == first.term]
    assert start <= min(votes) and max(votes) <= first.time + 20  # the timeline's window holds the whole election


def test_02_identical_timeouts_split_the_vote_and_a_crashed_leader_is_replaced_within_a_timeout():
    nb = cells("02_leader_election.ipynb")
    asked = next(k for k, c in enumerate(nb) if "*exactly the same* election timeout" in c.source)
    assert nb[asked].source.startswith("## Identical timeouts")  # the heading does not announce the cure first
    assert "randomized" not in nb[asked].source.lower()
    ns = lesson("02_leader_election.ipynb")
    same = ns["same"]
    assert same.leader() is None
    first_round = [e.node for e in same.trace if e.kind == "timeout" and e.time == next(
        x.time for x in same.trace if x.kind == "timeout")]
    assert sorted(first_round) == [1, 2, 3, 4, 5]
    claim("02_leader_election.ipynb", "the first candidate appeared less than one maximum election timeout (300 ms) plus "
                                      "one message delay after the crash")
    trace, crashed_at = ns["explorer"].cluster.trace, ns["crashed_at"]
    candidate = next(e for e in trace if e.kind == "role" and e.value == "candidate" and e.time >= crashed_at)
    assert candidate.time - crashed_at < 300 and ns["elected"].time >= candidate.time



def test_02_the_first_election_is_a_race_that_s2_joins_too_late():
    """Lesson 02 narrates the second candidate of the first run (its vote list shows S2 refusing S4)."""
    ns = lesson("02_leader_election.ipynb")
    c, kick, first = ns["c"], ns["kick"], ns["first"]
    claim("02_leader_election.ipynb", "S2's timer ran out too, 12 ms after S4's and just before S4's request reached it")
    assert (kick.node, first.node, first.term) == (4, 4, 1)
    s2 = next(e for e in c.trace if e.kind == "role" and e.node == 2 and e.value == "candidate")
    request = next(e for e in c.trace if e.kind == "deliver" and type(e.msg).__name__ == "RequestVote"
                   and e.msg.src == 4 and e.msg.dst == 2)
    assert s2.term == 1 and s2.time - kick.time == 12 and s2.time < request.time
    claim("02_leader_election.ipynb", "S1, S3 and S5 had already voted for S4, which won with S1, S3 and itself")
    refused = {e.node for e in c.trace if e.kind == "vote" and e.peer == 2 and e.node != 2 and e.value is False}
    assert refused == {1, 3, 4, 5} and "votes from S1, S3, S4" in first.text
    claim("02_leader_election.ipynb", "S2 went back to being a follower when S4's first heartbeat arrived")
    back = next(e for e in c.trace if e.kind == "role" and e.node == 2 and e.value == "follower")
    cause = next(e for e in reversed(c.trace.events[: c.trace.events.index(back)]) if e.kind == "deliver")
    assert type(cause.msg).__name__ == "AppendEntries" and cause.msg.src == 4 and back.time > first.time


def test_02_the_explorers_event_lines_are_printed_newest_first():
    """Lessons 00 and 02 print ``explorer.recent(k)`` under "newest first": the trace read backwards."""
    ns = lesson("02_leader_election.ipynb")
    assert "the last 8 events, newest first:" in ns["_stdout"]
    texts = [e.text for e in ns["explorer"].cluster.trace if e.text and e.text != "duplicate"]
    assert ns["explorer"].recent(8) == texts[::-1][:8] and "won the election" in texts[-1]

# ---- lesson 00 ----------------------------------------------------------------------------------------------


def test_00_defines_the_words_before_the_first_cluster_and_the_cluster_heals_itself():
    text = prose("00_start_here.ipynb")
    before = text[: text.index("## Your first cluster")]
    for word in ("**log**", "**follower**", "**candidate**", "**leader**", "**election timer**", "**terms**",
                 "**committed**"):
        assert word in before
    ns = lesson("00_start_here.ipynb")
    claim("00_start_here.ipynb", "A follower's election timer ran out, it became a candidate in a new term, and a "
                                 "majority voted for it")
    trace, old, new = ns["explorer"].cluster.trace, ns["old"], ns["new"]
    crash = next(e for e in trace if e.kind == "crash" and e.node == old)
    won = next(e for e in trace if e.kind == "role" and e.value == "leader" and e.time > crash.time)
    assert won.node == new != old
    assert any(e.kind == "timeout" and e.node == new and crash.time < e.time <= won.time for e in trace)
    assert len({e.node for e in trace if e.kind == "vote" and e.peer == new and e.term == won.term and e.value}) >= 3


def test_00_says_which_text_is_computed_and_which_is_written_and_checked():
    """Lesson 00 no longer says every number in a lesson is computed: prose and scripted captions are written for the
    lesson's seeds, and a test file reruns each lesson against them."""
    claim("00_start_here.ipynb", "What a cell prints, it computes from its run — except data it quotes (lesson 01's "
                                 "copy of etcd's table) and the captions of scripted scenarios (lesson 05's Figure 8), "
                                 "written with the script.")
    assert "printed_majority" in "".join(c.source for c in cells("01_quorums.ipynb") if c.cell_type == "code")
    claim("00_start_here.ipynb", "the course's tests rerun the lessons to check that text, captions and runs still agree")
    assert "Every number in a lesson is computed" not in prose("00_start_here.ipynb")
    tests = " ".join(p.read_text() for p in Path(__file__).parent.glob("test_lesson_*.py"))
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        assert path.name in tests, f"no tests/test_lesson_*.py checks {path.name}"
    labels = []
    figure_8(on_step=lambda label, c: labels.append(label))  # captions written with the script ...
    assert labels[0].startswith("(a) S1 leads term 2")
    source = inspect.getsource(raftedu.scenarios.figure_8)
    assert all(label.split(";")[0] in source for label in labels)  # ... not computed from the run


PAPER_SECTIONS = {"1", "2", "3", "4", "5", "5.1", "5.2", "5.3", "5.4", "5.4.1", "5.4.2", "5.4.3", "5.5", "5.6", "6", "7",
                  "8", "9", "9.1", "9.2", "9.3", "10", "11"}
"""The sections of the Raft paper (extended version, 2014): §6 (membership), §7 (compaction), §8 (clients) have no
subsections; the dissertation's §4.1, §4.2.3, §6.2, §9.6 ... are not the paper's."""
DISSERTATION_LESSONS = ("10_prevote_checkquorum.ipynb", "11_membership.ipynb", "12_snapshots.ipynb")


def citations(name: str) -> list[tuple[str, str, str]]:
    """(section, the words just before it, its sentence) for every § in a lesson's Markdown (table rows count as
    sentences)."""
    out = []
    for c in cells(name):
        if c.cell_type != "markdown":
            continue
        for block in re.split(r"\n\s*\n|\n\|", c.source):
            for sentence in re.split(r"(?<=[.:;!?])\s+(?=[A-Z*(\[])", " ".join(block.split())):
                out += [(m.group(1), sentence[:m.start()], sentence) for m in re.finditer(r"§(\d+(?:\.\d+)*)", sentence)]
    return out


@pytest.mark.parametrize("name", [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb"))])
def test_00_section_numbers_point_where_lesson_00_says(name):
    """Lesson 00: a bare § is the paper's, but in lessons 10-12 (the dissertation's); elsewhere the dissertation is
    named where it is cited. Checked per sentence: a § that is not the paper's must sit in a sentence naming the
    dissertation (or, in 10-12, is the dissertation's); "paper §x" must be a section of the paper."""
    claim("00_start_here.ipynb", "Lessons 10–12 build on Diego Ongaro's PhD dissertation, *Consensus: Bridging Theory "
                                 "and Practice* (Stanford, 2014), which extends the paper: there a bare § is the "
                                 "dissertation's and the paper's sections are written \"paper §5.3\". Other lessons name "
                                 "the dissertation where they cite it (\"dissertation §6.3\").")
    found = citations(name)
    for section, before, sentence in found:
        if re.search(r"paper\s*$", before):
            assert section in PAPER_SECTIONS, f"{name}: 'paper §{section}' is no section of the paper: {sentence}"
        elif name not in DISSERTATION_LESSONS and "dissertation" not in sentence.lower():
            assert section in PAPER_SECTIONS, f"{name}: §{section} is not the paper's; name the dissertation: {sentence}"


# ---- answer keys for instructors --------------------------------------------------------------------------------

KEYS = Path(__file__).resolve().parent.parent / "solutions" / "lessons"


def questions(name: str) -> list[str]:
    text = "\n".join(c.source for c in cells(name) if c.cell_type == "markdown")
    block = text.split("## Check yourself", 1)[1].split("Practice:", 1)[0].split("[contents]", 1)[0]
    return [re.sub(r"\s+", " ", q).strip() for q in re.findall(r"^\d+\. (.+?)(?=^\d+\. |\Z)", block, re.M | re.S)]


@pytest.mark.parametrize("name", MINE)
def test_every_check_yourself_question_has_an_answer_in_the_key(name):
    key = KEYS / name.replace(".ipynb", "_answers.md")
    assert key.exists(), f"no answer key {key.relative_to(KEYS.parent.parent)} for {name}"
    text = re.sub(r"\s+", " ", key.read_text())
    asked = questions(name)
    assert asked, f"{name} has no Check yourself questions"
    for k, question in enumerate(asked, 1):
        assert f"{k}. **{question}**" in text, f"{key.name} does not answer question {k} of {name} as asked: {question!r}"
    assert f"{len(asked) + 1}. **" not in text, f"{key.name} answers more questions than {name} asks"
    assert "notebooks/" + name in text




def key_text(name: str) -> str:
    return re.sub(r"\s+", " ", (KEYS / name.replace(".ipynb", "_answers.md")).read_text())


@pytest.mark.parametrize("name", [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb"))])
def test_every_prediction_has_an_answer_in_the_key(name):
    """A self-paced learner has no teacher: each key answers each "Predict, then run" of its lesson, one bullet per
    predict cell under "## Predictions", before the "Check yourself" answers."""
    key = (KEYS / name.replace(".ipynb", "_answers.md")).read_text()
    assert "## Predictions" in key and key.index("## Predictions") < key.index("## Check yourself")
    section = key.split("## Predictions", 1)[1].split("## Check yourself", 1)[0]
    predicts = [c for c in cells(name) if c.cell_type == "code" and c.source.lstrip().startswith("my_prediction =")]
    answers = len(re.findall(r"^- ", section, re.M))
    if name == "13_real_etcd.ipynb":  # its table section asks for a prediction in prose, without a cell
        assert answers == len(predicts) + 1, f"{name}: one answer per prediction"
    else:
        assert answers == len(predicts), f"{name}: one answer per prediction"


def test_keys_00_02_03_answer_the_predictions_with_the_runs_numbers():
    ns = lesson("00_start_here.ipynb")
    trace = ns["explorer"].cluster.trace
    won = next(e for e in trace if e.kind == "role" and e.value == "leader" and e.node == ns["new"])
    voters = re.search(r"with votes from (S\d), (S\d), (S\d)$", won.text).groups()  # those counted when it won
    assert (f"S{ns['old']} led term 1 and crashed; S{ns['new']} won term {won.term} with votes from "
            f"{voters[0]}, {voters[1]} and {voters[2]} within the second") in key_text("00_start_here.ipynb")

    ns = lesson("02_leader_election.ipynb")
    same = ns["same"]
    terms = max(same.nodes[i].current_term for i in same.ids)
    key = key_text("02_leader_election.ipynb")
    assert same.leader() is None and f"The run went through {terms} terms in 3 s" in key
    crashed_at, elected = ns["crashed_at"], ns["elected"]
    first = next(e for e in ns["explorer"].cluster.trace if e.kind == "role" and e.value == "candidate"
                 and e.time >= crashed_at)
    assert first.node == elected.node
    assert (f"The run says {elected.time - crashed_at} ms: S{ns['old']} crashed at t={crashed_at} ms, "
            f"S{first.node}'s timer ran out first, {first.time - crashed_at} ms after the crash, and S{elected.node} "
            f"won term {elected.term} an election round trip ({elected.time - first.time} ms) later") in key

    ns = lesson("03_log_replication.ipynb")
    key = key_text("03_log_replication.ipynb")
    assert f"{len(ns['stored'])} ({' and '.join(f'S{i}' for i in ns['stored'])} in the run)" in key
    lag = [t - ns["leader_at"] for t in ns["followers_at"]]
    assert f"They committed {min(lag)} to {max(lag)} ms after the leader" in key
    assert f"which the leader sends every {ns['beat']} ms" in key


def test_key_04_answers_the_predictions_with_the_runs_numbers():
    ns = lesson("04_log_repair.ipynb")
    key = key_text("04_log_repair.ipynb")
    lagging, leader, elected = ns["lagging"], ns["leader"], ns["elected"]
    assert ns["c"].leader() != leader and "will the same server still be the leader at the end?** `False`" in key
    assert (f"its term rose to {ns['term_now']}" in key and f"asked for votes in term {ns['campaign'].term}" in key
            and f"the leader S{leader} saw the higher term" in key)
    assert (f"S{elected.node} won term {elected.term}: {elected.time - ns['stepped_down'].time} ms without a leader"
            in key and f"While cut off, S{lagging} heard no leader" in key)
    c3, new, behind = ns["c3"], ns["new"], ns["behind"]
    first = next(e for e in c3.trace.events[ns["back"]:] if e.kind == "deliver"
                 and type(e.msg).__name__ == "AppendEntriesReply" and e.msg.src == behind)
    assert (f"How many AppendEntries will the restarted follower reject before its log is complete?** "
            f"{len(ns['missed'])}. The new leader S{new} starts with nextIndex = {len(c3.nodes[new].log) + 1}") in key
    assert (f"S{behind} holds {ns['had']} entry and rejects the first AppendEntries (prevLogIndex "
            f"{len(c3.nodes[new].log)}); its hint `conflict_index` = {first.msg.conflict_index}") in key


def test_key_05_answers_the_predictions_with_the_runs_results():
    from raftedu.explore import model_check, story_schedules

    key = key_text("05_safety.ipynb")
    c, _ = _panels("e")
    terms = sorted({e.term for e in c.trace if e.kind == "role" and e.value == "candidate" and e.node == 5 and e.term > 3})
    assert terms == [4, 5, 6] and "S5 ran for terms 4, 5 and 6 and lost each time: only S4 voted for it" in key
    votes = {e.node for e in c.trace if e.kind == "vote" and e.peer == 5 and e.node != 5 and e.term > 3 and e.value}
    assert votes == {4}
    length_only = type("LengthOnly", (RaftNode,), {
        "log_is_up_to_date": lambda self, last_log_index, last_log_term: last_log_index >= self.last_log_index})
    stage = story_schedules(3)["longer_log_older_term"][:-1]
    ce = model_check(length_only, 3, depth=6, start=stage, until=130).counterexample
    assert [s[0] for s in ce.schedule] == ["timeout_now", "deliver", "deliver"]
    assert "Completeness take?** 3: S1's election timer runs out, its RequestVote reaches S3" in key
    assert key.count("**Leader Completeness**.") == 2  # the two "which property breaks" predictions


def test_04_answer_key_counts_the_rejections_without_the_hint():
    ns = lesson("04_log_repair.ipynb")
    last, had = len(ns["c3"].nodes[ns["new"]].log), ns["had"]
    text = re.sub(r"\s+", " ", (KEYS / "04_log_repair_answers.md").read_text())
    assert f"nextIndex = its last index + 1 = {last + 1} (its log has {last} entries)" in text
    assert f"has {had} entry" in text and f"nextIndex = {had + 1} (prevLogIndex {had})" in text
    assert f"{last + 1} − {had + 1} = {last - had} rejections" in text


def test_03_timeline_without_heartbeats_shows_one_reply_per_appendentries_with_the_entry():
    from raftedu.viz import timeline
    from raftedu.viz.timeline import ARROW_NAMES

    claim("03_log_replication.ipynb", "Each arrow leaving the leader's lane is an AppendEntries carrying the entry; each arrow "
                                      "coming back is a follower's reply (the legend names both; heartbeats and their replies are hidden)")
    ns = lesson("03_log_replication.ipynb")
    fig = timeline(ns["c"].trace, ns["start"] - 5, ns["start"] + 60, heartbeats=False)
    arrows = {t.name: sum(x is None for x in t.x) for t in fig.data if t.x is not None}
    assert arrows["AppendEntries with entries"] == 4 == arrows[ARROW_NAMES["AppendEntriesReply"]]
    assert arrows["heartbeat (empty AppendEntries)"] == 0


def test_03_the_leader_commits_on_a_majority_and_the_followers_learn_it_at_the_next_heartbeat():
    ns = lesson("03_log_replication.ipynb")
    c, req, events, at, stored = ns["c"], ns["req"], ns["events"], ns["at"], ns["stored"]
    leader, others = req.node, [i for i in c.ids if i != req.node]
    claim("03_log_replication.ipynb", "two replies, plus its own copy, make three of five — a majority — and at that "
                                      "moment the entry is committed")
    assert len(stored) == 2 and len(stored) + 1 == len(c.ids) // 2 + 1 and leader not in stored
    first_ack: dict[int, int] = {}  # follower -> position of its first reply saying it stores x=1
    for k, e in enumerate(events):
        if (e.kind == "deliver" and type(e.msg).__name__ == "AppendEntriesReply" and e.msg.dst == leader
                and e.msg.success and e.msg.match_index >= req.index):
            first_ack.setdefault(e.msg.src, k)
    later = {i for i, k in first_ack.items() if k > at}
    claim("03_log_replication.ipynb", "The other two replies came later; had those two followers crashed, the leader "
                                      "would have committed all the same")
    assert later == set(others) - set(stored)
    two_down = Cluster(5, seed=3, network=Network(delay=(5, 15)))
    two_down.run_until(lambda c: c.leader() is not None, 2_000)
    for i in sorted(later):
        two_down.crash(i)
    alone = two_down.request("x=1")
    two_down.run(100)
    assert two_down.leader() == leader and alone.status == "committed"
    claim("03_log_replication.ipynb", "A follower learns what is committed only from the `leaderCommit` field of the "
                                      "leader's next AppendEntries (Figure 2, AppendEntries receiver step 5) — here the "
                                      "next heartbeat")
    leader_at = ns["leader_at"]
    for k, e in enumerate(events):
        if e.kind == "commit" and e.node != leader and e.time >= ns["start"]:
            told = next(x for x in reversed(events[:k]) if x.kind == "deliver" and x.msg.dst == e.node)
            assert type(told.msg).__name__ == "AppendEntries" and told.msg.entries == () and told.msg.leader_commit >= 1
            sent = next(x for x in reversed(events[:k]) if x.kind == "send" and x.msg is told.msg)
            assert sent.time > leader_at and not any(  # the leader's first AppendEntries after its commit
                x.kind == "send" and type(x.msg).__name__ == "AppendEntries" and leader_at <= x.time < sent.time
                for x in events)
    assert leader_at < min(ns["followers_at"]) and max(ns["followers_at"]) - leader_at < ns["beat"]
    claim("03_log_replication.ipynb", "from `leaderCommit` in the leader's next AppendEntries — at most about a heartbeat "
                                      "interval later, plus that message's delay — and only then apply it")
    assert "Network(delay=(5, 15))" in "".join(x.source for x in cells("03_log_replication.ipynb") if x.cell_type == "code")
    assert max(ns["followers_at"]) - leader_at <= ns["beat"] + 15
    key = re.sub(r"\s+", " ", (KEYS / "03_log_replication_answers.md").read_text())
    assert f"the leader, and {', '.join(f'S{i}' for i in stored)}, whose replies it had counted" in key


def test_04_leaves_the_cure_of_the_disruptive_rejoin_to_lesson_10():
    """Lesson 10 asks students to predict what pre-vote does to this run: lesson 04 must not show it first."""
    claim("04_log_repair.ipynb", "Figure 2 alone has no defence against this")
    sources = [c.source for c in cells("04_log_repair.ipynb") if c.cell_type == "code"]
    assert not any("pre_vote" in s or "check_quorum" in s for s in sources)
