"""Bad input gives one clear line on stderr and a documented exit code, never a traceback."""

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import Cli

GOOD = orjson.dumps(
    {"@timestamp": "2026-11-20T13:00:00Z", "log": {"level": "error"}, "service": {"name": "a"},
     "trace": {"id": "t"}, "message": "db down"}
)  # fmt: skip


def one_error_line(stderr: str, *needles: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("logsense: error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_file(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("triage", "-s", str(tmp_path / "gone.jsonl"), "-q")
    assert code == 3 and out == ""
    one_error_line(err, "gone.jsonl", "No such file")


def test_empty_input(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    code, _, err = cli("triage", "-s", str(tmp_path / "empty.jsonl"), "-q")
    assert code == 3
    one_error_line(err, "input is empty")


def test_all_lines_malformed(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_bytes(b"{oops\n{also bad\n")
    code, _, err = cli("triage", "-s", str(tmp_path / "bad.jsonl"), "-q")
    assert code == 3
    one_error_line(err, "all 2 records were malformed", "invalid JSON")


def test_window_with_no_events(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "old.jsonl").write_bytes(GOOD + b"\n")
    code, _, err = cli(
        "triage", "-s", str(tmp_path / "old.jsonl"), "--until", "2026-11-21T00:00:00Z", "-q"
    )
    assert code == 3
    one_error_line(err, "no events between 2026-11-20T23:00:00.000Z and 2026-11-21T00:00:00.000Z")


def test_bad_duration_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    code, _, err = cli("triage", "-s", str(tmp_path / "a.jsonl"), "--since", "soon", "-q")
    assert code == 2
    one_error_line(err, "not a duration: 'soon'")


def test_bad_field_mapping_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    code, _, err = cli("triage", "-s", str(tmp_path / "a.jsonl"), "--field", "colour=x", "-q")
    assert code == 2
    one_error_line(err, "unknown field 'colour'")


def test_unknown_config_key_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    (tmp_path / "logsense.toml").write_text("[severity]\ncritcal_share = 0.3\n")
    code, _, err = cli(
        "triage", "-s", str(tmp_path / "a.jsonl"), "--config", str(tmp_path / "logsense.toml"), "-q"
    )
    assert code == 2
    one_error_line(err, "severity.critcal_share")


def test_malformed_lines_are_reported_not_fatal(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "mixed.jsonl").write_bytes(GOOD + b"\n{broken\n" + b"\xff\xfe\n")
    report = cli.json("triage", "-s", str(tmp_path / "mixed.jsonl"))
    assert report["totals"]["malformed"] == 2
    assert any("2 malformed records" in w for w in report["warnings"])
    assert report["issues"][0]["root_cause"]["template"] == "db down"


def test_stdin_with_absolute_until(cli: Cli) -> None:
    code, out, err = cli(
        "triage",
        "-s",
        "-",
        "--since",
        "1h",
        "--until",
        "2026-11-20T14:00:00Z",
        "--format",
        "md",
        "-q",
        input=GOOD + b"\n",
    )
    assert code == 0, err
    assert out.startswith("# 1 ") and "db down" in out


@pytest.mark.parametrize(
    "command",
    [
        ("triage", "--format", "json"),
        ("triage", "--format", "md"),
        ("triage", "--format", "table"),
        ("patterns",),
        ("patterns", "--format", "json"),
    ],
)
def test_a_reader_that_stops_early_ends_the_run_quietly(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """`logsense triage | head`: no error line and exit 0 once the reader has closed stdout."""
    source = tmp_path / "app.jsonl"
    source.write_bytes(GOOD.replace(b'"error"', b'"info"') + b"\n")
    verb, *options = command
    state = ["--state-dir", str(tmp_path / "state"), "--no-llm"] if verb == "triage" else []
    run = subprocess.Popen(
        [sys.executable, "-m", "logsense", verb, "-s", str(source), *options, *state],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert run.stdout is not None
    run.stdout.close()  # the reader leaves before anything is written: every write fails
    _, err = run.communicate(timeout=120)
    assert (run.returncode, err.decode()) == (0, "")
