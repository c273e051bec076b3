"""Merging templates that differ only in their variable parts.

Drain is run strictly (a one-word difference in a short message makes a new cluster), because in
logs a single differing word is as often a different event (`VM Paused` / `VM Resumed`,
`Link error` / `Link ok`) as it is a value. This pass then decides, over all of a tree's
templates at once, which differences are values. Two rules, applied until nothing changes:

- Cover: a template equal to a more general one wherever that one is constant is the same
  template (`session opened for user <*>` covers `session opened for user root`).
- Spread: templates equal except at one word, where they take at least `spread` different
  values, share that word as a variable: a user name or a host name takes many values, an event
  verb or a state a handful.

Templates are compared word by word with the same separators (`tokenize.shape`).
"""

from __future__ import annotations

from collections import defaultdict

from logsense.mine.masking import WILDCARD
from logsense.mine.tokenize import Shape, render, shape

__all__ = ["merge_templates"]

Words = tuple[str, ...]
_MAX_ROUNDS = 4


def merge_templates(templates: dict[int, str], spread: int = 4) -> dict[int, str]:
    """Each cluster's template after merging; clusters that merge get the same text."""
    layouts = {cluster_id: shape(text) for cluster_id, text in templates.items()}
    current: dict[int, Words] = {cid: layout.words for cid, layout in layouts.items()}
    values: set[str] = set()
    for _ in range(_MAX_ROUNDS):
        changed = _cover(current, layouts) | _spread(current, layouts, spread, values)
        if not changed:
            break
    return {cid: _text(layouts[cid], words) for cid, words in current.items()}


def _buckets(current: dict[int, Words], layouts: dict[int, Shape]) -> list[list[int]]:
    """Cluster ids whose templates have the same separators (so the same number of words)."""
    buckets: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for cid in current:
        buckets[layouts[cid].gaps].append(cid)
    return [ids for ids in buckets.values() if len(ids) > 1]


def _cover(current: dict[int, Words], layouts: dict[int, Shape]) -> bool:
    """Templates take the words of a more general template that equals them where it is constant.

    Found by index, not by comparing pairs: the general templates are grouped by where their
    variables are, and looked up by their constant words.
    """
    changed = False
    for ids in _buckets(current, layouts):
        by_variables: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for cid in ids:
            variables = _variables(current[cid])
            if variables:
                by_variables[variables].append(cid)
        for variables in sorted(by_variables, key=len, reverse=True):
            generals: dict[Words, Words] = {}
            for cid in by_variables[variables]:
                generals.setdefault(_constants(current[cid], variables), current[cid])
            for cid in ids:
                words = current[cid]
                general = generals.get(_constants(words, variables))
                if general is None or general == words:
                    continue
                if set(_variables(words)) <= set(variables):
                    current[cid] = general
                    changed = True
    return changed


def _variables(words: Words) -> tuple[int, ...]:
    return tuple(i for i, word in enumerate(words) if word == WILDCARD)


def _constants(words: Words, variables: tuple[int, ...]) -> Words:
    """`words` without the positions in `variables`."""
    skip = set(variables)
    return tuple(word for i, word in enumerate(words) if i not in skip)


def _spread(
    current: dict[int, Words], layouts: dict[int, Shape], spread: int, values: set[str]
) -> bool:
    """Positions where otherwise equal templates take many values become `<*>`.

    Many: `spread` or more, or at least two that were values of a variable already (`values`,
    which grows as positions merge). The first constant word is never merged this way: it names
    the event or the component far more often than it holds a value.
    """
    changed = False
    for ids in _buckets(current, layouts):
        width = len(current[ids[0]])
        for position in range(1, width):
            siblings: dict[Words, list[int]] = defaultdict(list)
            for cid in ids:
                words = current[cid]
                if words[position] != WILDCARD and _has_constant(words[:position]):
                    key = (*words[:position], WILDCARD, *words[position + 1 :])
                    siblings[key].append(cid)
            for key, members in siblings.items():
                seen = {current[cid][position] for cid in members}
                if _are_values(seen, spread, values):
                    values |= seen
                    for cid in members:
                        current[cid] = key
                    changed = True
    return changed


def _are_values(seen: set[str], spread: int, values: set[str]) -> bool:
    return len(seen) >= spread or 1 < len(seen) <= len(seen & values)


def _has_constant(words: Words) -> bool:
    """Is any of `words` not a variable?"""
    return any(word != WILDCARD for word in words)


def _text(layout: Shape, words: Words) -> str:
    """`words` with the separators of `layout`."""
    return render(Shape(words, layout.gaps), [w for w in words if w != WILDCARD])
