"""The LLM client: chat completions through the `openai` package, against any compatible server.

OpenAI, Azure OpenAI (its `/openai/v1/` base URL), Ollama, vLLM and llama.cpp servers all speak
the same `POST {base_url}/chat/completions`. Structured output differs between them, so the first
request asks for a strict JSON schema (`response_format={"type": "json_schema", ...}`); a server
that answers 400/422 is asked again with `{"type": "json_object"}`, then with no
`response_format` at all (the instructions still demand JSON). The mode that worked is kept for
the rest of the run.

Settings and their sources (`Endpoint.from_config`):

    model       --llm-model, LOGSENSE_LLM__MODEL / LOGSENSE_LLM_MODEL, [llm] model; gpt-4o-mini
    base_url    --llm-base-url, LOGSENSE_LLM__BASE_URL, [llm] base_url, else OPENAI_BASE_URL,
                else https://api.openai.com/v1
    api key     OPENAI_API_KEY only (never a config file); local servers accept any value

Every message is redacted (`redact.redact`) once more right before it is sent. Failures become
`LlmUnavailable` (the endpoint failed: timeout, 429, 5xx, no connection, bad key — stop asking)
or `LlmBadAnswer` (this answer is unusable: refusal, cut off, malformed JSON — fall back).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from logsense.config import LlmConfig
from logsense.errors import LogsenseError, SourceUnavailable
from logsense.summarize.redact import redact

if TYPE_CHECKING:  # imported when a client is built: it costs a third of a second
    import openai

__all__ = [
    "ChatClient",
    "Completer",
    "Endpoint",
    "LlmBadAnswer",
    "LlmError",
    "LlmUnavailable",
    "Reply",
    "disabled_reason",
    "parse_answer",
]

OPENAI_URL = "https://api.openai.com/v1"
_FORMATS = ("json_schema", "json_object", "none")
_CHARS_PER_TOKEN = 3

AnswerT = TypeVar("AnswerT", bound=BaseModel)


class LlmError(LogsenseError):
    """An LLM request that gave no usable answer. Never fails a triage: rules take over."""


class LlmUnavailable(LlmError, SourceUnavailable):
    """The endpoint failed (timeout, 429, 5xx, no connection, bad key): stop asking it."""


class LlmBadAnswer(LlmError):
    """The endpoint answered, but not with something usable (refusal, cut off, bad JSON)."""


def disabled_reason(
    config: LlmConfig, environ: Mapping[str, str] = os.environ, *, key_needed: bool = True
) -> str | None:
    """Why summaries must be written by rules in this run, or None when the LLM may be asked."""
    if not config.enabled:
        return "LLM summaries are off (--no-llm)"
    if key_needed and not environ.get("OPENAI_API_KEY"):
        return "no OPENAI_API_KEY set (local servers such as Ollama accept any value)"
    if config.max_issues == 0 or config.token_budget == 0:
        return "llm.max_issues or llm.token_budget is 0"
    return None


@dataclass(frozen=True)
class Endpoint:
    """Where and how to ask: the resolved LLM settings of one run."""

    model: str
    base_url: str
    api_key: str
    timeout: float
    max_tokens: int
    max_retries: int
    temperature: float
    token_budget: int
    redact_ips: bool

    @classmethod
    def from_config(cls, config: LlmConfig, environ: Mapping[str, str] = os.environ) -> Endpoint:
        """Settings from `config`, with the key (and a default base URL) from the environment."""
        return cls(
            model=config.model,
            base_url=config.base_url or environ.get("OPENAI_BASE_URL") or OPENAI_URL,
            api_key=environ.get("OPENAI_API_KEY", ""),
            timeout=config.timeout,
            max_tokens=config.max_tokens,
            max_retries=config.max_retries,
            temperature=config.temperature,
            token_budget=config.token_budget,
            redact_ips=config.redact_ips,
        )


@dataclass(frozen=True)
class Reply:
    """The text of one answer and the model that wrote it."""

    content: str
    model: str


class Completer(Protocol):
    """Anything that answers chat messages: the seam between summaries and the endpoint."""

    @property
    def model(self) -> str:
        """The model name to record next to the words it wrote."""
        ...

    def affordable(self, messages: list[dict[str, str]]) -> bool:
        """True when the token budget still covers this request and its longest answer."""
        ...

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Reply:
        """One answer to `messages`, asked to follow the JSON `schema`."""
        ...


class ChatClient:
    """A `Completer` over `openai.OpenAI`, counting tokens against the run's budget."""

    def __init__(self, endpoint: Endpoint, client: openai.OpenAI | None = None) -> None:
        self.endpoint = endpoint
        self.tokens_used = 0
        self._formats = list(_FORMATS)
        import openai

        self._client = client or openai.OpenAI(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            timeout=endpoint.timeout,
            max_retries=endpoint.max_retries,
        )

    @property
    def model(self) -> str:
        """The configured model name."""
        return self.endpoint.model

    def affordable(self, messages: list[dict[str, str]]) -> bool:
        """True when the budget covers the prompt (estimated) plus `max_tokens` of answer."""
        prompt = sum(len(m["content"]) for m in messages) // _CHARS_PER_TOKEN
        return self.tokens_used + prompt + self.endpoint.max_tokens <= self.endpoint.token_budget

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Reply:
        """Ask once (stepping down the response formats on 400/422); raise LlmError on failure."""
        safe = [
            {"role": m["role"], "content": redact(m["content"], ips=self.endpoint.redact_ips)}
            for m in messages
        ]
        import openai

        while True:
            try:
                completion = self._create(safe, schema)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if len(self._formats) > 1:
                    self._formats.pop(0)
                    continue
                raise LlmBadAnswer(f"the endpoint rejected the request: {_status(exc)}") from exc
            except openai.OpenAIError as exc:
                raise LlmUnavailable(self._unavailable(exc)) from exc
            except ValueError as exc:  # the openai client lets a non-JSON HTTP body through
                raise LlmUnavailable(f"{self.endpoint.base_url} answered non-JSON: {exc}") from exc
            return self._reply(completion, safe)

    def _create(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Any:
        fmt = self._formats[0]
        extra: dict[str, Any] = {}
        if fmt == "json_schema":
            extra["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif fmt == "json_object":
            extra["response_format"] = {"type": "json_object"}
        return self._client.chat.completions.create(
            model=self.endpoint.model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=self.endpoint.max_tokens,
            temperature=self.endpoint.temperature,
            **extra,
        )

    def _reply(self, completion: Any, messages: list[dict[str, str]]) -> Reply:
        usage = getattr(completion, "usage", None)
        spent = getattr(usage, "total_tokens", None)
        if not isinstance(spent, int):
            spent = sum(len(m["content"]) for m in messages) // _CHARS_PER_TOKEN
        self.tokens_used += spent
        choices = getattr(completion, "choices", None) or []
        if not choices:
            raise LlmBadAnswer("the answer had no choices")
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise LlmBadAnswer(f"the model refused: {_cut(str(refusal))}")
        if choice.finish_reason == "content_filter":
            raise LlmBadAnswer("the answer was withheld by a content filter")
        if choice.finish_reason == "length":
            raise LlmBadAnswer(f"the answer was cut off at {self.endpoint.max_tokens} tokens")
        content = choice.message.content or ""
        if not content.strip():
            raise LlmBadAnswer("the answer was empty")
        return Reply(content, getattr(completion, "model", None) or self.endpoint.model)

    def _unavailable(self, exc: openai.OpenAIError) -> str:
        import openai

        where = self.endpoint.base_url
        if isinstance(exc, openai.APITimeoutError):
            return f"{where} did not answer within {self.endpoint.timeout:g} s"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot connect to {where}"
        return f"{where} answered {_status(exc)}"


def _status(exc: openai.OpenAIError) -> str:
    code = getattr(exc, "status_code", None)
    message = getattr(exc, "message", "") or str(exc)
    return f"HTTP {code}: {_cut(message)}" if code else _cut(message)


def _cut(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_answer(content: str, shape: type[AnswerT]) -> AnswerT:
    """The JSON object in `content` (code fences tolerated) as `shape`; LlmBadAnswer if not."""
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content.strip()
    try:
        return shape.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        if first["type"] == "missing":
            raise LlmBadAnswer(f"missing key “{where}”") from None
        kind = "malformed JSON" if first["type"] == "json_invalid" else f"bad {where}"
        raise LlmBadAnswer(f"{kind}: {_cut(first['msg'], 80)}") from None
