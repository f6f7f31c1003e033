"""Claims of the second half of the course (issue 24) that a run decides outside the lesson's own cells.

Each test pins the sentence it checks (``claim``: rewording it without rechecking fails here) and recomputes the fact
with raftedu, as tests/test_lesson_claims_a.py does for lessons 00-05.
"""

from __future__ import annotations

import functools
import random
import re
from pathlib import Path

import pytest

from raftedu import Cluster, ClusterView, RaftNode
from raftedu.kv import ClientAnswer, KVService, ReadConfirm, ReadConfirmReply, paused_leader_read
from raftedu.raft import AppendEntries, Entry, PersistentState, RequestVote
from raftedu.scenarios import figure_8, shorter_log_same_term
from raftedu.trace import Clock
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
def test_09_only_lease_mode_adds_the_extra_vote_rule(read_mode: str) -> None:
    """Issue 24 (9): followers ignoring RequestVote is an extra rule (§4.2.3), on only where leases need it."""
    claim("09_linearizable_reads.ipynb", "That needs an **extra rule** that Figure 2 does not have")
    claim("09_linearizable_reads.ipynb", "raftedu's `KVNode` switches that rule on only in lease mode")
    ignored = rejoin_ignored_votes(read_mode)
    assert bool(ignored) == (read_mode == "lease")
    assert all(e.value is False for e in ignored)


def test_01_a_majority_storing_an_entry_does_not_make_its_holders_refuse_a_candidate_without_it() -> None:
    """Issue 24 (5): voters compare how up to date logs are, not whether a given entry is there (Figure 8 (d))."""
    claim("01_quorums.ipynb", "and why \"stored on a majority\" alone is not what makes an entry committed")
    panels = []
    c = figure_8(on_step=lambda label, cluster: panels.append(
        (label, {i: [e.term for e in cluster.disks[i].log] for i in cluster.ids})))
    logs_c = next(logs for label, logs in panels if label.startswith("(c)"))
    assert [i for i, log in logs_c.items() if log[1:2] == [2]] == [1, 2, 3]  # x (term 2) on a majority
    votes = {e.node for e in c.trace if e.kind == "vote" and e.peer == 5 and e.term == 5 and e.value and e.node != 5}
    assert {2, 3} <= votes


def test_02_a_vote_needs_a_log_at_least_as_up_to_date() -> None:
    """Issue 24 (imprecise): lesson 02 states the up-to-date condition; a shorter log of the same last term loses."""
    claim("02_leader_election.ipynb", "and only to a candidate whose log is at least as up to date as its own")
    c = shorter_log_same_term()
    refused = [e for e in c.trace if e.kind == "vote" and e.value is False and "up to date" in e.text]
    assert refused


def test_04_the_retry_hint_skips_a_whole_conflicting_term() -> None:
    """Issue 24 (imprecise): §5.3's optimisation is per conflicting term; the short-log case is the other one."""
    claim("04_log_repair.ipynb", "it names the first index of that entry's term, so the leader skips a whole "
                                 "conflicting *term* per round trip")
    state = PersistentState(3, None, [Entry(t, f"c{k}") for k, t in enumerate((1, 2, 2, 2, 3), 1)])
    node = RaftNode(2, [1, 2, 3], rng=random.Random(0), state=state)
    node.take_output()
    node.receive(AppendEntries(4, 1, 2, 4, 4, (), 0), 5)  # the leader has term 4 at index 4: S2's term 2 conflicts
    reply = node.take_output()[0][0]
    assert not reply.success and reply.conflict_index == 2  # the first index of term 2, three entries back at once
    node.receive(AppendEntries(4, 1, 2, 9, 4, (), 0), 10)  # beyond the end of its log
    assert node.take_output()[0][0].conflict_index == 6  # just past its last entry


# ---- every lesson: "Check yourself", an answer key that answers it as asked, and the keys' index ---------------

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


def follower_get(n: int, **options: str) -> tuple[Cluster, list[str]]:
    """A client's get sent to a follower of an n-server store (seed 7): the cluster and the conversation's messages."""
    svc = KVService(n, clients=1, seed=7, **options)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, 2_000)
    follower = next(i for i in c.ids if i != c.leader())
    start = c.now
    svc.submit(1, "get", "x", to=follower)
    svc.run(300)
    return c, list(svc.conversation(1, since=start).message)


