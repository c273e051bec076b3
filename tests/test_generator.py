"""Tests of the fixture generator itself: determinism, and truth that matches what it wrote."""

import gzip
import re
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import generator

GENERATOR = Path(__file__).resolve().parents[1] / "fixtures" / "generate.py"
ERRORISH = {"error", "fatal", "critical"}
HEADER = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d) ")


gen = generator()


def _small(kind: str, seed: int, **overrides: Any) -> Any:
    return gen.with_overrides(gen.random_scenario(seed, kind), minutes=6, rps=3, **overrides)


def _get(event: dict[str, Any], dotted: str) -> Any:
    if dotted in event:
        return event[dotted]
    value: Any = event
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _ms(event: dict[str, Any]) -> int:
    return round(datetime.fromisoformat(event["@timestamp"]).timestamp() * 1000)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+?", re.escape(template)) + "$")


def _first_line(event: dict[str, Any]) -> str:
    return str(event["message"]).partition("\n")[0]


@pytest.fixture(scope="module", params=sorted(gen.KINDS))
def world(request: pytest.FixtureRequest) -> tuple[Any, list[dict[str, Any]], Any]:
    scenario = _small(request.param, seed=11)
    events, truth = gen.generate(scenario, 11)
    return scenario, events, truth


def test_same_seed_gives_identical_events_and_truth() -> None:
    first_events, first_truth = gen.generate(_small("mixed", 5), 5)
    again_events, again_truth = gen.generate(_small("mixed", 5), 5)
    assert first_events == again_events
    assert first_truth.to_json() == again_truth.to_json()


def test_different_seeds_give_different_worlds() -> None:
    scenarios = [gen.random_scenario(seed, "minor") for seed in range(8)]
    assert len({frozenset(s.services) for s in scenarios}) > 4
    assert len({i.family for s in scenarios for i in s.incidents}) >= 3
    assert len({i.root_text for s in scenarios for i in s.incidents}) > 4


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario kind"):
        gen.random_scenario(1, "apocalypse")


def test_events_are_time_ordered_ecs(world: tuple[Any, list[dict[str, Any]], Any]) -> None:
    _, events, truth = world
    times = [_ms(e) for e in events]
    assert times == sorted(times)
    assert truth.total_events == len(events)
    assert truth.window_start == gen._utc_iso(times[0])
    assert truth.window_end == gen._utc_iso(times[-1])
    for event in events:
        assert _get(event, "log.level") and _get(event, "service.name") and event["message"]
        trace = _get(event, "trace.id")
        assert trace is None or re.fullmatch(r"[0-9a-f]{32}", trace)


def test_truth_request_table_matches_events(world: tuple[Any, list[dict[str, Any]], Any]) -> None:
    _, events, truth = world
    times: dict[str, list[int]] = defaultdict(list)
    users: dict[str, set[str]] = defaultdict(set)
    for event in events:
        trace = _get(event, "trace.id")
        if trace is not None:
            times[trace].append(_ms(event))
            user = _get(event, "user.id")
            if user is not None:
                users[trace].add(user)
    assert truth.total_requests == len(times)
    assert {rid: sorted(ts) for rid, ts in times.items()} == truth.request_times
    for rid, seen in users.items():
        assert seen == {truth.request_users[rid]}


