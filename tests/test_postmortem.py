"""Postmortem drafts: against the truth of a known incident, the triage report, and by format.

`orders_deploy_npe` is a deploy of `orders` at 08:57:18 that throws NPEs from 08:57:36 until a
rollback at 09:19:20; the generator's truth says when it began and recovered. The CLI runs once
per format for the whole module (a run is a full triage); the definitions of start, peak and
recovery have unit tests on hand-made minutes at the end.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from esnode import EsNode  # tests/ is on sys.path

from logsense.config import load_settings
from logsense.model import Issue, Pattern, Report, Totals, Window
from logsense.postmortem import course_of, draft, render_html, render_json, render_markdown
from logsense.requestmap import RequestMap
from tests.conftest import FIXTURES, Cli, generator
from tests.llm_server import FakeLLM, wrong_numbers
from tests.test_llm import incident_log

FIXTURE = FIXTURES / "orders_deploy_npe.jsonl.gz"
T1, T2 = "2026-01-25T08:40:00Z", "2026-01-25T09:36:00Z"
PNG = b"\x89PNG\r\n\x1a\n"
KINDS = {"change", "first_error", "peak", "recovery"}


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class Drafts:
    """The postmortem of the fixture's incident in each format, and triage of the same window."""

    json: dict[str, Any]
    triage: dict[str, Any]
    markdown: Path
    html: str