def test_09_raftedu_followers_redirect_reads_where_etcd_serves_them_by_read_index() -> None:
    """Issue 24 (clients): follower reads through ReadIndex are described (§6.4); raftedu's followers redirect."""
    claim("09_linearizable_reads.ipynb", "ReadIndex also lets *followers* answer reads, taking load off the leader "
                                         "(dissertation §6.4)")
    claim("09_linearizable_reads.ipynb", "raftedu's followers redirect reads to the leader")
    c, talk = follower_get(5)
    assert f"not the leader - try S{c.leader()}" in talk[1] and len(talk) == 4  # redirected, then answered


def test_08_session_expiry_is_taught_as_a_deterministic_state_machine_decision() -> None:
    claim("08_clients_sessions.ipynb", "the leader writes its current time into the entries it appends, and every "
                                       "server expires sessions by those timestamps as it applies the log")
    claim("08_clients_sessions.ipynb", "(raftedu's sessions never expire.)")
    from raftedu.kvmodel import KVStore, Op

    store = KVStore()
    store.apply(Op.put("x", 1, client=1, seq=1))
    for k in range(500):  # a long history of other clients' writes
        store.apply(Op.put("y", k, client=2, seq=k + 1))
    assert store.last_applied(1) == 1  # client 1's session is still there


# ---- lesson 09: when the clock lies (clock drift and process pauses) -----------------------------------------------


def old_leader_answer(svc: KVService) -> tuple[int, int, int]:
    """(the old leader, when it answered client 1's last read, which server answered it) in a paused_leader_read run."""
    read = svc.history[3]
    old = next(e.value[0] for e in svc.cluster.trace if e.kind == "partition")[0]
    answer = next(e for e in svc.cluster.trace if e.kind == "deliver" and isinstance(e.msg, ClientAnswer) and e.msg.ok
                  and e.msg.dst == svc.clients[0].id and e.time == read.response)
    return old, answer.msg.src, next(e.time for e in svc.cluster.trace if e.kind == "send" and e.msg_id == answer.msg_id)


def test_09_the_paused_leader_trusted_a_lease_its_clock_said_was_running() -> None:
    claim("09_linearizable_reads.ipynb", "The old leader resumed believing no time had passed — its clock 300 ms behind true "
          "time — so by its clock its lease was still running, and it answered from its own copy (on a real machine: a "
          "lease checked just before the pause and the answer sent just after it")
    # s8 third read: a GC pause does not stop the machine's clock; the simulator stands for the race by stopping the
    # server's clock (below: it reads 300 ms behind true time after the pause)
    claim("09_linearizable_reads.ipynb", "The machine's clock runs on meanwhile; what a pause breaks is the gap between "
          "checking the time and acting on it")
    claim("09_linearizable_reads.ipynb", "The simulator models this check-then-act race by stopping the server's clock for "
          "the pause: it resumes believing no time passed")
    claim("09_linearizable_reads.ipynb", "The safety monitor checked every event of the run and found nothing wrong")
    svc = paused_leader_read("lease", pause=300)  # the lesson's run; a safety violation would have raised
    old, answered_by, sent = old_leader_answer(svc)
    assert answered_by == old
    clock = ClusterView.at(svc.cluster.trace).nodes[old].clock
    assert clock.read(svc.cluster.now) == svc.cluster.now - 300
    lease = svc.cluster.nodes[old].lease_until
    assert clock.read(sent) < lease < sent  # valid on its clock, over in true time
    rounds = {e.time for e in svc.cluster.trace if e.kind == "send" and isinstance(e.msg, ReadConfirm) and e.msg.src == old}
    assert lease - 150 in rounds  # raftedu's lease: one full minimum election timeout from the round's send (answer key 4)


def test_09_the_read_paths_section_leaves_the_clock_faults_to_their_predictions() -> None:
    """s8 third read: "a paused process or a drifting clock" (later "clocks running at the same rate") in the read paths'
    section gave away the predictions of "When the clock lies"; and its §8 sat beside the dissertation's §6.4."""
    from test_lesson_claims_a import prose

    text = prose("09_linearizable_reads.ipynb")
    before = text[:text.index("## When the clock lies")]
    assert not [word for word in ("clock", "pause", "drift", "garbage") if word in before]
    key = " ".join((KEYS / "09_linearizable_reads_answers.md").read_text().split())
    for where, words in (("lesson 09", text), ("key 09", key)):
        bare = [words[max(0, k - 40):k + 2] for k in (m.start() for m in re.finditer("§8", words))
                if "paper" not in words[max(0, k - 9):k]]  # "paper §8", "paper's §8", "paper (§8
        assert not bare, f"{where} cites §8 without saying it is the paper's: {bare}"


