"""Pushdown: Elasticsearch counts, and logsense reads in full only the events that can form an
issue, with a uniform sample of requests for the rest.

When more than `Pushdown.budget` events of the range cannot form an issue on their own, a triage
from an index goes this way (`push_down`):

1. **Levels.** A `terms` aggregation over each level field of the range gives the values in use.
   The values logsense reads as warn or worse, and those it cannot read as a level at all, are
   read *in full*, as is every event with a stack-trace field and every event with no level
   field (its level is in its message). Mapped as a number, a level field is read as pino's:
   40 and above is warn. So is every event whose HTTP status (the first status field with a
   value) is 5xx: the readers make it an error at least. So are the lines that may tell a
   change (a message word begins like `deploy`, `version`, `config`, `scaling` …,
   `analyze/rollouts.CHANGE_WORD_STARTS`): a change is one line, which a sample would miss.
2. **In full.** Those events go into the triage's table, exactly as a full read would.
3. **The sample.** Of the other events, every event of a uniform sample of requests: those
   whose id ends in two characters up to a bound (`Sample`), chosen from a probe of the range's
   own ids so that about `budget` events are read, selected by the node with a `regexp` and
   mirrored here by `Sample.members`. An event without a request id is sampled by a seeded
   `random_score`. A request is sampled whole, across services, so the order of a request's
   steps, the context of a pattern and the requests a stop left behind are all seen inside the
   sample as in the whole. One rate serves every service: per-service rates would cut requests
   apart where they cross services.
4. **Totals.** Events per period are document counts (exact); requests, per minute and users
   are `cardinality` aggregations at the highest precision (estimates above 40,000 distinct);
   services a `terms` aggregation; the sample universe's events counts by the sample's own
   queries. Versions and hosts come from a `composite` aggregation (`read_instances`).

The pipeline then compares each sampled pattern with the universe's totals
(`model.Sampling`, `Totals.within`): patterns read in full keep exact counts and shares.
Anything the pushdown cannot do (a level field that cannot be aggregated, a request id that is
not a keyword, too many level values) makes it read in full, and says why in the warnings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
from elasticsearch import BadRequestError

from logsense._native import Aggregate, EventTable
from logsense.analyze.rollouts import CHANGE_WORD_STARTS
from logsense.model import Instance, Sampling, Totals, Window, level_rank
from logsense.requestmap import RequestSet
from logsense.sources.elasticsearch import ElasticsearchSource, api_reason
from logsense.sources.records import LEVEL_NAMES, event_table, normalize_level

if TYPE_CHECKING:
    from logsense._native import HopRow
    from logsense.mine import Mined

__all__ = [
    "DEFAULT_BUDGET", "MatchingRead", "Pushdown", "Pushed", "RequestSample", "Sample",
    "choose_last_ending",
    "ending_inside", "hops_inside", "push_down", "read_instances",
]  # fmt: skip

DEFAULT_BUDGET = 100_000
_PRECISION = 40_000  # cardinality's highest precision_threshold
_MINUTE_PRECISION = 3_000
_LEVEL_VALUES = 1_000
_SERVICES = 10_000
_KEYWORDS = frozenset({"keyword", "constant_keyword"})
_OBJECTS = frozenset({"object", "nested"})
_TEXTS = frozenset({"text", "match_only_text"})
_NUMBERS = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float"})
_WARN = level_rank("warn")
# Instances read at most: more means the host field holds something else than hosts.
MAX_INSTANCES = 20_000
_INSTANCE_PAGE = 1_000
# Request ids read to learn how their endings are spread.
_ENDINGS_PROBE = 5_000
_ENDING = 2  # characters
# The lowest character an id's ending holds to be sampled: control characters are left out.
_LOWEST = " "


@dataclass(frozen=True)
class Pushdown:
    """How to push a triage down: read in full when at most `budget` events of the range
    cannot form an issue, else sample them down to about that many."""

    budget: int = DEFAULT_BUDGET


class RequestSample(Protocol):
    """A uniform sample of requests: the rate aimed at, and which request ids it holds."""

    @property
    def rate(self) -> float: ...

    def members(self, names: Sequence[str]) -> npt.NDArray[np.bool_]:
        """For each request id text, whether the sample holds it."""
        ...


@dataclass(frozen=True)
class Sample:
    """Which events of the rest are read: every event of the requests whose id (by
    `request_fields`, the first that has a value) ends in at most `last` (its last two
    characters, in text order; see `ending_inside`), and of the events without a request id
    those a seeded random score puts at or above `1 - rate`.

    Endings, not a hash: Elasticsearch then selects by a regular expression over the ids'
    terms, which every cluster can run (a hash needs a script, and many clusters allow none),
    and this process decides a request's membership the same way from its text. Ids are random,
    time-ordered or counters; their last characters are spread evenly in all three, and `last`
    is chosen from the endings of the read's own ids (`choose_last_ending`). A range of
    endings, not a list: its expression stays a few characters long whatever the ids'
    alphabet and the rate (a list of 400 endings passes the 1,000 characters a cluster allows
    by default, `index.max_regex_length`).
    """

    request_fields: tuple[str, ...]
    last: str
    rate: float
    # Whether any event to sample lacks a request id (else `without_id` selects nothing).
    idless: bool = True
    seed: int = 20_261_206

    def by_id(self) -> dict[str, Any]:
        """The filter that selects the events of the sampled requests (the node can cache it)."""
        regex = {"value": _endings_regex(self.last), "flags": "NONE"}
        alternatives = [
            {"bool": {
                "filter": [{"regexp": {field: regex}}],
                "must_not": [{"exists": {"field": f}} for f in self.request_fields[:i]],
            }}
            for i, field in enumerate(self.request_fields)
        ]  # fmt: skip
        return {"bool": {"should": alternatives, "minimum_should_match": 1}}

    def without_id(self) -> tuple[dict[str, Any], tuple[dict[str, Any], float]]:
        """How a search selects the sampled events without a request id: a filter (no request
        id), and a scoring query with the least score a sampled one gets (a seeded random
        score, so the node scores only the events the filter lets through)."""
        no_id = {"bool": {"must_not": [{"exists": {"field": f}} for f in self.request_fields]}}
        scoring = {
            "function_score": {
                "query": {"match_all": {}},
                "functions": [{"random_score": {"seed": self.seed, "field": "_seq_no"}}],
                "boost_mode": "replace",
            }
        }
        return no_id, (scoring, 1.0 - self.rate)

    def members(self, names: Sequence[str]) -> npt.NDArray[np.bool_]:
        """For each request id text, whether the sample holds it."""
        last = self.last
        return np.fromiter((ending_inside(n, last) for n in names), np.bool_, len(names))


def ending_inside(text: str, last: str) -> bool:
    """Whether `text` ends in two characters that sort at most `last` and are no control
    characters (the first may be any character below `last`'s first: so the expression
    `_endings_regex` writes reads)."""
    if len(text) < _ENDING:
        return False
    first, second = text[-2], text[-1]
    return _LOWEST <= first < last[0] or (first == last[0] and _LOWEST <= second <= last[1])


def choose_last_ending(ids: Sequence[str], rate: float) -> str:
    """The last ending (two characters, see `ending_inside`) of a sample that holds about
    `rate` of requests like `ids`: the ending of the id at that quantile of their endings."""
    endings = sorted(
        e for text in ids if len(e := text[-_ENDING:]) == _ENDING and min(e) >= _LOWEST
    )
    if not endings:
        return _LOWEST * _ENDING
    return endings[min(max(math.ceil(rate * len(ids)) - 1, 0), len(endings) - 1)]


def _endings_regex(last: str) -> str:
    """A Lucene regular expression for the texts whose ending is inside `last` (as
    `ending_inside` decides)."""
    first, second = last[0], last[1]
    below = f"[{_escaped(_LOWEST)}-{_escaped(chr(ord(first) - 1))}]." if first > _LOWEST else ""
    at = f"{_escaped(first)}[{_escaped(_LOWEST)}-{_escaped(second)}]"
    return ".*(" + "|".join(filter(None, (below, at))) + ")"


def _escaped(char: str) -> str:
    """`char` as a Lucene regular expression reads it, in a class or out: escaped unless a
    letter or digit (escaped, some of those are classes: `\\d`, `\\w`)."""
    return char if char.isalnum() else f"\\{char}"


@dataclass
class Pushed:
    """What a pushdown read: the sample, the events read each way, the totals Elasticsearch
    counted, and the shapes of the sampled events (service, level class, masked, fingerprint);
    also what a file read with a known window kept (`sampled_read.py`)."""

    sample: RequestSample
    in_full: int
    sampled: int
    documents: int
    totals: Totals
    universe_events: tuple[int, int]
    sampled_shapes: set[tuple[str, str, str, str | None]]
    instances: list[Instance]
    notes: list[str]
    # The first words of the warning: how the events were read, and which were read in full.
    how: str = "pushdown: read"
    in_full_kinds: str = (
        "warn or worse, HTTP 5xx, stack traces, no level field, lines that tell changes"
    )

    def apply(self, mined: Mined, aggregate: Aggregate) -> Totals:
        """The mined totals with Elasticsearch's counts, and the sampling the pipeline compares
        sampled patterns with (`Totals.within`)."""
        counted = self.totals
        totals = mined.totals
        sampled_ids = frozenset(
            pattern.id
            for shape, pattern in zip(aggregate.shapes, mined.shape_patterns, strict=True)
            if _shape_key(shape) in self.sampled_shapes
        )
        window_ids = _ids(p.requests.ids for p in mined.patterns)
        baseline_ids = _ids(p.baseline_requests.ids for p in mined.patterns)
        seen = np.union1d(window_ids, baseline_ids)
        names = aggregate.request_names
        inside = seen[self.sample.members([names[i] for i in seen.tolist()])]
        members = RequestSet(inside, names)
        totals.events, totals.baseline_events = counted.events, counted.baseline_events
        totals.requests = counted.requests if totals.requests else None
        totals.baseline_requests = counted.baseline_requests if totals.requests else None
        totals.requests_per_minute = counted.requests_per_minute if totals.requests else {}
        totals.users = counted.users if totals.users else None
        totals.services = counted.services or totals.services
        totals.baseline_first = counted.baseline_first
        totals.estimated = counted.estimated
        totals.sampling = Sampling(
            rate=self.rate,
            requests=int(np.isin(window_ids, inside, assume_unique=True).sum()),
            baseline_requests=int(np.isin(baseline_ids, inside, assume_unique=True).sum()),
            events=self.universe_events[1],
            baseline_events=self.universe_events[0],
            members=members,
            patterns=sampled_ids,
            read_in_full=self.in_full,
            read_sampled=self.sampled,
            documents=self.documents,
        )
        return totals

    @property
    def rate(self) -> float:
        """The share of the window's events inside the sample, as counted (the endings are
        chosen from a probe, so it differs a little from the rate aimed at)."""
        events = self.totals.events
        return self.universe_events[1] / events if events else self.sample.rate

    def warnings(self) -> list[str]:
        """What the report's reader must know about this read."""
        rate = self.rate
        return [
            *self.notes,
            f"{self.how} in full the {self.in_full:,} events that can form an issue "
            f"({self.in_full_kinds}); of "
            f"the other {self.documents - self.in_full:,}, read every event of a sample of "
            f"requests holding {rate:.2%} of the window's events ({self.sampled:,} events): "
            "counts, shares and changes of patterns read only in "
            "that sample (and of the stops and slowdowns among them) are estimates from it, "
            "their minute charts count the sample's events and their users are not counted; "
            "--full-read reads everything",
        ]


