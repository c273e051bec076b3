"""Early warning from the numbers inside log lines: `leading_indicators`.

Mining keeps, per pattern slot and minute, the count, sum, min and max of the numbers behind a
`<*>` (`model.Slot`). A minute's *level* is its mean. Against the baseline's minutes, a slot
warns in two ways:

- **rise**: `_RUN` minutes in a row with data in the window whose level is above every level of
  the baseline, and well above its usual one (by three robust deviations, a quarter of it, and
  `_FLOORS` of the unit, whichever is most). The first minute of the run is when
  it became visible. Such a run is a change point: if the minutes were exchangeable, `_RUN` given
  minutes would all top `n` baseline minutes with probability 1 / C(n + _RUN, _RUN), which must
  be at most `_P_VALUE` (so at least 10 baseline minutes with data are needed).
- **limit**: the line shows how near a limit the number is (`32/32`, `91%`), and in `_LIMIT_RUN`
  minutes in a row of the window it reached `_NEAR_LIMIT` of it, which no baseline minute did.

Without a baseline to test a rise against (none, or fewer than 10 minutes with data), a slot
warns of a **shift** inside the window: the rise's test over `_SHIFT_RUN` minutes, with the
window's own earlier minutes as the reference. Every minute where such a step could begin is a
test, so each must pass at `_P_VALUE` divided by their number: in an hour's window, a step is
told only after 20 steady minutes.

Only rises warn: a number that falls (free memory, say) is ambiguous without knowing what it
counts. Slots holding ids written as numbers (large, never repeated) are not measures. The
indicator precedes the first-ranked high or critical issue that began at least a minute after it
became visible, among those of its own service if there are any.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence

from logsense.model import Issue, LeadingIndicator, Pattern, Slot, SlotMinute, Window

__all__ = ["format_value", "leading_indicators", "slot_summary"]

_RUN = 4
_P_VALUE = 1e-3
_MIN_BASELINE_MINUTES = 10
_MIN_REFERENCE = 10
_SHIFT_RUN = 5
_LIMIT_RUN = 2
_NEAR_LIMIT = 0.9
_ROBUST_DEVIATIONS = 3.0
_RELATIVE_RISE = 0.25
# The least rise that matters, per unit: one more of a count, a millisecond, a kilobyte, five
# points of a percentage, one more in use.
_FLOORS = {"count": 1.0, "seconds": 1e-3, "bytes": 1e3, "percent": 5.0, "ratio": 1.0}
# What an indicator can be said to precede: an incident, not the usual small failures.
_PRECEDED_SEVERITIES = ("critical", "high")
# Ids written as numbers (orders, accounts) are at least this large.
_ID_LEAST = 10_000


def leading_indicators(
    patterns: Sequence[Pattern], window: Window, baseline: Window | None, issues: Sequence[Issue]
) -> list[LeadingIndicator]:
    """The slots of `patterns` that rose against `baseline` or neared their limit in `window`
    (or, without a baseline to test against, shifted up inside `window`), earliest first, each
    with the issue it precedes."""
    found: list[LeadingIndicator] = []
    for pattern in patterns:
        for slot in pattern.slots.values():
            if slot.unit == "text":
                continue
            indicator = _indicator(pattern, slot, window, baseline)
            if indicator is not None:
                _precede(indicator, issues)
                indicator.text = _text(indicator)
                found.append(indicator)
    found.sort(key=lambda i: (i.visible_from, i.id))
    return found


def _level(minute: SlotMinute) -> float:
    return minute[1] / minute[0]


def _indicator(
    pattern: Pattern, slot: Slot, window: Window, baseline: Window | None
) -> LeadingIndicator | None:
    first, last = math.floor(window.start / 60), math.ceil(window.end / 60)
    low = math.floor(baseline.start / 60) if baseline is not None else first
    before = [m for minute, m in slot.minutes.items() if low <= minute < first]
    during = sorted((minute, m) for minute, m in slot.minutes.items() if first <= minute < last)
    if not during or _identifier(slot):
        return None
    if len(before) < _MIN_BASELINE_MINUTES:
        shift = _shift(during, slot.unit)
        if shift is None:
            return None
        kinds, starts, usual = ["shift"], [shift[0]], shift[1]
    else:
        usual, kinds, starts = _against_baseline(before, during, slot.unit)
    if not kinds:
        return None
    visible = min(starts)
    after = [m for minute, m in during if minute >= visible]
    peak = max(after, key=_level)
    peak_fractions = [m[4] for m in after if m[4] is not None]
    return LeadingIndicator(
        id=f"{pattern.id}/{slot.token}",
        pattern=pattern,
        slot=slot,
        name=slot.name,
        kinds=kinds,
        visible_from=visible * 60.0,
        baseline=usual,
        peak=_level(peak),
        peak_fraction=max(peak_fractions) if peak_fractions else None,
    )


def _against_baseline(
    before: list[SlotMinute], during: list[tuple[int, SlotMinute]], unit: str
) -> tuple[float, list[str], list[int]]:
    """The usual level of the baseline's minutes, and how the window's rose above it or neared
    the limit (`rise`, `limit`) from which minutes."""
    usual, bar = _usual_and_bar([_level(m) for m in before], unit)
    kinds: list[str] = []
    starts: list[int] = []
    rise = _first_run(during, lambda m: _level(m) > bar, _RUN)
    if rise is not None:
        kinds.append("rise")
        starts.append(rise)
    fractions = [m[4] for m in before if m[4] is not None]
    if fractions and max(fractions) < _NEAR_LIMIT:
        near = _first_run(during, lambda m: (m[4] or 0.0) >= _NEAR_LIMIT, _LIMIT_RUN)
        if near is not None:
            kinds.append("limit")
            starts.append(near)
    return usual, kinds, starts


def _usual_and_bar(levels: list[float], unit: str) -> tuple[float, float]:
    """The usual level of reference minutes (their median), and the level a minute must top to
    count as risen: above every reference minute, and above the usual one by three robust
    deviations, a quarter of it, and the unit's least step, whichever is most."""
    usual = statistics.median(levels)
    spread = 1.4826 * statistics.median(abs(v - usual) for v in levels)
    rise = max(_ROBUST_DEVIATIONS * spread, _RELATIVE_RISE * abs(usual), _FLOORS[unit])
    return usual, max(max(levels), usual + rise)