def test_09_with_perfect_clocks_the_lease_runs_out_before_the_new_leader_is_elected() -> None:
    claim("09_linearizable_reads.ipynb", "client 1 reads 2: the lease runs out before the new leader is elected.")
    svc = paused_leader_read("lease", pause=0)
    old = next(e.value[0] for e in svc.cluster.trace if e.kind == "partition")[0]
    cut = next(e.time for e in svc.cluster.trace if e.kind == "partition")
    elected = next(e.time for e in svc.cluster.trace if e.kind == "role" and e.value == "leader" and e.time > cut)
    assert svc.cluster.nodes[old].lease_until < elected


def test_09_readindex_finds_the_new_leader_after_a_time_out_and_a_slow_clock_stretches_the_lease() -> None:
    claim("09_linearizable_reads.ipynb", "the old leader never gets its confirmations, and the client, after its time-out, "
          "finds the new leader.")
    svc = paused_leader_read("readindex", pause=300)
    old, answered_by, _ = old_leader_answer(svc)
    read = svc.history[3]
    assert answered_by != old and read.response - read.invoke >= svc.clients[0].retry_after
    cut = next(e.time for e in svc.cluster.trace if e.kind == "partition")
    assert not [e for e in svc.cluster.trace if e.kind == "deliver" and e.node == old and e.time > cut
                and isinstance(e.msg, ReadConfirmReply)]  # no confirmation reaches the cut-off leader
    claim("09_linearizable_reads.ipynb", "at a quarter speed, 150 ms on the old leader's clock take 600 ms of true time "
          "(its clock slowed just after the lease began, so here the lease lasted over 500 ms)")
    clock = Clock()
    clock.set_rate(0.25, 0)
    assert clock.when(150, 0) == 600
    slow = paused_leader_read("lease", pause=0, clock_rate=0.25)
    old, answered_by, sent = old_leader_answer(slow)
    lease = slow.cluster.nodes[old].lease_until  # on its clock: the round's send + 150 ms
    cut = next(e.time for e in slow.cluster.trace if e.kind == "partition")
    its_clock = ClusterView.at(slow.cluster.trace).nodes[old].clock
    assert lease - 150 < cut  # the lease began before the clock slowed (at the cut) ...
    assert its_clock.when(lease, 0) - (lease - 150) > 500  # ... and lasted over 500 true ms
    assert answered_by == old and sent - cut > 150  # the stale answer came more than 150 true ms after the cut


def test_09_answer_key_a_ten_percent_slow_leader_may_keep_its_lease_135_ms() -> None:
    key = (KEYS / "09_linearizable_reads_answers.md").read_text()
    assert "**135 ms.**" in key and "150 ÷ (1 / 0.9) = 135" in key
    clock = Clock()
    clock.set_rate(0.9, 0)  # the leader's clock at 90 % of its followers'
    assert clock.when(135, 0) == 150 < clock.when(136, 0)  # 135 on its clock ends as the followers' 150 ms end


def test_09_a_pause_without_the_cut_ends_with_the_old_leader_stepping_down_first() -> None:
    claim("09_linearizable_reads.ipynb", "the paused leader, on resuming, first handles the vote requests of the new term "
          "that waited for it and steps down, and client 1 reads 2 — the simulator hands a server its waiting messages in "
          "the order they arrived")
    svc = paused_leader_read("lease", cut=False)
    trace = svc.cluster.trace
    resume = next(e for e in trace if e.kind == "resume")
    first_new_term = next(e for e in trace if e.kind == "term" and e.node == resume.node and e.time >= resume.time)
    handled = [e for e in trace if e.kind == "deliver" and e.node == resume.node and e.time == resume.time]
    assert first_new_term.time == resume.time and any(isinstance(e.msg, RequestVote) for e in handled)
    assert next(e for e in trace if e.kind == "role" and e.node == resume.node and e.time >= resume.time).value == "follower"
    assert svc.history[3].result.value == 2 and svc.check().linearizable is True
    claim("09_linearizable_reads.ipynb", "Both faults needed the cut, though")
    slow = paused_leader_read("lease", pause=0, clock_rate=0.25, cut=False)
    assert slow.history[3].result.value == 2 and slow.check().linearizable is True


def test_key_04_a_receiver_that_truncates_on_every_append_entries_loses_committed_entries() -> None:
    """Answer key 04, Q1: truncating after matching entries is caught by the always-on check it names."""
    from raftedu import Cluster, Network, SafetyViolation
    from mutants import MUTANTS  # tests/ is on sys.path (conftest.py)

    key = " ".join((Path(__file__).resolve().parent.parent / "solutions/lessons/04_log_repair_answers.md").read_text().split())
    assert ('A receiver that truncates on every AppendEntries fails the always-on check "Committed entries on a '
            'majority"') in key
    mutant = next(m for m in MUTANTS if m.name == "truncates on every AppendEntries")
    truncating = type("Truncating", (RaftNode,), {"handle_append_entries": lambda self, m: mutant.fn(self, m)})
    with pytest.raises(SafetyViolation) as caught:
        c = Cluster(3, seed=0, node_class=truncating, network=Network(delay=(1, 30), drop_rate=0.1, duplicate_rate=0.1))
        for k in range(30):
            c.run(50)
            if c.leader() is not None:
                c.request(f"c{k}")
    assert caught.value.property == "Committed entries on a majority"


