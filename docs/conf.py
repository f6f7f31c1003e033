"""Sphinx configuration of raftedu's documentation site (built by ``raftedu site``, see raftedu/site.py).

Sphinx + MyST-NB + the Sphinx Book Theme: pure Python from PyPI, no Node.js build and no template fetched at
build time (Jupyter Book 2's MyST engine needs both), and every page works offline.
"""

from raftedu import __version__

project = "raftedu"
author = "the raftedu authors"
copyright = "the raftedu authors, MIT licence"
release = version = __version__

extensions = ["myst_nb", "sphinx.ext.autodoc"]
exclude_patterns = ["_build", "recorded", "_readme.md", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]  # lessons start at "# NN · title" and may skip levels in their summaries

# Notebooks arrive executed (raftedu site runs them, or replays lesson 13's recording): never run them here.
nb_execution_mode = "off"
nb_output_stderr = "remove"
nb_ipywidgets_js = {}  # live widgets are shown as pictures with a note: no widget manager from a CDN
nb_merge_streams = True
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

html_theme = "sphinx_book_theme"
html_title = f"raftedu {__version__}: learn Raft by breaking it"
html_static_path = ["_static"]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
html_sidebars = {"**": ["navbar-logo.html", "sbt-sidebar-nav.html"]}  # search: in the header

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}


def _plotly_where_drawn(app, pagename, templatename, context, doctree):  # noqa: ANN001, ARG001
    """plotly.js (3.5 MB) is loaded only by the pages that hold a figure."""
    if "plotly-graph-div" in context.get("body", ""):
        app.add_js_file("plotly.min.js", priority=200)


def setup(app):  # noqa: ANN001, ANN201
    """Sphinx's hook: connect the per-page plotly.js."""
    app.connect("html-page-context", _plotly_where_drawn)
