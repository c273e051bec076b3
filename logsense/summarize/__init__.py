"""Summarize: the words for each issue, the report overview and the headline.

    facts.py      what was computed about an issue or a report, as a model will read it
    redact.py     secrets and personal data replaced before any text leaves the machine
    prompts.py    the instructions, the facts message, the retry and the answer schemas
    llm.py        the client for any OpenAI-compatible endpoint
    guard.py      every number and service name in a model's text checked against the facts
    cache.py      answers that passed the guard, so a repeated triage asks nothing
    summaries.py  rules-based text and the headline, then the LLM's words where it may

Nothing is imported here: `model.py` redacts samples with `redact.py`, so this package must load
without the rest of the stage (and `openai` loads only when a model is asked).
"""
