"""The payment gateway interface the store charges through.

A real processor and the sandbox implement the same :class:`Gateway` protocol. The store never
sees a card number after it hands it to :meth:`Gateway.verify_card`: it keeps the token, brand,
last four digits and expiry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, repr=False)
class CardDetails:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def __repr__(self) -> str:  # never let a card number reach a log through repr()
        return f"CardDetails(****{self.number[-4:]}, {self.exp_month:02d}/{self.exp_year})"


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Charge:
    id: str
    idempotency_key: str
    amount: int
    currency: str
    reference: str
    status: str  # succeeded | failed | refunded
    failure_code: str | None = None
    # The charge an earlier request with this idempotency key made, answered again (Stripe's
    # Idempotent-Replayed): this request moved no money. The same charge either way.
    replayed: bool = field(default=False, compare=False)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class CardDeclined(Exception):
    """The card check failed. ``reason`` is for the store's records, never shown in detail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdempotencyConflict(Exception):
    """An idempotency key was reused with a different amount, card or reference."""


class GatewayUnavailable(Exception):
    """The gateway did not answer; the outcome of a charge is unknown until asked again."""


class Gateway(Protocol):
    def verify_card(self, card: CardDetails) -> CardToken:
        """Check the card (number, expiry, CVC, issuer) and return a reusable token."""
        ...

    def charge(
        self, token: str, *, amount: int, currency: str, idempotency_key: str, reference: str
    ) -> Charge:
        """Charge once per idempotency key: asking again returns the first outcome."""
        ...

    def find_charge(self, idempotency_key: str) -> Charge | None:
        """The charge made under this key, if any (repairs a crash after charging)."""
        ...

    def refund(self, charge_id: str) -> Charge: ...
