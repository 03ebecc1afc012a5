"""``tollgate card``: replace the card the store charges (DESIGN.md sections 4 and 5).

The card is sealed to the store's HPKE key from its TUF-signed descriptor, bound to this
customer and a fresh nonce, and sent in a request signed with the purchase key whose
Content-Digest covers the sealed blob. The store checks the card with the gateway and answers
with a receipt signed by its licence key; a declined card changes nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass

from tollgate.client.account import Account
from tollgate.client.api import Signer, StoreAPI
from tollgate.client.errors import IntegrityFailure
from tollgate.crypto import CryptoError
from tollgate.crypto.documents import verify_document
from tollgate.crypto.sealing import SealingPublicKey, sealing_info
from tollgate.runtime.home import ClientHome, write_json


@dataclass(frozen=True, repr=False)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str

    def to_json(self) -> dict[str, str | int]:
        return {
            "number": self.number,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "cvc": self.cvc,
        }

    def __repr__(self) -> str:  # a card number never reaches a log or traceback through repr()
        return f"Card(****{self.number[-4:]}, {self.exp_month:02d}/{self.exp_year})"


def replace_card(
    home: ClientHome, api: StoreAPI, account: Account, purchase_key: bytes, card: Card
) -> dict[str, str]:
    """Send ``card``; return what the signed receipt says of it (brand, last4, expiry)."""
    descriptor = account.trust(api, home).descriptor()
    nonce = secrets.token_urlsafe(24)
    inner = {"customer_id": account.customer_id, "card": card.to_json()}
    sealed = SealingPublicKey(descriptor.sealing_key).seal(
        json.dumps(inner).encode(),
        sealing_info("card-update", account.store_id, account.customer_id, nonce),
    )
    receipt = api.request(
        "POST",
        "/v1/card",
        body={"nonce": nonce, "sealed": base64.b64encode(sealed).decode()},
        signer=Signer(account.customer_id, purchase_key),
    )
    try:
        body = verify_document(receipt, account.licence_public_key)
    except CryptoError as exc:
        raise IntegrityFailure(f"the store's card receipt does not verify: {exc}") from exc
    if (body.get("type"), body.get("store_id"), body.get("customer_id")) != (
        "card-receipt",
        account.store_id,
        account.customer_id,
    ):
        raise IntegrityFailure("the store's card receipt is for someone else")
    write_json(home.store_dir(account.store_id) / "card-receipt.json", receipt)
    return {k: str(v) for k, v in dict(body.get("card", {})).items()}
