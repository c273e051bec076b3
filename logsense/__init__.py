"""logsense: what is going wrong in production, and how many requests it hurts."""

__version__ = "0.1.0"
