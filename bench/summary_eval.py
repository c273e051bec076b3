"""LLM summaries over the fixtures: how often the guard passes, and whether titles name the root.

    python bench/summary_eval.py                                  # offline: scripted fake model
    python bench/summary_eval.py --wrong-rate 0.5                 # a sloppier fake model
    OPENAI_API_KEY=… python bench/summary_eval.py --llm-base-url https://api.openai.com/v1 \
        --llm-model gpt-4o-mini                                   # a real endpoint

Runs `logsense triage --since 1h` (the library, with a fresh state directory, so nothing is
cached) on every `fixtures/*.jsonl.gz` and counts, over the summaries the LLM is asked for (the
top `--llm-max-issues` issues and the overview): how many first answers passed the guard, how
many needed the one retry, how many ended as LLM text (the rest fell back to rules), and how
often an LLM title names the issue's root-cause service.

Be honest about what the offline run measures. Without `--llm-base-url` the "model" is
`tests/llm_server.py`'s scripted one: it writes its answer from the facts table with string
templates, and garbles `--wrong-rate` of its first answers on purpose (a count and a share
that are in no fact, or an invented service), then answers correctly on the retry. So offline
numbers check the plumbing and the guard (garbled answers must be caught, correct ones must
pass: the expected first-try pass rate is about 1 - wrong-rate, and the final rate 100%), not
the quality of any real model. Only a run against a real endpoint says how a model fares.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests/llm_server.py

from logsense.config import Settings, load_settings  # noqa: E402
from logsense.model import Report  # noqa: E402
from logsense.pipeline import triage  # noqa: E402
from logsense.sources.files import FileSource  # noqa: E402
from logsense.sources.window import WindowSpec  # noqa: E402
from logsense.summarize.llm import ChatClient, Endpoint, LlmError, Reply  # noqa: E402
from tests.llm_server import FakeLLM, from_facts  # noqa: E402

RETRY_MARK = "rejected by the fact check"


class Recording:
    """A Completer around the real client that notes each call: a retry or not, answered or not."""

    def __init__(self, inner: ChatClient) -> None:
        self.inner = inner
        self.calls: list[tuple[bool, bool]] = []

    @property
    def model(self) -> str:
        """The wrapped client's model."""
        return self.inner.model

    def affordable(self, messages: list[dict[str, str]]) -> bool:
        """As the wrapped client."""
        return self.inner.affordable(messages)

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Reply:
        """Ask the wrapped client and note the outcome."""
        retry = RETRY_MARK in messages[-1]["content"]
        try:
            reply = self.inner.complete(messages, schema)
        except LlmError:
            self.calls.append((retry, False))
            raise
        self.calls.append((retry, True))
        return reply


@dataclass
class Row:
    """One fixture's counts."""

    name: str
    issues: int
    answered: int
    first_pass: int
    retries: int
    by_llm: int
    titles: int
    titles_with_root: int
    seconds: float


def evaluate(path: Path, settings: Settings) -> Row:
    """Triage one fixture with a recording client and count what happened."""
    key = os.environ.get("OPENAI_API_KEY") or "offline-fake"
    client = Recording(ChatClient(Endpoint.from_config(settings.llm, {"OPENAI_API_KEY": key})))
    started = time.perf_counter()
    source = FileSource(str(path), settings.fields, settings.header_regex)
    report = triage(
        source, WindowSpec.from_options("1h", None, None, None), settings,
        progress=False, completer=client,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    answered = sum(ok for retry, ok in client.calls if not retry)
    retries = sum(1 for retry, _ in client.calls if retry)
    by_llm = _llm_written(report)
    titled = [i for i in report.issues if i.summary and i.summary.by == "llm"]
    with_root = sum(i.root.service.lower() in i.summary.title.lower() for i in titled if i.summary)
    name = path.name.removesuffix(".jsonl.gz")
    return Row(name, len(report.issues), answered, answered - retries, retries, by_llm,
               len(titled), with_root, seconds)  # fmt: skip


def _llm_written(report: Report) -> int:
    issues = sum(1 for i in report.issues if i.summary and i.summary.by == "llm")
    return issues + (1 if report.overview and report.overview.by == "llm" else 0)


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def render(rows: list[Row], where: str, console: Console) -> None:
    """The results as a rich table with a total row."""
    table = Table(title=f"LLM summaries: guard pass rate and root service in titles ({where})")
    for column in ("fixture", "issues", "asked", "1st try passes", "retries", "LLM text",
                   "titles naming root", "seconds"):  # fmt: skip
        table.add_column(column, justify="left" if column == "fixture" else "right")
    for row in rows:
        table.add_row(*_cells(row))
    table.add_section()
    table.add_row(*_cells(_total(rows)), style="bold")
    console.print(table)


def _cells(r: Row) -> list[str]:
    return [
        r.name, str(r.issues), str(r.answered), _pct(r.first_pass, r.answered), str(r.retries),
        _pct(r.by_llm, r.answered), _pct(r.titles_with_root, r.titles), f"{r.seconds:.1f}",
    ]  # fmt: skip


def _total(rows: list[Row]) -> Row:
    def add(name: str) -> Any:
        return sum(getattr(r, name) for r in rows)

    return Row("all", add("issues"), add("answered"), add("first_pass"), add("retries"),
               add("by_llm"), add("titles"), add("titles_with_root"), add("seconds"))  # fmt: skip


def main() -> None:
    """Parse options, start the fake model unless an endpoint is given, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm-base-url", help="a real OpenAI-compatible endpoint (needs a key)")
    parser.add_argument("--llm-model", default="gpt-4o-mini")
    parser.add_argument("--llm-max-issues", type=int, default=5)
    parser.add_argument("--wrong-rate", type=float, default=0.3, help="fake model only")
    parser.add_argument("--seed", type=int, default=7, help="fake model only")
    parser.add_argument("--fixtures", type=Path, default=ROOT / "fixtures")
    args = parser.parse_args()
    fixtures = sorted(args.fixtures.glob("*.jsonl.gz"))
    if not fixtures:
        sys.exit(f"no *.jsonl.gz in {args.fixtures}: run fixtures/generate.py first")
    console = Console()
    if args.llm_base_url:
        rows = _run(fixtures, args, args.llm_base_url)
        where = args.llm_base_url
    else:
        with FakeLLM(from_facts(args.wrong_rate, args.seed)) as fake:
            rows = _run(fixtures, args, fake.url)
        where = f"scripted fake model, {args.wrong_rate:.0%} of first answers garbled on purpose"
    render(rows, where, console)


def _run(fixtures: list[Path], args: argparse.Namespace, url: str) -> list[Row]:
    rows = []
    for path in fixtures:
        with tempfile.TemporaryDirectory(prefix="logsense-bench-") as state:
            llm = {"base_url": url, "model": args.llm_model, "max_issues": args.llm_max_issues}
            settings = load_settings(None, state_dir=Path(state), llm=llm)
            rows.append(evaluate(path, settings))
    return rows


if __name__ == "__main__":
    main()
