"""Lessons 01, 06-09 and 13 say only what their cells compute: each lesson runs top to bottom here, and its prose is checked
against its own outputs.

Each lesson is executed once (module fixture) with one extra cell that prints the values the prose relies on as JSON
(the "probe"); printed outputs of the lesson's cells are read too. A claim is checked by building the sentence the prose
must contain from the computed value (``says(run, f"... {value} ...")``) or by asserting the computed fact the prose
states. So a change of seed, of code or of prose that makes them disagree fails here. tests/test_notebooks.py leaves the
execution of these lessons to this file, and the whole-site build (tests/test_site.py) shows the same run: one run of
each lesson per test session (tests/lessonruns.py; the machine is shared).
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from lessonruns import NOTEBOOKS, executed, probed  # tests/ is on sys.path (conftest.py)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.kernel  # the lessons run in Jupyter kernels (the few quick checks here go along)

LESSONS = ("01_quorums.ipynb", "06_even_vs_odd.ipynb", "07_partitions.ipynb", "08_clients_sessions.ipynb",
           "09_linearizable_reads.ipynb", "13_real_etcd.ipynb")
"""The lessons this file executes (tests/test_notebooks.py skips them)."""


@dataclass
class Run:
    """An executed lesson: its cells with outputs, and the probe's values."""

    nb: nbformat.NotebookNode
    probe: dict

    @property
    def prose(self) -> str:
        """Every markdown cell, whitespace collapsed (lines wrap anywhere)."""
        return " ".join(" ".join(c.source for c in self.nb.cells if c.cell_type == "markdown").split())

    def cell(self, snippet: str) -> nbformat.NotebookNode:
        """The first code cell whose source contains ``snippet``."""
        for c in self.nb.cells:
            if c.cell_type == "code" and snippet in c.source:
                return c
        raise AssertionError(f"no code cell contains {snippet!r}")

    def output(self, snippet: str) -> str:
        """The text a cell printed or returned (plain text), for the cell containing ``snippet``."""
        parts = []
        for o in self.cell(snippet).outputs:
            if o.output_type == "stream":  # one print may arrive in several stream messages: join them as they are
                parts.append(o.text)
            elif o.output_type in ("execute_result", "display_data") and "text/plain" in o.data \
                    and "application/vnd.plotly.v1+json" not in o.data:
                parts.append("\n" + o.data["text/plain"] + "\n")
        return "".join(parts)

    def figure(self, snippet: str) -> dict:
        """The plotly figure (JSON) shown by the cell containing ``snippet``."""
        for o in self.cell(snippet).outputs:
            if o.output_type in ("execute_result", "display_data") and "application/vnd.plotly.v1+json" in o.data:
                return o.data["application/vnd.plotly.v1+json"]
        raise AssertionError(f"the cell containing {snippet!r} shows no plotly figure")


def says(run: Run, sentence: str) -> None:
    """The lesson's prose contains ``sentence`` (whitespace-insensitive), built from computed values."""
    wanted = " ".join(sentence.split())
    assert wanted in run.prose, f"the prose does not say {wanted!r}"


PROBES: dict[str, str] = {}
"""Each lesson's probe; tests/test_site.py executes these lessons with them, so one execution serves both files."""


def lesson(name: str, probe: str, needs: str | None = None) -> Any:
    """A module-scoped fixture: lesson ``name`` executed once with ``probe`` (skipped when the program ``needs`` is missing).

    The run is the whole-site build's run of the same lesson when both are in the test session (tests/lessonruns.py).
    """
    PROBES[name] = probe

    @pytest.fixture(scope="module")
    def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
        if needs is not None and shutil.which(needs) is None:
            pytest.skip(f"install {needs} (`apt-get install etcd-server`) to run {name}")
        nb, probe_values = probed(executed(name, probe, tmp_path_factory)[0])
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name} raised {errors[0].ename}: {errors[0].evalue}"
        return Run(nb, probe_values)

    return run


def test_the_prose_check_fails_when_prose_and_output_disagree() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("The majority of 10\nis 5."), nbformat.v4.new_code_cell("majority(10)")]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "6"}, execution_count=1)]
    run = Run(nb, {"majority": 6})
    with pytest.raises(AssertionError, match="does not say"):
        says(run, f"The majority of 10 is {run.probe['majority']}.")
    says(run, "The majority of 10 is 5.")  # whitespace across lines does not matter
    assert run.output("majority(10)").strip() == "6"
    with pytest.raises(AssertionError, match="no code cell"):
        run.output("nothing like this")


# ---- lesson 01 -------------------------------------------------------------------------------------------------


l01 = lesson("01_quorums.ipynb", "{'majority10': majority(10), 'misprints': [int(n) for n in wrong.n], "
                   "'printed10': int(table.printed_majority[9]), 'overlaps': overlaps, 'majority4': majority(4)}")


