"""Text log lines to event fields: the library of formats, detection, and the reference parser.

`library.toml` defines the formats (grok, expanded by `grok.py`), the prefixes collectors
put before a line, and the fallback. `TextParser.parse` reads one line; the native scanner
(`logsense/native/src/text/`) reads every line exactly as it does, and
`tests/test_native_scan.py` checks it.

**Detection.** The first `SAMPLE_LINES` non-blank lines of an input are tried against every
format, and every prefix followed by every format. The *primary* is the first of these (formats
in library order, then prefixed ones) that matches at least 90% as many sample lines as the
best one; `general` formats (a time and a message) only when no other format matches any.
Every line is then tried with the primary first; a line it does not match (the format changed,
or the input mixes formats) gets the first format of the library that matches it whole (not
`general`); else the first prefix that matches it, followed by the first format that matches
the rest (`general` ones last) or, when the prefix has a time, by nothing known; else the first
`general` format; else the fallback (a known time in its first 80 characters makes it an
event); else it is a continuation line of the event above (a stack
trace), or, before any event, malformed (`no header`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from logsense.sources.formats.grok import FIELDS, expand
from logsense.sources.formats.times import Zone, read_time, resolve

__all__ = [
    "SAMPLE_LINES",
    "Format",
    "Library",
    "Parsed",
    "TextParser",
    "level_of_pri",
    "level_of_status",
    "library",
]

SAMPLE_LINES = 100
# The primary is the first candidate matching at least this share of the best one's lines.
_NEAR_BEST = 0.9
_RENAME = {
    "loglevel": "level", "program": "service", "pid": "process", "logsource": "host",
    "tid": "thread",
}  # fmt: skip
# Syslog severities (the low 3 bits of a priority) as levels.
_SEVERITIES = ("fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug")
# Leading `trace=… user=…` pairs (formats with `ids = true`).
_ID_PREFIX = re.compile(
    r"(?:(?P<rkey>trace|trace_id|traceId|request_id|requestId|req_id|rid)"
    r"|(?P<ukey>user|user_id|userId|uid))=(?P<value>[^\s,;]+)[,;]?\s*",
    re.ASCII,
)
# Separators around a time the fallback found, dropped from the message's edges.
_BEFORE_EDGE = " [(<|,;-:"
_AFTER_EDGE = " ])>|,;:-"
_FALLBACK_LEVEL = re.compile(r"[\[(<]?([A-Za-z]+)[\])>]?:?(?: |$)", re.ASCII)


def level_of_pri(pri: str) -> str | None:
    """The level of a syslog priority (`<13>`): its severity, the low 3 bits."""
    return _SEVERITIES[int(pri) & 7] if pri.isdigit() and len(pri) <= 3 else None


def level_of_status(status: str) -> str | None:
    """The level of an HTTP status: 5xx error, 4xx warn, anything else info."""
    if not status.isdigit() or len(status) != 3:
        return None
    return "error" if status[0] == "5" else "warn" if status[0] == "4" else "info"


@dataclass(frozen=True)
class Format:
    """One line format (or prefix) of the library, compiled."""

    name: str
    title: str
    regex: str
    layouts: tuple[str, ...]
    ids: bool = False
    general: bool = False
    examples: tuple[dict[str, Any], ...] = ()
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)
    # (field, group number) of each named group, in the regex's order
    groups: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = re.compile(self.regex, re.ASCII)
        object.__setattr__(self, "compiled", compiled)
        groups = sorted(
            (name.split("__", 1)[0], number) for name, number in compiled.groupindex.items()
        )
        object.__setattr__(self, "groups", tuple(sorted(groups, key=lambda g: g[1])))

    def fields(self, match: re.Match[str]) -> dict[str, str]:
        """The captured fields; of a field captured twice (alternatives), the first found."""
        found: dict[str, str] = {}
        for name, number in self.groups:
            value = match.group(number)
            if value is not None and name not in found:
                found[name] = value
        return found


@dataclass(frozen=True)
class Library:
    """Every format in library order, the prefixes, the fallback, and the grok source."""

    formats: tuple[Format, ...]
    prefixes: tuple[Format, ...]
    fallback: Format

    def named(self, name: str) -> Format:
        for candidate in self.formats:
            if candidate.name == name:
                return candidate
        known = ", ".join(f.name for f in self.formats)
        raise KeyError(f"unknown log format {name!r} (known: {known})")


@cache
def library() -> Library:
    """The library of `library.toml`, compiled once."""
    data = tomllib.loads(files(__package__).joinpath("library.toml").read_text("utf-8"))
    extra: dict[str, str] = data["patterns"]

    def compiled(entry: dict[str, Any], whole: bool = True) -> Format:
        rename = {**_RENAME, **entry.get("rename", {})}
        return Format(
            name=entry.get("name", "fallback"),
            title=entry["title"],
            regex=expand(entry["grok"], extra, rename, whole),
            layouts=tuple(entry["time"]),
            ids=bool(entry.get("ids", False)),
            general=bool(entry.get("general", False)),
            examples=tuple(entry.get("examples", ())),
        )

    return Library(
        formats=tuple(compiled(entry) for entry in data["format"]),
        prefixes=tuple(compiled(entry, whole=False) for entry in data["prefix"]),
        fallback=compiled(data["fallback"]),
    )


@dataclass(slots=True)
class Parsed:
    """What one line is: the start of an event (its fields), a header without a usable time
    (`reason`), or nothing known (`kind` "none")."""

    kind: str  # "event", "bad" (a header, but no usable time), "none"
    format: str = ""
    timestamp: float = 0.0
    reason: str = ""
    level: str | None = None  # normalized, or the raw name when unknown (see `raw_level`)
    raw_level: str | None = None
    service: str | None = None
    process: str | None = None
    thread: str | None = None
    host: str | None = None
    request_id: str | None = None
    user_id: str | None = None
    message: str = ""
    year_assumed: bool = False
    zone_assumed: bool = False


_NONE = Parsed("none")


def _candidates(lib: Library) -> list[tuple[int, int]]:
    """(prefix or -1, format) pairs in the order detection prefers them."""
    plain = [(-1, index) for index in range(len(lib.formats))]
    prefixed = [
        (prefix, index) for prefix in range(len(lib.prefixes)) for index in range(len(lib.formats))
    ]
    return plain + prefixed


def detect(lib: Library, lines: Iterable[str]) -> tuple[int, int] | None:
    """The primary (prefix or -1, format) of an input from its first lines, or None."""
    sample = [line for line in lines if line.strip()][:SAMPLE_LINES]
    candidates = _candidates(lib)
    counts = [0] * len(candidates)
    for line in sample:
        rests: dict[int, str | None] = {-1: line}
        for prefix_index, prefix in enumerate(lib.prefixes):
            match = prefix.compiled.match(line)
            rests[prefix_index] = line[match.end() :] if match else None
        for slot, (prefix_index, format_index) in enumerate(candidates):
            rest = rests[prefix_index]
            if rest is not None and lib.formats[format_index].compiled.match(rest):
                counts[slot] += 1
    for general in (False, True):
        pool = [
            (candidate, count)
            for candidate, count in zip(candidates, counts, strict=True)
            if lib.formats[candidate[1]].general == general and count
        ]
        if pool:
            best = max(count for _, count in pool)
            return next(c for c, count in pool if count >= best * _NEAR_BEST)
    return None


class TextParser:
    """Reads lines of one input: the primary format first, then the library, then the rest.

    `levels` maps level names to normalized levels (`records._LEVEL_NAMES`); `zone` is where
    zone-less times are; `reference` is the wall clock for times without a year.
    """

    def __init__(
        self,
        levels: dict[str, str],
        zone: Zone,
        reference: float,
        primary: tuple[int, int] | None = None,
        only: str | None = None,
        lib: Library | None = None,
    ) -> None:
        self.lib = lib or library()
        self.levels = levels
        self.zone = zone
        self.reference = reference
        self.only = None if only is None else self.lib.named(only)
        self.primary = primary

    def detect(self, lines: Sequence[str]) -> None:
        """Set the primary format from an input's first lines (a forced format stays)."""
        if self.only is None:
            self.primary = detect(self.lib, lines)

    def name_of(self, primary: tuple[int, int] | None) -> str | None:
        if primary is None:
            return None
        prefix, index = primary
        name = self.lib.formats[index].name
        return name if prefix < 0 else f"{self.lib.prefixes[prefix].name} + {name}"

    def parse(self, line: str) -> Parsed:
        """What `line` (no line end, not blank) is."""
        if self.only is not None:
            match = self.only.compiled.match(line)
            return self._event(self.only, match, None) if match else _NONE
        if self.primary is not None:
            found = self._try(self.primary, line)
            if found is not None:
                return found
        found = self._known(line, prefix_only=True)
        return found if found is not None else self._fallback(line)

    def parse_inner(self, line: str) -> Parsed | None:
        """The fields of a JSON record's message that is a whole log line (a container
        runtime's `log`), read by the library's formats (no fallback); None if it is not one."""
        found = self._known(line, prefix_only=False)
        return found if found is not None and found.kind == "event" else None

    def _known(self, line: str, prefix_only: bool) -> Parsed | None:
        """`line` read by the first format of the library, prefixed or not, that matches it."""
        lib = self.lib
        specific = [i for i, f in enumerate(lib.formats) if not f.general]
        general = [i for i, f in enumerate(lib.formats) if f.general]
        for index in specific:
            if self.primary == (-1, index):
                continue
            match = lib.formats[index].compiled.match(line)
            if match:
                return self._event(lib.formats[index], match, None)
        for prefix_index, prefix in enumerate(lib.prefixes):
            match = prefix.compiled.match(line)
            if not match:
                continue
            rest = line[match.end() :]
            outer = prefix.fields(match)
            for index in specific + general:
                if self.primary == (prefix_index, index):
                    continue
                inner = lib.formats[index].compiled.match(rest)
                if inner:
                    return self._event(lib.formats[index], inner, (prefix, outer))
            if prefix_only and "timestamp" in outer:
                return self._prefix_only(prefix, outer, rest)
        for index in general:
            if self.primary == (-1, index):
                continue
            match = lib.formats[index].compiled.match(line)
            if match:
                return self._event(lib.formats[index], match, None)
        return None

    def _try(self, primary: tuple[int, int], line: str) -> Parsed | None:
        prefix_index, index = primary
        candidate = self.lib.formats[index]
        if prefix_index < 0:
            match = candidate.compiled.match(line)
            return self._event(candidate, match, None) if match else None
        prefix = self.lib.prefixes[prefix_index]
        outer_match = prefix.compiled.match(line)
        if not outer_match:
            return None
        inner = candidate.compiled.match(line[outer_match.end() :])
        if not inner:
            return None
        return self._event(candidate, inner, (prefix, prefix.fields(outer_match)))

    def time_of(self, text: str) -> float | None:
        """UTC seconds of a time in any layout of the library (for `--header-regex`)."""
        layouts: list[str] = []
        for fmt in (*self.lib.formats, *self.lib.prefixes, self.lib.fallback):
            layouts += [layout for layout in fmt.layouts if layout not in layouts]
        found = self._time(layouts, text.strip(), self.reference)
        return None if found is None or found[0] != found[0] else found[0]

    def _time(
        self, layouts: Sequence[str], text: str, reference: float
    ) -> tuple[float, bool, bool] | None:
        for layout in layouts:
            moment = read_time(layout, text)
            if moment is not None:
                return resolve(moment, self.zone, reference)
        return None

    def _reference(self, outer: tuple[Format, dict[str, str]] | None) -> float:
        """The time a year-less time is placed before: the prefix's, else the wall clock."""
        if outer is not None:
            prefix, fields = outer
            stamp = fields.get("timestamp")
            if stamp is not None:
                found = self._time(prefix.layouts, stamp, self.reference)
                if found is not None and found[0] == found[0]:
                    return found[0]
        return self.reference

    def _event(
        self,
        fmt: Format,
        match: re.Match[str],
        outer: tuple[Format, dict[str, str]] | None,
    ) -> Parsed:
        fields = fmt.fields(match)
        if outer is not None:
            fields = {**{k: v for k, v in outer[1].items() if k != "timestamp"}, **fields}
        name = fmt.name if outer is None else f"{outer[0].name} + {fmt.name}"
        return self._build(name, fmt.layouts, fields, self._reference(outer), fmt.ids)

    def _prefix_only(self, prefix: Format, fields: dict[str, str], rest: str) -> Parsed:
        fields = {**fields, "message": rest}
        return self._build(prefix.name, prefix.layouts, fields, self.reference, False)

    def _build(
        self,
        name: str,
        layouts: Sequence[str],
        fields: dict[str, str],
        reference: float,
        ids: bool,
    ) -> Parsed:
        stamp = fields.get("timestamp")
        found = None if stamp is None else self._time(layouts, stamp.strip(), reference)
        if found is None or found[0] != found[0]:
            return Parsed("bad", name, reason="no timestamp")
        ts, year_assumed, zone_assumed = found
        parsed = Parsed(
            "event",
            name,
            ts,
            year_assumed=year_assumed,
            zone_assumed=zone_assumed,
            service=_stripped(fields.get("service")),
            process=_stripped(fields.get("process")),
            thread=_stripped(fields.get("thread")),
            host=_stripped(fields.get("host")),
            request_id=fields.get("request_id") or None,
            user_id=fields.get("user_id") or None,
            message=fields.get("message") or "",
        )
        raw = fields.get("level")
        if raw is not None:
            parsed.raw_level = raw
            parsed.level = self.levels.get(raw) or self.levels.get(raw.strip().lower())
        elif "pri" in fields:
            parsed.level = level_of_pri(fields["pri"])
        elif "status" in fields:
            parsed.level = level_of_status(fields["status"])
        if ids:
            _take_ids(parsed)
        return parsed

    def _fallback(self, line: str) -> Parsed:
        fallback = self.lib.fallback
        match = fallback.compiled.match(line)
        if not match:
            return _NONE
        before, after = match["before"], match["after"]
        found = self._time(fallback.layouts, match["timestamp"], self.reference)
        if found is None or found[0] != found[0]:
            return _NONE
        head = before.rstrip(_BEFORE_EDGE)
        tail = after.lstrip(_AFTER_EDGE)
        parsed = Parsed(
            "event",
            "fallback",
            found[0],
            message=f"{head} {tail}".strip(" ") if head and tail else (head or tail),
            year_assumed=found[1],
            zone_assumed=found[2],
        )
        word = _FALLBACK_LEVEL.match(tail)
        if word is not None:
            level = self.levels.get(word[1]) or self.levels.get(word[1].lower())
            if level is not None:
                parsed.level, parsed.raw_level = level, word[1]
        return parsed


