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


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--since", "99999999d"), "duration too long: '99999999d'"),
        (("--since", "9" * 400 + "s"), "duration too long"),
        (("--baseline", "36600d"), "duration too long"),
        (("--until", "99999999d"), "duration too long"),
        (("--since", "0"), "--since 0 is an empty window"),
        (("--since", "0h0m"), "--since 0h0m is an empty window"),
        (("--until", "0001-01-01T00:00:00Z"), "time out of range: '0001-01-01T00:00:00Z'"),
        (("--until", "0001-01-01T00:00:00+05:00"), "time out of range"),
        (("--until", "10000-01-01T00:00:00Z"), "not a time"),
        (("--until", "9999-12-31T23:59:59Z"), "time out of range"),
        (("--from", "1969-07-20T20:17:00Z"), "time out of range"),
    ],
)
def test_a_window_beyond_any_log_time_is_a_usage_error(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], needle: str
) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    code, out, err = cli("triage", "-s", str(tmp_path / "a.jsonl"), "-q", "--no-llm", *args)
    assert (code, out) == (2, "")
    one_error_line(err, needle)


def test_a_postmortem_from_year_one_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    code, _, err = cli("postmortem", "-s", str(tmp_path / "a.jsonl"), "--from",
                       "0001-01-01T00:00:00Z", "-q", "--no-llm")  # fmt: skip
    assert code == 2
    one_error_line(err, "time out of range")


@pytest.mark.parametrize("command", ["triage", "postmortem", "digest"])
def test_out_into_a_missing_directory_is_a_usage_error(
    cli: Cli, tmp_path: Path, command: str
) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    target = tmp_path / "no" / "such" / "dir" / "report.out"
    window = ["--from", "2026-11-20T12:30:00Z"] if command == "postmortem" else []
    code, out, err = cli(command, "-s", str(tmp_path / "a.jsonl"), "-q", "--no-llm", *window,
                         "--out", str(target))  # fmt: skip
    assert (code, out) == (2, "")
    # (a Markdown postmortem writes its charts beside the file first: one of them is named)
    one_error_line(err, f"cannot write {target.parent}", "No such file", "does not exist")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize(
    "how", [("triage", "--out"), ("triage", "stdout"), ("postmortem", "--out"), ("digest", "--out")]
)
def test_a_full_disk_is_one_clear_line(tmp_path: Path, how: tuple[str, str]) -> None:
    command, where = how
    (tmp_path / "a.jsonl").write_bytes(GOOD + b"\n")
    args = [sys.executable, "-m", "logsense", command, "-s", str(tmp_path / "a.jsonl"), "-q",
            "--no-llm", "--state-dir", str(tmp_path / "state")]  # fmt: skip
    if command == "postmortem":
        args += ["--from", "2026-11-20T12:30:00Z", "-f", "json"]
    if where == "--out":
        args += ["--out", "/dev/full"]
    with Path("/dev/full").open("wb") as full:
        done = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, timeout=300)
    assert done.returncode == 1
    target = "stdout" if where == "stdout" else "/dev/full"
    one_error_line(done.stderr.decode(), f"cannot write {target}", "No space left on device")


@pytest.mark.parametrize("origin", ["file", "env", "flag"])
def test_a_bad_header_regex_names_where_it_came_from(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    (tmp_path / "a.log").write_bytes(b"2026-11-20T13:00:00Z ERROR [api] boom\n")
    args = ["triage", "-s", str(tmp_path / "a.log"), "-q", "--no-llm"]
    config = tmp_path / "logsense.toml"
    if origin == "file":
        config.write_text("header_regex = '^(?P<timestamp>\\S+ (?P<message>.*$'\n")
        args += ["--config", str(config)]
        needle = f"header_regex in {config} is not a valid regex"
    elif origin == "env":
        monkeypatch.setenv("LOGSENSE_HEADER_REGEX", "^(?P<timestamp>\\S+) (?P<msg>.*)$")
        needle = "LOGSENSE_HEADER_REGEX needs the named groups ['message']"
    else:
        args += ["--header-regex", "(unclosed"]
        needle = "--header-regex is not a valid regex"
    code, _, err = cli(*args)
    assert code == 2
    one_error_line(err, needle)
