"""What can be checked on this machine before anything is sent: a card number that fails its
check digit (Luhn), an expiry in the past, a CVC that is not 3 or 4 digits, an e-mail address
or country code of the wrong shape. Each problem is named, and all of them at once, the way a
payment form marks every field it cannot take; the store and its gateway check again."""

from __future__ import annotations

import datetime as dt
import re

from tollgate.wire.cards import luhn_ok

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}")  # the store's own rule
COUNTRY = re.compile(r"[A-Z]{2}")


def card_digits(number: str) -> str:
    """The digits of a card number as people write it (spaces and dashes between groups)."""
    return re.sub(r"[\s-]", "", number)


def card_problems(number: str, month: int, year: int, cvc: str, today: dt.date) -> list[str]:
    problems = []
    digits = card_digits(number)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        problems.append("the card number must be 12 to 19 digits")
    elif not luhn_ok(digits):
        problems.append("the card number is mistyped (its check digit is wrong)")
    if not 1 <= month <= 12:
        problems.append("the expiry month must be 01 to 12")
    elif (year, month) < (today.year, today.month):
        problems.append(f"the card expired in {month:02d}/{year % 100:02d}")
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        problems.append("the CVC must be the 3 or 4 digits on the card")
    return problems


def person_problems(name: str, email: str, country: str) -> list[str]:
    problems = []
    if not name.strip() or len(name) > 200:
        problems.append("the name must be 1 to 200 characters")
    if not EMAIL.fullmatch(email):
        problems.append(f"{email!r} is not an e-mail address")
    if not COUNTRY.fullmatch(country):
        problems.append(f"{country!r} is not a country code: two letters (ISO 3166), e.g. JP")
    return problems
