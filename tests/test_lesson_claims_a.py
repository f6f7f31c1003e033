"""What lessons 00, 02, 03 and 04 say in prose is what their runs compute.

Each test finds a claim in a lesson's Markdown (so rewording the prose without rechecking it fails here) and
recomputes it with the same calls the lesson makes. Predict cells must be read back by the cell after the run.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from raftedu import RaftNode, SafetyViolation
from raftedu.scenarios import figure_8, longer_log_older_term

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MINE = ["04_safety.ipynb"]


def cells(name: str) -> list:
    return nbformat.read(NOTEBOOKS / name, as_version=4).cells


def prose(name: str) -> str:
    """The lesson's Markdown as one string, line breaks folded into spaces."""
    return re.sub(r"\s+", " ", " ".join(c.source for c in cells(name) if c.cell_type == "markdown"))


def claim(name: str, text: str) -> None:
    assert text in prose(name), f"{name} no longer says {text!r}: recheck the claim and this test"


# ---- every lesson: predictions are read back ------------------------------------------------------------------


@pytest.mark.parametrize("name", MINE)
def test_every_prediction_is_read_back_after_the_run(name):
    nb = cells(name)
    predicts = [k for k, c in enumerate(nb) if c.cell_type == "code" and c.source.lstrip().startswith("my_prediction =")]
    assert predicts, f"{name} has no predict cell"
    for k in predicts:
        assert "Predict" in nb[k - 1].source, f"{name} cell {k}: the predict cell must follow its question"
        run = nb[k + 1]
        assert run.cell_type == "code" and "read_back(my_prediction" in run.source, \
            f"{name} cell {k + 1}: the run after a prediction must read it back"


@pytest.mark.parametrize("name", MINE)
def test_read_back_nudges_a_missing_prediction_and_quotes_both_values(name, capsys):
    source = next(c.source for c in cells(name) if c.cell_type == "code" and "def read_back" in c.source)
    namespace: dict = {}
    exec(source[source.index("def read_back"):].split("\n\n\n")[0], namespace)
    namespace["read_back"](None, 6)
    nudge = capsys.readouterr().out
    assert "None" in nudge and "guess" in nudge and "6" in nudge
    namespace["read_back"](5, 6)
    assert "You said 5; it is 6" in capsys.readouterr().out
    namespace["read_back"](6, 6)
    assert "Right" in capsys.readouterr().out


# ---- lesson 04 ----------------------------------------------------------------------------------------------


def test_04_defines_the_five_figure_3_properties_before_using_them():
    text = prose("04_safety.ipynb")
    first_use = text.index("## The election restriction")
    for prop in ("Election Safety", "Leader Append-Only", "Log Matching", "Leader Completeness", "State Machine Safety"):
        assert f"**{prop}**:" in text[:first_use], f"{prop} is not defined before the first section that uses it"


def test_04_length_only_vote_rule_breaks_leader_completeness():
    class LengthOnly(RaftNode):
        def log_is_up_to_date(self, last_log_index, last_log_term):
            return last_log_index >= self.last_log_index

    claim("04_safety.ipynb", "that is exactly what **Leader Completeness** forbids")
    with pytest.raises(SafetyViolation) as caught:
        longer_log_older_term(LengthOnly)
    assert caught.value.property == "Leader Completeness"


def _panels(branch: str, node_class: type[RaftNode] = RaftNode):
    panels = []
    c = figure_8(node_class, branch=branch, on_step=lambda label, cl: panels.append(
        (label, {i: (None if cl.nodes[i] is None else [e.term for e in cl.nodes[i].log]) for i in cl.ids},
         {i: cl.disks[i].log[-1].term for i in cl.ids})))
    return c, panels


def test_04_figure_8_d_claims():
    c, panels = _panels("d")
    claim("04_safety.ipynb", "In (c), x sits on a majority")
    _, logs_c, last_c = panels[2]
    assert sum(log is not None and log[1:2] == [2] for log in logs_c.values()) == 3
    claim("04_safety.ipynb", "its last entry has term 3, later than the last terms of S2 and S3 (term 2) and S4 (term 1)")
    assert (last_c[5], last_c[2], last_c[3], last_c[4]) == (3, 2, 2, 1)
    claim("04_safety.ipynb", "x disappears from S2 and S3 — and from S1 as soon as it comes back")
    _, logs_d, _ = panels[3]
    assert all(log == [1, 3] for log in logs_d.values())
    claim("04_safety.ipynb", "S1 did **not** count the replicas of x: x is from term 2, S1 leads term 4")
    assert c.trace and not any(e.kind == "commit" and e.node == 1 and e.index >= 2 for e in c.trace)


def test_04_figure_8_e_claims():
    c, panels = _panels("e")
    claim("04_safety.ipynb", "z is from S1's current term 4 and sits on S1, S2 and S3, so S1 commits index 3")
    _, logs_e, _ = panels[3]
    assert [i for i, log in logs_e.items() if log and log[2:3] == [4]] == [1, 2, 3]
    assert any(e.kind == "commit" and e.node == 1 and e.index == 3 and e.term == 4 for e in c.trace)
    claim("04_safety.ipynb", "their last term 4 is later than S5's 3")
    _, _, last = panels[4]
    assert (last[1], last[2], last[3], last[5]) == (4, 4, 4, 3)
    assert not any(e.kind == "role" and e.value == "leader" and e.node == 5 and e.term > 3 for e in c.trace)


def test_04_counting_old_replicas_is_caught_when_s5_becomes_leader():
    class CountsOldReplicas(RaftNode):
        def advance_commit_index(self):
            for n in range(self.last_log_index, self.commit_index, -1):
                if 1 + sum(self.match_index[p] >= n for p in self.peers) >= self.quorum:
                    self.set_commit_index(n, "broken")
                    return

    claim("04_safety.ipynb", "In (c) this leader counted S1, S2 and S3 and committed x")
    claim("04_safety.ipynb", "the checks stopped the run at the event where S5 became leader")
    commits = []
    with pytest.raises(SafetyViolation) as caught:
        figure_8(CountsOldReplicas, on_step=lambda label, cl: commits.append((label[:3], cl.nodes[1] and cl.nodes[1].commit_index)))
    assert ("(c)", 2) in commits
    v = caught.value
    assert v.property == "Leader Completeness" and (v.event.kind, v.event.node, v.event.value) == ("role", 5, "leader")
