"""The trace's compact storage: one flat list of field values, events rebuilt on demand, equal to what was recorded."""

from __future__ import annotations

import pytest

from raftedu import Cluster, Trace
from raftedu.checks import check_trace
from raftedu.raft import EVENT_FIELDS, Entry, Event, new_event


@pytest.fixture(scope="module")
def run() -> tuple[Cluster, list[Event]]:
    """A 3-node run with client requests and a crash; also every event after start-up as the simulator made it
    (caught where it hands each event to the safety monitor, before the trace stores it)."""
    c = Cluster(3, seed=5)
    booted = len(c.trace)
    seen: list[Event] = []

    class Catch(dict):  # type: ignore[type-arg]
        def get(self, kind: str, default: object = None) -> object:
            check = super().get(kind)
            return lambda e: (seen.append(e), check and check(e))

        def __getitem__(self, kind: str) -> object:
            return self.get(kind)

    c._checks = Catch(c.monitor.checks)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    for k in range(5):
        c.request(f"v{k}")
        c.run(20)
    c.crash(c.leader())
    c.run(600)
    assert len(seen) == len(c.trace) - booted and any(e.kind == "crash" for e in seen)
    return c, seen


def test_events_are_stored_as_fields_not_objects(run: tuple[Cluster, list[Event]]) -> None:
    c, _ = run
    cells = c.trace.cells
    assert len(cells) == len(EVENT_FIELDS) * len(c.trace) > 0
    assert not any(type(x) is Event for x in cells)  # no Python object per event for the garbage collector
    assert [cells[k + 1] for k in range(0, len(cells), len(EVENT_FIELDS))] == [e.kind for e in c.trace]


def test_every_reader_sees_the_recorded_events(run: tuple[Cluster, list[Event]]) -> None:
    c, seen = run
    events = list(c.trace)
    assert events[-len(seen):] == seen and all(type(e) is Event for e in events)
    assert [repr(e) for e in events[-len(seen):]] == [repr(e) for e in seen]
    view = c.trace.events
    assert len(view) == len(c.trace) and view[0].kind == "start" and view[-1] == events[-1] == c.trace[-1]
    assert view[3:9] == events[3:9] and view[-5:] == events[-5:] and view[::7] == events[::7]
    assert list(reversed(view)) == events[::-1] and view == events
    assert Trace(events).digest() == c.trace.digest() and check_trace(c.trace) == len(events)
    assert c.trace.of_kind("crash", "role") == [e for e in events if e.kind in ("crash", "role")]
    assert c.trace.since(10, ["apply"]) == [e for e in events[10:] if e.kind == "apply"]
    half = events[len(events) // 2].time
    assert list(c.trace.until(half)) == [e for e in events if e.time <= half]


def test_event_view_refuses_what_is_not_an_index(run: tuple[Cluster, list[Event]]) -> None:
    view = run[0].trace.events
    with pytest.raises(IndexError, match="not in a trace of"):
        view[len(view)]
    with pytest.raises(TypeError, match="whole numbers or slices"):
        view["1"]  # type: ignore[index]


def test_new_event_is_event_with_all_fields() -> None:
    fields = (3, "apply", 1, 2, None, 4, Entry(2, "x"), None, None, None, "rule", "S1 applied 'x' (index 4)")
    assert new_event(fields) == Event(*fields) and type(new_event(fields)) is Event
    assert new_event(fields).index == 4 and new_event(fields).text == fields[-1]
    assert new_event(fields) != Event(*fields[:-1], "another sentence")


def test_a_trace_takes_only_events() -> None:
    trace = Trace()
    for wrong in [("start", 0), (0, "start", *[None] * 10), "event"]:
        with pytest.raises(TypeError, match="a Trace holds raftedu Events"):
            trace.append(wrong)  # type: ignore[arg-type]
    assert len(trace) == 0 and trace.cells == []