def run(cli: Cli, *args: str) -> str:
    code, out, err = cli(*args, "--no-llm", "--quiet")
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def drafts(cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drafts]:
    state = str(tmp_path_factory.mktemp("state"))
    out = tmp_path_factory.mktemp("drafts")
    window = ("--source", str(FIXTURE), "--state-dir", state)
    with pytest.MonkeyPatch.context() as env:
        # The autouse isolation is per test; this module-wide fixture isolates itself.
        for name in ("LOGSENSE_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.delenv(name, raising=False)
        pm = run(cli, "postmortem", *window, "--from", T1, "--to", T2, "--format", "json")
        triage = run(cli, "triage", *window, "--since", "56m", "--until", T2, "--format", "json")
        markdown = out / "incident.md"
        run(cli, "postmortem", *window, "--from", T1, "--to", T2, "--out", str(markdown))
        html = run(cli, "postmortem", *window, "--from", T1, "--to", T2, "--format", "html")
    yield Drafts(orjson.loads(pm), orjson.loads(triage), markdown, html)


@pytest.fixture(scope="module")
def incident() -> Any:
    return generator().load_truth(FIXTURES / "orders_deploy_npe.truth.json").incidents[0]


def primary_entries(pm: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    primary = pm["root_cause"]["issue_id"]
    return [e for e in pm["timeline"] if e["kind"] == kind and e["issue_id"] == primary]


# --- against the truth ----------------------------------------------------------------------


def test_the_primary_issue_is_the_incident(drafts: Drafts) -> None:
    root = drafts.json["root_cause"]
    assert root["service"] == "orders"
    assert root["template"].startswith("java.lang.NullPointerException")
    assert drafts.json["issues"][0]["id"] == root["issue_id"]


def test_first_error_and_recovery_within_a_minute_of_the_truth(
    drafts: Drafts, incident: Any
) -> None:
    (first,) = primary_entries(drafts.json, "first_error")
    (recovery,) = primary_entries(drafts.json, "recovery")
    assert abs(seconds(first["time"]) - seconds(incident.start)) <= 60
    assert abs(seconds(recovery["time"]) - seconds(incident.recovery)) <= 60
    course = drafts.json["issues"][0]["course"]
    assert course["recovered"] is True
    assert course["start"] == first["time"] and course["recovery"] == recovery["time"]
    expected = (seconds(recovery["time"]) - seconds(first["time"])) / 60
    assert course["duration_minutes"] == pytest.approx(expected, abs=0.05)
    impact = drafts.json["impact"]
    assert seconds(impact["start"]) <= seconds(first["time"])
    assert seconds(impact["recovery"]) >= seconds(recovery["time"])


def test_the_deploy_is_a_change_event_before_the_first_error(drafts: Drafts, incident: Any) -> None:
    (first,) = primary_entries(drafts.json, "first_error")
    deploys = [
        e
        for e in drafts.json["timeline"]
        if e["kind"] == "change" and e["text"].startswith("orders: Deploying version 2.17.0")
    ]
    assert len(deploys) == 1
    assert deploys[0]["issue_id"] is None
    assert seconds(deploys[0]["time"]) == pytest.approx(seconds(incident.deploy_time), abs=1)
    assert seconds(deploys[0]["time"]) < seconds(first["time"])
    rollbacks = [e for e in drafts.json["timeline"] if "Rolling back" in e["text"]]
    assert [e["kind"] for e in rollbacks] == ["change"]
    change = drafts.json["root_cause"]["change"]
    assert change["service"] == "orders" and "2.17.0" in change["example"]


def test_the_timeline_is_in_time_order(drafts: Drafts) -> None:
    times = [seconds(e["time"]) for e in drafts.json["timeline"]]
    assert times == sorted(times)
    (peak,) = primary_entries(drafts.json, "peak")
    (first,) = primary_entries(drafts.json, "first_error")
    (recovery,) = primary_entries(drafts.json, "recovery")
    assert seconds(first["time"]) <= seconds(peak["time"]) < seconds(recovery["time"])


def test_impact_matches_the_truth(drafts: Drafts, incident: Any) -> None:
    truth = generator().affected_in_window(
        generator().load_truth(FIXTURES / "orders_deploy_npe.truth.json"), incident.name, T1, T2
    )
    impact, primary = drafts.json["impact"], drafts.json["issues"][0]
    assert impact["requests"] == truth.requests
    assert primary["share_of_requests"] == pytest.approx(truth.share, abs=0.01)
    assert impact["requests_affected"] >= primary["requests_affected"]
    assert impact["services"][:2] == ["orders", "web-bff"]


# --- against triage of the same window ------------------------------------------------------


def test_impact_equals_the_triage_report(drafts: Drafts) -> None:
    pm, triage = drafts.json, drafts.triage
    assert pm["window"] == triage["window"]
    by_id = {issue["id"]: issue for issue in triage["issues"]}
    for issue in pm["issues"]:
        same = by_id[issue["id"]]
        for key in ("requests_affected", "share_of_requests", "events", "users_affected"):
            assert issue[key] == same[key], key
    impact = pm["impact"]
    assert impact["issue_ids"] == [i["id"] for i in pm["issues"]]
    assert impact["requests"] == triage["totals"]["requests"]
    if len(impact["issue_ids"]) == 1:
        top = by_id[impact["issue_ids"][0]]
        assert impact["requests_affected"] == top["requests_affected"]
        assert impact["share_of_requests"] == top["share_of_requests"]


def test_peak_share_is_the_highest_minute(drafts: Drafts) -> None:
    primary = drafts.json["issues"][0]
    course = primary["course"]
    minutes = course["per_minute"]
    shares = [affected / requests for _, _, affected, requests in minutes if requests]
    assert course["peak"]["share_of_requests"] == pytest.approx(max(shares), abs=1e-6)
    assert sum(affected for _, _, affected, _ in minutes) == primary["requests_affected"]
    (peak,) = primary_entries(drafts.json, "peak")
    assert seconds(peak["time"]) // 60 == seconds(course["peak"]["time"]) // 60
    assert 0 < drafts.json["impact"]["peak"]["share_of_requests"] <= 1


# --- formats --------------------------------------------------------------------------------


def test_json_has_the_documented_keys(drafts: Drafts) -> None:
    pm = drafts.json
    assert pm["schema"] == "logsense.postmortem/v1"
    assert {"impact", "timeline", "issues", "root_cause", "action_items", "appendix"} <= set(pm)
    assert {
        "requests_affected", "share_of_requests", "peak", "duration_minutes", "services",
        "start", "recovery", "recovered", "users_affected",
    } <= set(pm["impact"])  # fmt: skip
    for entry in pm["timeline"]:
        assert set(entry) == {"time", "kind", "text", "issue_id"}
        assert entry["kind"] in KINDS
        datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        assert entry["issue_id"] is None or isinstance(entry["issue_id"], str)
    triage_keys = set(drafts.triage["issues"][0])
    assert all(triage_keys <= set(issue) for issue in pm["issues"])
    root = pm["root_cause"]
    assert root["by"] == "rules" and root["samples"] and root["trace_ids"]
    assert root["query"].startswith('service.name:"orders" AND message:"java.lang.NullPointer')
    assert 'Cannot invoke \\"String.length()\\" because' in root["query"]
    assert root["trace_query"].startswith('trace.id:("')
    appendix = pm["appendix"]
    assert re.fullmatch(r"[0-9a-f]{64}", appendix["config_sha256"])
    assert appendix["registry_sha256"] is None  # the first run found an empty registry
    assert appendix["logsense_version"] and appendix["window"] == pm["window"]
    assert pm["action_items"] and all(isinstance(a, str) for a in pm["action_items"])


def test_markdown_links_its_charts_as_png_files(drafts: Drafts) -> None:
    text = drafts.markdown.read_text()
    assert text.startswith("# Postmortem (draft): orders: java.lang.NullPointerException")
    for heading in ("## Impact", "## Timeline", "## Root-cause hypothesis", "## Appendix"):
        assert heading in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["incident-events.png", "incident-share.png"]
    for link in links:
        assert (drafts.markdown.parent / link).read_bytes().startswith(PNG)
    assert re.search(r"\| 08:57:18 \| change \| orders: Deploying version 2\.17\.0", text)


def test_html_embeds_its_charts_as_data_uris(drafts: Drafts) -> None:
    page = drafts.html
    assert page.startswith("<!doctype html>")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    assert all(base64.b64decode(image).startswith(PNG) for image in images)
    assert "Root-cause hypothesis" in page and "Deploying version 2.17.0" in page
    assert "&#34;sku&#34;" in page or "&quot;sku&quot;" in page  # escaped, not raw markup


def test_markdown_on_stdout_has_no_charts(cli: Cli) -> None:
    code, out, err = cli(
        "postmortem", "-s", str(FIXTURE), "--from", "2026-01-25T09:00:00Z", "--to", T2,
        "--no-llm", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "](" not in out and "## Timeline" in out


def test_a_longer_recovery_rule_leaves_it_unrecovered(cli: Cli) -> None:
    pm = cli.json(
        "postmortem", "-s", str(FIXTURE), "--from", T1, "--to", T2, "--no-llm",
        "--recovery-minutes", "20",
    )  # fmt: skip
    assert pm["issues"][0]["course"]["recovered"] is False
    assert pm["impact"]["recovered"] is False and pm["impact"]["recovery"] is None
    assert not primary_entries(pm, "recovery")
    assert any("had not recovered" in w for w in pm["warnings"])
    assert "20 consecutive minutes" in pm["appendix"]["recovery_rule"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--to", T2), 2),  # --from is required
        (("--from", T1, "--recovery-minutes", "0"), 2),
        (("--from", "2030-01-01T00:00:00Z", "--to", "2030-01-01T01:00:00Z"), 3),
    ],
)
def test_bad_usage_and_empty_windows(cli: Cli, args: tuple[str, ...], code: int) -> None:
    exit_code, _, err = cli("postmortem", "-s", str(FIXTURE), "--no-llm", "--quiet", *args)
    assert exit_code == code, err


@pytest.mark.es
def test_elasticsearch_gives_the_same_draft(
    cli: Cli, es_node: EsNode, drafts: Drafts, tmp_path: Path
) -> None:
    code, _, err = cli("load", str(FIXTURE), "-i", "orders-pm", "--es-url", es_node.url, "-q")
    assert code == 0, err
    from_es = cli.json(
        "postmortem", "--index", "orders-pm", "--es-url", es_node.url, "--from", T1, "--to", T2,
        "--no-llm", "--state-dir", str(tmp_path),
    )  # fmt: skip
    from_file = drafts.json
    assert from_es["impact"] == from_file["impact"]
    assert from_es["timeline"] == from_file["timeline"]
    assert from_es["root_cause"]["query"] == from_file["root_cause"]["query"]
    assert from_es["source"] != from_file["source"]


# --- the LLM's checked words ----------------------------------------------------------------


@pytest.fixture
def llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("LOGSENSE_LLM__MAX_RETRIES", "0")


@pytest.mark.usefixtures("llm_key")
def test_the_hypothesis_is_the_models_checked_likely_cause(cli: Cli, tmp_path: Path) -> None:
    log = incident_log(tmp_path / "checkout.jsonl")
    with FakeLLM() as fake:
        pm = cli.json(
            "postmortem", "-s", str(log), "--from", "2026-11-20T13:00:00Z", "--to",
            "2026-11-20T14:00:00Z", "--llm-base-url", fake.url, "--llm-model", "m1",
        )  # fmt: skip
    root = pm["root_cause"]
    assert root["by"] == "llm" and root["model"] == "m1"
    assert root["text"].startswith("Likely the change in payment at 13:10")
    assert any(item.startswith("Check: ") for item in pm["action_items"])


@pytest.mark.usefixtures("llm_key")
def test_a_rejected_answer_leaves_the_rules_hypothesis(cli: Cli, tmp_path: Path) -> None:
    log = incident_log(tmp_path / "checkout.jsonl")
    with FakeLLM() as fake:
        fake.push(wrong_numbers, wrong_numbers)
        pm = cli.json(
            "postmortem", "-s", str(log), "--from", "2026-11-20T13:00:00Z", "--to",
            "2026-11-20T14:00:00Z", "--llm-base-url", fake.url, "--llm-max-issues", "1",
        )  # fmt: skip
    root = pm["root_cause"]
    assert root["by"] == "rules" and root["model"] is None
    assert "payment" in root["text"] and "1,337" not in root["text"]
    assert any("1,337" in w for w in pm["warnings"])


# --- the definitions, on hand-made minutes --------------------------------------------------

M0 = 1_800_000_000 // 60 * 60  # a minute boundary


def pattern(
    per_minute: dict[int, int], baseline: int = 0, requests: int = 0, prefix: str = "r"
) -> Pattern:
    """A pattern with these events per minute offset; each event is its own request (its id
    starts with `prefix`)."""
    made = Pattern(id="p", service="svc", level="error", template="boom <*>")
    firsts = {}
    for offset, n in per_minute.items():
        made.per_minute[M0 // 60 + offset] = n
        made.count += n
        for k in range(min(n, requests)):
            firsts[f"{prefix}{offset}-{k}"] = (M0 + offset * 60 + k, k)
    made.requests = RequestMap.from_dict(firsts)
    made.first_seen = M0 + min(per_minute) * 60 + 5.0
    made.last_seen = M0 + max(per_minute) * 60 + 50.0
    made.baseline_count = baseline
    return made


def report_for(made: Pattern, minutes: int = 20, baseline_minutes: int = 10) -> Report:
    end = M0 + minutes * 60
    totals = Totals(events=made.count, requests=1000, first_seen=M0, last_seen=end - 1)
    totals.requests_per_minute = {M0 // 60 + m: 50 for m in range(minutes)}
    window = Window(M0, end)
    baseline = Window(M0 - baseline_minutes * 60, M0)
    return Report(window, baseline, "test", totals, [], patterns=[made])


def test_recovery_waits_for_enough_quiet_minutes() -> None:
    # above from minute 2; a one-minute lull at 7 is not recovery; quiet from 10 on
    made = pattern({2: 5, 3: 9, 4: 20, 5: 8, 6: 4, 8: 3, 9: 1}, requests=50)
    course = course_of([issue_of(made, 1)], report_for(made), quiet_minutes=3)
    assert course.threshold == 0 and course.start == made.first_seen
    assert course.peak is not None and course.peak.at == M0 + 4 * 60
    assert course.peak.share == pytest.approx(20 / 50)
    assert course.recovery == M0 + 10 * 60
    assert course.minutes_above == 7


def test_a_baseline_rate_raises_the_bar() -> None:
    # 20 events in a 10-minute baseline: 2/min is normal, so 2 events a minute is recovered
    made = pattern({0: 2, 1: 2, 2: 9, 3: 12, 4: 2, 5: 1, 6: 2, 7: 2}, baseline=20)
    course = course_of([issue_of(made, 1)], report_for(made), quiet_minutes=3)
    assert course.baseline_rate == pytest.approx(2.0) and course.threshold == 2
    assert course.start == M0 + 2 * 60  # the first minute above 2, not the first event
    assert course.recovery == M0 + 4 * 60
    assert course.duration == 120


def test_no_recovery_when_the_window_ends_first() -> None:
    made = pattern({15: 4, 16: 6, 17: 3})
    course = course_of([issue_of(made, 1)], report_for(made), quiet_minutes=3)
    assert course.peak is not None and course.recovery is None and not course.recovered
    assert course.duration == pytest.approx(course.data_end - made.first_seen)


def test_draft_without_issues_says_so() -> None:
    made = pattern({1: 1})
    pm = draft(report_for(made), load_settings())
    assert pm.primary is None and pm.impact is None and pm.summary == "No issue in this window."
    for render in (render_markdown, render_html, render_json):
        out = io.StringIO()
        render(pm, out)
        assert "No issue in this window" in out.getvalue()


def test_without_request_ids_events_stand_in(cli: Cli, tmp_path: Path) -> None:
    """Plain text logs without trace ids: the share is of events, and says so."""
    lines = []
    for minute in range(60):
        for second in range(0, 60, 10):
            lines.append(f"2026-11-20T12:{minute:02d}:{second:02d}Z INFO [web] GET / 200")
        if 30 <= minute < 40:
            lines.append(f"2026-11-20T12:{minute:02d}:30Z ERROR [db] query failed: disk full")
    log = tmp_path / "plain.log"
    log.write_text("\n".join(lines) + "\n")
    pm = cli.json("postmortem", "-s", str(log), "--from", "2026-11-20T12:20:00Z", "--no-llm")
    impact = pm["impact"]
    assert impact["basis"] == "events" and impact["requests_affected"] is None
    assert impact["start"] == "2026-11-20T12:30:30.000Z"
    assert impact["recovery"] == "2026-11-20T12:40:00.000Z"
    assert impact["peak"]["share_of_requests"] == pytest.approx(1 / 7)
    code, out, err = cli("postmortem", "-s", str(log), "--from", "2026-11-20T12:20:00Z",
                         "--no-llm", "-q", "-f", "html")  # fmt: skip
    assert code == 0, err
    assert "no request ids" in out


def test_contributing_issues_count_in_the_impact() -> None:
    report = report_for(pattern({1: 1}))
    first = pattern({2: 10, 3: 10}, requests=5, prefix="p")
    second = pattern({3: 4}, requests=4, prefix="q")
    second.id, second.service = "q", "other"
    low, early = pattern({4: 2}, requests=2), pattern({0: 3}, requests=3)
    low.id, early.id = "r", "s"
    report.issues = [issue_of(first, 1), issue_of(second, 2), issue_of(low, 3), issue_of(early, 4)]
    report.issues[2].severity = "low"
    report.issues[3].first_seen = first.first_seen - 11 * 60  # began well before the primary
    pm = draft(report, load_settings())
    assert [i.id for i in pm.contributing] == ["i2"]
    assert pm.impact is not None and pm.impact.requests_affected == 10 + 4
    assert pm.impact.services == ["svc", "other"]


def issue_of(made: Pattern, rank: int) -> Issue:
    return Issue(
        id=f"i{rank}", patterns=[made], root=made, root_why="first", events=made.count,
        requests_affected=len(made.requests), share_of_requests=len(made.requests) / 1000,
        users_affected=None, first_seen=made.first_seen, last_seen=made.last_seen,
        severity="high", status="new", rank=rank, requests=made.requests.keys(),
    )  # fmt: skip
