"""Stack-trace fingerprints: the exception type chain plus the top in-app frames, as Sentry does.

Line numbers are left out (they move with every deploy); library frames are skipped so the
fingerprint names where *our* code failed. Java/JVM and Python traces are understood.
"""

from __future__ import annotations

import re

__all__ = ["fingerprint"]

_TOP_FRAMES = 3
_JAVA_FRAME = re.compile(r"^\s*at\s+([\w$.<>/]+)\(")
_JAVA_EXCEPTION = re.compile(
    r"^(?:Caused by:\s*)?([\w$]+(?:\.[\w$]+)*(?:Exception|Error|Throwable))\b"
)
_PYTHON_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+, in (\S+)')
_PYTHON_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit|Interrupt))\b")
_LIBRARY_PREFIXES = (
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.", "akka.",
    "org.springframework.", "org.apache.", "org.eclipse.", "org.hibernate.", "io.netty.",
    "reactor.", "okhttp3.", "com.fasterxml.", "com.google.", "io.grpc.", "org.junit.",
)  # fmt: skip
_LIBRARY_PATHS = ("site-packages", "dist-packages", "/lib/python", "<frozen")


def fingerprint(text: str) -> str | None:
    """`Type[<CauseType…]|frame|frame|frame` for a stack trace in `text`, or None if none is found.

    `text` is the whole event: the message line and the trace below it.
    """
    lines = text.splitlines()
    java_frames = [m[1] for m in map(_JAVA_FRAME.match, lines) if m]
    if java_frames:
        types = [m[1] for m in map(_JAVA_EXCEPTION.match, (ln.strip() for ln in lines)) if m]
        frames = [f for f in java_frames if not f.startswith(_LIBRARY_PREFIXES)] or java_frames
        return _join(types, frames)
    python_frames = [(m[1], m[2]) for m in map(_PYTHON_FRAME.match, lines) if m]
    if python_frames:
        types = [m[1] for m in map(_PYTHON_EXCEPTION.match, lines) if m]
        in_app = [f for f in python_frames if not any(p in f[0] for p in _LIBRARY_PATHS)]
        # Python prints the innermost frame last; the top of the stack is where it failed.
        chosen = list(reversed(in_app or python_frames))
        return _join(types[-1:], [f"{_module(path)}.{func}" for path, func in chosen])
    return None


def _join(types: list[str], frames: list[str]) -> str | None:
    if not types and not frames:
        return None
    chain = "<".join(dict.fromkeys(types)) or "?"
    return "|".join([chain, *frames[:_TOP_FRAMES]])


def _module(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.removesuffix(".py")
