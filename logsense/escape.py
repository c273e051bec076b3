"""Text from logs, files or a model, made safe to show: literal, and never a control sequence.

Anyone can write a log line, a file name or coax a model's answer, so every renderer treats
such text as data. What each output does with it:

    terminal    `visible` (below), then rich `Text`: never parsed as rich markup, so `[/]`,
                `[link=…]` or `:emoji:` are shown as typed
    Markdown    `md_text` / `md_code` / `md_fence` (below): CommonMark sees literal text
    HTML        jinja2 autoescaping, after `visible` (a filter of the templates)
    JSON        `json_safe`: the data unchanged, but DEL, C1 controls, the Unicode line and
                paragraph separators and the bidirectional controls written as \\u escapes, so
                a terminal that shows the file never meets a raw control character
    email       `header_text` for headers (one line, no line break of any kind)
    Slack       `slack_code`: one line in a code span, `&`, `<`, `>` as Slack's entities (no
                link, mention or `<!channel>` can come of it), backticks replaced

`visible` makes control characters visible instead of acting on them: C0 controls and DEL
become their Unicode control pictures (ESC → `␛`, CR → `␍`, LF → `␊` unless kept), and C1
controls, line/paragraph separators and the bidirectional controls that reorder what a reader
sees ("Trojan Source") become `\\x9b` / `\\u2028` / `\\u202e` written out.
"""

from __future__ import annotations

import re

__all__ = [
    "header_text",
    "json_safe",
    "md_code",
    "md_fence",
    "md_text",
    "one_line",
    "slack_code",
    "visible",
]

# C0 but TAB/LF (handled by `keep`), DEL, C1, NEL, the line/paragraph separators, and the
# bidirectional controls (ALM, LRM, RLM, embeddings/overrides, isolates).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: str, keep: str = "") -> str:
    """`text` with every control character shown instead of obeyed; `keep` ("\\n\\t") stays."""
    return _INVISIBLE.sub(lambda m: m.group() if m.group() in keep else _shown(m.group()), text)


def one_line(text: str) -> str:
    """`text` on one line: line breaks and tabs as spaces, other controls made visible."""
    return visible(re.sub(r"\r\n|[\r\n\t\v\f\x85\u2028\u2029]", " ", text))


# --- Markdown (CommonMark, with GitHub's tables) ---------------------------------------------

# Backslash-escaped wherever they are: everything that opens inline markup (emphasis, code,
# links, images, autolinks and raw HTML, entities), and the table pipe.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~!])")
# Escaped at the start of a line only: what opens a block (heading, quote, list, rule, fence).
_MD_BLOCK_START = re.compile(r"^(\s*)(\d*)([#>+=.)-])")


def md_text(text: str) -> str:
    """`text` as literal inline Markdown on one line (safe in a paragraph, heading, list item
    or table cell): no HTML, link, emphasis, code span, entity or cell break can come of it."""
    escaped = _MD_INLINE.sub(r"\\\1", one_line(text))
    return _MD_BLOCK_START.sub(r"\1\2\\\3", escaped)


def md_code(text: str, *, in_table: bool = False) -> str:
    """`text` as one inline code span: the fence is longer than any run of backticks inside.

    In a table cell, `|` still ends the cell inside a code span (GitHub's tables), so it is
    escaped there (`\\|`, which the table drops again).
    """
    body = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`") or not body.strip():
        body = f" {body} "
    if in_table:
        body = body.replace("|", "\\|")
    return f"{fence}{body}{fence}"


def md_fence(lines: list[str]) -> list[str]:
    """`lines` as a fenced code block that no line can close: CR and other line breaks are
    shown, not obeyed, and the fence is longer than any run of backticks in the text."""
    body = [visible(line, keep="\t") for text in lines for line in text.split("\n")]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *body, fence]


# --- JSON and email --------------------------------------------------------------------------

_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_safe(encoded: str) -> str:
    """JSON text with DEL, C1 controls, U+2028/U+2029 and the bidirectional controls as `\\u`
    escapes (same data).

    They can only stand inside strings (JSON's own syntax is ASCII), where an escape means the
    same character; the C0 controls are escaped by every encoder already.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def header_text(text: str, limit: int = 400) -> str:
    """`text` fit for an email header: one line (no CR, LF, NEL, U+2028 …), no controls."""
    line = " ".join(one_line(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# --- Slack (mrkdwn) ----------------------------------------------------------------------------

_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def slack_code(text: str, limit: int = 300) -> str:
    """`text` as one inline code span of Slack's mrkdwn, literal: on one line, controls shown,
    `&`, `<` and `>` written as the entities Slack asks for (so no `<link|…>`, `<@user>` or
    `<!channel>` can be formed), and backticks, which would close the span, shown as `ˋ`."""
    line = one_line(text)
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    body = "".join(_SLACK_ENTITIES.get(c, c) for c in line).replace("`", "\u02cb")
    return f"`{body or ' '}`"
