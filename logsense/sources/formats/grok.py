"""Grok expressions to one regex dialect that Python's `re` and Rust's `regex-automata` agree on.

The patterns come from the `grok` crate (logstash-patterns-core, Apache-2.0), compiled into
`logsense._native` (`grok_patterns()`); our formats are grok expressions over them
(`library.toml`). Grok is written for Oniguruma, so expanding one also translates it:

- `%{NAME}` becomes `(?:…)`; `%{NAME:field}` a named group when `field` is one of ours (after
  the format's `rename`), else `(?:…)`; `(?<name>…)` likewise;
- atomic groups `(?>…)` become `(?:…)` and lookarounds (`(?<!…)`, `(?!…)`, `(?=…)`,
  `(?<=…)`) are dropped: neither engine then backtracks differently, both match the same;
- `[[:alnum:]]` and friends become ASCII classes.

The result is matched with `re.ASCII` in Python and with Unicode off in Rust, so `\\d`, `\\w`,
`\\s` and `\\b` are ASCII in both, and it is anchored at both ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache

from logsense._native import grok_patterns

__all__ = ["FIELDS", "expand", "library_patterns"]

# The captures a format may name, and what they become (see `text.py`).
FIELDS = (
    "timestamp", "level", "pri", "status", "service", "process", "thread", "host",
    "request_id", "user_id", "message", "before", "after",
)  # fmt: skip
_REFERENCE = re.compile(r"%\{(\w+)(?::([\w.\[\]@-]+))?(?::\w+)?\}")
_POSIX = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9", "space": " \\t\\r\\n\\v\\f",
    "upper": "A-Z", "lower": "a-z", "xdigit": "0-9A-Fa-f", "punct": "!-/:-@\\[-`{-~",
    "word": "a-zA-Z0-9_",
}  # fmt: skip


@cache
def library_patterns() -> Mapping[str, str]:
    """The grok pattern library: name → expression."""
    return dict(grok_patterns())


def expand(
    grok: str,
    extra: Mapping[str, str] | None = None,
    rename: Mapping[str, str] | None = None,
    whole: bool = True,
) -> str:
    """The regex of a grok expression, anchored (at its start, and with `whole` at its end),
    with our fields as named groups.

    `extra` adds patterns (ours win over the library's); `rename` maps the library's field
    names to ours (`pid` → `process`). A field named twice gets `__2`, `__3`… after the first.
    """
    patterns = {**library_patterns(), **(extra or {})}
    renames = dict(rename or {})
    seen: dict[str, int] = {}

    def group(field: str | None) -> str:
        name = renames.get(field, field) if field else None
        if name not in FIELDS:
            return "(?:"
        count = seen.get(name, 0) + 1
        seen[name] = count
        return f"(?P<{name}>" if count == 1 else f"(?P<{name}__{count}>"

    def walk(text: str, depth: int) -> str:
        if depth > 64:
            raise ValueError("grok patterns nest too deeply")
        text = _translate(text, group)

        def replace(match: re.Match[str]) -> str:
            name, field = match[1], match[2]
            if name not in patterns:
                raise ValueError(f"unknown grok pattern %{{{name}}}")
            return group(field) + walk(patterns[name], depth + 1) + ")"

        return _REFERENCE.sub(replace, text)

    return "^(?:" + walk(grok, 0) + (")$" if whole else ")")


def _translate(text: str, group: Callable[[str | None], str]) -> str:
    """Oniguruma constructs of one pattern's own text in the common dialect (see above)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_class = False
    while i < n:
        c = text[i]
        if c == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        if in_class:
            if text.startswith("[:", i):
                end = text.find(":]", i)
                name = text[i + 2 : end]
                if end > 0 and name in _POSIX:
                    out.append(_POSIX[name])
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and text[i] == "^":
                out.append("^")
                i += 1
            if i < n and text[i] == "]":  # a literal ] first in a class
                out.append("\\]")
                i += 1
            continue
        if text.startswith("(?>", i):
            out.append("(?:")
            i += 3
            continue
        for look in ("(?<!", "(?<=", "(?!", "(?="):
            if text.startswith(look, i):
                i = _group_end(text, i)
                break
        else:
            if text.startswith("(?<", i) or text.startswith("(?P<", i):
                start = text.index("<", i) + 1
                end = text.index(">", start)
                out.append(group(text[start:end]))
                i = end + 1
                continue
            # A plain group captures nothing we read: make it non-capturing.
            out.append("(?:" if c == "(" and not text.startswith("(?", i) else c)
            i += 1
    return "".join(out)


def _group_end(text: str, start: int) -> int:
    """The index after the group that opens at `start`."""
    depth, i = 0, start
    in_class = False
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced group in {text!r}")