class MatchingRead(Protocol):
    """How a pushdown reads one of its parts: add the events of the range that also match
    `narrowing` (and score at least `scoring`'s minimum; `total` of them, for progress) to
    `table`, and the newest event before the range when `before`
    (`ElasticsearchSource.fill_matching` in this process; a Dask cluster's slices)."""

    def __call__(
        self,
        table: EventTable,
        narrowing: dict[str, Any],
        total: int,
        label: str,
        /,
        *,
        scoring: tuple[dict[str, Any], float] | None = None,
        before: bool = False,
    ) -> None: ...


def push_down(
    source: ElasticsearchSource, pushdown: Pushdown, table: EventTable, read: MatchingRead
) -> Pushed | None:
    """Fill `table` by a pushdown read of `source` (see the module's docstring) whose parts
    `read` reads, or None (and nothing read) when a full read is the way: few events to sample,
    or a mapping or cluster the pushdown cannot work with (then a note says why)."""
    try:
        plan = _plan(source, pushdown)
    except BadRequestError as exc:
        source._stats.notes.append(
            "read in full, not pushed down: Elasticsearch rejected an aggregation "
            f"({api_reason(exc)})"
        )
        return None
    if plan is None:
        return None
    sample, in_full, full = plan.sample, plan.in_full, plan.documents - plan.rest
    label = f"reading {source.name} (can form an issue)"
    read(table, in_full, full, label, before=True)
    label = f"sampling {source.name}"
    parts: list[tuple[dict[str, Any], tuple[dict[str, Any], float] | None]] = []
    if sample.request_fields:
        parts.append((sample.by_id(), None))
    if sample.idless:
        parts.append(sample.without_id())
    shapes: set[tuple[str, str, str, str | None]] = set()
    sampled = 0
    for chosen, scoring in parts:
        part = _like(table, source)
        narrowing = {"bool": {"filter": [chosen], "must_not": [in_full]}}
        read(part, narrowing, pushdown.budget, label, scoring=scoring)
        window = plan.window
        found = part.aggregate(source.time_range.start, window.start, window.end, 1).shapes
        shapes |= {_shape_key(s) for s in found}
        sampled += part.rows
        table.merge(part.partial())
    return Pushed(
        sample, full, sampled, plan.documents, plan.totals, plan.universe, shapes,
        plan.instances, plan.notes,
    )  # fmt: skip