def no_format_hint() -> str:
    """What to say when no line of an input had a known shape: what was tried, what to do."""
    lib = library()
    names = ", ".join(f.name for f in lib.formats)
    prefixes = ", ".join(p.name for p in lib.prefixes)
    return (
        f"; no line matched a known text format (tried: {names}; each also after a prefix: "
        f"{prefixes}) nor had a recognisable time in its first 80 characters. Pass "
        "--header-regex with named groups timestamp and message (and optionally level, "
        "service, request_id, user_id), e.g. --header-regex "
        "'^(?P<timestamp>\\S+ \\S+) (?P<level>\\w+) (?P<message>.*)$', or --log-format NAME "
        "(`logsense formats FILE` shows how a file reads)"
    )


def _stripped(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip(" \t")
    return value or None


def _take_ids(parsed: Parsed) -> None:
    """Move leading `trace=… user=…` pairs out of the message into request/user ids."""
    message = parsed.message
    while True:
        match = _ID_PREFIX.match(message)
        if not match:
            break
        if match["rkey"]:
            parsed.request_id = parsed.request_id or match["value"]
        else:
            parsed.user_id = parsed.user_id or match["value"]
        message = message[match.end() :]
    parsed.message = message


# Field names a format may capture, for the tests and `logsense formats`.
CAPTURED = FIELDS
