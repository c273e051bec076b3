"""Acceptance on real logs: the twelve Loghub systems' raw files, read with no flag given.

For each system, the raw `<S>_2k.log` goes through `logsense triage`'s reader (format detection
included, nothing forced), and every line is compared with the structured CSV beside it
(Loghub's own parse, `<S>_2k.log_structured.csv`): at least 99% of the lines are events, and
for those the timestamp equals the CSV's date/time fields, the message equals its `Content`,
and level and component equal the CSV's where it has them. `formats.json` is never read by
logsense; nothing here tells the reader which system a file comes from.

Loghub's CSVs name some columns after what a regex split, not what the field is; the mapping
below says what each column is (`EXPECT`):
- Linux's `Level` column holds the host name (`combo`): it is compared with the host.
- ZooKeeper's `Node` and `Component` are its `[thread:Class@line]` cut at the first colon: the
  two joined with `:` are compared with our thread and component joined the same way.
- OpenStack's `ADDR` holds `req-… user project - - -`: its first word is the request id.
- Times without a year (Android, Linux, Proxifier) are compared on month, day and time; their
  year is the rule's (`times.resolve`), checked separately.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bench.loghub import DATA
from logsense.config import FieldMap
from logsense.model import Event
from logsense.sources.files import FileSource
from logsense.sources.records import normalize_level

pytestmark = pytest.mark.loghub
LOGHUB = DATA / "loghub-2k"
# 2026-12-06T12:00:00Z: the wall clock the year rule is given (the run's start in real use).
NOW = 1796558400.0

Row = dict[str, str]


@dataclass(frozen=True)
class Expect:
    """How one system's CSV row says what its event is."""

    time: Callable[[Row], str]  # the CSV's date/time text
    layout: str  # strptime layout of that text (no %Y: the year is the rule's)
    level: str | None = None  # the column holding the level
    component: Callable[[Row], str] | None = None
    ours: Callable[[Event], str | None] = lambda e: e.service
    host: str | None = None
    process: str | None = None
    thread: str | None = None
    request_id: Callable[[Row], str | None] | None = None
    epoch: bool = False


def _col(name: str) -> Callable[[Row], str]:
    return lambda row: row[name]


def _millis(text: str) -> str:
    """HealthApp's `yyyyMMdd-H:m:s:S`, whose milliseconds are not padded (`:8` is 8 ms)."""
    head, millis = text.rsplit(":", 1)
    return f"{head}.{int(millis):03d}"


def _request(row: Row) -> str | None:
    first = row["ADDR"].split(" ", 1)[0]
    return first if first.startswith("req-") else None


EXPECT: dict[str, Expect] = {
    "Android": Expect(lambda r: f"{r['Date']} {r['Time']}", "%m-%d %H:%M:%S.%f", "Level",
                      _col("Component"), process="Pid", thread="Tid"),
    "Apache": Expect(_col("Time"), "%a %b %d %H:%M:%S %Y", "Level"),
    "BGL": Expect(_col("Time"), "%Y-%m-%d-%H.%M.%S.%f", "Level", _col("Component"), host="Node"),
    "HDFS": Expect(lambda r: f"{r['Date']} {r['Time']}", "%y%m%d %H%M%S", "Level",
                   _col("Component"), process="Pid"),
    "HPC": Expect(_col("Time"), "", None, _col("Component"), host="Node", epoch=True),
    "HealthApp": Expect(lambda r: _millis(r["Time"]), "%Y%m%d-%H:%M:%S.%f", None,
                        _col("Component"), process="Pid"),
    "Linux": Expect(lambda r: f"{r['Month']} {r['Date']} {r['Time']}", "%b %d %H:%M:%S", None,
                    _col("Component"), host="Level", process="PID"),
    "OpenStack": Expect(lambda r: f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S.%f", "Level",
                        _col("Component"), process="Pid", request_id=_request),
    "Proxifier": Expect(_col("Time"), "%m.%d %H:%M:%S", None, _col("Program")),
    "Spark": Expect(lambda r: f"{r['Date']} {r['Time']}", "%y/%m/%d %H:%M:%S", "Level",
                    _col("Component")),
    "Windows": Expect(lambda r: f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S", "Level",
                      _col("Component")),
    "Zookeeper": Expect(lambda r: f"{r['Date']} {r['Time']}", "%Y-%m-%d %H:%M:%S,%f", "Level",
                        lambda r: f"{r['Node']}:{r['Component']}",
                        lambda e: f"{e.thread}:{e.service}"),
}  # fmt: skip
SYSTEMS = sorted(EXPECT)


