"""Phone numbers: parsed once, when a menu file loads, and kept in E.164."""

from __future__ import annotations

import re

import phonenumbers

# Colombia moved every landline to 10 digits on 2021-09-01: the old "(1) 7442727" of Bogotá
# became "601 7442727". An old number has a one-digit area code before a seven-digit subscriber.
_OLD_CO_LANDLINE = re.compile(r"(?:\+?57)?0?([1-8])(\d{7})")
_LOCAL_SEVEN_DIGITS = re.compile(r"\d{7}")


def to_e164(text: str, region: str) -> str:
    """Parse `text` as a phone number of `region`; return it in E.164 ('+', country, number)."""
    _refuse_old_colombian(str(text), region)
    try:
        number = phonenumbers.parse(str(text), region)
    except phonenumbers.NumberParseException as e:
        raise ValueError(f"{text!r} is not a phone number ({e}); write it as +CC ...") from e
    if not phonenumbers.is_valid_number(number):
        raise ValueError(
            f"{text!r} is not a valid phone number for region {region!r}; "
            "write it in international form, '+' then country code and number"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _refuse_old_colombian(text: str, region: str) -> None:
    """Raise with the new form when `text` is a Colombian landline written as before 2021."""
    compact = re.sub(r"[^\d+]", "", text)
    if region != "CO" and not compact.startswith("+57"):
        return
    old = _OLD_CO_LANDLINE.fullmatch(compact)
    if old:
        area, subscriber = old.groups()
        suggestion = format_international(f"+57 60{area} {subscriber}")
        raise ValueError(
            f"{text!r} is a Colombian landline in the format used before 2021; "
            f"since 2021-09-01 it is {suggestion!r}: write that instead"
        )
    if _LOCAL_SEVEN_DIGITS.fullmatch(compact):
        raise ValueError(
            f"{text!r} is a seven-digit Colombian landline without its area code; since "
            "2021-09-01 landlines have ten digits: write it as '+57 601 ...' for Bogotá"
        )


def format_international(text: str) -> str:
    """Return a number in its readable international form (country code, area, number)."""
    number = phonenumbers.parse(text, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_called(text: str | None) -> str | None:
    """Return Twilio's `To` as E.164, or None when it is not a phone number (SIP, garbage)."""
    if not text or len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