def _shift(during: list[tuple[int, SlotMinute]], unit: str) -> tuple[int, float] | None:
    """The first minute from which `_SHIFT_RUN` minutes with data in a row rose above all
    earlier ones of the window (as a rise would above the baseline), and the usual level
    before it."""
    splits = range(_MIN_REFERENCE, len(during) - _SHIFT_RUN + 1)
    levels = [_level(m) for _, m in during]
    for split in splits:
        if math.comb(split + _SHIFT_RUN, _SHIFT_RUN) * _P_VALUE < len(splits):
            continue  # too few minutes before it to be significant among all the splits tried
        usual, bar = _usual_and_bar(levels[:split], unit)
        if all(level > bar for level in levels[split : split + _SHIFT_RUN]):
            return during[split][0], usual
    return None


def _identifier(slot: Slot) -> bool:
    """Whether a slot holds ids rather than a measure: large whole numbers, none repeated."""
    if slot.unit != "count" or any(n - over >= 2 for _, n, over in slot.top):
        return False
    return all(m[2] >= _ID_LEAST and m[1] == round(m[1]) for m in slot.minutes.values())


def _first_run(
    during: list[tuple[int, SlotMinute]], test: Callable[[SlotMinute], bool], length: int
) -> int | None:
    """The first minute of the first `length` minutes with data in a row that pass `test`."""
    start, count = None, 0
    for minute, stats in during:
        if test(stats):
            start = minute if count == 0 else start
            count += 1
            if count >= length:
                return start
        else:
            count = 0
    return None


def _precede(indicator: LeadingIndicator, issues: Sequence[Issue]) -> None:
    later = [
        i
        for i in issues
        if i.first_seen >= indicator.visible_from + 60 and i.severity in _PRECEDED_SEVERITIES
    ]
    if not later:
        return
    own = [i for i in later if indicator.service in i.services]
    issue = (own or later)[0]  # issues come ranked
    indicator.precedes = issue.id
    indicator.lead_minutes = math.floor((issue.first_seen - indicator.visible_from) / 60)


def format_value(value: float, unit: str) -> str:
    """A slot's number as a person reads it: `350 ms`, `2.4 s`, `1.2 MB`, `91%`, `118`."""
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.1f} s"
    if unit == "bytes":
        for limit, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
            if abs(value) >= limit:
                return f"{value / limit:.1f} {name}"
        return f"{value:.0f} B"
    whole = abs(value - round(value)) < 0.05 or abs(value) >= 100
    text = f"{value:.0f}" if whole else f"{value:.1f}"
    return f"{text}%" if unit == "percent" else text


def _text(indicator: LeadingIndicator) -> str:
    unit = indicator.slot.unit
    clock = time.strftime("%H:%M", time.gmtime(indicator.visible_from))
    if "rise" in indicator.kinds or "shift" in indicator.kinds:
        verb = "rose" if "rise" in indicator.kinds else "stepped up"
        what = (
            f"{indicator.name} {verb} from {format_value(indicator.baseline, unit)} to "
            f"{format_value(indicator.peak, unit)}"
        )
    else:
        what = f"{indicator.name} neared its limit"
    if indicator.peak_fraction is not None and "limit" in indicator.kinds:
        what += f" ({indicator.peak_fraction:.0%} of its limit)"
    text = f"{what} from {clock} UTC"
    if indicator.lead_minutes is not None:
        minutes = "minute" if indicator.lead_minutes == 1 else "minutes"
        text += f", {indicator.lead_minutes:.0f} {minutes} before the first error"
    return text


def slot_summary(slot: Slot, window: Window | None) -> dict[str, object]:
    """A slot's numbers in `window` (all of them if None): count, min, mean, max (None for a
    text slot, which has only its count); and its most frequent values over the window and its
    baseline (those whose count is certain to be at least 2)."""
    first, last = (
        (math.floor(window.start / 60), math.ceil(window.end / 60))
        if window is not None
        else (-math.inf, math.inf)
    )
    inside = [m for minute, m in slot.minutes.items() if first <= minute < last]
    count = sum(m[0] for m in inside)
    top = [{"value": value, "count": n - over} for value, n, over in slot.top if n - over >= 2]
    if slot.unit == "text":
        return {"count": count, "min": None, "mean": None, "max": None, "top_values": top}
    return {
        "count": count,
        "min": min((m[2] for m in inside), default=None),
        "mean": sum(m[1] for m in inside) / count if count else None,
        "max": max((m[3] for m in inside), default=None),
        "top_values": top,
    }
