"""What stands behind a pattern's `<*>` slots: merged from the shapes that make the pattern,
and named from the words around them.

The native table measures each shape's slots (`logsense/native/src/table/slots.rs`): by index
among the masked message's whitespace tokens, per minute, with the most frequent values (numbers,
or text where the first message holds no number). Where Drain generalized a word that differs
between the shapes of a pattern (`user alice logged in`, `user bob logged in`), the shapes
themselves hold the values, and `text_slots` counts them exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from logsense.mine.masking import WILDCARD
from logsense.model import Slot, SlotMinute

__all__ = ["add_slot", "slot_label", "text_slots"]

# Words before a duration that say it is one (`took 35ms`, `within 3s`).
_TIMED_BY = frozenset(("took", "in", "after", "within", "elapsed"))
# Words next to a slot that do not name what it measures.
_FILLER = frozenset(("a", "an", "the", "in", "of", "on", "at", "to", "for", "from", "by", "with"))


# Values kept per slot once shapes are merged, as each shape keeps them (native `TOP_VALUES`).
_TOP_VALUES = 6


class _Shape(Protocol):
    """What `text_slots` reads of a message shape."""

    @property
    def masked(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def baseline_count(self) -> int: ...
    @property
    def per_minute(self) -> dict[int, int]: ...
    @property
    def baseline_per_minute(self) -> dict[int, int]: ...


def text_slots(template: str, shapes: Sequence[_Shape]) -> list[Slot]:
    """The slots of `template` where its shapes hold different words (Drain generalized them),
    with each word's exact count over the window and its baseline and its minutes' counts.

    Only shapes with as many whitespace tokens as `template` line up with it token by token;
    the value is what lies between the template token's text around `<*>`.
    """
    tokens = template.split()
    if len(shapes) < 2 or WILDCARD not in template:
        return []
    aligned = [(s, words) for s in shapes if len(words := s.masked.split()) == len(tokens)]
    slots = []
    for index, token in enumerate(tokens):
        prefix, _, suffix = token.partition(WILDCARD)
        suffix = suffix.rpartition(WILDCARD)[2] if WILDCARD in suffix else suffix
        values: Counter[str] = Counter()
        minutes: Counter[int] = Counter()
        for shape, words in aligned:
            word = words[index]
            if WILDCARD in word or not (word.startswith(prefix) and word.endswith(suffix)):
                continue  # a masked value (the native table reads those) or another layout
            value = word[len(prefix) : len(word) - len(suffix)]
            values[value] += shape.count + shape.baseline_count
            minutes.update(shape.per_minute)
            minutes.update(shape.baseline_per_minute)
        if len(values) < 2:
            continue
        slot = Slot(index, "text", slot_label(template, index, "text"))
        add_slot(
            slot, "text", ((m, (n, 0.0, 0.0, 0.0, None)) for m, n in minutes.items()),
            [(value, n, 0) for value, n in values.items()],
        )  # fmt: skip
        slots.append(slot)
    return slots


def add_slot(
    slot: Slot,
    unit: str,
    minutes: Iterable[tuple[int, SlotMinute]],
    top: Sequence[tuple[float | str, int, int]],
) -> None:
    """Add numbers of one shape (or pattern) to `slot`, the same slot of a pattern; numbers
    that measure something else than the slot's first ones (`unit`) are left out."""
    if slot.unit != unit:
        return
    into = slot.minutes
    for minute, more in minutes:
        had = into.get(minute)
        into[minute] = more if had is None else _add_minute(had, more)
    counts: dict[float | str, tuple[int, int]] = {v: (n, e) for v, n, e in slot.top}
    for value, n, over in top:
        known = counts.get(value, (0, 0))
        counts[value] = (known[0] + n, known[1] + over)
    ranked = sorted(counts.items(), key=_by_count_then_value)[:_TOP_VALUES]
    slot.top = [(value, n, over) for value, (n, over) in ranked]


def _by_count_then_value(item: tuple[float | str, tuple[int, int]]) -> tuple[int, float, str]:
    value = item[0]
    return (-item[1][0], 0.0, value) if isinstance(value, str) else (-item[1][0], value, "")


def _add_minute(a: SlotMinute, b: SlotMinute) -> SlotMinute:
    fractions = [f for f in (a[4], b[4]) if f is not None]
    return (
        a[0] + b[0], a[1] + b[1], min(a[2], b[2]), max(a[3], b[3]),
        max(fractions) if fractions else None,
    )  # fmt: skip


def slot_label(template: str, token: int, unit: str) -> str:
    """What a slot of `template` measures, in a few words from around it: the key of
    `key=<*>`, else the word after it (`<*> waiting`) or before it (`heap <*>`)."""
    words = template.split()
    if not 0 <= token < len(words):
        return "value"
    here = words[token]
    key = here.split("<*>", 1)[0].strip("([{\"'").rstrip("=:")
    if key and key.replace("_", "").replace(".", "").replace("-", "").isalpha():
        return key
    before = _word(words[token - 1]) if token > 0 else None
    after = _word(words[token + 1]) if token + 1 < len(words) else None
    opens = here.startswith(("(", "[", "{")) or token == 0
    if before and not words[token - 1].endswith((",", ";", ":", "(")) and not opens:
        return "duration" if unit == "seconds" and before in _TIMED_BY else before
    if after:
        follow = _word(words[token + 2]) if token + 2 < len(words) else None
        return f"{after} {follow}" if after in _FILLER and follow else after
    if before:
        return before
    return {"seconds": "duration", "bytes": "size", "percent": "percentage"}.get(unit, "value")


def _word(token: str) -> str | None:
    word = token.strip("()[]{}<>\"'`,;:.!?")
    return word.lower() if word.isalpha() and word.lower() not in ("ms", "s", "kb", "mb") else None
