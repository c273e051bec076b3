"""Hostile text in, safe output out: what a log line, a file name or a model's answer can do to
a terminal, a Markdown page, an HTML page, a JSON file or an email, and why it cannot.

The log here is written by an attacker: services named `inventory\\nBcc: …` or `bill|ing`,
messages with `<script>`, escape sequences that clear the screen or open hyperlinks, rich
markup (`[/]`, `[link=…]`), a `\\r` and a backtick fence meant to end a code block, a level
that is markup, a file name that is an escape sequence. Each output is checked where it is
used: the terminal table as a terminal gets it, the Markdown rendered by a CommonMark renderer
(raw HTML allowed, as many are) and loaded in headless Chromium, the digest through a real SMTP
server (aiosmtpd). Hypothesis then throws arbitrary text at every renderer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from logsense.model import LEVELS, Issue, Overview, Pattern, Report, Sample, Summary, Totals, Window
from logsense.render import RENDERERS
from logsense.render.json import report_to_dict
from tests.browser import dom_of, needs_chromium
from tests.conftest import Cli
from tests.test_digest import SENDER, Inbox, one_error_line, serving

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PWN = "document.body.setAttribute('data-pwned', '{n}')"
HOSTILE_MESSAGE = (
    f'boom <script>{PWN.format(n=1)}</script> <img src=x onerror="{PWN.format(n=2)}"> '
    "\x1b[2J\x1b[H fake prompt$ \x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 "
    "[link=http://evil.example]x[/link] [/] [bold red]red[/] |a|b| **bold** `tick` "
    f"\r```\r<script>{PWN.format(n=3)}</script>\r``` &lt;i&gt; \u202egnp.exe :smile:"
)
# (service, level): header injection, separators, a table pipe, markup; a level that is markup
HOSTILE_SERVICES = [
    ("inventory\nBcc: evil@attacker.example", "error"),
    ("pay\u2028ment", "error"),
    ("ord\x85ers\r\nX-Injected: yes", "error"),
    ("bill|ing", "error"),
    ("stock[/]\x1b[31m", "warn[/]ing[link=http://evil.example]"),
    ("pric$\\undefined$ing", "error"),  # mathtext in a chart label
]
# Control characters no output may carry raw (newlines aside): C0, DEL, C1, separators, bidi.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _line(at: datetime, service: str, level: str, message: str, trace: str) -> bytes:
    return orjson.dumps(
        {"@timestamp": at.isoformat().replace("+00:00", "Z"), "log": {"level": level},
         "service": {"name": service}, "trace": {"id": trace}, "message": message}
    )  # fmt: skip


def hostile_log(path: Path) -> Path:
    """Two hours of traffic; from 13:10 each hostile service fails its own share of requests."""
    lines = []
    for minute in range(120):
        for slot in range(8):
            n = minute * 8 + slot
            at = START + timedelta(minutes=minute, seconds=slot * 9)
            lines.append(_line(at, "web", "info", "GET / 200", f"t{n:05d}"))
            if minute >= 70 and slot < len(HOSTILE_SERVICES):
                service, level = HOSTILE_SERVICES[slot]
                message = HOSTILE_MESSAGE if slot < 2 else f"{service} failed: {HOSTILE_MESSAGE}"
                lines.append(_line(at, service, level, message, f"t{n:05d}"))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def log(tmp_path: Path) -> Path:
    folder = tmp_path / "logs["  # so the path holds `[/]`
    folder.mkdir()
    return hostile_log(folder / "]\x1b[31m|x[link=mailto:a@evil.example].jsonl")


# --- terminal ---------------------------------------------------------------------------------


def test_the_terminal_table_shows_hostile_text_literally(
    cli: Cli, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    code, out, err = cli("triage", "-s", str(log), "--since", "1h", "--no-llm")
    assert code == 0, err  # `[/]` in a level, a service or the file name no longer crashes
    assert not RAW_CONTROL.search(out), repr(RAW_CONTROL.search(out))
    assert "␛[2J" in out or "␛" in out  # shown, not obeyed
    assert "logs[/]␛[31m|x[link=mailto:a@evil.example].jsonl" in out
    assert "warn[/]ing[link=http" in out  # the unknown level's warning (cut by the reader)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_the_patterns_view_shows_hostile_text_literally(
    cli: Cli, log: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    code, out, err = cli("patterns", "-s", str(log), "-f", fmt)
    assert code == 0, err  # `[/]` in a level or a template cell no longer crashes
    assert not RAW_CONTROL.search(out)
    assert "[link=http://evil.example]x[<*>]" in out or "[link=http:" in out


def test_a_colour_terminal_gets_only_styles_from_logsense(
    cli: Cli, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = cli("triage", "-s", str(log), "--since", "1h", "--no-llm")
    assert code == 0, err
    sequences = re.findall(r"\x1b[^a-zA-Z]*[a-zA-Z]?", out)
    assert sequences, "FORCE_COLOR gave a colour terminal"
    assert all(re.fullmatch(r"\x1b\[[0-9;]*m", s) for s in sequences), set(sequences)
    assert "\x1b]8;" not in out  # no hyperlink
    assert not RAW_CONTROL.search(RE_SGR.sub("", out))


RE_SGR = re.compile(r"\x1b\[[0-9;]*m")


# --- Markdown, rendered by a CommonMark renderer and loaded in Chromium -----------------------


class _Tags(HTMLParser):
    """Every element and attribute of an HTML text, and the cells of each table row."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[int]] = []  # per table, the cell count of each row
        self.cells: list[list[str]] = []  # per row of any table, the text of each cell

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.rows.append([])
        elif tag == "tr" and self.rows:
            self.rows[-1].append(0)
            self.cells.append([])
        elif tag in ("td", "th") and self.rows and self.rows[-1]:
            self.rows[-1][-1] += 1
            self.cells[-1].append("")

    def handle_data(self, data: str) -> None:
        if self.cells and self.cells[-1]:
            self.cells[-1][-1] += data