@pytest.mark.parametrize("name", ALL_LESSONS)
def test_every_lesson_heading_carries_its_own_number(name: str) -> None:
    """Issue 24: after the re-sequencing, lessons 05-09 still said "# 04" ... "# 08" in their headings."""
    import nbformat

    first = nbformat.read(NOTEBOOKS / name, as_version=4).cells[0].source
    heading = next(line for line in first.splitlines() if line.startswith("# "))
    assert heading.startswith(f"# {name[:2]} · "), f"{name} is headed {heading!r}"


def test_read_back_names_the_question_inside_the_wrapped_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    """Lessons 09 and 10 read back several predictions in one cell: each line, its question included, stays within
    100 characters (a prefix printed before read_back's wrapped sentence made 110-123-character lines)."""
    from raftedu.lessons import read_back

    read_back(None, "the returning follower", about="readindex, slow clock")
    out = capsys.readouterr().out
    assert out.startswith("readindex, slow clock: You left my_prediction = None.")
    assert max(len(line) for line in out.splitlines()) <= 100
    read_back(2, 2, about="value read")
    assert capsys.readouterr().out.startswith("value read: You said 2; it is 2. Right.")


@functools.cache
def lesson_08_store() -> KVService:
    """Lesson 08's first store and workload, as its cell runs them."""
    svc = KVService(5, clients=3, seed=7)
    svc.cluster.run_until(lambda c: c.leader() is not None, 2_000)
    svc.workload(8, keys=2)
    svc.run(2_000)
    svc.finish()
    return svc


def test_08_the_ok_column_says_which_writes_changed_nothing() -> None:
    """Issue 24 (fresh read): lesson 08's first table listed a failed cas and a delete of an absent key as plain "ok"."""
    claim("08_clients_sessions.ipynb", "`ok` is False for a write that changed nothing: a `cas` that found another value "
                                       "than the expected one, a `delete` of an absent key.")
    svc = lesson_08_store()
    rows = svc.history.to_frame().head(12)
    assert {(kind, ok) for kind, ok in zip(rows.kind, rows.ok)} >= {("cas", False), ("delete", False), ("get", True)}
    assert not any(kind in ("put", "get") and ok is False for kind, ok in zip(rows.kind, rows.ok))


def test_08_an_answer_carries_the_revision_it_created_or_the_keys_last_change() -> None:
    """s8 third read: "each answer says at which revision it was taken" — a read answers the key's mod revision
    (raftedu/kvmodel.py, ``Result``), not the store's revision when it was taken."""
    claim("08_clients_sessions.ipynb", "a change's answer, the revision it created; every other answer — a read, or a "
          "write that changed nothing — the revision of the key's last change (0 if the key is absent), like etcd's "
          "`mod_revision`.")
    ops = [o for o in lesson_08_store().history if o.result is not None]
    changes = {o.result.revision: o for o in ops if o.op.is_write and o.result.ok}
    assert sorted(changes) == list(range(1, len(changes) + 1))  # every change makes the next revision
    others = [o for o in ops if not (o.op.is_write and o.result.ok)]
    assert {o.op.kind for o in others} == {"get", "cas", "delete"}  # reads, a failed cas, a delete of an absent key
    for o in others:
        if o.result.revision == 0:  # the key was absent
            assert o.result.value is None
        else:  # the key's last change, of this key, which wrote the value the answer shows
            wrote = changes[o.result.revision]
            assert wrote.op.key == o.op.key and wrote.op.value == o.result.value
    assert any(o.op.kind == "get" and any(w.response < o.invoke and w.result.revision > o.result.revision
                                          for w in changes.values()) for o in others)  # not the store's revision