@dataclass
class _Plan:
    """What a pushdown decided and counted before reading any event."""

    window: Window
    documents: int
    rest: int
    in_full: dict[str, Any]
    sample: Sample
    totals: Totals
    universe: tuple[int, int]
    instances: list[Instance]
    notes: list[str]


def _plan(source: ElasticsearchSource, pushdown: Pushdown) -> _Plan | None:
    """The pushdown's queries and counts, or None when a full read is the way (with a note
    saying why, unless there are simply few events to sample). Aggregations come first, so a
    cluster that rejects one costs no read."""
    window = source.window
    assert window is not None
    documents = source.count()
    if documents <= pushdown.budget:
        return None
    types = source.mapping
    in_full, why = _in_full_query(source, types)
    if in_full is None:
        source._stats.notes.append(f"read in full, not pushed down: {why}")
        return None
    changes, why = _change_lines(source, types, pushdown.budget)
    if changes is None:
        source._stats.notes.append(f"lines that tell changes (deploy, config …) are sampled: {why}")
    else:
        in_full = {"bool": {"should": [in_full, changes], "minimum_should_match": 1}}
    rest = source.count({"bool": {"must_not": [in_full]}})
    if rest <= pushdown.budget:
        return None
    requests, why = _request_fields(source.fields.request_id, types)
    if requests is None:
        source._stats.notes.append(f"read in full, not pushed down: {why}")
        return None
    rate = pushdown.budget / rest
    # Distinct ids: a request is sampled whole, however many events it has.
    probe = sorted(set(source.values(requests[0], _ENDINGS_PROBE))) if requests else []
    no_id = [{"exists": {"field": f}} for f in requests]
    idless = not requests or source.count({"bool": {"must_not": [in_full, *no_id]}}) > 0
    sample = Sample(tuple(requests), choose_last_ending(probe, rate), rate, idless)
    totals, spans = _counted(source, window, requests, types)
    universe = (
        _universe_events(source, sample, spans[0]),
        _universe_events(source, sample, spans[1]),
    )
    instances, notes = read_instances(source, types)
    return _Plan(window, documents, rest, in_full, sample, totals, universe, instances, notes)


