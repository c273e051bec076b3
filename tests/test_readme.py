"""The README cannot drift from the code where a reader copies from it."""

from __future__ import annotations

import re
import tomllib

import orjson
from conftest import REPO

from logsense.config import Settings

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_configuration_example_is_a_valid_logsense_toml() -> None:
    example = re.search(r"```toml\n(.*?)```", README, re.S)
    assert example is not None
    settings = Settings(**tomllib.loads(example.group(1)))
    assert settings.change.alpha == 0.05 and settings.grouping.min_containment == 0.9


def test_the_alert_example_has_the_fields_of_a_real_alert() -> None:
    from logsense.model import Issue, Pattern, Window
    from logsense.watch.alerts import AlertContext, alert_document
    from logsense.watch.transitions import Transition, seen_from

    example = re.search(r"```json\n(\{\n  \"schema\": \"logsense\.alert/v1\".*?)```", README, re.S)
    assert example is not None
    shown = orjson.loads(example.group(1))
    pattern = Pattern(id="p1", service="payments", level="error", template="Payment failed: <*>")
    issue = Issue("i1", [pattern], pattern, "", 10, 5, 0.042, None, 1_800_000_000.0,
                  1_800_000_060.0, severity="critical", status="new")  # fmt: skip
    at = 1_800_000_100.0
    context = AlertContext("default", "app.jsonl", at, Window(at - 900, at))
    real = alert_document(Transition("new", "i1", 1, issue=seen_from(issue)), context)
    assert shown.keys() == real.keys()
    assert shown["watch"].keys() == real["watch"].keys()
    assert shown["watch"]["window"].keys() == real["watch"]["window"].keys()
    assert shown["issue"].keys() == real["issue"].keys()
    assert shown["issue"]["root_cause"].keys() == real["issue"]["root_cause"].keys()
