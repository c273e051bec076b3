"""Triage as a user runs it, on the committed fixtures and on unseen generated worlds.

Each check compares with the generator's exact truth: the top issue, its root cause, and its
share of requests within ±1 percentage point; loud errors that touch no request rank last.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, Cli, generator

TOLERANCE = 0.01
FIXTURE_FILES = [
    "checkout_db_pool.jsonl.gz",
    "search_timeouts_minor.jsonl.gz",
    "orders_deploy_npe.jsonl.gz",
    "orders_deploy_npe.log.gz",
]


def truth_of(path: Path) -> Any:
    return generator().load_truth(generator().truth_path_for(path))


def matches(template: str, message: str) -> bool:
    """True when `message` is an instance of `template` (`<*>` stands for any text)."""
    parts = [re.escape(" ".join(p.split())) for p in template.split("<*>")]
    return re.fullmatch(".*?".join(parts), " ".join(message.split()), re.DOTALL) is not None


def issue_for(report: dict[str, Any], incident: Any) -> dict[str, Any]:
    """The issue whose root cause is the incident's root (service and message)."""
    for issue in report["issues"]:
        root = issue["root_cause"]
        if root["service"] == incident.root_service and matches(
            root["template"], incident.root_message.splitlines()[0]
        ):
            return issue
    found = [
        (i["rank"], i["root_cause"]["service"], i["root_cause"]["template"])
        for i in report["issues"][:5]
    ]
    raise AssertionError(
        f"no issue rooted at {incident.root_service}: {incident.root_message!r}; top: {found}"
    )


def check_incidents(report: dict[str, Any], truth: Any) -> list[dict[str, Any]]:
    """Every incident visible in the window is an issue with the right root and share."""
    start, end = report["window"]["start"], report["window"]["end"]
    visible: list[dict[str, Any]] = []
    for incident in truth.incidents:
        share = generator().share_in_window(truth, incident.name, start, end)
        if share < 0.005:
            continue
        issue = issue_for(report, incident)
        assert issue["share_of_requests"] == pytest.approx(share, abs=TOLERANCE), incident.name
        assert issue["severity"] in ("critical", "high", "medium")
        visible.append(issue)
    if visible:
        # A new incident may outrank a larger chronic one; noise never outranks an incident.
        assert report["issues"][0]["id"] in {i["id"] for i in visible}, "an incident ranks first"
    return visible


def check_default_view(report: dict[str, Any], incidents: list[dict[str, Any]]) -> None:
    """The default view fits a screen: an incident first, at most eight rows; JSON keeps all."""
    shown = [issue for issue in report["issues"] if issue["shown"]]
    assert 1 <= len(shown) <= 8, [(i["rank"], i["title"]) for i in shown]
    if incidents:
        assert shown[0]["id"] in {i["id"] for i in incidents}
    assert all(i["shown"] for i in incidents), "an incident is never folded"


def check_loud_noise_ranks_below(
    report: dict[str, Any], truth: Any, incidents: list[dict[str, Any]]
) -> None:
    loud_services = {
        n.service for n in truth.noise if not n.has_request_id and n.level.lower() == "error"
    }
    worst_incident_rank = max((i["rank"] for i in incidents), default=0)
    for issue in report["issues"]:
        noisy = any(
            t["service"] in loud_services and t["level"] == "error" for t in issue["templates"]
        )
        if noisy and issue["requests_affected"] == 0:
            assert issue["rank"] > worst_incident_rank
            assert issue["share_of_requests"] == 0.0


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_committed_fixture(cli: Cli, name: str) -> None:
    path = FIXTURES / name
    report = cli.json("triage", "--source", str(path), "--since", "1h")
    truth = truth_of(path)
    incidents = check_incidents(report, truth)
    assert incidents, "each fixture has an incident in its last hour"
    check_loud_noise_ranks_below(report, truth, incidents)
    check_default_view(report, incidents)
    assert report["schema"] == "logsense.triage/v1"
    assert report["totals"]["malformed"] == 0


