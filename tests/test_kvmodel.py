"""The key-value state machine: semantics of put/get/delete/cas, revisions, de-duplication, bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from raftedu.kvmodel import KINDS, KeyEntry, KVStore, Op, Result, apply_to_key


def apply_all(store: KVStore, *ops: Op) -> list[Result]:
    return [store.apply(op) for op in ops]


def test_put_then_get_returns_the_value_and_its_mod_revision():
    s = KVStore()
    assert s.apply(Op.put("x", "a")) == Result(True, None, 1)
    assert s.apply(Op.get("x")) == Result(True, "a", 1)
    assert s.revision == 1


def test_get_of_an_absent_key_is_none_at_revision_zero_and_does_not_advance_the_store():
    s = KVStore()
    assert s.apply(Op.get("nope")) == Result(True, None, 0)
    assert s.revision == 0


def test_revision_is_global_and_each_key_remembers_its_last_change():
    s = KVStore()
    apply_all(s, Op.put("x", 1), Op.put("y", 1), Op.put("x", 2))
    assert s.revision == 3
    assert s.apply(Op.get("x")).revision == 3
    assert s.apply(Op.get("y")).revision == 2


def test_put_of_the_same_value_is_still_a_new_revision_as_in_etcd():
    s = KVStore()
    apply_all(s, Op.put("x", 1))
    assert s.apply(Op.put("x", 1)).revision == 2


def test_delete_of_an_existing_key_takes_a_revision_and_a_missing_one_does_not():
    s = KVStore()
    apply_all(s, Op.put("x", 1))
    assert s.apply(Op.delete("x")) == Result(True, None, 2)
    assert s.apply(Op.delete("x")) == Result(False, None, 0)
    assert s.revision == 2
    assert s.apply(Op.get("x")) == Result(True, None, 0)
    assert s.entry("x") == KeyEntry(None, 2), "a deleted key keeps the revision of its delete"


def test_cas_succeeds_only_when_the_current_value_equals_expected():
    s = KVStore()
    apply_all(s, Op.put("x", 1))
    assert s.apply(Op.cas("x", 1, 2)) == Result(True, None, 2)
    assert s.apply(Op.cas("x", 1, 3)) == Result(False, 2, 2), "failure reports the current value and mod revision"
    assert s.get("x") == 2 and s.revision == 2


def test_cas_with_expected_none_creates_only_if_absent():
    s = KVStore()
    assert s.apply(Op.cas("x", None, "v")) == Result(True, None, 1)
    assert s.apply(Op.cas("x", None, "w")) == Result(False, "v", 1)
    apply_all(s, Op.delete("x"))
    assert s.apply(Op.cas("x", None, "w")) == Result(True, None, 3)


def test_a_retried_write_is_applied_once_and_gets_the_remembered_result():
    s = KVStore()
    first = s.apply(Op.cas("n", None, 1, client="c1", seq=1))
    again = s.apply(Op.cas("n", None, 1, client="c1", seq=1))
    assert first == again == Result(True, None, 1)
    assert again.duplicate and not first.duplicate
    assert s.revision == 1


def test_without_the_session_a_retried_write_would_apply_twice():
    """A retried put re-applied after another client's cas undoes that cas; the session prevents it."""
    retried = Op.put("n", 1, client="c1", seq=2)
    ops = [Op.put("n", 0, client="c1", seq=1), retried, Op.cas("n", 1, 2, client="c2", seq=1), retried]
    deduped, naive = KVStore(), KVStore()
    apply_all(deduped, *ops)
    apply_all(naive, *(replace(op, client=None, seq=None) for op in ops))
    assert deduped.get("n") == 2 and deduped.revision == 3
    assert naive.get("n") == 1 and naive.revision == 4


