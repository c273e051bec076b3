"""LLM summaries through the CLI, against a fake OpenAI-compatible endpoint on loopback.

The real `openai` client talks HTTP to `tests/llm_server.py`, which records every request. The
checks: the happy path, the guard (wrong numbers, an invented service: one retry naming the
problem, then rules), endpoint failures (timeout, 429, 500, malformed answers, refusal) that
never fail the triage, structured-output fallback, redaction of every request body, the cache,
and `--no-llm` / no key. The guard's rounding rules have unit tests at the end.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from logsense.analyze.rollouts import Rollout
from logsense.config import LlmConfig, load_settings
from logsense.model import Issue, Pattern, Report, Sample, Totals, Window
from logsense.summarize.facts import issue_facts
from logsense.summarize.guard import Evidence, check
from logsense.summarize.summaries import write_summaries
from tests.conftest import FIXTURES, Cli
from tests.llm_server import (
    FakeLLM,
    answer,
    broken_body,
    from_facts,
    invented_service,
    malformed_json,
    refusal,
    slow,
    status,
    wrong_numbers,
)
from tests.test_redact import SECRET_CORPUS

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MODEL = "test-model-1"


def _line(at: datetime, service: str, level: str, message: str, trace: str, user: str) -> bytes:
    return orjson.dumps(
        {"@timestamp": at.isoformat().replace("+00:00", "Z"), "log": {"level": level},
         "service": {"name": service}, "trace": {"id": trace}, "user": {"id": user},
         "message": message}
    )  # fmt: skip


ROOT_MESSAGE = "Cannot get DB connection from pool main after 30000 ms"


def incident_log(path: Path, root_message: str = ROOT_MESSAGE) -> Path:
    """Two hours of checkout traffic; from 13:16 the payment DB pool fails most requests.

    A deploy of payment is logged at 13:10. 5 requests a minute; from 13:16 on, 7 of every 10
    requests fail in payment (root, logging `root_message`), then in checkout and at the
    api-gateway edge.
    """
    lines = []
    for minute in range(120):
        for slot in range(5):
            n = minute * 5 + slot
            at = START + timedelta(minutes=minute, seconds=slot * 11)
            trace, user = f"t{n:05d}", f"u{n % 37}"
            lines.append(_line(at, "api-gateway", "info", "POST /checkout received", trace, user))
            if minute >= 76 and n % 10 < 7:
                wait = timedelta(milliseconds=30)
                lines += [
                    _line(at + wait, "payment", "error", root_message, trace, user),
                    _line(at + 2 * wait, "checkout", "error",
                          "payment call failed: HTTP 503", trace, user),
                    _line(at + 3 * wait, "api-gateway", "error",
                          "POST /checkout 502 upstream error", trace, user),
                ]  # fmt: skip
            else:
                lines.append(_line(at, "checkout", "info", "order placed", trace, user))
        if minute == 70:
            deploy = START + timedelta(minutes=70, seconds=3)
            lines.append(_line(deploy, "payment", "info", "Deployed payment version 2.4.1", "", ""))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def secrets_log(path: Path, corpus: list[tuple[str, str]]) -> Path:
    """Every corpus line as the error of its own service, so each becomes an issue's sample."""
    lines = []
    for index, (text, _) in enumerate(corpus):
        for n in range(3):
            at = START + timedelta(minutes=30 + index, seconds=n)
            trace = f"s{index:02d}{n}"
            lines.append(_line(at, f"svc{index:02d}", "error", text, trace, f"u{n}"))
    for minute in range(60):
        at = START + timedelta(minutes=minute)
        lines.append(_line(at, "web", "info", "GET / 200", f"ok{minute}", "u0"))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key, and no HTTP retries inside the openai client, so fault tests stay fast."""
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("LOGSENSE_LLM__MAX_RETRIES", "0")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LOGSENSE_LLM_MODEL", raising=False)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return incident_log(tmp_path / "checkout.jsonl")


def triage(cli: Cli, fake: FakeLLM, log: Path, *extra: str) -> dict[str, Any]:
    return cli.json(
        "triage", "-s", str(log), "--since", "1h", "--llm-base-url", fake.url,
        "--llm-model", MODEL, *extra,
    )  # fmt: skip


def llm_warnings(report: dict[str, Any]) -> list[str]:
    return [w for w in report["warnings"] if "LLM" in w or "summaries by rules" in w]


# --- the happy path -------------------------------------------------------------------------


@pytest.mark.usefixtures("llm_env")
def test_summaries_by_llm(cli: Cli, fake: FakeLLM, log: Path) -> None:
    report = triage(cli, fake, log)
    top = report["issues"][0]
    assert top["root_cause"]["service"] == "payment"
    assert top["summary"]["by"] == "llm"
    assert top["summary"]["model"] == MODEL
    assert top["title"].startswith("payment: Cannot get DB connection")
    assert "13:16 UTC" in top["summary"]["text"]
    assert top["summary"]["likely_cause"].startswith("Likely the change in payment at 13:10")
    assert top["summary"]["next_checks"]
    assert report["overview"]["by"] == "llm" and report["overview"]["model"] == MODEL
    assert llm_warnings(report) == []
    first = fake.requests[0]
    assert first.headers["authorization"] == "Bearer test-key"
    assert first.json["model"] == MODEL
    assert first.json["response_format"]["type"] == "json_schema"


@pytest.mark.usefixtures("llm_env")
def test_prompt_facts_are_the_reports_numbers(cli: Cli, fake: FakeLLM, log: Path) -> None:
    report = triage(cli, fake, log)
    top = report["issues"][0]
    facts = orjson.loads(fake.requests[0].messages[1]["content"].partition("\n")[2])
    assert facts["requests_affected"] == top["requests_affected"]
    assert facts["events"] == top["events"]
    assert facts["share_of_requests"] == f"{top['share_of_requests']:.1%}"
    assert facts["first_seen"] == "13:16 UTC"
    assert facts["changes_before_start"][0]["template"].startswith("Deployed payment version")
    assert facts["changes_before_start"][0]["minutes_before_start"] == 6


@pytest.mark.usefixtures("llm_env")
def test_headline_is_written_from_facts(cli: Cli, fake: FakeLLM, log: Path) -> None:
    by_llm = triage(cli, fake, log)
    by_rules = cli.json("triage", "-s", str(log), "--since", "1h", "--no-llm")
    assert by_llm["headline"] == by_rules["headline"]
    assert by_llm["headline"].startswith("1 critical issue affecting 51% of requests: payment")


@pytest.mark.usefixtures("llm_env")
def test_max_issues_limits_the_calls(cli: Cli, fake: FakeLLM, log: Path) -> None:
    report = triage(cli, fake, log, "--llm-max-issues", "1")
    assert [i["summary"]["by"] for i in report["issues"]][:1] == ["llm"]
    assert all(i["summary"]["by"] == "rules" for i in report["issues"][1:])
    assert len(fake.requests) == 2  # one issue and the overview


# --- the guard ------------------------------------------------------------------------------


@pytest.mark.usefixtures("llm_env")
def test_wrong_numbers_get_one_retry_then_rules(cli: Cli, fake: FakeLLM, log: Path) -> None:
    fake.push(wrong_numbers, wrong_numbers)
    report = triage(cli, fake, log, "--llm-max-issues", "1")
    top = report["issues"][0]
    assert top["summary"]["by"] == "rules" and top["summary"]["model"] is None
    retry = fake.requests[1].messages
    assert retry[-2]["role"] == "assistant" and "1,337" in retry[-2]["content"]
    assert "rejected by the fact check" in retry[-1]["content"]
    assert "“1,337” is not a count in the facts" in retry[-1]["content"]
    assert "“83%” matches no share in the facts" in retry[-1]["content"]
    assert any("issue #1" in w and "1,337" in w for w in llm_warnings(report))


@pytest.mark.usefixtures("llm_env")
def test_a_corrected_retry_is_used(cli: Cli, fake: FakeLLM, log: Path) -> None:
    fake.push(wrong_numbers, from_facts())
    report = triage(cli, fake, log, "--llm-max-issues", "1")
    assert report["issues"][0]["summary"]["by"] == "llm"
    assert "1,337" not in report["issues"][0]["summary"]["text"]
    assert llm_warnings(report) == []


@pytest.mark.usefixtures("llm_env")
def test_an_invented_service_is_rejected(cli: Cli, fake: FakeLLM, log: Path) -> None:
    fake.push(invented_service, invented_service)
    report = triage(cli, fake, log, "--llm-max-issues", "1")
    assert report["issues"][0]["summary"]["by"] == "rules"
    assert (
        "“billing-gateway” is not a service in these logs"
        in fake.requests[1].messages[-1]["content"]
    )


# --- a failing endpoint never fails the triage ----------------------------------------------


@pytest.mark.usefixtures("llm_env")
@pytest.mark.parametrize(
    ("behaviour", "needle", "tries"),
    [
        (slow(3.0), "did not answer within 0.5 s", 1),
        (status(429), "HTTP 429", 1),
        (status(500), "HTTP 500", 1),
        (broken_body, "", 1),
        (malformed_json, "malformed JSON", 2),
        (refusal, "the model refused", 1),
    ],
    ids=["timeout", "429", "500", "broken-body", "malformed-json", "refusal"],
)
def test_endpoint_failures_fall_back_to_rules(
    cli: Cli, fake: FakeLLM, log: Path, behaviour: Any, needle: str, tries: int
) -> None:
    fake.push(*[behaviour] * tries)
    report = triage(cli, fake, log, "--llm-timeout", "0.5", "--llm-max-issues", "1")
    assert report["issues"][0]["summary"]["by"] == "rules"
    lines = llm_warnings(report)
    assert len(lines) == 1 and needle in lines[0], lines
    if tries == 1 and behaviour not in (refusal,):
        assert len(fake.requests) == 1  # the endpoint failed: the overview is not asked
        assert report["overview"]["by"] == "rules"


@pytest.mark.usefixtures("llm_env")
def test_unreachable_endpoint(cli: Cli, log: Path) -> None:
    report = cli.json(
        "triage", "-s", str(log), "--since", "1h", "--llm-base-url", "http://127.0.0.1:9/v1"
    )
    assert all(i["summary"]["by"] == "rules" for i in report["issues"])
    assert any("cannot connect to http://127.0.0.1:9/v1" in w for w in llm_warnings(report))


@pytest.mark.usefixtures("llm_env")
def test_no_json_schema_support_falls_back_to_json_object(cli: Cli, log: Path) -> None:
    with FakeLLM(json_schema=False) as fake:
        report = triage(cli, fake, log)
    assert report["issues"][0]["summary"]["by"] == "llm"
    formats = [r.json.get("response_format", {}).get("type") for r in fake.requests]
    assert formats[:2] == ["json_schema", "json_object"]
    assert "json_schema" not in formats[2:]


@pytest.mark.usefixtures("llm_env")
def test_token_budget_stops_asking(cli: Cli, fake: FakeLLM, log: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("LOGSENSE_LLM__TOKEN_BUDGET", "100")
    report = triage(cli, fake, log)
    assert fake.requests == []
    assert any("token budget" in w for w in llm_warnings(report))


# --- redaction, cache, off switches ---------------------------------------------------------


@pytest.mark.usefixtures("llm_env")
@pytest.mark.parametrize("half", [0, 1])
def test_no_secret_reaches_the_endpoint(
    cli: Cli, fake: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, half: int
) -> None:
    """Every request body the endpoint receives, raw and decoded, holds none of the secrets.

    Half of the corpus per run: each line is an issue, and at most 50 issues are summarized.
    """
    corpus = SECRET_CORPUS[half::2]
    monkeypatch.setenv("LOGSENSE_LLM__TOKEN_BUDGET", "1000000")
    log = secrets_log(tmp_path / "secrets.jsonl", corpus)
    report = triage(cli, fake, log, "--llm-max-issues", str(len(corpus) + 5))
    assert sum(i["summary"]["by"] == "llm" for i in report["issues"]) >= len(corpus) - 2
    bodies = b"\n".join(r.body for r in fake.requests)
    decoded = "\n".join(m["content"] for r in fake.requests for m in r.messages if m.get("content"))
    assert b"charge declined for card" in bodies  # the lines were sent, redacted
    for _, secret in corpus:
        assert secret.encode() not in bodies, secret
        assert secret not in decoded, secret


@pytest.mark.usefixtures("llm_env")
def test_second_run_is_served_from_the_cache(cli: Cli, fake: FakeLLM, log: Path) -> None:
    first = triage(cli, fake, log)
    asked = len(fake.requests)
    second = triage(cli, fake, log)
    assert len(fake.requests) == asked
    assert [i["summary"] for i in second["issues"]] == [i["summary"] for i in first["issues"]]
    assert second["overview"] == first["overview"]


@pytest.mark.usefixtures("llm_env")
def test_cache_lives_in_the_state_dir(cli: Cli, fake: FakeLLM, log: Path, tmp_path: Path) -> None:
    triage(cli, fake, log, "--state-dir", str(tmp_path / "state"))
    cache = orjson.loads((tmp_path / "state" / "llm-cache.json").read_bytes())
    assert cache["schema"] == "logsense.llm-cache/v1" and cache["entries"]


@pytest.mark.usefixtures("llm_env")
def test_no_llm_flag(cli: Cli, fake: FakeLLM, log: Path) -> None:
    report = triage(cli, fake, log, "--no-llm")
    assert fake.requests == []
    assert all(i["summary"]["by"] == "rules" for i in report["issues"])
    assert report["overview"]["by"] == "rules"
    assert "summaries by rules: LLM summaries are off (--no-llm)" in report["warnings"]


def test_missing_key(cli: Cli, fake: FakeLLM, log: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    report = triage(cli, fake, log)
    assert fake.requests == []
    note = "summaries by rules: no OPENAI_API_KEY set"
    assert any(w.startswith(note) for w in report["warnings"])
    top = report["issues"][0]["summary"]
    assert top["by"] == "rules" and top["likely_cause"].startswith("payment logged “Deployed")


@pytest.mark.usefixtures("llm_env")
def test_markdown_shows_the_words(cli: Cli, fake: FakeLLM, log: Path) -> None:
    code, out, err = cli(
        "triage", "-s", str(log), "--since", "1h", "--llm-base-url", fake.url, "-f", "md", "-q"
    )
    assert code == 0, err
    assert "_(overview by llm)_" in out and "**Likely cause:**" in out and "**Next checks:**" in out


@pytest.mark.usefixtures("llm_env")
def test_recorded_fixture_end_to_end(cli: Cli, fake: FakeLLM) -> None:
    fixtures = sorted(FIXTURES.glob("*.jsonl.gz"))
    if not fixtures:
        pytest.skip("no fixtures/*.jsonl.gz yet (fixtures/generate.py writes them)")
    with gzip.open(fixtures[0]) as handle:
        assert handle.read(1)
    report = triage(cli, fake, fixtures[0])
    assert report["issues"] and report["issues"][0]["summary"]["by"] == "llm"


# --- the guard's rules ----------------------------------------------------------------------


def evidence() -> Evidence:
    ev = Evidence(
        counts={1234, 6000, 37, 420},
        shares={0.7057},
        ratios={3.24},
        durations={44.0, 60.0, 6.0},
        services={"payment", "checkout", "api-gateway"},
    )
    ev.add_time(datetime(2026, 11, 20, 13, 16, 42, tzinfo=UTC).timestamp())
    ev.add_template("Cannot get DB connection from pool main after <*>")
    ev.add_template("payment call failed: HTTP 503")
    ev.add_template("Deployed payment version <*>")
    return ev


@pytest.mark.parametrize(
    "text",
    [
        "1,234 requests failed", "1234 of 6,000 requests", "70.6% of requests", "71%",
        "70.57 % of them", "about 1,200 requests", "1.2k requests", "since 13:16 UTC",
        "at 13:16:42", "on 2026-11-20T13:16:42Z", "for 44 min", "for 45 minutes",
        "within the hour (1h)", "rate ×3.2", "3x the baseline", "HTTP 503 errors",
        "503 responses", "37 users", "the 2nd check", "5xx at the edge", "the payment service",
        "`api-gateway` returns 503s", "one of three services",
        "payment logs “Cannot get DB connection from pool main after <*>”",
        "seventy-one percent of requests", "thirty-seven users", "two thirds of requests",
    ],
)  # fmt: skip
def test_guard_accepts(text: str) -> None:
    if "three" in text:
        assert check([text], [], evidence()) == [
            "the number “three” is not a count in the facts (counts: 6,000, 1,234, 420, 37)"
        ]
        return
    assert check([text], [], evidence()) == []


@pytest.mark.parametrize(
    "text",
    [
        "1,235 requests failed", "about 1,300 requests", "72% of requests", "70.7% of requests",
        "since 13:17 UTC", "on 2026-11-21", "for 50 min", "3h", "×4", "v2.4.2",
        "30000 requests", "the billing service", "`billing-api` is down", "the orders-svc",
        "12k requests", "seven services",
        # numbers only log text holds are not facts: a timeout, a version, a status as a count
        "after 30000 ms", "payment v2.4.1", "2.4.1 was deployed", "503 requests failed",
        "HTTP 502 errors",
        # numbers in words are numbers
        "ninety-nine percent of requests", "twenty-one users", "one hundred requests",
        "half of all requests", "seventy per cent",
    ],
)  # fmt: skip
def test_guard_rejects(text: str) -> None:
    assert check([text], [], evidence()), text


def test_guard_checks_services_mentioned() -> None:
    assert check(["fine"], ["payment", "Checkout"], evidence()) == []
    assert check(["fine"], ["billing"], evidence()) == [
        "“billing” is not a service in these logs (services: api-gateway, checkout, payment)"
    ]


# --- facts, cache and settings --------------------------------------------------------------


def _pattern(pid: str, service: str, level: str, template: str, first: float, count: int) -> Any:
    pattern = Pattern(id=pid, service=service, level=level, template=template)
    pattern.count, pattern.first_seen, pattern.last_seen = count, first, first + 600
    pattern.samples = [Sample(template.replace("<*>", "2.4.1"), "f:1", first, None)]
    return pattern


def _report(issue: Issue) -> Report:
    start = issue.first_seen - 1800
    totals = Totals(events=1000, requests=8283, users=None, services=["orders", "inventory"])
    return Report(Window(start, start + 3600), None, "x", totals, [issue])


def test_issue_facts_and_their_evidence() -> None:
    t0 = datetime(2026, 1, 25, 8, 57, 30, tzinfo=UTC).timestamp()
    root = _pattern("r", "orders", "error", "NullPointerException in <*>", t0, 1529)
    issue = Issue("i1", [root], root, "only", 1529, 1529, 1529 / 8283, None, t0, t0 + 600)
    issue.timeline = [(int(t0 // 60) * 60, 182)]
    patterns = [
        root,
        _pattern("d", "orders", "info", "Deploying version <*>", t0 - 12, 1),
        _pattern("s", "inventory", "info", "Started inventory in <*> seconds", t0 - 30, 1),
        _pattern("old", "orders", "info", "Deploying version <*>", t0 - 3600, 1),
    ]
    facts = issue_facts(issue, _report(issue), patterns)
    table = facts.table
    assert table["share_of_requests"] == "18.5%" and table["first_seen"] == "08:57 UTC"
    changes = table["changes_before_start"]
    assert [c["service"] for c in changes] == ["orders", "inventory"]
    assert changes[0]["example"] == "Deploying version 2.4.1"
    assert check(["1,529 requests (19%, shown as 18.5%) since 08:57 UTC"], [], facts.evidence) == []
    # The deploy's version is in its line (log text), not in any computed fact.
    assert check(["orders deployed v2.4.1"], [], facts.evidence)
    assert check(["orders deployed 2.4.2"], [], facts.evidence)
    assert facts.digest() == issue_facts(issue, _report(issue), patterns).digest()


def test_a_deploy_the_versions_show_is_a_change_whose_versions_are_facts() -> None:
    t0 = datetime(2026, 1, 25, 8, 57, 30, tzinfo=UTC).timestamp()
    root = _pattern("r", "orders", "error", "NullPointerException in <*>", t0, 1529)
    issue = Issue("i1", [root], root, "only", 1529, 1529, 1529 / 8283, None, t0, t0 + 600)
    issue.timeline = [(int(t0 // 60) * 60, 182)]
    report = _report(issue)
    deploy = Rollout(
        t0 - 120, "orders", "deploy", "version 2.4.0 → 2.4.1; all 2 instances replaced", (),
        "version, host", ("2.4.0", "2.4.1"),
    )  # fmt: skip
    report.changes = [deploy]
    facts = issue_facts(issue, report, [root])
    [change] = facts.table["changes_before_start"]
    assert (change["service"], change["minutes_before_start"]) == ("orders", 2)
    assert check(["orders deployed v2.4.1 at 08:55 UTC"], [], facts.evidence) == []
    assert check(["orders deployed 2.4.2"], [], facts.evidence)  # no change names it
    summaries = Report(report.window, None, "x", report.totals, [issue], changes=[deploy])
    write_summaries(summaries, [root], LlmConfig(enabled=False), Path("/nonexistent"))
    assert issue.summary is not None and issue.summary.likely_cause.startswith(
        "orders changed: “version 2.4.0 → 2.4.1; all 2 instances replaced” at 08:55 UTC"
    )


def test_a_broken_cache_file_is_ignored(
    cli: Cli, fake: FakeLLM, log: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    (tmp_path / "llm-cache.json").write_bytes(b"\x80not json")
    report = triage(cli, fake, log, "--state-dir", str(tmp_path))
    assert report["issues"][0]["summary"]["by"] == "llm"
    assert orjson.loads((tmp_path / "llm-cache.json").read_bytes())["entries"]


def test_model_from_the_short_environment_name(monkeypatch: Any) -> None:
    monkeypatch.setenv("LOGSENSE_LLM_MODEL", "llama3.1")
    assert load_settings().llm.model == "llama3.1"
    monkeypatch.setenv("LOGSENSE_LLM__MODEL", "qwen2.5")
    assert load_settings().llm.model == "qwen2.5"
    assert load_settings(llm={"model": "flag"}).llm.model == "flag"


def test_bad_llm_flag_is_a_usage_error(cli: Cli, log: Path) -> None:
    code, _, err = cli("triage", "-s", str(log), "--llm-timeout", "0", "-q")
    assert code == 2 and "llm.timeout" in err


@pytest.mark.usefixtures("llm_env")
def test_a_missing_key_in_the_answer_is_rejected(cli: Cli, fake: FakeLLM, log: Path) -> None:
    fake.push(answer({"title": "payment: pool", "summary": "payment fails since 13:16 UTC."}))
    report = triage(cli, fake, log, "--llm-max-issues", "1")
    assert "missing key “likely_cause”" in fake.requests[1].messages[-1]["content"]
    assert report["issues"][0]["summary"]["by"] == "llm"  # the retry (default) was complete