def test_the_loud_error_is_reported_but_ranked_last(cli: Cli) -> None:
    path = FIXTURES / "checkout_db_pool.jsonl.gz"
    report = cli.json("triage", "--source", str(path), "--since", "1h")
    loud = [i for i in report["issues"] if i["requests_affected"] == 0 and i["events"] > 1000]
    assert loud, "the metrics exporter error is an issue of its own"
    assert all(i["rank"] > report["issues"][0]["rank"] for i in loud)
    assert report["issues"][0]["severity"] == "critical"
    assert report["headline"].startswith("1 critical issue affecting 72% of requests")


def test_stack_traces_are_fingerprinted_and_kept_as_samples(cli: Cli) -> None:
    report = cli.json(
        "triage", "--source", str(FIXTURES / "orders_deploy_npe.log.gz"), "--since", "1h"
    )
    top = report["issues"][0]
    fingerprints = [t["fingerprint"] for t in top["templates"] if t["fingerprint"]]
    assert any(f.startswith("java.lang.NullPointerException") for f in fingerprints)
    assert any("\tat " in sample for sample in top["samples"])


def test_text_and_json_recordings_of_one_world_agree(cli: Cli) -> None:
    as_json = cli.json(
        "triage", "--source", str(FIXTURES / "orders_deploy_npe.jsonl.gz"), "--since", "1h"
    )
    as_text = cli.json(
        "triage", "--source", str(FIXTURES / "orders_deploy_npe.log.gz"), "--since", "1h"
    )
    keep = ("id", "severity", "events", "requests_affected", "share_of_requests", "services")
    assert [{k: i[k] for k in keep} for i in as_json["issues"]] == [
        {k: i[k] for k in keep} for i in as_text["issues"]
    ]


UNSEEN = [
    (kind, seed)
    for kind in ("major", "minor", "deploy", "loud_noise", "mixed")
    for seed in (4242, 9001)
]


@pytest.mark.parametrize(("kind", "seed"), UNSEEN)
def test_unseen_world(cli: Cli, tmp_path: Path, kind: str, seed: int) -> None:
    gen = generator()
    path = tmp_path / f"{kind}-{seed}.jsonl.gz"
    gen.write_scenario(gen.random_scenario(seed, kind), seed, path)
    report = cli.json("triage", "--source", str(path), "--since", "1h")
    truth = gen.load_truth(gen.truth_path_for(path))
    incidents = check_incidents(report, truth)
    check_loud_noise_ranks_below(report, truth, incidents)
    check_default_view(report, incidents)


def test_deploys_and_restarts_are_changes_never_issues(cli: Cli) -> None:
    report = cli.json(
        "triage", "--source", str(FIXTURES / "orders_deploy_npe.jsonl.gz"), "--since", "1h"
    )
    kinds = [(c["service"], c["kind"]) for c in report["changes"]]
    assert ("orders", "deploy") in kinds and ("orders", "rollback") in kinds
    # The events' versions and hosts tell them too, and give the facts to the line's words.
    rollback = next(c for c in report["changes"] if c["kind"] == "rollback")
    assert rollback["from"] == "version, host"
    assert rollback["text"].startswith("Rolling back to version 2.16.10")
    assert "version 2.17.0 withdrawn, 2.16.10 goes on; all 2 instances replaced" in rollback["text"]
    change_words = ("Deploying version", "Rolling back", "SIGTERM", "Graceful shutdown", "Started")
    for issue in report["issues"]:
        assert not any(word in issue["title"] for word in change_words), issue["title"]
        assert any(t["level"] in ("warn", "error", "fatal") for t in issue["templates"])


def test_the_console_script_runs_as_a_user_types_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "logsense", "triage", "--source",
         str(FIXTURES / "search_timeouts_minor.jsonl.gz"),
         "--since", "1h", "--format", "md", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# 1 high issue affecting 6% of requests: search:")
    assert "Traceback" not in done.stderr