def _universe_events(source: ElasticsearchSource, sample: Sample, span: dict[str, int]) -> int:
    """The events of the sample universe in `span`: those of its requests, and those without
    a request id it samples."""
    found = source.count(sample.by_id(), span=span) if sample.request_fields else 0
    if sample.idless:
        no_id, scoring = sample.without_id()
        found += source.count(no_id, scoring=scoring, span=span)
    return found


def _like(table: EventTable, source: ElasticsearchSource) -> EventTable:
    """An empty table that reads as `table` does (range known up front)."""
    window = source.window
    assert window is not None
    return event_table(
        source.fields, source.name, floor=source.time_range.start, ceiling=window.end
    )


def _in_full_query(
    source: ElasticsearchSource, types: Mapping[str, set[str]]
) -> tuple[dict[str, Any] | None, str]:
    """The query of the events read in full, or None and why it cannot be written."""
    level_fields = [k for k in source.fields.level if types.get(k, set()) - _OBJECTS]
    should: list[dict[str, Any]] = []
    for key in level_fields:
        field = _aggregatable(types, key)
        if field is None and types[key] <= _NUMBERS:
            should.append({"range": {key: {"gte": 40}}})
            continue
        if field is None:
            return None, f"the level field {key!r} cannot be aggregated (map it as a keyword)"
        values, complete = _level_values(source, field)
        if not complete:
            return None, f"{field!r} holds more than {_LEVEL_VALUES} distinct levels"
        if values:
            should.append({"terms": {field: values}})
    should += [{"exists": {"field": k}} for k in source.fields.stack_trace if types.get(k)]
    should.append({"bool": {"must_not": [{"exists": {"field": k}} for k in level_fields]}})
    server_errors, why = _server_errors(source.fields.status, types)
    if server_errors is None:
        return None, why
    should += server_errors
    return {"bool": {"should": should, "minimum_should_match": 1}}, ""