def test_incident_truth_matches_root_events(world: tuple[Any, list[dict[str, Any]], Any]) -> None:
    scenario, events, truth = world
    for incident, told in zip(scenario.incidents, truth.incidents, strict=True):
        if incident.effect != "error":
            continue  # no error of its own: see test_truth_of_incidents_without_root_errors
        patterns = [_template_regex(incident.root_text)]
        if incident.wrapper_text:
            patterns.append(_template_regex(incident.wrapper_text))
        root_events = [
            e
            for e in events
            if _get(e, "service.name") == incident.root_service
            and str(_get(e, "log.level")).lower() in ERRORISH
            and any(p.match(_first_line(e)) for p in patterns)
        ]
        assert told.root_events == len(root_events)
        assert told.request_ids == sorted({_get(e, "trace.id") for e in root_events})
        assert told.requests_affected == len(told.request_ids)
        if not root_events:
            assert told.start is None and told.root_message is None
            continue
        assert told.start == gen._utc_iso(_ms(root_events[0]))
        assert told.end is not None and told.end >= gen._utc_iso(_ms(root_events[-1]))
        assert told.root_message in {_first_line(e) for e in root_events}
        affected = set(told.request_ids)
        services_on_affected = {
            _get(e, "service.name") for e in events if _get(e, "trace.id") in affected
        }
        assert set(told.symptom_services) <= services_on_affected
        share = gen.share_in_window(truth, told.name, truth.window_start, truth.window_end)
        assert share == pytest.approx(told.requests_affected / truth.total_requests)


