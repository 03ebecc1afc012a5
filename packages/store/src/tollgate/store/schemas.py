"""Request and response bodies of the store API (pydantic models, also the OpenAPI schema)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


class RegistrationRequest(Strict):
    """The outer, unencrypted part: what the store needs to open the sealed part."""

    store_id: str = Field(max_length=64)
    customer_id: str = Field(pattern=ID_PATTERN)
    nonce: str = Field(min_length=16, max_length=128)
    sealed: str = Field(max_length=16384, description="base64 of HPKE enc ‖ ciphertext")


class CardIn(Strict):
    number: str = Field(min_length=12, max_length=23)
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(min_length=3, max_length=4)


class SealedRegistration(Strict):
    """The sealed part, opened only by the store."""

    customer_id: str = Field(pattern=ID_PATTERN)
    customer_key: str
    purchase_key: str
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$", max_length=320)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    card: CardIn


class CardUpdateRequest(Strict):
    """A new card, sealed to the store (HPKE, purpose ``card-update``, bound to the customer id
    and ``nonce``), in a request signed with the purchase key whose Content-Digest covers it."""

    nonce: str = Field(min_length=16, max_length=128)
    sealed: str = Field(max_length=16384, description="base64 of HPKE enc ‖ ciphertext")


class SealedCardUpdate(Strict):
    customer_id: str = Field(pattern=ID_PATTERN)
    card: CardIn


class OrderRequest(Strict):
    """An order for an add-on of one release. With ``upgrade`` the store only ever makes a free
    update of a revision the customer bought in another release, and refuses rather than
    charge: what ``tollgate update`` sends, so an update never buys anything. ``os_release``
    is the buyer's OS release, used only for add-ons sold per OS release."""

    product: str = Field(max_length=100)
    addon: str = Field(max_length=100)
    version: str = Field(max_length=64)
    upgrade: bool = False
    os_release: str = Field(default="", max_length=200)


MAX_COUNT = 2**53 - 1  # counts stay within what canonical JSON (RFC 8785) can carry


class MeterIn(Strict):
    """The client's sealed meter as it declares it (runtime/meter.py): its generation, and per
    order the uses recorded there (the next use's number)."""

    generation: int = Field(ge=0, le=MAX_COUNT)
    uses: dict[str, int] = Field(max_length=1000)


class RenewalRequest(Strict):
    """The orders whose licences the client holds and wants renewed, and its meter (``None``
    when it has none: removed, damaged, or never written)."""

    orders: list[str] = Field(max_length=1000)
    meter: MeterIn | None = None


class UseIn(Strict):
    """One metered use, as the runtime recorded it: the id is made once, when the use happens,
    and never changes, so sending it again cannot charge it again."""

    event_id: str = Field(pattern=ID_PATTERN)
    order_id: str = Field(max_length=40)
    name: str = Field(min_length=1, max_length=100)
    at: AwareDatetime
    seq: int | None = Field(
        default=None, ge=0, le=MAX_COUNT, description="the use's number among its licence's"
    )


class UsageRequest(Strict):
    events: list[UseIn] = Field(min_length=1, max_length=200)
