"""raftedu: watch a real Raft cluster, break it, and learn why etcd wants an odd number of members.

The layers, each importing only the ones below it:

* :mod:`raftedu.raft` -- the sans-I/O Raft node (the paper's Figure 2);
* :mod:`raftedu.trace` -- the record of a run and its replay;
* :mod:`raftedu.checks` -- always-on safety checks over the trace;
* :mod:`raftedu.sim` -- the deterministic simulator (:class:`Cluster`).

Above them: :mod:`raftedu.sweep` (randomized safety sweep),
:mod:`raftedu.experiments` (the even/odd lab), :mod:`raftedu.kv` (an
etcd-like key-value service), :mod:`raftedu.etcd` (a real etcd cluster),
:mod:`raftedu.grading` (exercises; :func:`check` is re-exported here),
:mod:`raftedu.viz` (plotly pictures) and :mod:`raftedu.widgets` (the
interactive explorer).
"""

from .checks import EXTENSION_PROPERTIES, PROPERTIES, NodeFailure, SafetyMonitor, SafetyViolation, check_trace
from .raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    Entry,
    Event,
    Message,
    PersistentState,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    Server,
    Timing,
    majority,
)
from .sim import ACTIONS, MAX_NODES, ClientRequest, Cluster, Network
from .trace import ClusterView, Trace

from ._version import __version__ as __version__  # re-exported: raftedu.__version__


def __getattr__(name: str) -> object:
    """``raftedu.check`` (the exercises' one-line student check), imported on first use.

    Importing the grading layer lazily keeps ``import raftedu`` light and lets
    ``python -m raftedu.sweep`` run without a RuntimeWarning (the grading layer
    imports the sweep module).
    """
    if name == "check":
        from .grading import check

        return check
    raise AttributeError(f"module 'raftedu' has no attribute {name!r}")

__all__ = [
    "ACTIONS",
    "AppendEntries",
    "AppendEntriesReply",
    "CANDIDATE",
    "ClientRequest",
    "Cluster",
    "ClusterView",
    "Entry",
    "Event",
    "EXTENSION_PROPERTIES",
    "FOLLOWER",
    "LEADER",
    "MAX_NODES",
    "Message",
    "Network",
    "PROPERTIES",
    "PersistentState",
    "RaftNode",
    "RequestVote",
    "RequestVoteReply",
    "SafetyMonitor",
    "SafetyViolation",
    "Server",
    "NodeFailure",
    "Timing",
    "Trace",
    "check",
    "check_trace",
    "majority",
]
