"""Mining: message shapes → patterns, and the names patterns keep across runs.

    masking.py     variable parts of a message → `<*>` (the rules; the Rust core applies them)
    stacktrace.py  the fingerprint of a stack trace
    tokenize.py    a masked message's words and separators, as Drain compares them
    merge.py       templates that differ only in values, merged
    templates.py   one Drain3 tree fed through tokenize and merge
    sampling.py    the samples kept per pattern (bottom-k, the same however the input is split)
    miner.py       shapes → patterns with their stats, one tree per service and level class
    registry.py    stable pattern ids across runs, and when each was seen
    patterns.py    the `logsense patterns` view: mining alone, no window or grouping

The miner's entry points are re-exported here: `mine_aggregate` (a triage's window),
`mine_every_event` (the patterns view) and `mine` (events already in memory).
"""

from logsense.mine.miner import Mined, Miner, mine, mine_aggregate, mine_every_event, pattern_id

__all__ = ["Mined", "Miner", "mine", "mine_aggregate", "mine_every_event", "pattern_id"]
