"""Request and response bodies of the store API (pydantic models, also the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from tollgate.wire.text import unstorable


def storable(value: Any) -> Any:
    """``value`` when no string in it (list items and mapping keys too) holds what no database
    field may: the one rule of store/edge.py, applied to JSON bodies field by field."""
    if isinstance(value, str):
        bad = unstorable(value)
        if bad is not None:
            raise ValueError(f"holds {bad}")
    elif isinstance(value, list):
        for item in value:
            storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    return value


class Strict(BaseModel):
    """Every request body: no field the model does not name, no string over 4096 characters,
    none holding a control character or a lone surrogate."""

    model_config = ConfigDict(extra="forbid", str_max_length=4096)

    _storable = field_validator("*", mode="before")(storable)


# Patterns are matched by pydantic's Rust engine and read by OpenAPI tools as ECMA-262 ones: in
# both ``$`` is the end of the text, not "before a final newline" as in Python's re (which the
# control-character rule of ``Strict`` refuses anyway).
ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# The shapes of what requests name, for the OpenAPI (where a fuzzer reads them) and pydantic.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"  # a product or add-on (wire/targets.py)
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,63}$"  # str() of a packaging Version
RECORD_PATTERN = r"^[a-z]{2,4}_[0-9a-f]{1,64}$"  # ord_…, lic_…: ids the store made
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"  # free text: any but control characters
DIGEST_PATTERN = r"^[0-9a-f]{64}$"
BASE64 = r"^[A-Za-z0-9+/]*={0,2}$"
ID_NONCE = r"^[A-Za-z0-9_-]+$"  # base64url, as secrets.token_urlsafe makes it
# VERSION.ROLE.json, the version at most 9 digits: it fits the database's 32-bit column
METADATA_PATTERN = r"^[1-9][0-9]{0,8}\.[A-Za-z0-9_.-]{1,120}\.json$"
DOCUMENT_PATTERN = r"^[0-9a-f]{64}\.[a-z]+\.json$"  # SHA256.NAME.json
WHEEL_PATTERN = r"^[0-9a-f]{64}\.[A-Za-z0-9._+!-]{1,200}\.whl$"  # SHA256.NAME.whl


class RegistrationRequest(Strict):
    """The outer, unencrypted part: what the store needs to open the sealed part."""

    store_id: str = Field(max_length=64, pattern=ID_PATTERN)
    customer_id: str = Field(pattern=ID_PATTERN)
    nonce: str = Field(min_length=16, max_length=128, pattern=ID_NONCE)
    sealed: str = Field(
        max_length=16384, pattern=BASE64, description="base64 of HPKE enc ‖ ciphertext"
    )


class CardIn(Strict):
    number: str = Field(min_length=12, max_length=23, pattern=r"^[0-9 -]+$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(min_length=3, max_length=4, pattern=r"^[0-9]+$")


class SealedRegistration(Strict):
    """The sealed part, opened only by the store."""

    customer_id: str = Field(pattern=ID_PATTERN)
    customer_key: str
    purchase_key: str
    name: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$", max_length=320)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    card: CardIn


class CardUpdateRequest(Strict):
    """A new card, sealed to the store (HPKE, purpose ``card-update``, bound to the customer id
    and ``nonce``), in a request signed with the purchase key whose Content-Digest covers it."""

    nonce: str = Field(min_length=16, max_length=128, pattern=ID_NONCE)
    sealed: str = Field(
        max_length=16384, pattern=BASE64, description="base64 of HPKE enc ‖ ciphertext"
    )


class SealedCardUpdate(Strict):
    customer_id: str = Field(pattern=ID_PATTERN)
    card: CardIn


class OrderRequest(Strict):
    """An order for an add-on of one release. With ``upgrade`` the store only ever makes a free
    update of a revision the customer bought in another release, and refuses rather than
    charge: what ``tollgate update`` sends, so an update never buys anything. ``os_release``
    is the buyer's OS release, used only for add-ons sold per OS release."""

    product: str = Field(pattern=NAME_PATTERN)
    addon: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    upgrade: bool = False
    os_release: str = Field(default="", max_length=200, pattern=TEXT_PATTERN)


MAX_COUNT = 2**53 - 1  # counts stay within what canonical JSON (RFC 8785) can carry


class MeterIn(Strict):
    """The client's sealed meter as it declares it (runtime/meter.py): its generation, and per
    order the uses recorded there (the next use's number)."""

    generation: int = Field(ge=0, le=MAX_COUNT)
    uses: dict[
        Annotated[str, Field(pattern=RECORD_PATTERN)], Annotated[int, Field(ge=0, le=MAX_COUNT)]
    ] = Field(max_length=1000)


class RenewalRequest(Strict):
    """The orders whose licences the client holds and wants renewed, and its meter (``None``
    when it has none: removed, damaged, or never written)."""

    orders: list[Annotated[str, Field(pattern=RECORD_PATTERN)]] = Field(max_length=1000)
    meter: MeterIn | None = None


class UseIn(Strict):
    """One metered use, as the runtime recorded it: the id is made once, when the use happens,
    and never changes, so sending it again cannot charge it again."""

    event_id: str = Field(pattern=ID_PATTERN)
    order_id: str = Field(pattern=RECORD_PATTERN)
    name: str = Field(min_length=1, max_length=100, pattern=TEXT_PATTERN)
    at: AwareDatetime
    seq: int | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="the use's number among its licence's"
    )

    @field_validator("at")
    @classmethod
    def _within_years(cls, at: dt.datetime) -> dt.datetime:
        """A use's time in UTC between 1970 and 9998: in range once the offset is applied."""
        try:
            utc = at.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("is out of range once given in UTC") from None
        if not 1970 <= utc.year <= 9998:
            raise ValueError("must fall between 1970 and 9998")
        return at


class UsageRequest(Strict):
    events: list[UseIn] = Field(min_length=1, max_length=200)
