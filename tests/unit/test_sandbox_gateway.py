"""The sandbox processor behaves like a real one: checks, test cards, idempotency, refunds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tollgate.store.db import make_engine, make_sessionmaker
from tollgate.store.migrate import upgrade
from tollgate.store.payments import CardDeclined, CardDetails, IdempotencyConflict
from tollgate.store.payments.sandbox import SandboxGateway, luhn_ok

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


@pytest.fixture
def gateway(database_url: str) -> SandboxGateway:
    engine = make_engine(database_url)
    upgrade(engine)
    return SandboxGateway(make_sessionmaker(engine), lambda: NOW)


def card(number: str, month: int = 12, year: int = 2030, cvc: str = "123") -> CardDetails:
    return CardDetails(number, month, year, cvc)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4000000000000002", "declined"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
        ("4242424242424241", "incorrect_number"),
        ("4111111111111111", "unknown_card"),
    ],
)
def test_test_cards_decline(gateway: SandboxGateway, number: str, reason: str) -> None:
    with pytest.raises(CardDeclined) as info:
        gateway.verify_card(card(number))
    assert info.value.reason == reason


def test_expiry_and_cvc_are_checked(gateway: SandboxGateway) -> None:
    with pytest.raises(CardDeclined, match="expired_card"):
        gateway.verify_card(card("4242424242424242", month=10, year=2026))
    with pytest.raises(CardDeclined, match="incorrect_cvc"):
        gateway.verify_card(card("4242424242424242", cvc="12"))


def test_charge_is_idempotent_and_refundable(gateway: SandboxGateway) -> None:
    token = gateway.verify_card(card("4242424242424242"))
    assert (token.brand, token.last4) == ("visa", "4242")
    first = gateway.charge(
        token.token, amount=300, currency="JPY", idempotency_key="o1/1", reference="o1"
    )
    again = gateway.charge(
        token.token, amount=300, currency="JPY", idempotency_key="o1/1", reference="o1"
    )
    assert first.succeeded and first == again
    assert not first.replayed and again.replayed  # the second request moved no money
    with pytest.raises(IdempotencyConflict):
        gateway.charge(
            token.token, amount=5000, currency="JPY", idempotency_key="o1/1", reference="o1"
        )
    assert gateway.find_charge("o1/1") == first
    assert gateway.refund(first.id).status == "refunded"


def test_insufficient_funds_passes_check_but_fails_every_charge(gateway: SandboxGateway) -> None:
    token = gateway.verify_card(card("4000000000009995"))
    charge = gateway.charge(
        token.token, amount=1, currency="USD", idempotency_key="k", reference="r"
    )
    assert not charge.succeeded and charge.failure_code == "insufficient_funds"


def test_card_number_is_not_in_repr() -> None:
    assert "4242424242424242" not in repr(card("4242424242424242"))
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424243")


def test_migrations_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tollgate.store.db import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
