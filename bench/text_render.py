"""The benchmark's JSON-lines file rendered as log4j text, the way a Java service writes it.

    %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p [main] %c: trace=%X{traceId} user=%X{userId} %m%n

with the stack trace on the lines after, as log4j prints it. Same events, same order.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

__all__ = ["render_text"]


def render_text(source: Path, target: Path) -> None:
    """Write `source` (JSON lines of the generator) to `target` as log4j text."""
    with source.open("rb") as lines, target.open("w", encoding="utf-8") as out:
        for raw in lines:
            record = orjson.loads(raw)
            when = datetime.fromisoformat(record["@timestamp"])
            stamp = when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}"
            level = record.get("log", {}).get("level", "info").upper()
            service = record.get("service", {}).get("name", "app")
            mdc = ""
            trace = record.get("trace", {}).get("id")
            if trace:
                mdc += f"trace={trace} "
            user = record.get("user", {}).get("id")
            if user:
                mdc += f"user={user} "
            message = record["message"].split("\n", 1)[0]
            out.write(f"{stamp} {level:<5} [main] {service}: {mdc}{message}\n")
            stack = record.get("error", {}).get("stack_trace")
            if stack:
                _, _, rest = stack.partition("\n")
                if rest:
                    out.write(rest + "\n")
