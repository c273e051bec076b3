"""Text log formats: the library (`library.toml`), times and their rules, the reference parser."""

from logsense.sources.formats.text import Format, Library, Parsed, TextParser, library
from logsense.sources.formats.times import Zone

__all__ = ["Format", "Library", "Parsed", "TextParser", "Zone", "library"]