@pytest.mark.parametrize("name", ALL_LESSONS)
def test_every_lesson_ends_with_the_navigation_line_to_its_neighbours(name: str) -> None:
    """A fresh read (s8-24d): lessons 10-12 ended without the ◀ contents ▶ line the others end with, and lesson 12
    without a "Next:"."""
    import nbformat

    last = nbformat.read(NOTEBOOKS / name, as_version=4).cells[-1].source.strip().splitlines()[-1]
    k = ALL_LESSONS.index(name)
    assert "[contents](../README.md#the-course)" in last, f"{name} does not end with the navigation line"
    if k:
        assert last.startswith("[◀ ") and f"]({ALL_LESSONS[k - 1]})" in last, f"{name}'s last line: {last!r}"
    if k + 1 < len(ALL_LESSONS):
        assert last.endswith(f" ▶]({ALL_LESSONS[k + 1]})"), f"{name}'s last line: {last!r}"


def test_08_clients_are_named_by_number_and_shown_as_101_and_up() -> None:
    """A fresh read (s8-24d): the lesson says "client 1" where its tables say "client 101"."""
    from raftedu.kv import CLIENT_BASE

    claim("08_clients_sessions.ipynb", "tables and messages show it as `client 101`, `102`, `103`")
    svc = KVService(5, clients=3, seed=7)
    svc.cluster.run_until(lambda c: c.leader() is not None, 2_000)
    svc.submit(1, "put", "x", 1)
    svc.run(300)
    assert CLIENT_BASE == 100 and [c.id for c in svc.clients] == [101, 102, 103]
    assert set(svc.conversation(1).message) and "client 101" in set(svc.conversation(1)["from"])


def test_13_the_simulator_runs_with_the_lab_timing_not_etcds_defaults() -> None:
    """A fresh read (s8-24d): lesson 13 called the halved lab timing "etcd's timing"."""
    import nbformat

    claim("13_real_etcd.ipynb", "Now the simulator with this lab's timing (a 50 ms heartbeat, timeouts drawn from [500, 1000) ms)")
    code = nbformat.read(NOTEBOOKS / "13_real_etcd.ipynb", as_version=4).cells[10].source
    assert "Timing(election_timeout=(500, 1000), heartbeat=50)" in code
    import inspect

    from raftedu.etcd import EtcdCluster

    defaults = inspect.signature(EtcdCluster).parameters
    assert (defaults["heartbeat_ms"].default, defaults["election_ms"].default) == (50, 500)  # the lab's, not etcd's


def test_13_the_cut_off_members_terms_are_read_from_etcds_messages_not_its_status() -> None:
    """A fresh read (s8-24d): "the terms come from each member's log" read as the Raft log; they come from the
    messages etcd prints (its status shows the term of the last applied entry)."""
    from raftedu.etcd import EtcdCluster

    claim("13_real_etcd.ipynb", "The cut-off member's terms come from the messages etcd prints, such as \"became "
                                "candidate at term 6\", not from its status")
    claim("13_real_etcd.ipynb", "so the rejoin below reads those terms from the messages etcd prints")
    etcd = EtcdCluster.__new__(EtcdCluster)  # no processes: only the reading of a member's printed messages
    etcd._info_log = lambda i, what: ('raft2026 INFO: 3 became pre-candidate at term 2\n'  # type: ignore[method-assign]
                                      'raft2026 INFO: 3 became candidate at term 6\n')
    assert etcd.highest_term_logged(3) == 6


def test_09_the_history_figure_colours_are_the_ones_the_lesson_names() -> None:
    """A fresh read (s8-24d): lesson 09 still said "in red" after the colour-blind palette made the violation black."""
    from raftedu.kv import old_leader_read
    from raftedu.viz.history import HISTORY_COLORS, LABELS, PATTERNS, history_figure

    claim("09_linearizable_reads.ipynb", "draws the read that cannot be placed in black with white crosses, and the "
                                         "operations the checker could order before getting stuck in orange with dots")
    run = old_leader_read("local")
    fig = history_figure(run.history, run.check())
    bars = {t.name: t for t in fig.data}
    stuck, ordered = bars[LABELS["stuck"]], bars[LABELS["ordered"]]
    assert (stuck.marker.color, stuck.marker.pattern.shape, stuck.marker.pattern.fgcolor) == ("#000000", "x", "white")
    assert (ordered.marker.color, ordered.marker.pattern.shape) == (HISTORY_COLORS["ordered"], PATTERNS["ordered"])
    assert ordered.marker.color == "#e69f00"  # Okabe-Ito orange
    assert len(stuck.y) == 1 and "get('x') → 1 @1" in stuck.y[0]  # the stale read is the one drawn black


