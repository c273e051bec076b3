"""Progress on stderr for long reads: events so far and events per second."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TextColumn
from rich.text import Text

from logsense.escape import one_line

__all__ = ["counting", "event_progress", "waiting"]

T = TypeVar("T")
_STEP = 10_000


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f} events/s" if task.speed else "", style="cyan")


@contextmanager
def event_progress(label: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A transient stderr progress line; call the function it gives with the events so far.

    Shown only when stderr is a terminal, so pipes and CI logs stay clean.
    """
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda _: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description} {task.completed:,.0f} events", markup=False),
        _RateColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(one_line(label), total=None)  # a file name is anyone's
        yield lambda count: progress.update(task, completed=count)


def counting(items: Iterable[T], label: str, enabled: bool = True) -> Iterator[T]:
    """Yield `items` unchanged while a transient stderr progress line counts them."""
    with event_progress(label, enabled) as shown:
        for count, item in enumerate(items, start=1):
            yield item
            if count % _STEP == 0:
                shown(count)


@contextmanager
def waiting(label: str, enabled: bool = True) -> Iterator[None]:
    """A transient stderr spinner saying what is being waited for, on a terminal only."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield
        return
    with console.status(Text(label), spinner="dots"):
        yield
