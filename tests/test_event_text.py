"""Event sentences written with the event's own fields (raftedu.raft.FieldText): same text, same trace."""

from __future__ import annotations

import pickle

from raftedu import Cluster
from raftedu.raft import Entry, Event, FieldText


def test_field_text_reads_like_the_formatted_sentence() -> None:
    entry = Entry(2, "x")
    lazy = Event(7, "apply", 3, 2, None, 5, entry, None, None, None, "rule",
                 FieldText("S{e.node} applied {e.entry.command!r} (index {e.index})"))
    eager = Event(7, "apply", 3, 2, None, 5, entry, None, None, None, "rule", "S3 applied 'x' (index 5)")
    templated = Event(7, "apply", 3, 2, None, 5, entry, None, None, None, "rule",
                      ("S{} applied {!r} (index {})", (3, "x", 5)))
    assert lazy.text == "S3 applied 'x' (index 5)"
    assert lazy == eager == templated and repr(lazy) == repr(eager) == repr(templated)
    assert hash(lazy) == hash(eager)
    assert pickle.loads(pickle.dumps(lazy)) == eager


def test_reference_sentences_name_node_entry_and_index() -> None:
    c = Cluster(3, seed=4)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader = c.leader()
    c.request("v1")
    c.run(200)
    said = {e.kind: e.text for e in c.trace if e.kind in ("append", "commit", "apply") and e.node == leader}
    assert said == {"append": f"leader S{leader} appended 'v1' at index 1",
                    "commit": f"S{leader} now knows entries up to index 1 are committed",
                    "apply": f"S{leader} applied 'v1' (index 1)"}
