"""Start and stop a real, embedded Elasticsearch 8.14.3 node for the tests.

The node is a small Maven project in ``tests/es-node/`` (the ``org.elasticsearch:elasticsearch``
server jar and the ``transport-netty4`` plugin from Maven Central, plus a few glue classes).
Build it once with ``.ci/es-node.sh``; this module then runs it with ``java -cp ...`` on
127.0.0.1 in a throw-away home directory, waits until the cluster is yellow and tears it down.

What the node lacks (modules that are not published to Maven Central): ``GET /`` (so the
client's ``ping()``/``info()`` fail), painless, analysis-common, ingest pipelines, data streams,
x-pack features such as ``categorize_text``. Use ``/_cluster/health`` for readiness.

Demo: ``python tests/esnode.py --port 9200`` starts a node and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

ES_VERSION = "8.14.3"
REPO_ROOT = Path(__file__).resolve().parent.parent
ES_NODE_DIR = REPO_ROOT / "tests" / "es-node"
TARGET_DIR = ES_NODE_DIR / "target"
CLASSPATH_FILE = TARGET_DIR / "classpath.txt"
NODE_JAR = TARGET_DIR / "es-node-1.0.jar"
BUILD_SCRIPT = ".ci/es-node.sh"
MAIN_CLASS = "logsense.esnode.Main"
STARTED_RE = re.compile(r"^ES_NODE_STARTED (http://127\.0\.0\.1:(\d+))", re.MULTILINE)
DEFAULT_START_TIMEOUT = 120.0
JVM_OPTIONS = (
    "-Xms512m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "--enable-native-access=ALL-UNNAMED",  # JNA (elasticsearch-native); silences JDK 22+ warnings
    "-Dfile.encoding=UTF-8",
    "-Dlogsense.esnode.exitOnStdinEof=true",
)


class EsNodeError(RuntimeError):
    """The test node could not be started (the message carries the tail of its log)."""


class EsNodeNotBuiltError(EsNodeError):
    """``tests/es-node`` has not been built, or no ``java`` was found."""


def java_executable() -> str:
    """Return the ``java`` to run the node with: ``$JAVA_HOME/bin/java``, else ``java`` on PATH.

    Raises:
        EsNodeNotBuiltError: when neither exists.
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise EsNodeNotBuiltError("no `java` found (set JAVA_HOME or put java 17+ on PATH)")
    return found


def classpath() -> str:
    """Return the Java classpath of the test node: the built glue jar plus its dependencies.

    Raises:
        EsNodeNotBuiltError: when ``tests/es-node/target`` is missing or incomplete.
    """
    if not NODE_JAR.is_file() or not CLASSPATH_FILE.is_file():
        raise EsNodeNotBuiltError(
            f"the Elasticsearch test node is not built ({NODE_JAR.relative_to(REPO_ROOT)} or "
            f"{CLASSPATH_FILE.relative_to(REPO_ROOT)} missing); run `{BUILD_SCRIPT}` first"
        )
    deps = CLASSPATH_FILE.read_text(encoding="utf-8").strip()
    if not deps:
        raise EsNodeNotBuiltError(f"{CLASSPATH_FILE} is empty; run `{BUILD_SCRIPT}` again")
    missing = [p for p in deps.split(os.pathsep) if not Path(p).is_file()]
    if missing:
        raise EsNodeNotBuiltError(
            f"{len(missing)} jar(s) listed in {CLASSPATH_FILE} are missing (e.g. {missing[0]}); "
            f"run `{BUILD_SCRIPT}` again"
        )
    return os.pathsep.join([str(NODE_JAR), deps])


def unavailable_reason() -> str | None:
    """Return why the node cannot be started here (for ``pytest.skip``), or None if it can."""
    try:
        java_executable()
        classpath()
    except EsNodeNotBuiltError as exc:
        return str(exc)
    return None


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _failure_line(path: Path) -> str:
    """The ``ES_NODE_FAILED <exception>`` line the Java side prints when start-up throws."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith("ES_NODE_FAILED"):
            return f"\n{line}"
    return ""


def _health_ok(url: str) -> bool:
    query = "/_cluster/health?wait_for_status=yellow&timeout=1s"
    try:
        with urllib.request.urlopen(url + query, timeout=5) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        # URLError covers HTTPError (408 while not yellow yet) and connection refused
        return False


class EsNode:
    """A running test node. Create it with :func:`start_node`; stop it with :meth:`stop`.

    Attributes:
        url: base URL, e.g. ``http://127.0.0.1:41234`` (no trailing slash).
        port: the HTTP port.
        home: the node's temporary ``path.home`` (removed by :meth:`stop`).
        log_path: file with the node's stdout and stderr.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        home: Path,
        log_path: Path,
        log_file: IO[bytes],
        port: int,
    ) -> None:
        self.process = process
        self.home = home
        self.log_path = log_path
        self._log_file = log_file
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._stopped = False

    def log_tail(self, lines: int = 60) -> str:
        """Return the last ``lines`` lines of the node's log."""
        return _tail(self.log_path, lines)

    def is_running(self) -> bool:
        """True while the java process is alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node: SIGTERM, wait up to ``timeout`` s, then SIGKILL; remove the temp home.

        Idempotent. The log file is kept unless it lives inside the temporary home.
        """
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self._log_file.close()
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else f"pid={self.process.pid}"
        return f"EsNode(url={self.url!r}, {state})"