def test_07_in_a_2_2_1_split_only_the_leader_from_before_the_split_still_says_leader() -> None:
    """A fresh read (s8-24d): the printed roles show a leader in the 2|2|1 split; the lesson now says whose."""
    from raftedu import Cluster

    claim("07_partitions.ipynb", "The one server that says `leader` is the leader from before the split, still in term 1 "
                                 "beside one follower: it took the request, and the request stays `pending`.")
    c = Cluster(5, seed=5)  # the lesson's cell, as it runs
    c.run_until(lambda c: c.leader() is not None, 2_000)
    before = c.leader()
    c.partition([1, 2], [3, 4], [5])
    c.run(3_000)
    assert [i for i in c.ids if c.nodes[i].role == "leader"] == [before] and c.nodes[before].current_term == 1
    req = c.request("x", node=c.leader())
    c.run(1_000)
    assert req.status == "pending" and max(c.nodes[i].commit_index for i in c.ids) == 0


def test_07_a_minority_leaders_entry_is_overwritten_only_once_the_new_leader_wrote_at_its_index() -> None:
    """Fourth read (r24b): "entries appended by a minority leader are never committed; when the partition heals they are
    overwritten" holds only once the majority side's new leader wrote at that index: the lesson's cluster, cut for
    100 ms instead of 2 s, commits `a` after the heal; cut for 2 s without a write on the other side, `a` stays."""
    from raftedu import Cluster, Network

    claim("07_partitions.ipynb", "The old leader appended `a` to its log but cannot commit it while it is cut off")
    claim("07_partitions.ipynb", "An entry a minority leader appends cannot commit while the cut lasts. If the majority "
          "side's new leader has written at its index, as here, it is overwritten when the partition heals; if the cut "
          "heals before that, it may still commit.")

    def cut_then_heal(cut_ms: int) -> tuple[str, int, str]:
        c = Cluster(5, seed=4, network=Network(delay=(2, 10)))  # the lesson's cluster and cut
        c.run_until(lambda c: c.leader() is not None, 2_000)
        old = c.leader()
        c.partition([old, next(i for i in c.ids if i != old)])
        a = c.request("a", node=old)
        c.run(cut_ms)
        during, stored = a.status, sum("a" in [e.command for e in c.nodes[i].log] for i in c.ids)
        c.heal()
        c.run(500)
        return during, stored, a.status

    assert cut_then_heal(100) == ("pending", 2, "committed")  # healed before the others elected anyone
    assert cut_then_heal(2_000) == ("pending", 2, "pending")  # a new leader, but nothing written at a's index


def test_13_frozen_members_are_new_as_a_failure_count_not_as_a_pause() -> None:
    """A fresh read (s8-24d): lesson 13 called a frozen member new to the course, but lesson 09 pauses a process."""
    from test_lesson_claims_a import prose

    claim("13_real_etcd.ipynb", "lesson 09 paused a leader's process, but to break its lease, not to count failures")
    assert "`cluster.pause(i, ms)` — a **process pause**" in prose("09_linearizable_reads.ipynb")


def test_every_lesson_has_at_most_one_practice_line() -> None:
    """s8 third read: lesson 10 had two "Practice:" lines (one in its summary, one after Check yourself)."""
    from test_lesson_claims_a import prose

    twice = [name for name in ALL_LESSONS if prose(name).count("Practice:") > 1]
    assert not twice, f"more than one Practice: line in {twice}"


def test_13_asks_each_etcd_prediction_before_it_states_etcds_answer() -> None:
    """s8 third read: lesson 13 stated lesson 10/12's result or etcd's constant right before each prediction; each
    section now asks the student to recall the lesson and tells etcd's setting only after the run."""
    from test_lesson_claims_a import prose

    text = prose("13_real_etcd.ipynb")

    def before(heading: str, question: str) -> str:
        start = text.index(heading)
        return text[start:text.index(question, start)]

    kill = before("## Kill the leader", "will the write after the kill succeed")
    table = before("## The whole table, on real etcd", "how many can be stopped")
    assert "election timeout" not in kill.split("**Predict")[0] and "(N−1)//2" not in table  # recalled, not told
    assert "Whether a majority is enough, the next run shows" in text  # lesson 03's majority: told after the kill
    assert text.index("a majority is enough, as lesson 03 said") > text.index("will the write after the kill succeed")
    rejoin = before("## A member cut off, then back", "Without pre-vote, and with it: does the leader survive")
    alone = text[:text.index("After 3 s alone, does etcd's old leader still say it leads")]
    far = before("## A member far behind", "Which member gets a snapshot")
    assert "Recall lesson 10" in rejoin and "Recall lesson 10" in alone and "Recall lesson 12" in far
    for told in ("cured", "check-quorum alone does not", "step down"):
        assert told not in rejoin, told
    for told in ("always runs", "runs check-quorum all the time", "steps down by itself"):
        assert told not in alone, told
    for told in ("5,000", "5000", "SnapshotCatchUpEntries", "keeps"):
        assert told not in far, told
    told_after = {"etcd always runs check-quorum": "## A member far behind", "it keeps 5,000 before each snapshot":
                  "## What is different in real etcd"}
    for told, section_end in told_after.items():
        assert text.index(told) < text.index(section_end)  # still said, in the section of its run


