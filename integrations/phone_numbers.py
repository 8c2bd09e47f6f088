"""Phone numbers as the store keeps them: E.164 (`+15550100001`), North American default."""

from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"\D")


def normalise_phone(raw: str | None, default_country: str = "1") -> str | None:
    """E.164 form of a dialled or caller-ID number, or None when it is not a phone number.

    Ten digits are taken as a national number of `default_country`; a SIP URI's user part
    (`sip:+15550100001@host`) is accepted because caller IDs often arrive that way.
    """
    if not raw:
        return None
    text = raw.strip()
    if text.lower().startswith(("sip:", "sips:", "tel:")):
        text = text.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    plus = text.startswith("+")
    digits = _NON_DIGITS.sub("", text)
    if plus:
        return f"+{digits}" if 8 <= len(digits) <= 15 else None
    if len(digits) == 10:
        return f"+{default_country}{digits}"
    if len(digits) == 11 and digits.startswith(default_country):
        return f"+{digits}"
    if text.startswith("00") and 10 <= len(digits) <= 17:
        return f"+{digits[2:]}"
    return None
