"""From one decoded record (a JSON object or a parsed text line) to a normalized Event.

Shared by every source: field lookup by candidate keys (flat dotted or nested), timestamp and
level normalization, and the bookkeeping of what was malformed or guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from logsense.config import FieldMap
from logsense.model import Event

__all__ = ["RecordReader", "SourceStats", "normalize_level", "parse_timestamp"]

_LEVEL_NAMES = {
    "trace": "debug", "debug": "debug", "dbg": "debug", "verbose": "debug", "fine": "debug",
    "info": "info", "information": "info", "informational": "info", "notice": "info",
    "inf": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn",
    "error": "error", "err": "error", "eror": "error", "severe": "error",
    "fatal": "fatal", "critical": "fatal", "crit": "fatal", "panic": "fatal", "emerg": "fatal",
    "emergency": "fatal", "alert": "fatal", "ftl": "fatal",
}  # fmt: skip
_LEVEL_NAMES |= {name.upper(): level for name, level in list(_LEVEL_NAMES.items())}
# pino/bunyan numeric levels
_NUMERIC_LEVELS = ((60, "fatal"), (50, "error"), (40, "warn"), (30, "info"), (0, "debug"))
_MAX_EXAMPLES = 3


def normalize_level(raw: object) -> str | None:
    """debug/info/warn/error/fatal for a level name or pino-style number; None if unknown."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return next(name for floor, name in _NUMERIC_LEVELS if raw >= floor)
    if isinstance(raw, str):
        return _LEVEL_NAMES.get(raw.strip().lower())
    return None


def parse_timestamp(raw: object) -> float | None:
    """UTC epoch seconds from ISO 8601 (any offset; naive means UTC) or epoch s/ms; else None."""
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.strip().replace(",", "."))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        # Epoch milliseconds are the only plausible reading above ~1e11 (year 5138 in seconds).
        return raw / 1000.0 if raw > 1e11 else float(raw)
    return None


@dataclass
class SourceStats:
    """What a source could not use or had to guess, for `totals.malformed` and `warnings`."""

    read: int = 0
    malformed: int = 0
    malformed_reasons: Counter[str] = field(default_factory=Counter)
    malformed_examples: list[str] = field(default_factory=list)
    missing_service: int = 0
    missing_level: int = 0
    unknown_levels: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0

    def reject(self, where: str, reason: str) -> None:
        """Count one record that could not become an Event."""
        self.malformed += 1
        self.malformed_reasons[reason] += 1
        if len(self.malformed_examples) < _MAX_EXAMPLES:
            self.malformed_examples.append(f"{where} ({reason})")

    def warnings(self) -> list[str]:
        """One human line per kind of problem, with counts and where to look."""
        lines: list[str] = []
        if self.malformed:
            reasons = ", ".join(f"{n} {r}" for r, n in self.malformed_reasons.most_common())
            examples = "; ".join(self.malformed_examples)
            lines.append(f"{self.malformed} malformed records skipped ({reasons}); e.g. {examples}")
        if self.undecodable:
            lines.append(f"{self.undecodable} lines were not valid UTF-8; bad bytes became U+FFFD")
        if self.missing_level:
            lines.append(f"{self.missing_level} events had no level field; treated as info")
        if self.unknown_levels:
            names = ", ".join(repr(n) for n, _ in self.unknown_levels.most_common(3))
            total = sum(self.unknown_levels.values())
            lines.append(f"{total} events had an unknown level ({names}); treated as info")
        if self.missing_service:
            lines.append(f"{self.missing_service} events had no service field; shown as 'unknown'")
        return lines


_MISSING = object()
_FIELD_NAMES = tuple(FieldMap.model_fields)


def _flat(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda record: record.get(key)


def _nested(parts: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    def get(record: dict[str, Any]) -> Any:
        node: Any = record
        for part in parts:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    return get


class _Plan:
    """For one layout of top-level keys: per field, only the getters that can match it.

    Records of one input share a few layouts, so planning once per layout turns field lookup
    into one or two dict gets per field instead of a search over every candidate key.
    """

    __slots__ = ("getters",)

    def __init__(self, fields: FieldMap, top_keys: frozenset[str]) -> None:
        self.getters: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        for name in _FIELD_NAMES:
            chosen: list[Callable[[dict[str, Any]], Any]] = []
            for key in getattr(fields, name):
                if key in top_keys:
                    chosen.append(_flat(key))
                elif "." in key and key.split(".", 1)[0] in top_keys:
                    chosen.append(_nested(tuple(key.split("."))))
            self.getters[name] = chosen

    def get(self, name: str, record: dict[str, Any]) -> Any:
        """The first present, non-empty value of field `name`, or None."""
        for getter in self.getters[name]:
            value = getter(record)
            if value is not None and value != "":
                return value
        return None


class RecordReader:
    """Builds Events from dict records using a FieldMap, counting problems in `stats`."""

    def __init__(self, fields: FieldMap, stats: SourceStats) -> None:
        self.stats = stats
        self._fields = fields
        self._plans: dict[frozenset[str], _Plan] = {}

    def _plan(self, record: dict[str, Any]) -> _Plan:
        layout = frozenset(record)
        plan = self._plans.get(layout)
        if plan is None:
            plan = self._plans[layout] = _Plan(self._fields, layout)
        return plan

    def event(self, record: dict[str, Any], origin: str) -> Event | None:
        """The Event for `record`, or None (counted as malformed) when it has no time or message."""
        get = self._plan(record).get
        timestamp = parse_timestamp(get("timestamp", record))
        if timestamp is None:
            self.stats.reject(origin, "no timestamp")
            return None
        message = get("message", record)
        if not isinstance(message, str):
            self.stats.reject(origin, "no message")
            return None
        stack = get("stack_trace", record)
        if "\n" in message:
            message, _, rest = message.partition("\n")
            stack = stack if isinstance(stack, str) else rest
        return Event(
            timestamp=timestamp,
            message=message.rstrip(),
            level=self.level(get("level", record)),
            service=self.service(get("service", record)),
            request_id=_text(get("request_id", record)),
            user_id=_text(get("user_id", record)),
            stack_trace=stack if isinstance(stack, str) and stack.strip() else None,
            host=_text(get("host", record)),
            version=_text(get("version", record)),
            origin=origin,
        )

    def level(self, raw: object) -> str:
        """Normalized level, counting missing and unknown ones (both become info)."""
        if raw is None:
            self.stats.missing_level += 1
            return "info"
        level = _LEVEL_NAMES.get(raw) if isinstance(raw, str) else None
        if level is None:
            level = normalize_level(raw)
        if level is None:
            self.stats.unknown_levels[str(raw)[:20]] += 1
            return "info"
        return level

    def service(self, raw: object) -> str:
        """The service name, or 'unknown' (counted) when the record has none."""
        if isinstance(raw, str) and raw.strip():
            return raw.strip()
        self.stats.missing_service += 1
        return "unknown"


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)
