"""The copy of the TwiML schema in tests/data still accepts Twilio's documentation examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import SCHEMA

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "twiml" / "examples"


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"{EXAMPLES} is not beside this checkout")
def test_schema_accepts_twilio_examples() -> None:
    """All 144 examples from Twilio's docs validate against our copy of the schema."""
    files = sorted(EXAMPLES.glob("*.twiml"))
    assert len(files) == 144
    for path in files:
        SCHEMA.assertValid(etree.parse(str(path)))


@pytest.mark.parametrize(
    "document",
    [
        '<Response><Say voice="Polly.Maria">hola</Say></Response>',
        "<Response><Gather><Dial>+15005550006</Dial></Gather></Response>",
        '<Response><Gather input="keypad"/></Response>',
        "<Response><say>hola</say></Response>",
    ],
)
def test_schema_refuses_what_twilio_refuses(document: str) -> None:
    """The schema is not a rubber stamp: a wrong voice, nesting, input or case fails."""
    assert not SCHEMA.validate(etree.fromstring(document))
