"""A card number's check digit (Luhn), as both the download program (before it sends a card)
and the sandbox gateway (which a real processor stands in for) test it."""

from __future__ import annotations


def luhn_ok(number: str) -> bool:
    """Whether ``number`` is 12 to 19 digits with a valid check digit."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