def read_system(system: str) -> tuple[list[Row], dict[int, Event], FileSource]:
    """The CSV rows, our events by line number, and the source (for its stats)."""
    folder = LOGHUB / system
    with (folder / f"{system}_2k.log_structured.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    source = FileSource(str(folder / f"{system}_2k.log"), FieldMap(), now=NOW)
    events = {int(e.origin.rpartition(":")[2]): e for e in source.read()}
    return rows, events, source


def expected_time(expect: Expect, row: Row) -> datetime:
    text = expect.time(row)
    if expect.epoch:
        return datetime.fromtimestamp(int(text), UTC)
    layout = expect.layout
    if "%Y" not in layout and "%y" not in layout:
        text, layout = f"2000 {text}", f"%Y {layout}"  # a leap year: Feb 29 parses
    return datetime.strptime(text, layout).replace(tzinfo=UTC)


@dataclass
class Agreement:
    lines: int = 0
    parsed: int = 0
    time: int = 0
    content: int = 0
    level: int = 0
    levels: int = 0
    component: int = 0
    components: int = 0
    fields: int = 0
    field_checks: int = 0
    mismatches: list[str] | None = None

    def share(self, part: int, whole: int) -> float:
        return part / whole if whole else 1.0


def agreement(system: str) -> Agreement:
    rows, events, _ = read_system(system)
    expect = EXPECT[system]
    out = Agreement(lines=len(rows), mismatches=[])
    for line, row in enumerate(rows, start=1):
        event = events.get(line)
        if event is None:
            out.mismatches.append(f"{system}:{line} not an event")  # type: ignore[union-attr]
            continue
        out.parsed += 1
        want = expected_time(expect, row)
        got = datetime.fromtimestamp(event.timestamp, UTC)
        yearless = "%Y" not in expect.layout and "%y" not in expect.layout and not expect.epoch
        same = got.replace(year=2000) == want if yearless else got == want
        out.time += same
        if not same:
            out.mismatches.append(f"{system}:{line} time {got} != {want}")  # type: ignore[union-attr]
        if event.message == row["Content"]:
            out.content += 1
        else:
            out.mismatches.append(  # type: ignore[union-attr]
                f"{system}:{line} content {event.message!r} != {row['Content']!r}"
            )
        if expect.level is not None:
            out.levels += 1
            out.level += event.level == normalize_level(row[expect.level])
        if expect.component is not None:
            out.components += 1
            ok = expect.ours(event) == expect.component(row)
            out.component += ok
            if not ok:
                out.mismatches.append(  # type: ignore[union-attr]
                    f"{system}:{line} component {expect.ours(event)!r} != {expect.component(row)!r}"
                )
        for ours, column in (("host", expect.host), ("process", expect.process),
                             ("thread", expect.thread)):  # fmt: skip
            if column is not None:
                out.field_checks += 1
                out.fields += (getattr(event, ours) or "") == row[column]
        if expect.request_id is not None:
            out.field_checks += 1
            out.fields += event.request_id == expect.request_id(row)
    return out


@pytest.fixture(scope="module", autouse=True)
def _needs_data() -> None:
    if not (LOGHUB / "Linux" / "Linux_2k.log").is_file():
        pytest.skip(f"Loghub data not found under {LOGHUB}")


@pytest.mark.parametrize("system", SYSTEMS)
def test_each_system_reads_as_loghub_parsed_it(system: str) -> None:
    found = agreement(system)
    assert found.parsed >= 0.99 * found.lines, found.mismatches[:5]  # type: ignore[index]
    assert found.time == found.parsed, found.mismatches[:5]  # type: ignore[index]
    assert found.content == found.parsed, found.mismatches[:5]  # type: ignore[index]
    assert found.level == found.levels
    assert found.component == found.components, found.mismatches[:5]  # type: ignore[index]
    assert found.fields == found.field_checks


@pytest.mark.parametrize("system", ["Android", "Linux", "Proxifier"])
def test_times_without_a_year_take_the_rule_s_year(system: str) -> None:
    _, events, source = read_system(system)
    years = {datetime.fromtimestamp(e.timestamp, UTC).year for e in events.values()}
    assert years <= {2025, 2026}  # the latest year not more than a day after NOW
    warnings = " | ".join(source.stats.warnings())
    assert "no year" in warnings and "no time zone" in warnings


def main() -> None:
    """Print the agreement per system (python -m tests.test_loghub_formats)."""
    for system in SYSTEMS:
        found = agreement(system)
        share = found.share
        print(
            f"{system:10} parsed {share(found.parsed, found.lines):7.2%}  "
            f"time {share(found.time, found.parsed):7.2%}  "
            f"content {share(found.content, found.parsed):7.2%}  "
            f"level {share(found.level, found.levels):7.2%}  "
            f"component {share(found.component, found.components):7.2%}  "
            f"fields {share(found.fields, found.field_checks):7.2%}"
        )
        for mismatch in (found.mismatches or [])[:3]:
            print("   ", mismatch[:200])


if __name__ == "__main__":
    main()