def test_09_an_etcd_serializable_read_is_weaker_than_local_mode() -> None:
    """Fourth read (r24b): etcd's serializable reads are not this lesson's "local" mode: any member answers them
    (etcd server/etcdserver/v3_server.go, Range: LinearizableReadNotify only when not Serializable), while raftedu's
    local mode lets only a server that believes it leads answer; its followers redirect (checked here)."""
    claim("09_linearizable_reads.ipynb", "(Its `--consistency=s`, serializable, reads are like this lesson's `\"local\"` "
          "mode, and weaker still: *any* member that receives one, a follower too, answers from its own copy")
    _, first = follower_get(3, read_mode="local")
    assert any("not the leader" in m for m in first)  # raftedu's local read is a leader's, not any member's


def test_10_etcds_pre_vote_leaves_the_live_leader_test_to_check_quorum() -> None:
    """Fourth read (r24b): etcd-io/raft's PreVote alone grants an up-to-date asker; its "heard from a live leader" test
    is CheckQuorum's (raft.go Step: inLease := r.checkQuorum && ..., for MsgVote and MsgPreVote). raftedu's pre_vote
    follows the dissertation (§9.6): a follower hearing its leader refuses a pre-vote even without check-quorum."""
    from raftedu import Cluster

    claim("10_prevote_checkquorum.ipynb", "a PreVote on its own checks only the asker's term and log; the \"heard from a "
          "live leader\" test belongs to CheckQuorum")
    claim("10_prevote_checkquorum.ipynb", "So in etcd, pre-vote protects a working leader together with check-quorum — "
          "which the etcd server always runs.")
    c = Cluster(3, seed=3, pre_vote=True)  # no check-quorum: the refusal below is the pre-vote rule's own
    c.run_until(lambda c: c.leader() is not None, 2_000)
    c.run(100)
    x = next(i for i in c.ids if i != c.leader())
    c.timeout_now(x)  # its timer runs out while its leader is live: it asks for pre-votes
    c.run(50)
    answers = [e for e in c.trace if e.kind == "deliver" and type(e.msg).__name__ == "PreVoteReply" and e.msg.dst == x]
    assert answers and not any(e.msg.vote_granted for e in answers) and c.nodes[x].role != "candidate"


def test_key_11_gives_the_dissertations_reason_for_using_a_configuration_on_append() -> None:
    """Fourth read (r24b): key 11 Q1 said servers deciding by old and new for a while was the danger; the dissertation
    (§4.1) gives another reason: the leader knows when the next change may begin without tracking who learned of the
    commit or persisting commit indexes. A run shows the server using the entry before it commits."""
    from raftedu import Cluster

    key = " ".join((KEYS / "11_membership_answers.md").read_text().split())
    assert "So that the leader knows when the next change may begin (§4.1)" in key
    assert "the servers would have to persist their commit index — Raft needs neither" in key
    c = Cluster(3, seed=3)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader = c.leader()
    c.request("a")  # an entry of its term first (the 2015 fix)
    c.run(100)
    c.add_server()
    configs = [e for e in c.trace if e.kind == "config" and e.node == leader and 4 in e.value.learners]
    assert configs and c.nodes[leader].commit_index < c.nodes[leader].last_log_index  # in force, not yet committed


@pytest.mark.parametrize(("name", "rules"), [("10_prevote_checkquorum.ipynb", "extensions.PREVOTE_RULES"),
                                             ("11_membership.ipynb", "membership.MEMBERSHIP_RULES"),
                                             ("12_snapshots.ipynb", "snapshots.SNAPSHOT_RULES")])
def test_each_practice_line_counts_the_methods_its_exercise_asks_for(name: str, rules: str) -> None:
    """Fourth read (r24b): lesson 11 said "eight methods" after exercise 12 grew to ten."""
    import importlib

    from test_lesson_claims_a import prose

    module, constant = rules.split(".")
    count = len(getattr(importlib.import_module(f"raftedu.grading.{module}"), constant))
    words = {6: "six", 8: "eight", 10: "ten"}
    practice = prose(name).split("Practice:", 1)[1]
    assert f"as {words[count]} methods of the node" in practice, f"{name}'s Practice line does not say {words[count]}"