def start_node(
    port: int | None = None,
    log_path: Path | None = None,
    *,
    timeout: float = DEFAULT_START_TIMEOUT,
    settings: Mapping[str, str] | None = None,
) -> EsNode:
    """Start a single-node Elasticsearch 8.14.3 cluster on 127.0.0.1 and wait until it is yellow.

    Args:
        port: HTTP port; None lets the node bind a free ephemeral port (race-free).
        log_path: where the node's stdout/stderr go; default ``<temp home>/node.log``
            (deleted by :meth:`EsNode.stop`, so pass a path to keep it).
        timeout: seconds to wait for ``/_cluster/health?wait_for_status=yellow``.
        settings: extra node settings (``{"search.max_buckets": "20000"}``); no ``xpack.*``.

    Returns:
        The running node; stop it with :meth:`EsNode.stop` or use it as a context manager.

    Raises:
        EsNodeNotBuiltError: java or the ``tests/es-node`` build is missing.
        EsNodeError: the node exited or did not become healthy in time (with its log tail).
    """
    java = java_executable()
    cp = classpath()
    home = Path(tempfile.mkdtemp(prefix="logsense-esnode-"))
    tmp_dir = home / "tmp"
    tmp_dir.mkdir()
    log = log_path if log_path is not None else home / "node.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    extra = [f"{k}={v}" for k, v in (settings or {}).items()]
    cmd = [
        java,
        *JVM_OPTIONS,
        f"-Djava.io.tmpdir={tmp_dir}",
        "-cp",
        cp,
        MAIN_CLASS,
        str(port if port is not None else 0),
        str(home),
        *extra,
    ]
    log_file = log.open("wb")
    try:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,  # the node exits when this pipe closes (we died)
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=home,
        )
    except OSError as exc:
        log_file.close()
        shutil.rmtree(home, ignore_errors=True)
        raise EsNodeError(f"cannot run {java}: {exc}") from exc

    node = EsNode(process, home, log, log_file, port if port is not None else 0)
    atexit.register(node.stop)
    started = time.monotonic()
    deadline = started + timeout
    try:
        url: str | None = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EsNodeError(
                    f"Elasticsearch test node exited with code {process.returncode} "
                    f"before becoming healthy{_failure_line(log)}\nlog {log}:\n{_tail(log)}"
                )
            if url is None:
                match = STARTED_RE.search(log.read_text(encoding="utf-8", errors="replace"))
                if match is not None:
                    url = match.group(1)
                    node.port = int(match.group(2))
                    node.url = url
            if url is not None and _health_ok(url):
                return node
            time.sleep(0.2)
        raise EsNodeError(
            f"Elasticsearch test node not healthy after {timeout:.0f}s "
            f"(cmd: {' '.join(cmd[:6])} ... {MAIN_CLASS}); log {log}:\n{_tail(log)}"
        )
    except BaseException:
        node.stop(timeout=10)
        raise


def main(argv: list[str] | None = None) -> int:
    """Run a node in the foreground for demos: prints the URL, runs until Ctrl-C."""
    parser = argparse.ArgumentParser(description=f"Run the Elasticsearch {ES_VERSION} test node.")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    parser.add_argument("--log", type=Path, default=None, help="log file (default: in temp home)")
    args = parser.parse_args(argv)
    try:
        started = time.monotonic()
        node = start_node(args.port, args.log)
    except EsNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    with node:
        print(f"Elasticsearch {ES_VERSION} test node: {node.url}", flush=True)
        print(f"  started in {time.monotonic() - started:.1f}s; log: {node.log_path}", flush=True)
        print("  Ctrl-C to stop", flush=True)
        try:
            while node.is_running():
                time.sleep(0.5)
            print(f"node exited (code {node.process.returncode}):\n{node.log_tail()}")
            return 1
        except KeyboardInterrupt:
            print("stopping ...", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
