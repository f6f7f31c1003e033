"""Claims of the second half of the course (issue 24) that a run decides outside the lesson's own cells.

Each test pins the sentence it checks (``claim``: rewording it without rechecking fails here) and recomputes the fact
with raftedu, as tests/test_lesson_claims_a.py does for lessons 00-04.
"""

from __future__ import annotations

import pytest

from raftedu.kv import KVService
from test_lesson_claims_a import claim  # tests/ is on sys.path (conftest.py)


def rejoin_ignored_votes(read_mode: str, seed: int = 3) -> list:
    """A follower of a 5-server store is cut off for 3 s and comes back; the vote requests ignored for a lease."""
    svc = KVService(5, clients=1, seed=seed, read_mode=read_mode)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, 2_000)
    x = next(i for i in c.ids if i != c.leader())
    c.isolate(x)
    c.run(3_000)
    c.heal()
    c.run(1_000)
    assert any(e.kind == "role" and e.node == x and e.value == "candidate" for e in c.trace)  # it did campaign
    return [e for e in c.trace if e.kind == "vote" and e.peer == x and "§4.2.3" in (e.rule or "")]


@pytest.mark.parametrize("read_mode", ["lease", "readindex", "log"])
def test_08_only_lease_mode_adds_the_extra_vote_rule(read_mode: str) -> None:
    """Issue 24 (9): followers ignoring RequestVote is an extra rule (§4.2.3), on only where leases need it."""
    claim("08_linearizable_reads.ipynb", "That needs an **extra rule** that Figure 2 does not have")
    claim("08_linearizable_reads.ipynb", "raftedu's `KVNode` switches that rule on only in lease mode")
    ignored = rejoin_ignored_votes(read_mode)
    assert bool(ignored) == (read_mode == "lease")
    assert all(e.value is False for e in ignored)


# ---- every lesson: "Check yourself", an answer key that answers it as asked, and the keys' index ---------------

from pathlib import Path  # noqa: E402

from test_lesson_claims_a import KEYS, NOTEBOOKS, questions  # noqa: E402

ALL_LESSONS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("name", ALL_LESSONS)
def test_every_lesson_has_check_yourself_and_a_key_answering_each_question(name: str) -> None:
    key = KEYS / name.replace(".ipynb", "_answers.md")
    assert key.exists(), f"no answer key {key.relative_to(KEYS.parent.parent)} for {name}"
    text = " ".join(key.read_text().split())
    asked = questions(name)
    assert asked, f"{name} has no Check yourself questions"
    for k, question in enumerate(asked, 1):
        assert f"{k}. **{question}**" in text, f"{key.name} does not answer question {k} of {name} as asked: {question!r}"
    assert f"{len(asked) + 1}. **" not in text.split("## Check yourself", 1)[-1], f"{key.name} answers more than asked"
    assert "notebooks/" + name in text


def test_the_keys_index_lists_every_key() -> None:
    index = (KEYS / "README.md").read_text()
    keys = sorted(p.name for p in KEYS.glob("*_answers.md"))
    assert keys == sorted(name.replace(".ipynb", "_answers.md") for name in ALL_LESSONS)
    for name in keys:
        assert f"]({name})" in index, f"solutions/lessons/README.md does not list {name}"
