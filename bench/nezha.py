"""Loads the Nezha TrainTicket fault data kept beside the checkout in `../shared/data`.

The data (see its README) holds one CSV per minute of container logs around each injected fault,
one fault-free stretch, and the list of faults. `fault_input` turns one fault into what a user
would have: ECS JSON lines as a log shipper writes them (the service from the Kubernetes pod
name, the trace id, the level, logger and message dissected from the application's text line),
with the fault-free minutes shifted to lie just before the fault's own, as its baseline.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

__all__ = ["DATA", "Fault", "available", "fault_input", "faults", "service_of_pod"]

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "nezha-tt-2023-01-29"

# What a shipper's dissect pattern takes from the application's line: its own clock (in another
# zone, so the runtime's time is used instead), level, logger, trace and span, then the message.
_LINE = re.compile(
    r"^\S+\s+(?P<level>[A-Z]+)\s+(?P<logger>\S+)\s+TraceID:\s*(?P<trace>\S*)\s+"
    r"SpanID:\s*(?P<span>\S*)\s(?P<message>.*)$",
    re.DOTALL,
)
# A Deployment's pod is named <deployment>-<ReplicaSet hash>-<pod suffix>.
_DECODER = json.JSONDecoder()
_POD = re.compile(r"^(?P<service>.+)-[0-9a-f]{6,10}-[0-9a-z]{5}$")


@dataclass(frozen=True)
class Fault:
    """One injected fault: when (UTC), into which service, of which type."""

    injected: float
    service: str
    kind: str

    @property
    def files(self) -> list[Path]:
        """The fault's three minute files: the injection minute and the two after it."""
        at = datetime.fromtimestamp(self.injected, UTC)
        minute = int(at.timestamp() // 60)
        return [DATA / "log" / _minute_file(minute + step) for step in range(3)]


def available() -> bool:
    """True when the Nezha data is beside the checkout."""
    return (DATA / "fault_list.json").is_file()


def faults() -> list[Fault]:
    """Every fault of the day, in time order."""
    listed = orjson.loads((DATA / "fault_list.json").read_bytes())
    found = []
    for hour in listed.values():
        for entry in hour:
            at = datetime.strptime(entry["inject_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            found.append(
                Fault(at.timestamp(), service_of_pod(entry["inject_pod"]), entry["inject_type"])
            )
    return sorted(found, key=lambda f: f.injected)


def service_of_pod(pod: str) -> str:
    """The Deployment a pod belongs to (its name without the ReplicaSet hash and pod suffix)."""
    match = _POD.match(pod)
    return match.group("service") if match else pod


def fault_input(fault: Fault, out: Path) -> None:
    """Write the fault's logs as ECS JSON lines to `out`, its baseline first: the fault-free
    minutes, shifted to end just before the fault's first minute file begins."""
    own = [doc for path in fault.files if path.exists() for doc in _documents(path)]
    before = list(_documents(DATA / "fault-free" / "08_50_log.csv.gz"))
    shift = min(d["_ts"] for d in own) - max(d["_ts"] for d in before) - 1.0
    with out.open("wb") as handle:
        for doc in before:
            doc["_ts"] += shift
            handle.write(_ecs_line(doc))
        for doc in own:
            handle.write(_ecs_line(doc))


def _minute_file(minute: int) -> str:
    at = datetime.fromtimestamp(minute * 60, UTC)
    return f"{at:%H_%M}_log.csv.gz"


def _documents(path: Path) -> Iterator[dict[str, object]]:
    """The rows of one minute file as ECS fields (the time as `_ts`, epoch seconds)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text = _container_line(row["Log"])
            doc: dict[str, object] = {
                "_ts": _epoch(row["Timestamp"]),
                "service": {"name": service_of_pod(row["PodName"])},
                "kubernetes": {"pod": {"name": row["PodName"]}},
                "host": {"name": row["Node"]},
                "trace": {"id": row["TraceID"]} if row["TraceID"] else None,
            }
            match = _LINE.match(text)
            if match:
                doc["log"] = {"level": match["level"], "logger": match["logger"]}
                doc["span"] = {"id": match["span"]}
                doc["message"] = match["message"]
            else:
                doc["message"] = text
            yield doc


def _container_line(runtime_json: str) -> str:
    """The application's line inside the container runtime's JSON (two rows of the data have
    debris after the object: the object is read, the debris dropped, as a shipper would)."""
    found, _ = _DECODER.raw_decode(runtime_json)
    return str(found["log"]).rstrip("\n")


def _epoch(rfc3339: str) -> float:
    """Seconds since the epoch of an RFC 3339 UTC time with up to nanoseconds."""
    whole, _, fraction = rfc3339.rstrip("Z").partition(".")
    at = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
    return at + float("0." + fraction) if fraction else at


def _ecs_line(doc: dict[str, object]) -> bytes:
    ts = float(doc["_ts"])  # type: ignore[arg-type]
    at = datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")
    fields = {k: v for k, v in doc.items() if k != "_ts" and v is not None}
    return orjson.dumps({"@timestamp": at.replace("+00:00", "Z"), **fields}) + b"\n"