def test_a_stale_duplicate_older_than_the_latest_request_is_not_applied():
    s = KVStore()
    apply_all(s, Op.put("x", 1, client="c", seq=1), Op.put("x", 2, client="c", seq=2))
    late = s.apply(Op.put("x", 1, client="c", seq=1))
    assert late.duplicate and not late.ok
    assert s.get("x") == 2 and s.revision == 2
    assert s.last_applied("c") == 2


def test_sessions_are_per_client():
    s = KVStore()
    apply_all(s, Op.put("x", 1, client="a", seq=1))
    assert not s.apply(Op.put("x", 2, client="b", seq=1)).duplicate
    assert s.get("x") == 2


def test_equal_histories_give_equal_state_keys_and_copies_are_independent():
    ops = [Op.put("x", 1, client="a", seq=1), Op.put("y", 2), Op.delete("x"), Op.cas("y", 2, 3)]
    s1, s2 = KVStore(), KVStore()
    apply_all(s1, *ops)
    apply_all(s2, *ops)
    assert s1 == s2 and s1.state_key() == s2.state_key()
    hash(s1.state_key())
    c = s1.copy()
    c.apply(Op.put("z", 9))
    assert c != s1 and s1.get("z") is None and c.get("z") == 9
    assert s1.snapshot() == {"y": 3}


def test_apply_to_key_is_the_per_key_rule_the_store_uses():
    t = apply_to_key(KeyEntry("a", 4), Op.cas("k", "a", "b"), 7)
    assert t == (KeyEntry("b", 7), Result(True, None, 7), True)
    t = apply_to_key(KeyEntry("a", 4), Op.get("k"), 7)
    assert t == (KeyEntry("a", 4), Result(True, "a", 4), False)


def test_ops_are_hashable_so_they_can_be_raft_log_commands():
    assert len({Op.put("x", 1), Op.put("x", 1), Op.get("x")}) == 2
    assert str(Op.cas("x", 1, 2)) == "cas('x', 1 -> 2)"


@pytest.mark.parametrize("make, message", [
    (lambda: Op("incr", "x"), "unknown op kind 'incr'; allowed kinds: put, get, delete, cas"),
    (lambda: Op("get", None), "needs a key"),
    (lambda: Op.put("x", None), "needs a value other than None"),
    (lambda: Op.cas("x", 1, None), "needs a value other than None"),
    (lambda: Op.put("x", [1, 2]), "the value must be hashable"),
    (lambda: Op.get(["x"]), "the key must be hashable"),
    (lambda: Op("get", "x", value=1), "a get takes no value"),
    (lambda: Op("put", "x", value=1, expected=0), "only cas takes an expected value"),
    (lambda: Op.put("x", 1, client="c"), "give both client and seq"),
    (lambda: Op.put("x", 1, client="c", seq=-1), "seq must be a whole number"),
    (lambda: Op.put("x", 1, client="c", seq=True), "seq must be a whole number"),
    (lambda: Result(ok=1), "Result.ok must be True or False"),
    (lambda: Result(revision=-2), "Result.revision must be a whole number"),
    (lambda: KVStore().apply(("put", "x", 1)), "KVStore.apply takes an Op"),
])
def test_bad_input_says_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_every_kind_has_a_constructor():
    assert {Op.put("k", 1).kind, Op.get("k").kind, Op.delete("k").kind, Op.cas("k", 1, 2).kind} == set(KINDS)


@pytest.mark.parametrize("op, result, words", [
    (Op.get("x"), Result(True, 1, 3), "1 @3"),
    (Op.get("x"), Result(True, None, 0), "absent @0"),
    (Op.put("x", 1), Result(True, None, 4), "ok @4"),
    (Op.delete("x"), Result(False, None, 0), "failed: absent @0"),
    (Op.cas("x", 1, 2), Result(False, 2, None), "failed: value 2"),
    (Op.cas("x", 1, 2), Result(False, None, 0), "failed: absent @0"),
])
def test_a_result_is_described_in_words_for_its_op(op, result, words):
    assert result.describe(op) == words
