"""Pictures of Raft (plotly only): every figure is a function of a trace or a snapshot, never of the simulator.

* :func:`cluster_figure` -- servers on a ring (colour = role), timers, messages in flight, logs;
* :func:`animate` -- the same picture over a time window, with play/pause, speeds and a scrubbing slider;
* :func:`timeline` -- a space-time diagram: one lane per server, an arrow per message;
* :func:`log_grid` / :func:`log_frame` -- every log as index × server, as a figure or a pandas table;
* :func:`explain_figure` / :func:`explain_figures` -- a counterexample (:mod:`raftedu.explore`) drawn.
"""

from .cluster import MAX_FRAMES, ClusterPicture, animate, cluster_figure, status_line
from .explain import explain_figure, explain_figures
from .logs import log_frame, log_grid
from .scene import SceneView, scene_at
from .style import MESSAGE_STYLES, ROLE_COLORS, follow_page_theme, term_color
from .timeline import timeline

follow_page_theme()  # one course template, and figures that turn dark with JupyterLab's dark theme

__all__ = [
    "MAX_FRAMES",
    "MESSAGE_STYLES",
    "ROLE_COLORS",
    "ClusterPicture",
    "SceneView",
    "animate",
    "cluster_figure",
    "explain_figure",
    "explain_figures",
    "follow_page_theme",
    "log_frame",
    "log_grid",
    "scene_at",
    "status_line",
    "term_color",
    "timeline",
]