def test_11_the_removed_server_prediction_is_asked_before_the_missing_heartbeats_are_told() -> None:
    """Fourth read (r24b): "nor any heartbeat after it" right before "is the leader deposed?" gave the answer away."""
    from test_lesson_claims_a import prose

    text = prose("11_membership.ipynb")
    section = text.index("## Removed servers and the disruptive-server rule")
    asked = text.index("is the leader deposed in those 2 s", section)
    assert "heartbeat" not in text[section:asked]
    assert text.index("the leader sends a removed server no heartbeats") > asked
    claim("11_membership.ipynb", "a `ConfChangeV2` with a single change takes effect directly, without a joint "
          "configuration (in etcd, like every change, once its entry is applied")


def test_10_lessons_02_to_09_are_figure_2_but_for_the_stores_no_op_and_the_lease_rule() -> None:
    """Fourth read (r24b): lessons 08-09's key-value servers append the paper's §8 no-op on election."""
    from raftedu.kv import KVServer

    claim("10_prevote_checkquorum.ipynb", "(lessons 08–09's store adds the paper's §8 no-op on election, and lesson 09's "
          "lease mode the followers' rule; both say so)")
    assert KVServer.noop_on_election is True and RaftNode.noop_on_election is False


def test_09_the_old_leaders_read_is_not_called_dangerous_before_its_prediction() -> None:
    """Fourth read (r24b): "The dangerous read" and "A server that believes it is the leader may not be" came before
    "what will client 1 read?"; both now follow the run. The kv module says what the etcd server does."""
    import raftedu.kv
    from test_lesson_claims_a import prose

    text = prose("09_linearizable_reads.ipynb")
    asked = text.index("With `read_mode=\"local\"`, what will client 1 read?")
    assert "dangerous" not in text[:asked] and "may not be" not in text[:asked]
    assert text.index("a server that *believes* it is the leader may not be") > asked
    doc = " ".join((raftedu.kv.__doc__ or "").split())
    assert "the etcd server always confirms reads with ReadIndex" in doc and "ReadIndex by default" not in doc


PAPER_SECTIONS = {"1", "2", "3", "4", "5", "5.1", "5.2", "5.3", "5.4", "5.4.1", "5.4.2", "5.4.3", "5.5", "5.6", "6", "7", "8",
                  "9", "9.1", "9.2", "9.3", "10", "11"}
"""The sections of the Raft paper (extended version, 2014)."""


def bare_sections(text: str, unless: tuple[str, ...] = ("dissertation",)) -> list[str]:
    """Every § number in ``text`` whose last 16 characters before it name none of ``unless``."""
    text = " ".join(text.split())
    return [m.group(1).rstrip(".") for m in re.finditer(r"§\s?([0-9][0-9.]*)", text)
            if not any(word in text[max(0, m.start() - 16):m.start()] for word in unless)]


@pytest.mark.parametrize("name", ["07_partitions", "08_clients_sessions", "09_linearizable_reads", "12_snapshots",
                                  "13_real_etcd"])
def test_a_bare_section_number_is_the_papers(name: str) -> None:
    """Fourth read (r24a, r24b): lessons 00-09 and the keys' index say a bare § is the paper's; lessons 10-11 use bare §
    for the dissertation and now say so. Here, every bare § of lessons 07-09, 12, 13 and their keys exists in the paper
    (its §6 has no subsections, so a dissertation §6.2 or §6.4 written bare fails; lesson 13's §5.x are "paper §")."""
    from test_lesson_claims_a import prose

    for where, text in ((name, prose(name + ".ipynb")), (f"key {name[:2]}", (KEYS / f"{name}_answers.md").read_text())):
        wrong = [n for n in bare_sections(text) if n not in PAPER_SECTIONS]
        assert not wrong, f"{where} cites §{wrong} without saying \"dissertation\": the paper has no such section"
    if name == "13_real_etcd":  # the lesson after 10-12 (bare = dissertation there): every citation names its source
        assert bare_sections(prose(name + ".ipynb"), unless=("dissertation", "paper")) == []


@pytest.mark.parametrize("name", ["10_prevote_checkquorum.ipynb", "11_membership.ipynb"])
def test_lessons_10_and_11_say_their_bare_sections_are_the_dissertations(name: str) -> None:
    from test_lesson_claims_a import prose

    claim(name, "lesson a bare § is the dissertation's; the Raft paper's sections say \"paper §\"")
    text = prose(name)
    for m in re.finditer(r"§\s?5\.", text):  # the dissertation's chapter 5 is log compaction: these are the paper's
        assert "paper" in text[max(0, m.start() - 12):m.start()], text[max(0, m.start() - 60):m.end() + 5]

