"""The README cannot drift from the code where a reader copies from it."""

from __future__ import annotations

import re
import tomllib

from conftest import REPO

from logsense.config import Settings

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_configuration_example_is_a_valid_logsense_toml() -> None:
    example = re.search(r"```toml\n(.*?)```", README, re.S)
    assert example is not None
    settings = Settings(**tomllib.loads(example.group(1)))
    assert settings.change.alpha == 0.05 and settings.grouping.min_containment == 0.9
