"""Between a masked message and Drain: the words Drain compares, and the text a template shows.

A masked message (`masking.mask`) splits into words and the separators between them: whitespace
and the punctuation that separates keys from values or list items (`= : , ; ( ) [ ] { } " ' |`).
`uid=<*> euid=<*>` is the words `uid <*> euid <*>` with the separators `"", "=", " ", "=", ""`.

Drain sees only the words that are not already `<*>`. Masked variables then neither dilute its
similarity (a message that is mostly numbers still matches on its constant words) nor its
routing (a line that starts with an IP routes by its first real word), and a list of any length
(`delete <*> <*> <*>`) reads the same as a single value. A word found to vary later (by Drain or
by `merge`) becomes a variable on its own: `state=RUNNING` and `state=DONE` give `state=<*>`.

A template is rendered back from the words and separators of its cluster's first message, with
Drain's words in place of the unmasked ones; variables next to each other (`<*> <*>`, `<*><*>`)
become one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from logsense.mine.masking import WILDCARD

__all__ = ["Shape", "render", "shape"]

_WORD = re.compile(r"[^\s=:,;()\[\]{}\"'|]+")
_ADJACENT_WILDCARDS = re.compile(r"<\*>(?: ?<\*>)+")


@dataclass(frozen=True, slots=True)
class Shape:
    """A masked message as words and separators: `gaps[i]` comes before `words[i]`.

    `gaps` has one more item than `words`: the text after the last word.
    """

    words: tuple[str, ...]
    gaps: tuple[str, ...]

    @property
    def drain_text(self) -> str:
        """What Drain sees: the words that are not masked, joined by spaces."""
        return " ".join(word for word in self.words if word != WILDCARD)


def shape(masked: str) -> Shape:
    """The words of a masked message and the separators around them."""
    words: list[str] = []
    gaps: list[str] = []
    end = 0
    for match in _WORD.finditer(masked):
        gaps.append(masked[end : match.start()])
        words.append(match[0])
        end = match.end()
    gaps.append(masked[end:])
    return Shape(tuple(words), tuple(gaps))


def render(layout: Shape, drain_tokens: Sequence[str]) -> str:
    """The template text: `layout` with its unmasked words replaced by Drain's `drain_tokens`."""
    tokens = iter(drain_tokens)
    parts: list[str] = []
    for gap, word in zip(layout.gaps, layout.words, strict=False):
        parts.append(gap)
        parts.append(word if word == WILDCARD else next(tokens, word))
    parts.append(layout.gaps[-1])
    return _ADJACENT_WILDCARDS.sub(WILDCARD, "".join(parts).strip())