def _server_errors(
    keys: Iterable[str], types: Mapping[str, set[str]]
) -> tuple[list[dict[str, Any]] | None, str]:
    """Queries of the events whose HTTP status is 5xx, by the first status field that has a
    value (as the readers take it: such an event is an error at least), or None and why they
    cannot be written."""
    present = [k for k in keys if types.get(k, set()) - _OBJECTS]
    queries = []
    for i, key in enumerate(present):
        query: dict[str, Any]
        if types[key] <= _NUMBERS:
            query = {"range": {key: {"gte": 500, "lt": 600}}}
        elif (field := _aggregatable(types, key)) is not None:
            query = {"regexp": {field: {"value": "5[0-9][0-9]", "flags": "NONE"}}}
        else:
            return None, f"the HTTP status field {key!r} is neither a number nor a keyword"
        before = [{"exists": {"field": k}} for k in present[:i]]
        queries.append({"bool": {"filter": [query], "must_not": before}})
    return queries, ""


def _change_lines(
    source: ElasticsearchSource, types: Mapping[str, set[str]], budget: int
) -> tuple[dict[str, Any] | None, str]:
    """The query of the lines that may tell a change (a word such as `deploy` or `config`
    begins one of the message's words), when the message is analyzed text and they are not
    too many to read in full; else None and why they are sampled."""
    message = next((k for k in source.fields.message if types.get(k)), None)
    if message is None or not types[message] & _TEXTS:
        return None, f"the message field {message!r} is not analyzed text"
    query = {"bool": {"should": [{"prefix": {message: w}} for w in CHANGE_WORD_STARTS]}}
    if source.count(query) > budget // 2:
        return None, "more than half the budget of lines hold words that tell changes"
    return query, ""


def _level_values(source: ElasticsearchSource, field: str) -> tuple[list[str], bool]:
    """The values of `field` in the range that logsense reads as warn or worse or cannot read
    as a level, and whether the aggregation saw every value."""
    found = source.aggregate({"levels": {"terms": {"field": field, "size": _LEVEL_VALUES}}})
    levels = found["levels"]
    values = [str(b["key"]) for b in levels["buckets"] if _may_form_issue(b["key"])]
    return values, not levels.get("sum_other_doc_count")


def _may_form_issue(value: object) -> bool:
    """True for a level value read as warn or worse, or not read as a level (as the readers
    do: the exact name first, then normalized)."""
    level = LEVEL_NAMES.get(value) if isinstance(value, str) else None
    level = level or normalize_level(value)
    return level is None or level_rank(level) >= _WARN


def _request_fields(
    keys: Iterable[str], types: Mapping[str, set[str]]
) -> tuple[list[str] | None, str]:
    """The keyword fields that hold request ids, in the FieldMap's order, or None and why."""
    fields: list[str] = []
    for key in keys:
        if not types.get(key):
            continue
        field = _aggregatable(types, key)
        if field is None:
            return None, f"the request id field {key!r} is not a keyword"
        fields.append(field)
    return fields, ""