def _events_by_request(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        trace = _get(event, "trace.id")
        if trace is not None:
            found[trace].append(event)
    return found


def _affected_by_effect(incident: Any, events: list[dict[str, Any]]) -> set[str]:
    """The requests an incident without a root error affected, read back from the events."""
    by_request = _events_by_request(events)
    root = incident.root_service

    def lines(request: list[dict[str, Any]], template: str) -> list[dict[str, Any]]:
        regex = _template_regex(template)
        return [e for e in request if _get(e, "service.name") == root and regex.match(e["message"])]

    if incident.effect == "silent":  # the caller's error names the silent root
        regex = _template_regex(incident.caller_text)
        return {
            rid for rid, request in by_request.items()
            if any(
                _get(e, "service.name") == incident.caller and regex.match(_first_line(e))
                for e in request
            )
        }  # fmt: skip
    if incident.effect == "stop":  # the step began and never ended
        begin, done = incident.step
        return {
            rid for rid, request in by_request.items()
            if len(lines(request, begin)) > len(lines(request, done))
        }  # fmt: skip
    raise AssertionError(incident.effect)


def test_truth_of_incidents_without_root_errors() -> None:
    """Silent roots, stopped steps: the truth's requests are exactly those the events show;
    delays and starvation: those that reached the service after the onset."""
    for kind in ("silent", "work_stops", "network_delay", "cpu_starvation"):
        for seed in (1, 2):
            scenario = _small(kind, seed)
            events, truth = gen.generate(scenario, seed)
            incident, told = scenario.incidents[0], truth.incidents[0]
            onset = gen._parse_ms(told.onset)
            assert told.root_events == 0 and told.root_message is None
            assert told.issue_kind == {"silent": "events", "work_stops": "stopped"}.get(
                kind, "slow"
            )
            affected = set(told.request_ids)
            root = incident.root_service
            if incident.effect in ("silent", "stop"):
                assert affected == _affected_by_effect(incident, events), kind
            else:  # the service's events after the onset (a visit began before its lines)
                after = {
                    _get(e, "trace.id") for e in events
                    if _get(e, "service.name") == root and _ms(e) >= onset
                } - {None}  # fmt: skip
                late = {
                    _get(e, "trace.id") for e in events
                    if _get(e, "service.name") == root and _ms(e) >= onset + 10_000
                } - {None}  # fmt: skip
                assert late <= affected <= after, kind
                assert set(told.hidden_request_ids) <= affected
            for event in events:  # the root logs no error of its own in what it affected
                if _get(event, "trace.id") in affected and _get(event, "service.name") == root:
                    assert str(_get(event, "log.level")).lower() not in ERRORISH
            window = gen.affected_in_window(
                truth, told.name, truth.triage_window["start"], truth.triage_window["end"]
            )
            assert told.window_requests_affected == window.affected_requests
            assert truth.triage_window["requests"] == window.requests
            assert told.window_requests_visible == window.affected_requests - sum(
                truth.request_times[r][-1] >= gen._parse_ms(truth.triage_window["start"])
                for r in told.hidden_request_ids
            )


def test_new_kinds_record_a_baseline_hour_before_the_incident() -> None:
    for kind in ("silent", "work_stops", "network_delay", "cpu_starvation", "chronic"):
        for seed in range(4):
            scenario = gen.random_scenario(seed, kind)
            assert scenario.minutes >= 120
            main = scenario.incidents[0]
            assert scenario.minutes - 60 <= main.start_minute < main.end_minute
            chronic = [i for i in scenario.incidents if i.kind == "chronic"]
            assert len(chronic) == (kind == "chronic")
            for incident in chronic:
                assert (incident.start_minute, incident.end_minute) == (0.0, scenario.minutes)


def test_share_in_window_counts_requests_with_an_event_inside(
    world: tuple[Any, list[dict[str, Any]], Any],
) -> None:
    _, events, truth = world
    end = datetime.fromisoformat(truth.window_end)
    start = end - timedelta(minutes=2, milliseconds=517)
    lo, hi = round(start.timestamp() * 1000), round(end.timestamp() * 1000)
    inside = {_get(e, "trace.id") for e in events if lo <= _ms(e) <= hi} - {None}
    for told in truth.incidents:
        expected = len(inside & set(told.request_ids)) / len(inside)
        assert gen.share_in_window(truth, told.name, start, end) == pytest.approx(expected)


def test_requestless_events_are_noise_or_deploys(
    world: tuple[Any, list[dict[str, Any]], Any],
) -> None:
    _, events, truth = world
    requestless = [e for e in events if _get(e, "trace.id") is None]
    noise_count = sum(n.count for n in truth.noise if not n.has_request_id)
    deploy_words = re.compile(r"Deploying|Rolling back|Start|Listening|shutdown|SIGTERM|Shutdown")
    deploy_events = [e for e in requestless if deploy_words.search(e["message"])]
    assert len(requestless) == noise_count + len(deploy_events)
    for loud in (n for n in truth.noise if n.kind == "loud_error"):
        assert loud.count > 0 and not loud.has_request_id and loud.requests == 0


def test_truth_json_round_trip(world: tuple[Any, list[dict[str, Any]], Any]) -> None:
    _, _, truth = world
    assert gen.Truth.from_json(truth.to_json()) == truth


def test_written_files_are_deterministic_and_complete(tmp_path: Path) -> None:
    scenario = _small("deploy", 3)
    events, truth = gen.generate(scenario, 3)
    out = tmp_path / "run.jsonl.gz"
    count, written_truth = gen.write_scenario(scenario, 3, out)
    first_bytes = out.read_bytes()
    gen.write_scenario(scenario, 3, out)
    assert out.read_bytes() == first_bytes
    assert count == len(events)
    lines = gzip.decompress(first_bytes).splitlines()
    assert [orjson.loads(line) for line in lines] == events
    assert gen.load_truth(tmp_path / "run.truth.json") == written_truth == truth


def test_text_format_has_one_header_per_event(tmp_path: Path) -> None:
    scenario = _small("deploy", 3)
    events, _ = gen.generate(scenario, 3)
    out = tmp_path / "run.log.gz"
    gen.write_scenario(scenario, 3, out)
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    headers = [line for line in lines if HEADER.match(line)]
    assert len(headers) == len(events)
    assert any(line.startswith("\tat ") for line in lines)
    assert (tmp_path / "run.truth.json").exists()


def test_deploy_changes_versions_and_brings_stack_traces() -> None:
    scenario = _small("deploy", 2)
    events, truth = gen.generate(scenario, 2)
    deploy = next(d for d in truth.deploys if d.incident)
    incident = truth.incident(deploy.incident)
    assert incident.deploy_version == deploy.version and incident.deploy_service == deploy.service
    assert incident.deploy_time is not None and incident.start is not None
    assert incident.deploy_time < incident.start
    if deploy.rollback_time is not None:
        assert incident.end is not None and incident.recovery is not None
        assert incident.end < incident.recovery
    versions = [
        _get(e, "service.version") for e in events if _get(e, "service.name") == deploy.service
    ]
    assert versions[0] == deploy.previous_version and deploy.version in versions
    traced = [
        e
        for e in events
        if _get(e, "trace.id") in set(incident.request_ids)
        and _get(e, "service.name") == deploy.service
        and ("\n\tat " in e["message"] or _get(e, "error.stack_trace"))
    ]
    assert traced


def test_dotted_keys_and_utc_offset() -> None:
    scenario = _small("minor", 4, dotted_keys=True, utc_offset_minutes=60)
    events, truth = gen.generate(scenario, 4)
    assert all("log.level" in e and "log" not in e for e in events)
    assert all(e["@timestamp"].endswith("+01:00") for e in events)
    assert truth.window_start == gen._utc_iso(_ms(events[0]))


def test_every_template_placeholder_has_a_value() -> None:
    provided = {
        "user", "took_ms", "root_line", "wrapper_line", "gc_id", "active", "idle", "waiting",
        "callee", "status", "reason", "elapsed", "elapsed_s", "cop", "cmethod", "cpath", "grpc",
        "kind_word", "attempt", "max_attempts", "backoff", "klass", "method", "path",
        "used", "value",  # a precursor's line (`_precursor_values`)
    }  # fmt: skip
    known = provided | set(gen.VALUE_MAKERS)
    for kind in sorted(gen.KINDS):
        for seed in range(6):
            scenario = gen.random_scenario(seed, kind)
            templates = [i.root_text for i in scenario.incidents]
            templates += [i.wrapper_text for i in scenario.incidents]
            templates += [i.caller_text for i in scenario.incidents]
            templates += [line for i in scenario.incidents for line in i.step]
            templates += [n.template for n in scenario.noise]
            for svc in scenario.services.values():
                templates += [*svc.info, *svc.debug, svc.failure_template, svc.timeout_template]
                templates += [svc.retry_template, svc.fallback_template]
            templates += [e.path for e in scenario.endpoints] + [e.info for e in scenario.endpoints]
            for template in templates:
                assert set(re.findall(r"\{(\w+)\}", template)) <= known, template


def test_cli_lists_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--list"]) == 0
    assert "loud_noise" in capsys.readouterr().out
    out = tmp_path / "cli.log"
    argv = ["--scenario", "major", "--seed", "9", "--out", str(out), "--minutes", "3"]
    assert gen.main(argv) == 0
    assert out.read_text().count("\n") > 100
    truth = gen.load_truth(tmp_path / "cli.truth.json")
    assert truth.scenario["minutes"] == 3


COMMITTED = [
    ("checkout_db_pool.jsonl.gz", "db_pool-inventory", 0.6, 0.8),
    ("search_timeouts_minor.jsonl.gz", "timeout-search", 0.03, 0.08),
    ("orders_deploy_npe.jsonl.gz", "deploy_regression-orders", 0.15, 0.3),
    ("orders_deploy_npe.log.gz", "deploy_regression-orders", 0.15, 0.3),
]


@pytest.mark.parametrize(("name", "incident", "low", "high"), COMMITTED)
def test_committed_fixtures_agree_with_their_truth(
    name: str, incident: str, low: float, high: float
) -> None:
    path = GENERATOR.parent / name
    truth = gen.load_truth(gen.truth_path_for(path))
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    if name.endswith(".log.gz"):
        lines = [line for line in lines if HEADER.match(line)]
    assert len(lines) == truth.total_events
    end = datetime.fromisoformat(truth.window_end)
    assert low <= gen.share_in_window(truth, incident, end - timedelta(hours=1), end) <= high


def test_worlds_vary_how_callers_name_a_silent_root_and_react_to_a_stop() -> None:
    namings = {
        way
        for seed in range(12)
        for incident in gen.random_scenario(seed, "silent").incidents
        for way, texts in gen._SILENT_CALLER_TEMPLATES.items()
        if incident.caller_text in texts
    }
    assert namings == {"url", "hostport", "name"}
    reactions = {
        (incident.caller_level if incident.caller_text else "quiet")
        for seed in range(30)
        for incident in gen.random_scenario(seed, "work_stops").incidents
    }
    assert reactions == {"quiet", "WARN", "ERROR"}
