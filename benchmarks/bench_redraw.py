"""How long does plotly.js take to redraw the explorer's figure after a click?  Prints a table.

    python benchmarks/bench_redraw.py [--rounds 3]

No Jupyter: the explorer runs a fixed list of clicks in this process, the messages its FigureWidget would send
(``Plotly.update`` or a no-redraw ``Plotly.animate``) are recorded, and headless chromium (Debian's
``/usr/bin/chromium`` + playwright) replays them with the plotly.js that ships with plotly (the FigureWidget's
bundle carries the same version), timing each from the call to the next frame. Two ways per click: what the explorer
sends now (trace-only clicks as an animate that replots only some traces), and everything as ``Plotly.update``
(a whole-figure replot: what it sent before issue 29). Kernel and comm round trips are not included: the browser
test (tests/browser/test_explorer_browser.py, ``measure_every_kind``) measures the whole click.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any
from unittest import mock

import plotly
from _plotly_utils.utils import PlotlyJSONEncoder

from raftedu import widgets
from raftedu.widgets import ClusterExplorer

CLICKS: list[tuple[str, str]] = (
    [("Step", "x.step()")] * 10 + [("Step back", "x.step_back()")] * 4 + [("Run 1 s", "x.advance(1000)")] * 3
    + [("Crash", "x.crash(2)"), ("Restart", "x.restart(2)")] * 3
    + [("Apply preset", "x.preset.value = 'majorities ring'; x.apply_preset()"), ("Heal", "x.act('heal')")] * 3
    + [("Client request", "x.client_request()")] * 10  # the log window scrolls twice: index labels are a trace
    + [("Add server", "x.buttons['Add server'].click()"), ("Step back over Add server", "x.step_back()")] * 3)
"""(kind, code run on the explorer ``x``) in order."""

UNDEFINED = "__undefined__"

REPLAY = """async ([init, sent, U]) => {
  const fix = v => v === U ? undefined : Array.isArray(v) ? v.map(fix)
      : (v && typeof v === 'object') ? Object.fromEntries(Object.entries(v).map(([k, w]) => [k, fix(w)])) : v;
  const gd = document.getElementById('gd');
  await Plotly.newPlot(gd, init.data, init.layout);
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  await frame();
  const out = [];
  for (const [kind, how, m] of sent) {
    const t0 = performance.now();
    if (how === 'update') await Plotly.update(gd, fix(m.restyle_data), fix(m.relayout_data), m.trace_indexes);
    else await Plotly.animate(gd, {data: fix(m.styles_data), layout: fix(m.relayout_data), traces: m.trace_indexes},
                              m.animation_opts);
    await frame();
    out.push([kind, performance.now() - t0, (m.trace_indexes || []).length]);
  }
  return out;
}"""


def _plain(value: Any) -> Any:
    """JSON-ready, plotly's Undefined sentinel (an ``object()``) as a marker string."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return UNDEFINED if type(value) is object else value


def record(whole_figure: bool) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """The figure as first shown and every (kind, 'update'|'animate', message) the clicks send."""
    x = ClusterExplorer(n=5, seed=7)
    x.advance(1000)
    x.client_request()
    x.advance(150)
    x._repr_mimebundle_()
    fig = x.figure
    init = json.loads(json.dumps({"data": fig._data, "layout": fig._layout}, cls=PlotlyJSONEncoder))
    sent: list[tuple[str, str, dict[str, Any]]] = []
    kind = [""]
    for how in ("update", "animate"):
        original = getattr(fig, f"_send_{how}_msg")

        def hook(*args: Any, _o: Any = original, _how: str = how, **kw: Any) -> Any:
            sent.append((kind[0], _how, _plain(kw)))
            return _o(*args, **kw)
        setattr(fig, f"_send_{how}_msg", hook)
    with mock.patch.object(widgets, "_can_redraw_traces_only", lambda _f: not whole_figure):
        for name, code in CLICKS:
            kind[0] = name
            exec(code, {"x": x})  # noqa: S102 - the fixed click list above
    return init, json.loads(json.dumps(sent, cls=PlotlyJSONEncoder))


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="replays of the whole click list per way (default 3)")
    args = parser.parse_args()
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    ways = {"now": record(False), "whole figure": record(True)}
    times: dict[tuple[str, str], list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        for _ in range(args.rounds):
            for way, (init, sent) in ways.items():  # alternate the ways: a busy machine slows both alike
                page = browser.new_page(viewport={"width": 1280, "height": 720})
                page.set_content("<div id=gd></div>")
                page.add_script_tag(path=str(plotly_js))
                for kind, ms, _n in page.evaluate(REPLAY, [init, sent, UNDEFINED]):
                    times.setdefault((kind, way), []).append(ms)
                page.close()
        browser.close()
    print(f"plotly.js call → next frame, ms (median / max of {args.rounds} rounds; load average "
          f"{__import__('os').getloadavg()[0]:.1f})")
    print(f"{'click':<28} {'now':>14} {'whole figure':>14}")
    for kind in dict.fromkeys(k for k, _c in CLICKS):
        cells = []
        for way in ways:
            got = times.get((kind, way), [])
            cells.append(f"{statistics.median(got):.0f} / {max(got):.0f}" if got else "-")
        print(f"{kind:<28} {cells[0]:>14} {cells[1]:>14}")


if __name__ == "__main__":
    main()
