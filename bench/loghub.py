"""Loads the Loghub-2k labelled samples kept beside the checkout in `../shared/data`.

Three ground truths (GT) label the same 2,000 lines per system (see the data's README):
`khan` (Khan et al. ICSE'22 corrected templates, the default), `v2corr` (the Loghub-2.0 paper's
re-annotation) and `orig` (the original Loghub labels). Only `Content` and `EventTemplate` are
read: header fields lost leading zeros in the corrected files.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "DATA",
    "GROUND_TRUTHS",
    "SYSTEMS",
    "Dataset",
    "GroundTruth",
    "available",
    "load",
    "structured_csv",
]

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

GroundTruth = Literal["khan", "v2corr", "orig"]
GROUND_TRUTHS: tuple[GroundTruth, ...] = ("khan", "v2corr", "orig")

# All 16 Loghub-2k systems, in the order of the Loghub papers' tables; a copy may hold fewer.
SYSTEMS = (
    "HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows", "Linux",
    "Android", "HealthApp", "Apache", "Proxifier", "OpenSSH", "OpenStack", "Mac",
)  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    """One system's lines (`contents`) and the GT template of each line (`templates`)."""

    name: str
    contents: list[str]
    templates: list[str]


def structured_csv(system: str, gt: GroundTruth = "khan", root: Path = DATA) -> Path:
    """Path of the structured CSV that holds `system`'s lines labelled with `gt`."""
    if gt == "v2corr":
        return root / "loghub-2k-v2corr" / system / f"{system}_2k.log_structured_corrected.csv"
    suffix = "_corrected" if gt == "khan" else ""
    return root / "loghub-2k" / system / f"{system}_2k.log_structured{suffix}.csv"


def available(gt: GroundTruth = "khan", root: Path = DATA) -> list[str]:
    """The systems whose `gt` labels are present under `root`."""
    return [name for name in SYSTEMS if structured_csv(name, gt, root).is_file()]


def load(system: str, gt: GroundTruth = "khan", root: Path = DATA) -> Dataset:
    """`system`'s 2,000 lines and their `gt` templates."""
    with structured_csv(system, gt, root).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return Dataset(
        system,
        [row["Content"] for row in rows],
        [row["EventTemplate"] for row in rows],
    )