def _aggregatable(types: Mapping[str, set[str]], key: str) -> str | None:
    """`key` when mapped only as a keyword, else its `.keyword` sub-field; None if neither."""
    mapped = types.get(key, set())
    if mapped and mapped <= _KEYWORDS:
        return key
    sub = types.get(f"{key}.keyword", set())
    return f"{key}.keyword" if mapped and sub and sub <= _KEYWORDS else None


def _counted(
    source: ElasticsearchSource,
    window: Window,
    requests: list[str],
    types: Mapping[str, set[str]],
) -> tuple[Totals, tuple[dict[str, int], dict[str, int]]]:
    """The totals Elasticsearch counts in the window (and events in the baseline), and the
    epoch ms bounds of the baseline and the window."""
    ms = [
        math.floor(source.time_range.start * 1000),
        math.floor(window.start * 1000),
        math.ceil(window.end * 1000),
    ]
    spans = ({"gte": ms[0], "lt": ms[1]}, {"gte": ms[1], "lt": ms[2]})
    period_aggs: dict[str, Any] = {"first": {"min": {"field": source.time_field}}}
    if requests:
        period_aggs |= _cardinality(requests, _PRECISION)
    users = next((f for k in source.fields.user_id if (f := _aggregatable(types, k))), None)
    if users is not None:
        period_aggs["users"] = {"cardinality": {"field": users, "precision_threshold": _PRECISION}}
    service = next((f for k in source.fields.service if (f := _aggregatable(types, k))), None)
    if service is not None:
        period_aggs["services"] = {"terms": {"field": service, "size": _SERVICES}}
    if requests:
        period_aggs["minutes"] = {
            "date_histogram": {"field": source.time_field, "fixed_interval": "1m"},
            "aggs": _cardinality(requests, _MINUTE_PRECISION),
        }
    ranges = [
        {"key": "baseline", "from": ms[0], "to": ms[1]},
        {"key": "window", "from": ms[1], "to": ms[2]},
    ]
    found = source.aggregate({
        "periods": {
            "date_range": {"field": source.time_field, "format": "epoch_millis", "ranges": ranges},
            "aggs": period_aggs,
        }
    })  # fmt: skip
    periods = {b["key"]: b for b in found["periods"]["buckets"]}
    before, now = periods["baseline"], periods["window"]
    totals = Totals(
        events=int(now["doc_count"]),
        baseline_events=int(before["doc_count"]),
        requests=_distinct(now) if requests else None,
        baseline_requests=_distinct(before) if requests else None,
        users=int(now["users"]["value"]) if users is not None else None,
        services=sorted(str(b["key"]) for b in now.get("services", {}).get("buckets", [])),
        requests_per_minute={
            int(b["key"]) // 60_000: _distinct(b)
            for b in now.get("minutes", {}).get("buckets", [])
            if b["doc_count"]
        },
    )
    first = before["first"]["value"]
    totals.baseline_first = None if first is None else float(first) / 1000.0
    totals.estimated = _estimates(totals)
    return totals, spans


def _cardinality(fields: list[str], precision: int) -> dict[str, Any]:
    """Aggregations that count distinct request ids: over each of `fields`, among the
    documents without the fields before it (the readers take the first that has a value)."""
    return {
        f"requests_{i}": {
            "filter": {"bool": {
                "filter": [{"exists": {"field": field}}],
                "must_not": [{"exists": {"field": f}} for f in fields[:i]],
            }},
            "aggs": {"n": {"cardinality": {"field": field, "precision_threshold": precision}}},
        }
        for i, field in enumerate(fields)
    }  # fmt: skip


def _distinct(bucket: dict[str, Any]) -> int:
    """The distinct request ids a bucket's `_cardinality` aggregations counted."""
    return sum(int(v["n"]["value"]) for k, v in bucket.items() if k.startswith("requests_"))


