"""`logsense patterns`: the user's view of templates, line by line, with triage's ids."""

from pathlib import Path

import orjson

from tests.conftest import FIXTURES, Cli

LINES = [
    "Received block blk_1 of size 67108864 from /10.250.19.102",
    "PacketResponder 1 for block blk_2 terminating",
    "Received block blk_3 of size 3553 from /10.250.10.6",
    "PacketResponder 0 for block blk_4 terminating",
]


def test_plain_lines_get_patterns_in_input_order(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "raw.log").write_text("\n".join(LINES) + "\n")
    code, out, err = cli(
        "patterns", "-s", str(tmp_path / "raw.log"), "--plain", "-f", "json",
        "--per-line", str(tmp_path / "lines.jsonl"),
    )  # fmt: skip
    assert code == 0, err
    report = orjson.loads(out)
    assert [p["count"] for p in report["patterns"]] == [2, 2]
    rows = [orjson.loads(line) for line in (tmp_path / "lines.jsonl").read_bytes().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["pattern_id"] == rows[2]["pattern_id"] != rows[1]["pattern_id"]
    assert rows[1]["template"] == "PacketResponder <*> for block <*> terminating"


def test_ids_are_triage_ids_and_stable_across_runs(cli: Cli) -> None:
    source = str(FIXTURES / "search_timeouts_minor.jsonl.gz")
    first = orjson.loads(cli("patterns", "-s", source, "-f", "json")[1])
    again = orjson.loads(cli("patterns", "-s", source, "-f", "json")[1])
    assert [p["id"] for p in first["patterns"]] == [p["id"] for p in again["patterns"]]
    report = cli.json("triage", "-s", source, "--since", "1h")
    root = report["issues"][0]["root_cause"]
    assert root["pattern_id"] in {p["id"] for p in first["patterns"]}
    assert first["patterns"][0]["count"] >= first["patterns"][-1]["count"]


def test_the_table_lists_levels_and_services(cli: Cli) -> None:
    code, out, _ = cli("patterns", "-s", str(FIXTURES / "orders_deploy_npe.log.gz"))
    assert code == 0
    assert "error" in out and "orders" in out and "web-bff" in out
