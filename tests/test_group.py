"""Grouping by co-occurrence: a symptom joins its cause, and counts only where its cause is."""

import numpy as np

from logsense.analyze.group import group
from logsense.config import GroupingConfig
from logsense.model import Pattern
from logsense.requestmap import RequestMap


class NoEmbeddings:
    """Patterns of different services are never compared by meaning: nothing is embedded."""

    def warm_up(self, progress: bool = True) -> None:
        raise AssertionError("nothing to embed")

    def embed(self, texts: list[str]) -> np.ndarray:
        raise AssertionError(f"nothing to embed, asked for {texts}")


def pattern(pid: str, service: str, requests: dict[str, tuple[float, int]]) -> Pattern:
    made = Pattern(id=pid, service=service, level="error", template=f"{pid} failed <*>")
    made.requests = RequestMap.from_dict(requests)
    made.count = len(requests)
    made.first_seen, made.last_seen = 0.0, 600.0
    made.per_minute = {0: made.count}
    return made


def test_a_symptom_joins_its_cause_and_adds_none_of_its_other_requests() -> None:
    # The database fails first in 100 requests; the gateway reports 502 in 95 of them, after it,
    # and in 5 requests that failed for other reasons.
    cause = pattern("db", "inventory", {f"r{n}": (float(n), 2 * n) for n in range(100)})
    symptom = pattern(
        "gw",
        "gateway",
        {f"r{n}": (n + 0.5, 2 * n + 1) for n in range(95)}
        | {f"other{n}": (float(n), 1000 + n) for n in range(5)},
    )
    (found,) = group([symptom, cause], GroupingConfig(), NoEmbeddings(), total_requests=10_000)
    assert found.root is cause
    assert {p.id for p in found.patterns} == {"db", "gw"}
    assert found.requests.texts() == cause.requests.texts()


def test_unrelated_patterns_stay_apart_with_all_their_requests() -> None:
    first = pattern("a", "inventory", {f"a{n}": (float(n), n) for n in range(50)})
    second = pattern("b", "gateway", {f"b{n}": (float(n), 100 + n) for n in range(30)})
    found = group([first, second], GroupingConfig(), NoEmbeddings(), total_requests=10_000)
    assert [(g.root.id, len(g.requests)) for g in found] == [("a", 50), ("b", 30)]