def test_lesson_01_majority_of_10_and_the_misprint(l01: Run) -> None:
    m = l01.probe["majority10"]
    says(l01, f"(for 10: more than {10 // 2}, so {m})")
    says(l01, f"which is `(N - 1) // 2` (for 10: {10 - m})")
    assert l01.probe["misprints"] == [10]
    says(l01, f"The tutorial's copy of etcd's table, extended to N = 10, says {l01.probe['printed10']} for the majority "
              f"of 10; it is {m} — {l01.probe['printed10']} is only half.")
    says(l01, "etcd's v2 administration guide prints this table. When it appeared (January 2015) its rows were "
              "clusters of 1 and 3 to 9 members; a row for 2 members was added in June 2016 (etcd commit 37ac90c), and "
              "etcd's FAQ has printed rows 1 to 9 since December 2016. A tutorial that this course was first written "
              "from copied the rows 1 to 9 and added a row for N = 10")
    from raftedu.experiments import _ETCD_PRINTED_MAJORITY as printed  # the copy: etcd's rows 1-9 as etcd prints them
    assert sorted(printed) == list(range(1, 11)) and all(printed[n] == n // 2 + 1 for n in range(1, 10))
    assert f"N=10: printed {l01.probe['printed10']}, but" in l01.output("rows where the printed majority is wrong")


def test_lesson_01_majorities_overlap_and_a_2_2_split_stops(l01: Run) -> None:
    assert min(l01.probe["overlaps"].values()) >= 1
    says(l01, "Every overlap is at least 1")
    split = l01.output("c.partition([1, 2], [3, 4])")
    assert "side(s) that committed the command: neither" in split and "request pending" in split
    says(l01, f"it hears from only 2 of 4, one short of a majority of {l01.probe['majority4']}")
    roles = ast.literal_eval(re.search(r"roles: (\{.*?\})", split).group(1))
    terms = ast.literal_eval(re.search(r"terms: (\{.*?\})", split).group(1))
    leader_side = [s for s in ("S1", "S2") if roles[s] == "leader"]
    assert len(leader_side) == 1 and "leader" not in (roles["S3"], roles["S4"])  # one side believes it leads
    assert min(terms["S3"], terms["S4"]) > terms[leader_side[0]]  # the other side keeps starting elections
    title = next(t["text"][0] for t in l01.figure("cluster_figure(c")["data"] if t.get("name") == "title")
    assert f"leader on S1-S2 {leader_side[0]}, on S3-S4 none; request pending" in title
    three_one = l01.output("c.partition([1, 2, 3], [4])")
    assert "3|1 split: request committed" in three_one
    terms = ast.literal_eval(re.search(r"terms: (\{.*?\})", three_one).group(1))
    assert terms["S4"] > max(terms["S1"], terms["S2"], terms["S3"])  # the lone server kept starting elections
    says(l01, "Three of four is a majority: the side of three keeps (or elects) a leader and commits the command. The "
              "lone server keeps starting elections in ever higher terms")


def printed_lines(run: Run) -> list[str]:
    """Every line the lesson's cells printed to stdout."""
    return [line for c in run.nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "stream" and o.name == "stdout" for line in o.text.splitlines()]


@pytest.mark.parametrize("run", ["l01", "l06"])
def test_printed_lines_fit_the_output_area(run: str, request: pytest.FixtureRequest) -> None:
    """JupyterLab breaks a longer line wherever the window ends, even inside a word (raftedu.lessons.say wraps)."""
    from raftedu.lessons import WIDTH

    lines = printed_lines(request.getfixturevalue(run))
    assert lines and not [line for line in lines if len(line) > WIDTH]


# ---- lesson 06 -------------------------------------------------------------------------------------------------


PROBE_06 = ("{'tolerance': {int(n): int(t) for n, t in zip(tolerance.n, tolerance.measured_tolerance)}, "
            "'majority': {int(n): int(m) for n, m in zip(tolerance.n, tolerance.majority)}, "
            "'stopped2': {int(n): int(v) for n, v in summary.iloc[:, 0].fillna(0).items()}, "
            "'stopped3': {int(n): int(v) for n, v in summary.iloc[:, 1].fillna(0).items()}, "
            "'samples': int(mc.samples.min()), 'mc_cells': len(mc), 'zero_cells': int((mc.unavailable_samples == 0).sum()), "
            "'even_worse': bool(ex.even_odd_availability().even_worse.all()), "
            "'ratio05': [float(r) for r in pairs[pairs.p == 0.05].ratio], 'binomial': list(binomial.values()), "
            "'small': {str(p): [float(r) for r in g.ratio] for p, g in small.groupby('p')}, "
            "'means': means.to_dict('records'), 'sites': {k: bool(v) for k, v in sites['survives losing any one site'].items()}, "
            "'heartbeat': ex.Timing().heartbeat, 'parts': sorted(int(k) for k in set(splits.parts)), "
            "'split_sizes': sorted(map(int, set(splits.n))), "
            "'down_sets': int(mc.groupby('n').simulations.first().sum()), 'drawn': int(mc.samples.sum()), "
            "'ci34': [float(three.ci_low), float(three.ci_high), float(four.ci_low), float(four.ci_high)], "
            "'closed34': [float(three.closed_form), float(four.closed_form)]}")


l06 = lesson("06_even_vs_odd.ipynb", PROBE_06)


def test_lesson_06_crash_tolerance(l06: Run) -> None:
    t, m = l06.probe["tolerance"], l06.probe["majority"]
    assert all(t[str(n)] == (n - 1) // 2 for n in range(1, 11))
    assert all(t[str(2 * k)] == t[str(2 * k - 1)] for k in range(1, 6))
    says(l06, "Each even N survives exactly as many crashes as the odd N just below it.")
    says(l06, f"Adding the 4th machine raised the majority from {m['3']} to {m['4']} and left the tolerance at {t['4']}.")


def test_lesson_06_partitions(l06: Run) -> None:
    s2, s3 = l06.probe["stopped2"], l06.probe["stopped3"]
    assert all(s2[str(n)] == 0 for n in range(3, 11, 2))  # odd: a two-way split always keeps a majority
    assert all(s2[str(n)] == 1 for n in range(2, 11, 2))  # even: exactly the half-half split stops
    assert all(s3[str(n)] >= 1 for n in range(3, 11))
    says(l06, "An odd cluster split two ways always keeps a side with a majority. An even cluster split exactly in half "
              "has none: both sides stop.")
    says(l06, "every size from 3 up has a three-way split that stops it")
    assert l06.probe["parts"] == [2, 3] and l06.probe["split_sizes"] == list(range(2, 11))
    says(l06, "cut networks into two or three groups of every size")
    says(l06, "A split is told apart only by its groups' sizes and the group the leader is in")
    assert "ex.partition_experiment(range(2, 11), parts=(2, 3), workers=2)" in l06.cell("partition_experiment").source
    assert "(False, False, False)" in l06.output("ex.partition_progress(9, [[1, 2, 3], [4, 5, 6]])")
    gallery = l06.figure("evenodd.partition_gallery(")
    titles = [a["text"] for a in gallery["layout"]["annotations"]]
    assert titles == ["N=4: 3|1 - progress", "N=4: 2|2 - STUCK", "N=5: 3|2 - progress", "N=5: 2|2|1 - STUCK",
                      "N=6: 3|3 - STUCK", "N=9: 3|3|3 - STUCK"]
    says(l06, "Six of those splits, drawn")


def test_lesson_06_splits_are_counted_up_to_symmetry_and_that_loses_no_verdict() -> None:
    """Lesson 06 runs one split per (group sizes, leader's group) -- partition_experiment's default mode "sizes" -- and
    says which of the other machines go where changes nothing: every split of 2 to 5 machines, run as set partitions
    of S1..Sn (mode "all"), has the verdict of its representative. Kernel-less and cheap (75 short runs)."""
    from raftedu import experiments as ex

    n4 = ex.partition_splits(4, 2)
    assert [s["sizes"] for s in n4].count((2, 2)) == 1
    assert [tuple(sorted(s["sizes"])) for s in ex.partition_splits(4, 2, "all")].count((2, 2)) == 3
    every = ex.partition_experiment(range(2, 6), parts=(2, 3), mode="all")
    some = ex.partition_experiment(range(2, 6), parts=(2, 3))
    verdict = {(r.n, r.sizes, r.sizes[r.leader_group]): r.progress for r in some.itertuples()}
    for r in every.itertuples():
        side = next(k for k, g in enumerate(r.groups) if r.leader in g)
        order = sorted(range(len(r.sizes)), key=lambda k: (-r.sizes[k], k != side))  # as sizes mode sorts them
        key = (r.n, tuple(r.sizes[k] for k in order), r.sizes[side])
        assert tuple(r.progress[k] for k in order) == verdict[key], (r.groups, r.leader)
    assert len(every) > 3 * len(some)


def test_lesson_06_availability_monte_carlo_and_the_factor_two(l06: Run) -> None:
    says(l06, "each distinct set is simulated once: the progress bar counts them")
    assert l06.probe["down_sets"] < l06.probe["drawn"] // 100  # 40 cells of 20,000 samples, a few thousand simulations
    bar = re.search(r"simulating down-sets:.*?/([\d,]+)", l06.output("mc = ex.availability_monte_carlo("))
    assert bar and int(bar.group(1).replace(",", "")) == l06.probe["down_sets"]
    p = l06.probe
    assert p["samples"] >= 10_000
    says(l06, f"draws {p['samples']:,} random samples of which machines are down for each (N, p)")
    figure = l06.figure("evenodd.availability_figure(")
    points = [t for t in figure["data"] if t.get("mode") == "markers"]
    assert sum(len(t["x"]) for t in points) == p["mc_cells"]  # every cell drawn, zero cells included
    assert all("error_y" in t and len(t["error_y"]["array"]) == len(t["x"]) for t in points)  # intervals drawn
    floor = [t for t in points if t["marker"]["symbol"] == "triangle-down"]
    assert sum(len(t["x"]) for t in floor) == p["zero_cells"]
    said = " ".join(l06.output("three, four = ").split())  # say() wraps
    low3, high3, low4, high4 = p["ci34"]
    assert high3 < low4 and f"{high3:.3g}), N=4" in said and f"({low4:.3g} to" in said  # the simulator decides it ...
    assert "): 4 less available; closed form:" in said and p["closed34"][0] < p["closed34"][1]  # ... the formula agrees
    says(l06, "Every crash and partition verdict below comes from running the simulator, and so does the answer about "
              "availability")
    assert p["even_worse"]
    says(l06, "In the closed form, at every p the even size is *less* available than the odd size below it")
    assert all(1.9 < r < 2 for r in p["ratio05"])
    says(l06, "The `ratio` column is close to 2.")
    assert p["binomial"] == [2.0] * 5
    says(l06, "C(2k, k) / C(2k−1, k) = 2k / k = 2: as p → 0 the even size is twice as often unavailable.")
    by_p = sorted(p["small"].items(), key=lambda kv: -float(kv[0]))
    for (_, bigger), (_, smaller) in zip(by_p, by_p[1:]):
        assert all(a < b for a, b in zip(bigger, smaller))  # closer to 2 as p shrinks
    assert all(abs(r - 2) < 1e-5 for r in p["small"]["1e-06"])


def test_lesson_06_larger_clusters_re_elect_slightly_faster(l06: Run) -> None:
    means = l06.probe["means"]
    for low in (150, 300):
        rows = sorted((r for r in means if r["timeout_low"] == low), key=lambda r: r["n"])
        measured = [r["measured mean (ms)"] for r in rows]
        assert measured == sorted(measured, reverse=True), f"not faster with N for {low}: {measured}"
        assert all(m < r["timeout_high"] for m, r in zip(measured, rows))
        for r in rows:  # a little below the earliest-timeout formula: the crash falls after the last heartbeat
            assert 0 < r["expected earliest of N-1 timeouts (ms)"] - r["measured mean (ms)"] < l06.probe["heartbeat"]
    says(l06, "But larger clusters are slightly *faster*.")
    says(l06, "On average, re-election takes less than one *maximum* election timeout (300 ms, 600 ms) at every size")
    says(l06, f"the crash came on average half a heartbeat interval ({l06.probe['heartbeat'] // 2} ms) after it")
    says(l06, "the measurement sits a little below the formula, and falls with N in the same way")


def test_lesson_06_two_sites(l06: Run) -> None:
    sites = l06.probe["sites"]
    assert [v for k, v in sites.items() if "two sites" in k] == [False, False, False]
    assert [v for k, v in sites.items() if "three sites" in k] == [True]
    says(l06, "With two datacenters, no size survives the loss of either one")
    says(l06, "Spreading over **three** sites is what survives the loss of any one site.")


# ---- lesson 07 -------------------------------------------------------------------------------------------------


l07 = lesson("07_partitions.ipynb", "{'n': 5}")  # its claims are read from printed outputs


def test_lesson_07_two_leaders_and_the_minority_leader(l07: Run) -> None:
    out = l07.output("c.partition([old, buddy])")
    roles = ast.literal_eval(out[out.rindex("{'S1'"):].strip())  # the cell's value, the roles dict (may wrap lines)
    believers = sum(role == "leader" for role, _ in roles.values())
    assert "you did not predict" in out  # the prediction (issue 24: asked before the run) is read back
    says(l07, "Two seconds after the split, how many servers believe they are the leader: `0`, `1` or `2`?")
    leaders = {s: term for s, (role, term) in roles.items() if role == "leader"}
    assert len(leaders) == 2 == believers and len(set(leaders.values())) == 2
    says(l07, "Two servers now say `leader` — in **different terms**.")
    key = " ".join((ROOT / "solutions" / "lessons" / "07_partitions_answers.md").read_text().split())
    assert f"Two seconds after the split, **{believers}** servers believe they are the leader, in **different terms**" \
        in key  # s8 third read: the key had no answer to this prediction
    out = l07.output("to_old = c.request(\"a\", node=old)")
    assert re.search(r"'a' sent to the old leader S\d: pending; +'b' sent to the new leader S\d: committed", out)
    assert "old leader's commitIndex: 0 | its log: ['a']" in out
    stored = int(re.search(r"servers storing 'a': (\d+) of 5", out).group(1))
    says(l07, f"only {stored} of 5 servers store it")
    says(l07, "a leader commits an entry **of its current term** once a majority stores it")
    says(l07, "Its client got no answer: `a` is still `pending`.")


def test_lesson_07_heal_removes_a_and_marks_it_lost(l07: Run) -> None:
    out = " ".join(l07.output("c.heal()").split())  # say() wraps long lines between words
    assert "'a': lost | old leader's log now: ['b']" in out
    for kind in ("term", "role", "truncate", "append"):
        assert re.search(rf"\d+\s+{kind}\s", out), f"no {kind} event for the old leader in the heal output"
    says(l07, "it stayed `pending` while the network was cut, and now the simulator marks it `lost`")
    fell, src, kind, term, first_new = re.search(r"became a follower at t=(\d+) ms on S(\d)'s (\w+) \(term (\d+)\); the first "
                                                 r"message from the new leader S\d reached it at t=(\d+) ms", out).groups()
    assert kind == "AppendEntriesReply" and int(fell) < int(first_new)  # issue 24 (10): a reply deposed it, first
    says(l07, "That reply — not a message from the new leader — makes it adopt the term and become a follower (§5.1;")
    says(l07, "While the network was cut, the old leader's client got no answer for `a` (it stayed `pending`).")


def test_lesson_07_three_way_split_and_restart(l07: Run) -> None:
    out = " ".join(l07.output("c.partition([1, 2], [3, 4], [5])").split())
    assert "highest commitIndex anywhere: 0" in out and ("request: pending" in out or "no leader to ask" in out)
    says(l07, "No group has 3 of 5, so nothing can be committed anywhere")
    out = l07.output("c.crash(f); c.restart(f)")
    before = int(re.search(r"before the crash: (\d+)", out).group(1))
    assert before > 0 and "right after restart: 0" in out and f"after one heartbeat: {before}" in out
    says(l07, "a restarted server starts at 0 and learns the real value from the leader's next AppendEntries")


# ---- lesson 08 -------------------------------------------------------------------------------------------------


PROBE_08 = ("{'retry_after': svc.clients[0].retry_after, 'retry_scripted': naive.clients[0].retry_after, 'svc': result.verdict, 'naive': naive_result.verdict, "
            "'naive_ops': [str(o) for o in naive.history], 'fixed': fixed_result.verdict, "
            "'fixed_talk': list(fixed.conversation(1).message), "
            "'with': [s.check().verdict for s in with_sessions], 'without': [s.check().verdict for s in without]}")


l08 = lesson("08_clients_sessions.ipynb", PROBE_08)


def test_lesson_08_a_follower_redirects_the_client(l08: Run) -> None:
    out = l08.output("svc.submit(1, \"put\", \"x\", 1, to=follower)")
    first, leader = re.search(r"client 1 first asked S(\d); the leader is S(\d)", out).groups()
    assert first != leader and f"not the leader - try S{leader}" in out
    says(l08, "The follower answered \"not the leader — try S…\"")
    says(l08, f"waiting for its **time-out** ({l08.probe['retry_after']} ms here; the scripted run further down gives "
              f"client 1 a time-out of {l08.probe['retry_scripted']:,} ms")
    says(l08, "etcd forwards")  # issue 24 (7): the simulator redirects (§8), etcd forwards (dissertation §6.2)
    assert l08.probe["svc"] == "linearizable"


def test_lesson_08_a_retried_write_without_sessions_is_applied_twice(l08: Run) -> None:
    p = l08.probe
    assert p["naive"] == "not linearizable" and p["fixed"] == "linearizable"
    put, first_read, write2, last_read = p["naive_ops"]
    assert first_read.endswith("get('x') -> 1 @1") and write2.endswith("put('x', 2) -> ok @2")
    assert last_read.endswith("get('x') -> 1 @3") and put.endswith("put('x', 1) -> ok @3")  # applied again, at 3
    says(l08, "so the store applied put x=1 a second time — after client 2's put x=2 had been acknowledged")
    talk = p["fixed_talk"]
    assert any("not the leader" in m for m in talk) and "from the session table" in talk[-1] and "ok @1" in talk[-1]
    says(l08, "Client 1's retry (the same `seq 1`) went to a follower, was redirected to the new leader, and was "
              "answered from the session table: already applied, at the revision of the first time.")
    assert all(v == "linearizable" for v in p["with"]) and "not linearizable" in p["without"]
    says(l08, "With sessions every history must be linearizable; without them, some are not")


# ---- lesson 09 -------------------------------------------------------------------------------------------------


PROBE_09 = ("{'local': {'value': local.history[2].result.value, 'ok': local_result.linearizable, "
            "'ms': local.history[2].response - local.history[2].invoke}, 'values': values, 'costs': rows, "
            "'paused': {'value read': paused.history[3].result.value, 'linearizable': paused_result.linearizable}, "
            "'clock_rows': clock_rows}")


l09 = lesson("09_linearizable_reads.ipynb", PROBE_09)


def test_lesson_09_the_stale_read_and_the_correct_paths(l09: Run) -> None:
    p = l09.probe
    assert p["local"]["value"] == 1 and p["local"]["ok"] is False
    says(l09, "once x=2 was acknowledged, no read that starts later may return 1")
    assert p["values"] == {"readindex": 2, "lease": 2, "log": 2}
    out = l09.output("for mode in (\"readindex\", \"lease\", \"log\"):")
    for mode in ("readindex", "lease", "log"):
        ms = float(re.search(rf"{mode}: client 1 read x = 2 after (\d+) ms; linearizable", out).group(1))
        assert ms > p["local"]["ms"]
    says(l09, "The read takes longer")


def test_lesson_09_what_each_read_path_costs(l09: Run) -> None:
    costs = {r["read mode"]: r for r in l09.probe["costs"]}
    assert costs["log"]["log entries added"] == costs["log"]["reads answered"] == 30
    assert costs["readindex"]["log entries added"] == costs["lease"]["log entries added"] == 0
    says(l09, "`log` adds one entry per read; ReadIndex and leases add none")
    latency = {m: r["mean latency (ms)"] for m, r in costs.items()}
    assert min(latency, key=latency.get) == "lease"
    assert abs(latency["readindex"] - latency["log"]) <= 0.2 * latency["log"]
    says(l09, "so here it is about as slow as `log`")
    says(l09, "The lease answers without any round trip while it lasts: fastest")
    assert all(r["verdict"] == "linearizable" for r in costs.values())
    out = l09.output("for mode in (\"readindex\", \"lease\", \"log\", \"local\"):")
    for mode in ("readindex", "lease", "log"):
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{mode}:"))
        assert "not linearizable" not in line and line.count("'linearizable'") == 5


def test_lesson_09_when_the_clock_lies(l09: Run) -> None:
    """Issue 24: a paused (or slow-clocked) cut-off leader serves a stale lease read the checker rejects; ReadIndex
    does not; with perfect clocks the lease is safe."""
    assert l09.probe["paused"] == {"value read": 1, "linearizable": False}
    says(l09, "Client 1 read the stale **1**, after x=2 had been acknowledged: the checker rejects the history")
    out = " ".join(l09.output('paused = paused_leader_read("lease", pause=300)').split())  # say() wraps
    assert "paused for 300 ms" in out and "believing no time passed" in out and "not linearizable" in out
    read = {(r["fault on the old leader"], r["read mode"]): (r["client 1 read x ="], r["verdict"])
            for r in l09.probe["clock_rows"]}
    assert read["no fault", "lease"] == (2, "linearizable")
    says(l09, 'Without the pause (`paused_leader_read("lease", pause=0)`) client 1 reads 2')
    assert read["pause 300 ms", "lease"] == read["clock at 1/4 speed", "lease"] == (1, "not linearizable")
    says(l09, "The slow clock does what the pause did")
    assert all(read[fault, "readindex"] == (2, "linearizable") for fault in ("no fault", "pause 300 ms", "clock at 1/4 speed"))
    says(l09, "ReadIndex reads 2 under every fault: it trusts no clock.")


# ---- lesson 13 (real etcd) ---------------------------------------------------------------------------------------


PROBE_13 = ("{'defaults': defaults, 'lab': [etcd.heartbeat_ms, etcd.election_ms], "
            "'moved': [int(d) for d in after.raft_index - before.raft_index], 'kill_ms': after_kill_ms, "
            "'accepted': accepted, 'agree': agree, 'sim_median': statistics.median(simulated), "
            "'rejoin': rejoin.to_dict('records'), 'same': same, 'alone': alone.to_dict('records'), "
            "'etcd_still_leads': etcd_still_leads, 'catch_up': catch_up.to_dict('records'), 'tails': [int(t) for t in tails], "
            "'catch_up_same': same, 'catch_up_answer': answer, 'real': real.to_dict('records'), "
            "'paused': paused.to_dict('records'), "
            "'sim_rates': [[int(n), int(k), float(r)] for (n, k), r in sim.groupby(['n', 'k']).success.mean().items()]}")


l13 = lesson("13_real_etcd.ipynb", PROBE_13, needs="etcd")


@pytest.mark.etcd
def test_lesson_13_timing_and_the_commit_index(l13: Run) -> None:
    p = l13.probe
    assert p["defaults"] == {"heartbeat-interval": 100, "election-timeout": 1000}
    says(l13, f"etcd 3.4's defaults are a {p['defaults']['heartbeat-interval']} ms heartbeat and a "
              f"{p['defaults']['election-timeout']} ms election timeout; this lab uses {p['lab'][0]} and {p['lab'][1]} ms")
    says(l13, f"a heartbeat of {p['lab'][0]} ms and an election timeout of {p['lab'][1]} ms")
    assert p["moved"] and all(d >= 1 for d in p["moved"])
    says(l13, "The raft index is the member's **commit index**")
    key = " ".join((ROOT / "solutions" / "lessons" / "13_real_etcd_answers.md").read_text().split())
    assert f"a median of {p['sim_median']:.0f} ms over 30 seeds" in key  # the simulator's number is deterministic
    says(l13, "every member's commit index moves on")


@pytest.mark.etcd
def test_lesson_13_verdicts_match_the_table(l13: Run) -> None:
    """Every cell of the lesson's runs: real etcd wrote exactly when k <= (N-1)//2, and so did the simulator (20 trials
    per cell, never mixed). One trial per cell on a shared machine, so an N with a cell that failed to write within
    tolerance is run again before it counts; a write beyond (N-1)//2 is never excused: that would be a real
    contradiction. (This is the crash_trials test of the etcd lab: the lesson's own runs, not a second set.)"""
    from raftedu.etcd import crash_trials

    def cells(rows: list[dict]) -> dict[int, bool]:
        return {int(r["k"]): bool(r["success"]) for r in rows}

    def checked(n: int, fault: str, victims: str, rows: list[dict]) -> list[dict]:
        expected = {k: k <= (n - 1) // 2 for k in range(n if victims == "followers" else n + 1)}
        for _retry in range(2):
            got = cells(rows)
            assert set(got) == set(expected), (n, sorted(got))
            assert not any(ok and not expected[k] for k, ok in got.items()), \
                f"etcd wrote with {max(k for k, ok in got.items() if ok)} of {n} members stopped ({fault}, {victims})"
            if got == expected:
                break
            rows = crash_trials(n, victims=victims, fault=fault, bound_s=3.0, progress=False).to_dict("records")
        assert cells(rows) == expected, (n, fault, victims, rows)
        return rows

    p = l13.probe
    assert p["accepted"] is False
    says(l13, "A single member of three is a minority")
    real = [r for n in range(1, 6) for r in checked(n, "kill", "leader", [r for r in p["real"] if r["n"] == n])]
    assert sorted((r["n"], r["k"]) for r in p["real"]) == [(n, k) for n in range(1, 6) for k in range(n + 1)]
    assert all(r["new_leader_ms"] > 0 for r in real if r["leader_crashed"] and r["success"])
    assert {(n, k): rate for n, k, rate in p["sim_rates"]} == {
        (n, k): float(k <= (n - 1) // 2) for n in range(1, 6) for k in range(n + 1)}  # the simulator: every trial
    says(l13, "a 4-member cluster needs 3 for a majority, so it survives one loss, exactly like 3 members")
    paused = checked(3, "pause", "followers", p["paused"])
    assert {r["fault"] for r in paused} == {"pause"} and not any(r["leader_crashed"] for r in paused)
    says(l13, "one frozen member changes nothing and two stop the writes")
    assert 250 < p["kill_ms"] < 5_000 and 250 < p["sim_median"] < 2_000  # 5 s: a loaded machine slows real etcd
    says(l13, "after a leader dies, a new one takes about an election timeout to appear, in etcd as in the simulator.")


@pytest.mark.etcd
def test_lesson_13_pre_vote_on_real_etcd(l13: Run) -> None:
    rows = {(r["backend"], r["pre_vote"]): r for r in l13.probe["rejoin"]}
    assert set(rows) == {(b, pv) for b in ("etcd", "simulator") for pv in (False, True)}
    assert all(set(r) == set(rows[("simulator", False)]) for r in rows.values())  # etcd's rows have the simulator's columns
    for backend in ("etcd", "simulator"):
        off, on = rows[(backend, False)], rows[(backend, True)]
        assert off["isolated_term"] > off["term_before"] + 1 and off["term_after"] > off["term_before"] and off["disrupted"]
        assert off["term_after"] >= off["isolated_term"]  # back, its higher term deposed the leader
        assert on["isolated_term"] == on["term_before"] == on["term_after"] and not on["disrupted"]
        assert on["leader_after"] == on["leader_before"]
    says(l13, "Without pre-vote the cut-off member's term climbs while it is alone")
    says(l13, "the leader steps down and a new election follows")
    says(l13, "cut off, nobody answers, so its term stays where it was, and on its return it simply follows the "
              "leader again. etcd and the simulator agree.")
    says(l13, "a member cut off and back disrupts the leader without pre-vote and leaves it alone with pre-vote, in "
              "etcd as in the simulator.")
    says(l13, "Check-quorum ran in the pre-vote experiment above too, and there it did not save the leader without "
              "pre-vote")  # said after the check-quorum prediction, not before it (s8 third read)
    assert rows[("etcd", False)]["disrupted"]  # issue 24 (1): check-quorum (always on in etcd) did not prevent it


@pytest.mark.etcd
def test_lesson_13_check_quorum_on_real_etcd(l13: Run) -> None:
    rows = {(r["backend"], r["check_quorum"]): r for r in l13.probe["alone"]}
    assert set(rows) == {("etcd", True), ("simulator", False), ("simulator", True)}
    etcd, off, on = rows[("etcd", True)], rows[("simulator", False)], rows[("simulator", True)]
    assert etcd["stepped_down"] and on["stepped_down"] and not off["stepped_down"]
    assert l13.probe["etcd_still_leads"] is False
    assert etcd["leaders_at_end"] == on["leaders_at_end"] == 1 and off["leaders_at_end"] == 2
    assert all(r["new_leader"] not in (None, r["old_leader"]) for r in rows.values())
    says(l13, "etcd's cut-off leader stopped calling itself leader, like the simulator's with check-quorum on; without "
              "it the simulator's old leader kept believing it led for the whole cut, so at the end two servers said "
              '"leader". In every row the other two members, a majority, elected a new leader')
    says(l13, "a leader cut off from the others steps down in etcd (check-quorum), and in the simulator only with "
              "check-quorum on.")
    # when: etcd-io/raft checks once per election timeout (tickHeartbeat → MsgCheckQuorum → QuorumActive since the
    # previous check), so one to two timeouts after the cut (lesson 10 says so too); polled every 20 ms on a shared
    # machine, so the upper bound has room. The simulator looks at each heartbeat: one timeout, at most a beat late.
    heartbeat_ms, election_ms = l13.probe["lab"]
    says(l13, "It checks once per election timeout whether it heard from a majority since the previous check, so it "
              "steps down one to two election timeouts after the cut")
    assert election_ms - heartbeat_ms <= etcd["stepped_down_ms"] <= 2 * election_ms + 1_000
    says(l13, "so it steps down one election timeout after the cut, at most a heartbeat later")
    assert election_ms <= on["stepped_down_ms"] <= election_ms + heartbeat_ms


@pytest.mark.etcd
def test_lesson_13_snapshots_on_real_etcd(l13: Run) -> None:
    rows = {(r["backend"], r["lag"]): r for r in l13.probe["catch_up"]}
    assert set(rows) == {(b, lag) for b in ("etcd", "simulator") for lag in (1000, 7000)}
    for backend in ("etcd", "simulator"):
        near, far = rows[(backend, 1000)], rows[(backend, 7000)]
        assert near["behind"] >= 1000 and far["behind"] >= 7000
        assert near["first_kept"] <= near["missed_from"] and near["snapshots_sent"] == 0
        assert far["first_kept"] > far["missed_from"] and far["snapshots_sent"] == 1
        assert near["same_state"] and far["same_state"]
    etcd_near, etcd_far = rows[("etcd", 1000)], rows[("etcd", 7000)]
    assert etcd_near["snapshot_index"] >= 900 and etcd_far["snapshot_index"] >= 6900  # --snapshot-count 100
    assert l13.probe["catch_up_answer"] == "7000" and l13.probe["catch_up_same"]
    says(l13, "The member 1,000 entries behind needed entries the leader still had: the leader's log still starts at or "
              "before the first missing one, so plain AppendEntries caught it up, no snapshot. The member 7,000 behind "
              "needed entries compacted away: the leader's log starts after them, so it got one snapshot")
    assert l13.output("tails = sorted(").count("[5000]") == 1 and l13.probe["tails"] == [5000]
    says(l13, "After 7,000 writes both leaders had kept exactly 5,000 entries up to their latest snapshot: etcd's number, "
              "which the simulator was given as `snapshot_tail` — and with it, it gives the same verdicts.")
    says(l13, "a member far behind catches up from a snapshot, one a little behind from the log's tail of kept "
              "entries, in etcd as in the simulator.")


def wide_lines(run: Run) -> list[str]:
    """Printed lines over 100 characters (JupyterLab would break them mid-word; lessons print through say())."""
    return [line for c in run.nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
            for line in o.text.splitlines() if len(line) > 100]


@pytest.mark.parametrize("run", ["l07", "l08", "l09"])
def test_no_printed_line_is_wider_than_100_characters(run: str, request: pytest.FixtureRequest) -> None:
    assert wide_lines(request.getfixturevalue(run)) == []


@pytest.mark.etcd
def test_lesson_13_prints_no_line_wider_than_100_characters(l13: Run) -> None:
    assert wide_lines(l13) == []


@pytest.mark.parametrize("name", LESSONS)
def test_every_prediction_is_read_back_by_the_next_cell(name: str) -> None:
    """A cell that only sets ``my_prediction``/``my_guess`` is followed by a code cell that compares it with the result
    ("you said ...; it is ...") and nudges when it is still None, by hand or through raftedu.lessons.read_back."""
    cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    predicts = [k for k, src in enumerate(code) if re.match(r"(my_prediction|my_guess) = ", src.strip())]
    assert predicts, f"{name} has no prediction cell"
    for k in predicts:
        variable = code[k].split("=")[0].strip()
        following = code[k + 1] if k + 1 < len(code) else ""
        reads_back = ("you said" in following and "is None" in following) or "read_back(" in following  # lessons.read_back
        assert variable in following and reads_back, (
            f"{name}: the cell after `{code[k].splitlines()[0]}` does not read the prediction back")


def test_this_file_runs_exactly_the_lessons_test_notebooks_skips() -> None:
    from test_notebooks import CLAIMS_B  # tests/ is on sys.path (no package)

    assert CLAIMS_B == set(LESSONS) and all((NOTEBOOKS / name).exists() for name in LESSONS)
