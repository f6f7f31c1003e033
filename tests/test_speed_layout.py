"""The objects every event passes through stay small enough for Python to specialize attribute access (issue 25).

CPython keeps up to 30 instance attributes in one key table shared by all instances of a class, and specializes
``self.x`` and ``self.method()`` on it. An instance with more gets a dictionary of its own, and a line of code that
meets several nodes in turn falls back to the generic look-up every time: with 39 attributes on a node, a run
executed about 7 % more machine instructions (docs/benchmarks.md, issue 25). Extension state that starts at a
constant is therefore a class-level default on RaftNode; this test says so when an added attribute breaks the limit.
"""

from __future__ import annotations

from raftedu import Cluster

SHARED_KEYS_MAX = 30  # CPython's SHARED_KEYS_MAX_SIZE (Objects/dictobject.c), 3.11 to 3.13


def test_figure_2_nodes_and_the_monitor_keep_at_most_30_attributes() -> None:
    c = Cluster(5, seed=1)
    assert c.run_until(lambda c: c.leader() is not None, 2_000)
    c.request("x")
    c.run(300)
    leader = c.leader()
    follower = next(i for i in c.ids if i != leader)
    for name, obj in (("leader", c.nodes[leader]), ("follower", c.nodes[follower]), ("SafetyMonitor", c.monitor)):
        attributes = sorted(vars(obj))
        assert len(attributes) <= SHARED_KEYS_MAX, (
            f"a {name} holds {len(attributes)} attributes of its own (> {SHARED_KEYS_MAX}): attribute access on the "
            f"hot path is no longer specialized; keep constant defaults on the class. Attributes: {attributes}")
