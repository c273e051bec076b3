"""`logsense triage --format html`: one self-contained page, charts inline, log text escaped."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import orjson

from tests.conftest import FIXTURES, Cli

PNG = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r'<img class="chart" alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def triage_html(cli: Cli, *args: str) -> str:
    code, out, err = cli("triage", *args, "--no-llm", "--quiet", "--format", "html")
    assert code == 0, err
    return out


def test_the_page_holds_the_report(cli: Cli) -> None:
    path = str(FIXTURES / "checkout_db_pool.jsonl.gz")
    page = triage_html(cli, "-s", path, "--since", "1h")
    report = cli.json("triage", "-s", path, "--since", "1h", "--no-llm")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert heading is not None and html.unescape(heading.group(1)) == report["headline"]
    for issue in report["issues"]:
        assert (f'id="issue-{issue["id"]}"' in page) == issue["shown"]
    assert "<script" not in page  # nothing to run: a page safe to mail or attach


def test_all_puts_every_issue_on_the_page(cli: Cli) -> None:
    path = str(FIXTURES / "checkout_db_pool.jsonl.gz")
    page = triage_html(cli, "-s", path, "--since", "1h", "--all")
    report = cli.json("triage", "-s", path, "--since", "1h", "--no-llm")
    assert all(f'id="issue-{issue["id"]}"' in page for issue in report["issues"])


def test_top_issues_have_inline_png_charts(cli: Cli) -> None:
    page = triage_html(cli, "-s", str(FIXTURES / "orders_deploy_npe.jsonl.gz"), "--since", "1h")
    images = IMAGE.findall(page)
    sections = page.count('<h2 id="issue-')
    assert len(images) == min(10, sections) > 0
    assert all(base64.b64decode(image).startswith(PNG) for image in images)


def test_log_text_is_escaped(cli: Cli, tmp_path: Path) -> None:
    lines = [
        orjson.dumps({
            "@timestamp": f"2026-11-20T12:{minute:02d}:00Z", "log": {"level": "error"},
            "service": {"name": "web"}, "trace": {"id": f"t{minute}"},
            "message": "render failed for <script>alert('x')</script> & <b>bold</b>",
        })
        for minute in range(30)
    ]  # fmt: skip
    log = tmp_path / "xss.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    page = triage_html(cli, "-s", str(log), "--since", "1h")
    assert "<script>" not in page and "<b>bold" not in page
    assert "&lt;script&gt;" in page and "&amp; &lt;b&gt;bold" in page


def test_out_writes_the_page(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    path = str(FIXTURES / "search_timeouts_minor.jsonl.gz")
    code, stdout, err = cli(
        "triage", "-s", path, "--since", "1h", "--no-llm", "-q", "-f", "html", "-o", str(out)
    )
    assert code == 0, err
    assert stdout == ""
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