def tags_of(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


MARKDOWN_TAGS = {"h1", "h2", "p", "em", "strong", "code", "pre", "table", "thead", "tbody",
                 "tr", "th", "td", "ul", "li", "br", "input"}  # fmt: skip


def commonmark(markdown: str) -> str:
    """Markdown as a CommonMark renderer with GitHub's tables makes it; raw HTML passes."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def assert_inert(html: str) -> _Tags:
    found = tags_of(html)
    assert {tag for tag, _ in found.tags} <= MARKDOWN_TAGS, {t for t, _ in found.tags}
    assert not any(k.startswith("on") for _, attrs in found.tags for k in attrs)
    for table in found.rows:
        assert len(set(table)) == 1, f"a row with another number of cells: {table}"
    return found


def chromium_dom(html: str, folder: Path) -> str:
    page = folder / "page.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><body>{html}</body>", encoding="utf-8")
    return dom_of(page, folder)


# What a script that ran would have left: the attribute on <body>.
PWNED = re.compile(r"<body[^>]*\sdata-pwned")


@needs_chromium
def test_triage_markdown_runs_no_script_in_chromium(cli: Cli, log: Path, tmp_path: Path) -> None:
    code, markdown, err = cli(
        "triage", "-s", str(log), "--since", "1h", "--no-llm", "-f", "md", "-q"
    )
    assert code == 0, err
    assert not RAW_CONTROL.search(markdown.replace("\t", ""))
    html = commonmark(markdown)
    found = assert_inert(html)
    assert len(found.rows) >= 2 and all(len(t) > 1 for t in found.rows)
    assert found.rows[0][0] == 8  # the issue table: its 8 columns, `bill|ing` or not
    services = [row[6] for row in found.cells[1 : found.rows[0].__len__()]]
    assert any("bill|ing" in cell for cell in services), services  # whole, in its own cell
    dom = chromium_dom(html, tmp_path)
    assert "<body" in dom and "boom" in dom
    assert not PWNED.search(dom), PWNED.search(dom)
    assert "&lt;script&gt;" in dom  # the text is there, as text


@needs_chromium
def test_postmortem_markdown_runs_no_script_in_chromium(
    cli: Cli, log: Path, tmp_path: Path
) -> None:
    code, markdown, err = cli(
        "postmortem", "-s", str(log), "--from", "2026-11-20T13:00Z", "--to", "2026-11-20T14:00Z",
        "--no-llm", "-f", "md", "-q",
    )  # fmt: skip
    assert code == 0, err
    assert not RAW_CONTROL.search(markdown.replace("\t", ""))
    html = commonmark(markdown)
    assert_inert(html)
    dom = chromium_dom(html, tmp_path)
    assert "Postmortem" in dom and not PWNED.search(dom)


@needs_chromium
@pytest.mark.parametrize("command", ["triage", "postmortem"])
def test_html_pages_with_charts_render_inert_in_chromium(
    cli: Cli, log: Path, tmp_path: Path, command: str
) -> None:
    window = ["--since", "1h"] if command == "triage" else ["--from", "2026-11-20T13:00Z"]
    code, page, err = cli(command, "-s", str(log), *window, "--no-llm", "-f", "html", "-q")
    assert code == 0, err  # `$…$` in a service name is no formula in a chart label
    assert 'class="chart"' in page
    assert not RAW_CONTROL.search(page.replace("\t", ""))
    found = tags_of(page)
    assert "script" not in {tag for tag, _ in found.tags}
    assert not any(k.startswith("on") for _, attrs in found.tags for k in attrs)
    dom = chromium_dom(page.split("<body>", 1)[1].rsplit("</body>", 1)[0], tmp_path)
    assert "boom" in dom and not PWNED.search(dom)


# --- digest: headers and recipients -------------------------------------------------------------


def _digest(
    log: Path, state: Path, port: int, *extra: str, to: str = "oncall@example.org"
) -> list[str]:
    return [
        "digest", "-s", str(log), "--since", "1h", "--no-llm", "--state-dir", str(state),
        "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--to", to, "--sender", SENDER,
        "--min-severity", "low", *extra,
    ]  # fmt: skip


def test_a_digest_with_line_breaks_in_service_names_is_sent_safely(
    cli: Cli, log: Path, tmp_path: Path
) -> None:
    with serving(Inbox()) as server:
        code, _, err = cli(*_digest(log, tmp_path / "state", server.port))
        assert code == 0, err
        _, recipients, message = server.inbox.only()
    assert recipients == ["oncall@example.org"]
    assert message["Bcc"] is None and message["X-Injected"] is None
    subject = str(message["Subject"])
    assert not re.search("[\r\n\x85\u2028\u2029]", subject), repr(subject)
    assert "inventory" in subject and "Bcc: evil@attacker.example" in subject  # one line, inert
    raw = message.as_bytes().split(b"\n\n", 1)[0].decode("ascii")
    for line in raw.splitlines():
        assert re.match(r"[\w-]+: |[ \t]", line), f"a header line out of nowhere: {line!r}"
    for part in message.walk():
        if part.get_content_maintype() == "text":
            assert not RAW_CONTROL.search(part.get_content().replace("\r", ""))


@pytest.mark.parametrize(
    "to",
    [
        "oncall@example.org\r\nBcc: evil@attacker.example",
        "oncall@example.org\nevil@attacker.example",
        "oncall@example.org\u2028Bcc: evil@attacker.example",
        "oncall@example.org\x85Bcc: evil@attacker.example",
        "oncall@example.org evil@attacker.example",
        "oncall@example.org <evil@attacker.example>",
        "oncall@example.org;evil@attacker.example",
    ],
    ids=["crlf-bcc", "lf", "u2028", "nel", "space", "angle", "semicolon"],
)
def test_a_recipient_that_is_not_one_address_is_a_usage_error(
    cli: Cli, log: Path, tmp_path: Path, to: str
) -> None:
    with serving(Inbox()) as server:
        code, _, err = cli(*_digest(log, tmp_path / "state", server.port, to=to))
        assert code == 2, err
        one_error_line(err, "--to")
        assert not server.inbox.received


def test_a_sender_with_a_line_break_is_a_usage_error(cli: Cli, log: Path, tmp_path: Path) -> None:
    with serving(Inbox()) as server:
        args = _digest(log, tmp_path / "state", server.port)
        args[args.index("--sender") + 1] = "logsense@example.org\r\nBcc: evil@attacker.example"
        code, _, err = cli(*args)
        assert code == 2, err
        one_error_line(err, "--sender")
        assert not server.inbox.received


# --- fuzz: any text, every renderer -------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)
T0 = START.timestamp()


@st.composite
def reports(draw: st.DrawFn) -> Report:
    """A report whose every text (services, templates, samples, words, names) is arbitrary."""
    issues = []
    for rank in range(1, draw(st.integers(1, 2)) + 1):
        service, template, message, title = (draw(_TEXT) for _ in range(4))
        # Levels reach a report normalized (the reader's own handling of hostile levels is
        # tested above), so they come from the normalized set here.
        level = draw(st.sampled_from(LEVELS))
        pattern = Pattern(id=f"p{rank}", service=service, level=level, template=template)
        pattern.count, pattern.first_seen, pattern.last_seen = 10, T0, T0 + 60
        pattern.samples = [Sample(message, draw(_TEXT), T0, None)]
        issue = Issue(f"i{rank}", [pattern], pattern, draw(_TEXT), 10, 5, 0.5, None, T0, T0 + 60)
        issue.rank = rank
        issue.summary = Summary(
            title or "t", draw(_TEXT), draw(st.sampled_from(["llm", "rules"])), draw(_TEXT),
            draw(_TEXT), [draw(_TEXT)],
        )  # fmt: skip
        issues.append(issue)
    totals = Totals(events=20, requests=10, services=[i.root.service for i in issues])
    report = Report(Window(T0, T0 + 3600), None, draw(_TEXT), totals, issues)
    report.headline = draw(_TEXT)
    report.warnings = [draw(_TEXT)]
    report.overview = Overview(draw(_TEXT), draw(st.sampled_from(["llm", "rules"])), draw(_TEXT))
    return report


def _render(name: str, report: Report) -> str:
    out = StringIO()
    RENDERERS[name](report, out)
    return out.getvalue()


_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(reports())
def test_terminal_output_never_carries_a_control_sequence(report: Report) -> None:
    assert not RAW_CONTROL.search(_render("table", report))


@_FUZZ
@given(reports())
def test_markdown_output_is_inert(report: Report) -> None:
    markdown = _render("md", report)
    assert not RAW_CONTROL.search(markdown.replace("\t", ""))  # tabs of stack traces stay
    assert_inert(commonmark(markdown))


@_FUZZ
@given(reports())
def test_html_output_is_escaped(report: Report) -> None:
    page = _render("html", report)
    assert not RAW_CONTROL.search(page.replace("\t", ""))
    found = tags_of(page)
    assert "script" not in {tag for tag, _ in found.tags}
    for tag, attrs in found.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        if tag == "a":
            assert (attrs.get("href") or "").startswith("#issue-"), attrs


@_FUZZ
@given(reports())
def test_json_output_keeps_the_text_and_carries_no_raw_control(report: Report) -> None:
    encoded = _render("json", report)
    assert not RAW_CONTROL.search(encoded)
    parsed: Any = orjson.loads(encoded)
    assert parsed == orjson.loads(orjson.dumps(report_to_dict(report)))
