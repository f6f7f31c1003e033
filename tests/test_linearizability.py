"""The linearizability checker: a corpus of hand-made histories, generated histories, constructed mutations, the recorder."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from raftedu.kvmodel import Op, Result
from raftedu.linearizability import (
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    UNKNOWN,
    History,
    Operation,
    check,
    simulate_history,
)

PUT, GET, DEL, CAS = Op.put, Op.get, Op.delete, Op.cas
TIMEOUT = None  # a row's response time: the client never got an answer


def ok(value=None, revision=None) -> Result:
    return Result(True, value, revision)


def failed(value=None, revision=None) -> Result:
    return Result(False, value, revision)


def history(*rows) -> History:
    """Rows (client, op, invoke, response, result); response TIMEOUT = unknown outcome."""
    h = History()
    for client, op, invoke, response, result in rows:
        h.add(client, op, invoke, response, result)
    return h


# ---------------------------------------------------------------------------------------------
# The self-test corpus: name -> (history rows, expected verdict). Op ids are the row numbers.

GOOD = {
    "sequential ok": [
        ("a", PUT("x", 1), 0, 1, ok(revision=1)), ("a", GET("x"), 2, 3, ok(1, 1)),
        ("b", PUT("x", 2), 4, 5, ok(revision=2)), ("b", GET("x"), 6, 7, ok(2, 2)),
        ("a", DEL("x"), 8, 9, ok(revision=3)), ("b", GET("x"), 10, 11, ok(None, 0)),
        ("a", DEL("x"), 12, 13, failed(None, 0)),
    ],
    "concurrent overlapping ok: reads before and after a slow put": [
        ("a", PUT("x", 1), 0, 10, ok()), ("b", GET("x"), 2, 3, ok(None)), ("c", GET("x"), 4, 5, ok(1)),
        ("b", GET("x"), 6, 7, ok(1)),
    ],
    "concurrent puts may land in either order (revisions agree)": [
        ("a", PUT("x", 1), 0, 10, ok(revision=2)), ("b", PUT("x", 2), 0, 10, ok(revision=1)),
        ("c", GET("x"), 11, 12, ok(1, 2)),
    ],
    "touching intervals count as concurrent": [
        ("a", PUT("x", 1), 0, 5, ok()), ("b", GET("x"), 5, 6, ok(None)),
    ],
    "timed-out write that took effect": [
        ("a", PUT("x", 1), 0, TIMEOUT, None), ("b", GET("x"), 5, 6, ok(1)),
    ],
    "timed-out write that never happened": [
        ("a", PUT("x", 1), 0, TIMEOUT, None), ("b", GET("x"), 5, 6, ok(None)), ("b", GET("x"), 7, 8, ok(None)),
    ],
    "timed-out write that took effect late": [
        ("a", PUT("x", 1), 0, TIMEOUT, None), ("b", GET("x"), 5, 6, ok(None)), ("b", GET("x"), 7, 8, ok(1, 9)),
    ],
    "two identical timed-out puts, one on each side of a delete": [
        ("a", PUT("x", 1), 0, TIMEOUT, None), ("c", GET("x"), 1, 2, ok(1)), ("c", DEL("x"), 3, 4, ok()),
        ("b", PUT("x", 1), 5, TIMEOUT, None), ("c", GET("x"), 6, 7, ok(1)),
    ],
    "timed-out read is ignored": [
        ("a", PUT("x", 1), 0, 1, ok()), ("b", GET("x"), 2, TIMEOUT, None), ("b", GET("x"), 3, 4, ok(1)),
    ],
    "cas success": [
        ("a", PUT("x", 0), 0, 1, ok(revision=1)), ("b", CAS("x", 0, 1), 2, 3, ok(revision=2)),
        ("a", GET("x"), 4, 5, ok(1, 2)),
    ],
    "cas failure reports the current value": [
        ("a", PUT("x", 0), 0, 1, ok()), ("b", PUT("x", 2), 2, 3, ok()), ("a", CAS("x", 0, 1), 4, 5, failed(2)),
        ("b", GET("x"), 6, 7, ok(2)),
    ],
    "concurrent cas: exactly one wins": [
        ("a", PUT("x", 0), 0, 1, ok()), ("b", CAS("x", 0, 1), 2, 6, ok()), ("c", CAS("x", 0, 2), 3, 5, failed(1)),
        ("a", GET("x"), 7, 8, ok(1)),
    ],
    "cas create-if-absent": [
        ("a", CAS("x", None, "v"), 0, 1, ok(revision=1)), ("b", CAS("x", None, "w"), 2, 3, failed("v", 1)),
    ],
    "keys are independent": [
        ("a", PUT("x", 1), 0, 1, ok(revision=1)), ("b", PUT("y", 1), 2, 3, ok(revision=2)),
        ("a", GET("y"), 4, 5, ok(1, 2)), ("b", GET("x"), 4, 5, ok(1, 1)),
    ],
}

BAD = {
    "stale read": [
        ("a", PUT("x", 1), 0, 1, ok()), ("a", PUT("x", 2), 2, 3, ok()), ("b", GET("x"), 4, 5, ok(1)),
    ],
    "lost write: an acknowledged put is not seen": [
        ("a", PUT("x", 1), 0, 1, ok()), ("b", GET("x"), 2, 3, ok(None)),
    ],
    "read of a value never written": [
        ("a", PUT("x", 1), 0, 1, ok()), ("b", GET("x"), 2, 3, ok("ghost")),
    ],
    "duplicate apply: a retried put applied again after a later put": [
        ("a", PUT("x", 1), 0, 4, ok()), ("b", PUT("x", 2), 5, 6, ok()), ("c", GET("x"), 8, 9, ok(1)),
    ],
    "duplicate apply: a retried cas sees its own first application": [
        ("a", PUT("n", 0), 0, 1, ok()), ("b", CAS("n", 0, 1), 2, 10, failed(1)), ("a", GET("n"), 11, 12, ok(1)),
    ],
    "a timed-out write cannot un-happen": [
        ("a", PUT("x", 1), 0, TIMEOUT, None), ("b", GET("x"), 5, 6, ok(1)), ("b", GET("x"), 7, 8, ok(None)),
    ],
    "reads go back in time (new then old)": [
        ("a", PUT("x", 1), 0, 10, ok()), ("b", GET("x"), 1, 2, ok(1)), ("c", GET("x"), 3, 4, ok(None)),
    ],
    "cas fails although the value was the expected one": [
        ("a", PUT("x", 0), 0, 1, ok()), ("b", CAS("x", 0, 1), 2, 3, failed(0)),
    ],
    "cas succeeds but a later read sees the old value": [
        ("a", PUT("x", 0), 0, 1, ok()), ("b", CAS("x", 0, 1), 2, 3, ok()), ("a", GET("x"), 4, 5, ok(0)),
    ],
    "two concurrent cas from the same value both succeed": [
        ("a", PUT("x", 0), 0, 1, ok()), ("b", CAS("x", 0, 1), 2, 5, ok()), ("c", CAS("x", 0, 2), 2, 5, ok()),
    ],
    "revision of one key goes backwards": [
        ("a", PUT("x", 1), 0, 1, ok(revision=5)), ("b", PUT("x", 2), 2, 3, ok(revision=4)),
    ],
    "read reports a revision the key never had": [
        ("a", PUT("x", 1), 0, 1, ok(revision=1)), ("b", GET("x"), 2, 3, ok(1, 2)),
    ],
    "revisions across keys against real-time order": [
        ("a", PUT("x", 1), 0, 1, ok(revision=2)), ("b", PUT("y", 1), 2, 3, ok(revision=1)),
    ],
    "two writes on different keys share a revision": [
        ("a", PUT("x", 1), 0, 5, ok(revision=1)), ("b", PUT("y", 1), 0, 5, ok(revision=1)),
    ],
}


@pytest.mark.parametrize("name", GOOD)
def test_corpus_good_histories_are_linearizable(name):
    result = check(history(*GOOD[name]))
    assert result.verdict == LINEARIZABLE, str(result)
    assert result.explanation is None and result.linearizable is True


@pytest.mark.parametrize("name", BAD)
def test_corpus_bad_histories_are_not_linearizable(name):
    result = check(history(*BAD[name]))
    assert result.verdict == NOT_LINEARIZABLE
    assert result.linearizable is False
    assert result.explanation is not None and result.explanation.ops


def test_corpus_is_classified_100_percent_correctly():
    verdicts = [check(history(*rows)).verdict == LINEARIZABLE for rows in GOOD.values()]
    verdicts += [check(history(*rows)).verdict == NOT_LINEARIZABLE for rows in BAD.values()]
    assert len(verdicts) == len(GOOD) + len(BAD) >= 27
    assert all(verdicts)


# ---------------------------------------------------------------------------------------------
# Explanations: what a timeline should highlight.

def test_a_stale_read_is_explained_by_the_order_found_and_the_read_that_cannot_follow():
    e = check(history(*BAD["stale read"])).explanation
    assert e.key == "x"
    assert e.linearized == (0, 1)
    assert e.stuck == (2,) and e.deadline == 2
    assert e.ops == (0, 1, 2)
    assert e.cause == 1 and e.focus == (1, 2), "the write the read missed, and the read"
    assert "'x' = 2" in e.state
    assert "op 2 [client b] get('x') -> 1, but at this point it would give 2" in str(e)


def test_the_explanation_lists_every_operation_that_could_come_next():
    e = check(history(*BAD["two concurrent cas from the same value both succeed"])).explanation
    assert e.linearized == (0, 1)
    assert e.stuck == (2,)
    assert e.reasons[0].endswith("cas('x', 0 -> 2) -> ok, but at this point it would give failed: value 1")


def test_a_revision_conflict_across_keys_names_both_writes():
    e = check(history(*BAD["revisions across keys against real-time order"])).explanation
    assert e.key is None and e.stuck == (0, 1) and e.linearized == ()
    assert "yet has the higher revision" in str(e)


def test_the_failing_key_is_reported_while_other_keys_stay_linearizable():
    h = history(("a", PUT("y", 1), 0, 1, ok()), *BAD["lost write: an acknowledged put is not seen"])
    result = check(h)
    assert result.keys == {"y": LINEARIZABLE, "x": NOT_LINEARIZABLE}
    assert result.explanation.key == "x" and result.explanation.ops == (1, 2)
    assert result.order == {"y": (0,)}


def test_the_order_found_is_a_legal_sequential_execution():
    result = check(history(*GOOD["concurrent overlapping ok: reads before and after a slow put"]))
    assert result.order == {"x": (1, 0, 2, 3)}


# ---------------------------------------------------------------------------------------------
# Generated histories of a correct store, and constructed mutations of them.

GENERATED = [dict(seed=s, ops=200, keys=k, clients=c, timeout_rate=t, latency=lat)
             for s, (k, c, t, lat) in enumerate([(10, 5, 0.0, (1, 20)), (3, 5, 0.1, (1, 20)), (1, 8, 0.0, (1, 60)),
                                                  (2, 6, 0.2, (5, 40)), (1, 3, 0.3, (1, 10)), (5, 10, 0.05, (1, 100))] * 3)]


@pytest.mark.parametrize("params", GENERATED, ids=lambda p: f"seed{p['seed']}")
def test_histories_of_a_correct_store_are_linearizable(params):
    h = simulate_history(**params)
    result = check(h)
    assert result.verdict == LINEARIZABLE, str(result)
    assert sum(len(order) for order in result.order.values()) == sum(
        1 for o in h if o.result is not None or o.op.is_write)


def mutate(h: History, op_id: int, result: Result) -> History:
    return History(replace(o, result=result) if o.id == op_id else o for o in h)


def first(h: History, predicate) -> Operation:
    return next(o for o in h if o.result is not None and predicate(o))


MUTATION_SEEDS = range(8)


@pytest.mark.parametrize("seed", MUTATION_SEEDS)
def test_a_read_of_a_value_never_written_is_caught(seed):
    h = simulate_history(seed, ops=150, keys=3, clients=5, timeout_rate=0.1)
    g = first(h, lambda o: o.op.kind == "get")
    result = check(mutate(h, g.id, ok("never written", g.result.revision)))
    assert result.verdict == NOT_LINEARIZABLE
    assert result.explanation.key == g.key and g.id in result.explanation.ops


def test_in_a_long_history_the_focus_stays_small():
    h = simulate_history(3, ops=2_000, keys=2, clients=5)
    g = max((o for o in h if o.op.kind == "get" and o.result is not None), key=lambda o: o.id)
    e = check(mutate(h, g.id, ok("never written"))).explanation
    assert len(e.linearized) > 500
    assert g.id in e.stuck and len(e.focus) <= 6
    assert e.cause is None or (h[e.cause].op.is_write and h[e.cause].key == g.key)


@pytest.mark.parametrize("seed", MUTATION_SEEDS)
def test_a_cas_that_claims_failure_while_holding_the_expected_value_is_caught(seed):
    h = simulate_history(seed, ops=150, keys=2, clients=5, timeout_rate=0.1)
    c = first(h, lambda o: o.op.kind == "cas" and o.result.ok)
    result = check(mutate(h, c.id, failed(c.op.expected)))
    assert result.verdict == NOT_LINEARIZABLE and result.explanation.key == c.key


@pytest.mark.parametrize("seed", MUTATION_SEEDS)
def test_a_write_reusing_the_revision_of_an_earlier_write_to_its_key_is_caught(seed):
    h = simulate_history(seed, ops=150, keys=3, clients=5)
    writes = [o for o in h if o.result is not None and o.op.is_write and o.result.ok]
    w1, w2 = next((a, b) for a in writes for b in writes if a.key == b.key and a.response < b.invoke)
    result = check(mutate(h, w2.id, replace(w2.result, revision=w1.result.revision)))
    assert result.verdict == NOT_LINEARIZABLE and result.explanation.key == w2.key


@pytest.mark.parametrize("seed", MUTATION_SEEDS)
def test_a_read_reporting_a_revision_no_write_created_is_caught(seed):
    h = simulate_history(seed, ops=150, keys=3, clients=5)
    g = first(h, lambda o: o.op.kind == "get")
    result = check(mutate(h, g.id, replace(g.result, revision=10**9)))
    assert result.verdict == NOT_LINEARIZABLE and g.id in result.explanation.ops


def test_generated_histories_are_deterministic_and_contain_what_was_asked():
    a, b = simulate_history(3, ops=300, timeout_rate=0.2), simulate_history(3, ops=300, timeout_rate=0.2)
    assert a.operations == b.operations
    assert len(a) == 300
    assert {o.status for o in a} == {"ok", "timeout"}
    assert len({o.client for o in a}) == 5 and len({o.key for o in a}) == 10
    assert check(a) == check(b)


# ---------------------------------------------------------------------------------------------
# The step bound, and histories that are still running.

def test_the_step_bound_gives_unknown_instead_of_searching_on():
    h = simulate_history(0, ops=100, keys=1, clients=8, latency=(1, 80))
    assert check(h).verdict == LINEARIZABLE
    bounded = check(h, max_steps=20)
    assert bounded.verdict == UNKNOWN and bounded.linearizable is None
    assert bounded.keys == {"k0": UNKNOWN}


def test_a_violation_on_one_key_outweighs_an_unknown_on_another():
    h = history(*[("c%d" % i, PUT("big", i), 0, 100, ok()) for i in range(6)],
                ("z", PUT("x", 1), 0, 1, ok()), ("z", GET("x"), 2, 3, ok(None)))
    result = check(h, max_steps=5)
    assert result.keys == {"big": UNKNOWN, "x": NOT_LINEARIZABLE}
    assert result.verdict == NOT_LINEARIZABLE


def test_many_identical_timed_out_retries_do_not_blow_up_the_search():
    """30 clients give up on the same put: tried in invocation order only, not in all 2**30 subsets."""
    rows = [(f"c{i}", PUT("x", 1), i, TIMEOUT, None) for i in range(30)]
    rows += [("r", GET("x"), 100 + 2 * i, 101 + 2 * i, ok(None if i < 5 else 1)) for i in range(10)]
    result = check(history(*rows), max_steps=5_000)
    assert result.verdict == LINEARIZABLE
    assert result.steps < 5_000


def test_a_pending_operation_is_treated_like_a_timed_out_one():
    h = History()
    h.invoke("a", PUT("x", 1), 0)
    h.add("b", GET("x"), 5, 6, ok(1))
    assert h[0].status == "pending"
    assert h.check().verdict == LINEARIZABLE


# ---------------------------------------------------------------------------------------------
# The recorder.

def test_recording_invoke_respond_timeout_and_the_frame():
    h = History()
    i = h.invoke(1, PUT("x", 1, client=1, seq=1), 10)
    j = h.invoke(2, GET("x"), 12)
    k = h.invoke(3, PUT("y", 2), 13)
    h.respond(i, ok(revision=1), 25)
    h.timeout(j, 40)
    assert (i, j, k) == (0, 1, 2)
    assert [o.status for o in h] == ["ok", "timeout", "pending"]
    df = h.to_frame()
    assert list(df["status"]) == ["ok", "timeout", "pending"]
    assert list(df.columns[:8]) == ["id", "client", "kind", "key", "value", "expected", "invoke", "response"]
    assert df.loc[0, "revision"] == 1 and df.loc[1, "gave_up"] == 40 and math.isnan(df.loc[2, "response"])
    assert str(h[0]) == "op 0 [client 1] put('x', 1) -> ok @1"
    assert str(h[1]) == "op 1 [client 2] get('x') -> timeout"


@pytest.mark.parametrize("action, message", [
    (lambda h: h.respond(7, ok(), 5), "respond: no operation with id 7"),
    (lambda h: h.respond(0, ok(), 1), "its response time 1 cannot be earlier"),
    (lambda h: h.respond(0, "ok", 5), "result must be a Result"),
    (lambda h: (h.respond(0, ok(), 5), h.respond(0, ok(), 6)), "already has an outcome"),
    (lambda h: (h.timeout(0), h.respond(0, ok(), 6)), "already has an outcome"),
    (lambda h: h.invoke("a", ("put", "x"), 0), "History.invoke takes an Op"),
    (lambda h: h.invoke(None, GET("x"), 0), "needs a client id"),
    (lambda h: h.invoke("b", PUT("x", 1, client="a", seq=1), 0), "carries client 'a' but was invoked by client 'b'"),
    (lambda h: h.invoke("a", GET("x"), float("nan")), "invocation time must be a finite number"),
    (lambda h: h.add("a", GET("x"), 0, 1, None), "needs its Result"),
    (lambda h: h.add("a", GET("x"), 0, None, ok()), "cannot have a result"),
    (lambda h: check(h, max_steps=0), "max_steps must be a whole number >= 1"),
    (lambda h: check([h[0], h[0]]), "appears twice"),
    (lambda h: check(["op"]), "check takes a History or Operation objects"),
    (lambda h: History([replace(h[0], id=3)]), "ids 0, 1, 2, ... in order"),
    (lambda h: simulate_history(0, ops=0), "ops must be a whole number >= 1"),
    (lambda h: simulate_history(0, timeout_rate=2), "timeout_rate must be a probability"),
    (lambda h: simulate_history(0, latency=(5, 1)), "latency must be two whole milliseconds"),
])
def test_bad_input_to_the_recorder_and_checker_says_what_is_allowed(action, message):
    h = History()
    h.invoke("a", PUT("x", 1), 3)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        action(h)


# ---------------------------------------------------------------------------------------------
# Ground truth: small random histories (right or wrong) against brute force over every order.

def brute_force_linearizable(h: History, revisions: bool = False) -> bool:
    """Try every subset of the unanswered ops and every order of the rest on one whole KVStore.

    With ``revisions``, observed revisions must also equal the store's (one global, dense counter).
    """
    import itertools

    from raftedu.kvmodel import KVStore

    answered = [o for o in h if o.result is not None]
    unanswered = [o for o in h if o.result is None]
    for k in range(len(unanswered) + 1):
        for extra in itertools.combinations(unanswered, k):
            for order in itertools.permutations(answered + list(extra)):
                if any(b.response is not None and b.response < a.invoke
                       for x, a in enumerate(order) for b in order[x + 1:]):
                    continue  # b finished before a began, yet comes after it
                store = KVStore()
                results = [(store.apply(o.op), o.result) for o in order]
                if all(seen is None or (r.ok, r.value) == (seen.ok, seen.value)
                       and (not revisions or seen.revision is None or r.revision == seen.revision)
                       for r, seen in results):
                    return True
    return False


def random_small_history(rng, keys=("x", "y"), unanswered=0.25) -> History:
    h = History()
    values = [None, 1, 2]
    for _ in range(rng.randint(1, 6)):
        kind, key = rng.choice(["get", "put", "delete", "cas"]), rng.choice(keys)
        op = Op(kind, key, rng.choice([1, 2]) if kind in ("put", "cas") else None,
                rng.choice(values) if kind == "cas" else None)
        start = rng.randint(0, 10)
        if rng.random() < unanswered:
            h.add(rng.randint(1, 3), op, start, TIMEOUT, None)
            continue
        ok_flag = True if kind in ("get", "put") else rng.random() < 0.5
        shown = rng.choice(values) if kind == "get" or (kind == "cas" and not ok_flag) else None
        h.add(rng.randint(1, 3), op, start, start + rng.randint(0, 5), Result(ok_flag, shown))
    return h


@pytest.mark.parametrize("keys, unanswered", [(("x", "y"), 0.25), (("x",), 0.5)])
def test_the_checker_agrees_with_brute_force_on_600_small_random_histories(keys, unanswered):
    import random

    rng = random.Random(6)
    verdicts = {True: 0, False: 0}
    for _ in range(600):
        h = random_small_history(rng, keys, unanswered)
        expected = brute_force_linearizable(h)
        assert (check(h).verdict == LINEARIZABLE) == expected, "\n".join(map(str, h))
        verdicts[expected] += 1
    assert min(verdicts.values()) >= 100, verdicts  # both kinds well represented


def test_every_public_name_has_a_docstring():
    import inspect

    from raftedu import kvmodel, linearizability

    missing = []
    for module in (kvmodel, linearizability):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                members = [obj]
                if inspect.isclass(obj):
                    members += [m if isinstance(m, property) else getattr(obj, n) for n, m in vars(obj).items()
                                if not n.startswith("_") and (isinstance(m, property) or callable(getattr(obj, n)))]
                missing += [f"{module.__name__}.{name}.{getattr(m, '__name__', m)}" for m in members
                            if not inspect.getdoc(m)]
    assert missing == []


def test_an_empty_history_is_linearizable():
    result = check(History())
    assert result.verdict == LINEARIZABLE and result.keys == {} and result.steps == 0


def test_with_revisions_the_checker_never_rejects_what_a_whole_store_replay_accepts():
    """Per-key revision checks are weaker than one global counter, never stronger: no false alarms."""
    import random

    rng = random.Random(11)
    agree = rejected = 0
    for seed in range(300):
        h = simulate_history(seed, ops=6, keys=2, clients=3, timeout_rate=0.2, values=2)
        answered = [o for o in h if o.result is not None and o.result.revision is not None]
        o = rng.choice(answered)
        h = mutate(h, o.id, replace(o.result, revision=max(0, o.result.revision + rng.choice([-2, -1, 1, 2]))))
        replay = brute_force_linearizable(h, revisions=True)
        verdict = check(h).verdict == LINEARIZABLE
        assert verdict or not replay, "\n".join(f"{o} {o.invoke}-{o.response}" for o in h)
        agree += verdict == replay
        rejected += not replay
    assert rejected >= 150  # most of these mutations are real violations ...
    assert agree >= 270  # ... and the checker catches nearly all of them (measured: 281 of 300 agree)