def _estimates(totals: Totals) -> dict[str, str]:
    """Which of the counted totals are estimates, and how precise."""
    hll = (
        "Elasticsearch cardinality (HyperLogLog++, precision_threshold {}): near exact up to "
        "{:,} distinct values, an estimate above"
    )
    found: dict[str, str] = {}
    if totals.requests is not None and totals.requests > _PRECISION:
        found["requests"] = hll.format(_PRECISION, _PRECISION)
    if totals.users is not None and totals.users > _PRECISION:
        found["users"] = hll.format(_PRECISION, _PRECISION)
    if any(n > _MINUTE_PRECISION for n in totals.requests_per_minute.values()):
        found["requests_per_minute"] = hll.format(_MINUTE_PRECISION, _MINUTE_PRECISION)
    return found


def _ids(arrays: Iterable[npt.NDArray[np.uint32]]) -> npt.NDArray[np.uint32]:
    """The distinct ids of all `arrays`, sorted."""
    present = [a for a in arrays if len(a)]
    return np.unique(np.concatenate(present)) if present else np.zeros(0, dtype=np.uint32)


def hops_inside(hops: list[HopRow], members: RequestSet) -> list[HopRow]:
    """`hops` with only the gaps of requests among `members` (those inside a sample): outside
    it only the events that can form an issue were read, so the next event read in such a
    request is not always the next one it had."""
    ids = members.ids
    return [
        (source, target, before_count, count, _inside(before, ids), _inside(now, ids))
        for source, target, before_count, count, before, now in hops
    ]


def _inside(
    gaps: list[tuple[float, int | None]], members: npt.NDArray[np.uint32]
) -> list[tuple[float, int | None]]:
    """The gaps whose request is among `members` (sorted ids)."""
    if not gaps:
        return gaps
    ids = np.array([-1 if r is None else r for _, r in gaps], dtype=np.int64)
    at = np.searchsorted(members, ids).clip(0, max(len(members) - 1, 0))
    keep = (ids >= 0) & (members[at] == ids) if len(members) else np.zeros(len(ids), np.bool_)
    return [gap for gap, kept in zip(gaps, keep.tolist(), strict=True) if kept]


def _shape_key(shape: Any) -> tuple[str, str, str, str | None]:
    return (shape.service, shape.level_class, shape.masked, shape.fingerprint)


def read_instances(
    source: ElasticsearchSource, types: Mapping[str, set[str]]
) -> tuple[list[Instance], list[str]]:
    """Every (service, version, host) of the range and query with its first and last time and
    count, from a `composite` aggregation (paged, so no bucket limit applies), and notes on
    what could not be read. Empty without an aggregatable version or host field."""
    fields = source.fields
    service = next((f for k in fields.service if (f := _aggregatable(types, k))), None)
    version = next((f for k in fields.version if (f := _aggregatable(types, k))), None)
    host = next((f for k in fields.host if (f := _aggregatable(types, k))), None)
    if service is None or (version is None and host is None):
        return [], []
    sources: list[dict[str, Any]] = [{"service": {"terms": {"field": service}}}]
    for name, key in (("version", version), ("host", host)):
        if key is not None:
            sources.append({name: {"terms": {"field": key, "missing_bucket": True}}})
    found: list[Instance] = []
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": _INSTANCE_PAGE, "sources": sources}
        if after is not None:
            composite["after"] = after
        times = {
            "first": {"min": {"field": source.time_field}},
            "last": {"max": {"field": source.time_field}},
        }
        result = source.aggregate({"instances": {"composite": composite, "aggs": times}})
        page = result["instances"]
        found.extend(_instance(bucket) for bucket in page.get("buckets", []))
        after = page.get("after_key")
        if after is None or not page.get("buckets"):
            return found, []
        if len(found) >= MAX_INSTANCES:
            read = " and ".join(k for k in (version, host) if k is not None)
            return [], [
                f"more than {MAX_INSTANCES:,} (service, {read}) combinations in {source.name}: "
                "deploys and scaling were not read from those fields"
            ]


def _instance(bucket: dict[str, Any]) -> Instance:
    key = bucket["key"]
    return Instance(
        service=str(key["service"]),
        version=None if key.get("version") is None else str(key["version"]),
        host=None if key.get("host") is None else str(key["host"]),
        first=float(bucket["first"]["value"]) / 1000.0,
        last=float(bucket["last"]["value"]) / 1000.0,
        events=int(bucket["doc_count"]),
    )
