"""Crypto layer behaviour beyond the vectors: random access, signatures, key wrapping."""

from __future__ import annotations

import datetime as dt
import io
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tollgate.crypto import IntegrityError, SignatureError, stream
from tollgate.crypto.documents import sign_document, verify_document
from tollgate.crypto.keyfile import Binding, KeyFile, seal_key, unseal_key
from tollgate.crypto.keys import (
    licence_wrapping_key,
    open_secret,
    purchase_key,
    seal_secret,
    unwrap_content_key,
    wrap_content_key,
)
from tollgate.protocol.httpsig import RequestView, request_view, sign_request, verify_request

KEY = os.urandom(32)


def test_random_access_reads_only_what_is_asked() -> None:
    plain = os.urandom(5 * 1024 + 17)
    data = stream.encrypt(KEY, "book/ch1", plain, chunk_size=1024)
    reader = stream.StreamReader(KEY, data)
    assert reader.size == len(plain) and reader.chunk_count == 6
    for offset, length in [(0, 1), (1000, 100), (1023, 2), (5 * 1024, 17), (5000, 10_000)]:
        assert reader.read(offset, length) == plain[offset : offset + length]
    # A damaged chunk 4 does not stop chunk 0 from reading, but stops chunk 4.
    damaged = bytearray(data)
    damaged[len(reader.header.raw) + 4 * (1024 + 16) + 3] ^= 0x80
    other = stream.StreamReader(KEY, bytes(damaged))
    assert other.read(0, 10) == plain[:10]
    with pytest.raises(IntegrityError):
        other.read(4 * 1024, 10)


def test_encrypt_file_matches_in_memory_and_pins_licence_fields() -> None:
    plain = os.urandom(200_000)
    out = io.BytesIO()
    commitment = stream.encrypt_file(KEY, "f", io.BytesIO(plain), out)
    data = out.getvalue()
    assert stream.decrypt(KEY, data, expected_file_id="f", expected_commitment=commitment) == plain
    with pytest.raises(IntegrityError):
        stream.decrypt(KEY, data, expected_file_id="g")
    with pytest.raises(IntegrityError):
        stream.decrypt(KEY, data, expected_commitment=bytes(32))


def test_signed_document_rejects_edits_and_other_keys() -> None:
    key = Ed25519PrivateKey.generate()
    env = sign_document({"product": "MT", "price": 300}, key)
    assert verify_document(env, key.public_key())["price"] == 300
    env["signed"]["price"] = 0
    with pytest.raises(SignatureError):
        verify_document(env, key.public_key())
    with pytest.raises(SignatureError):
        verify_document(sign_document({"a": 1}, key), Ed25519PrivateKey.generate().public_key())


def _signed(now: dt.datetime, body: bytes = b'{"a":1}') -> RequestView:
    headers = sign_request(
        "POST",
        "http://127.0.0.1:8700/v1/orders",
        {"Idempotency-Key": "k1"},
        body,
        key_id="cu_1",
        key=KEY,
        now=now,
    )
    return RequestView("POST", "http://127.0.0.1:8700/v1/orders", headers)


def test_request_signature_window_and_tampering() -> None:
    now = dt.datetime.now(dt.UTC)
    view = _signed(now)
    ok = verify_request(view, b'{"a":1}', lookup=lambda k: KEY if k == "cu_1" else None, now=now)
    assert ok.key_id == "cu_1" and len(ok.nonce) >= 8
    with pytest.raises(SignatureError):  # altered body
        verify_request(view, b'{"a":2}', lookup=lambda k: KEY, now=now)
    with pytest.raises(SignatureError):  # wrong key (someone without PK)
        verify_request(view, b'{"a":1}', lookup=lambda k: os.urandom(32), now=now)
    with pytest.raises(SignatureError):  # outside the window
        verify_request(view, b'{"a":1}', lookup=lambda k: KEY, now=now + dt.timedelta(seconds=301))
    view.headers["Idempotency-Key"] = "k2"
    with pytest.raises(SignatureError):  # altered idempotency key
        verify_request(view, b'{"a":1}', lookup=lambda k: KEY, now=now)


def test_keys_are_scoped_to_their_purpose_and_owner() -> None:
    k = os.urandom(32)
    assert purchase_key(k, "st", "cu1") != purchase_key(k, "st", "cu2")
    assert purchase_key(k, "st", "cu1") != purchase_key(k, "st", "cu1", os.urandom(32))
    kwk = licence_wrapping_key(k, "st", "cu1", "lic_1")
    wrapped = wrap_content_key(kwk, KEY)
    assert unwrap_content_key(kwk, wrapped) == KEY
    with pytest.raises(IntegrityError):
        unwrap_content_key(licence_wrapping_key(k, "st", "cu2", "lic_1"), wrapped)
    master = os.urandom(32)
    sealed = seal_secret(master, "customer-key", "cu1", k)
    assert open_secret(master, "customer-key", "cu1", sealed) == k
    with pytest.raises(IntegrityError):
        open_secret(master, "customer-key", "cu2", sealed)


def test_keyfile_none_and_password_bindings_round_trip() -> None:
    kf = seal_key(
        KEY, store_id="st", customer_id="cu", binding=Binding.NONE, machine_id=None, password=None
    )
    assert unseal_key(KeyFile.from_bytes(kf.to_bytes()), machine_id=None, password_key=None) == KEY
    with pytest.raises(IntegrityError):
        KeyFile.from_bytes(b"{not json")


def test_paging_through_a_stream_decrypts_each_chunk_once() -> None:
    key, plain = os.urandom(32), os.urandom(5 * 1024 + 100)
    reader = stream.StreamReader(key, stream.encrypt(key, "f", plain, chunk_size=1024))
    decrypted: list[int] = []
    real_chunk = reader.chunk

    def counted(index: int) -> bytes:
        decrypted.append(index)
        return real_chunk(index)

    reader.chunk = counted  # type: ignore[method-assign]
    pages = [reader.read(offset, 256) for offset in range(0, len(plain), 256)]
    assert b"".join(pages) == plain
    assert decrypted == list(range(reader.chunk_count))
    assert reader.read(100, 100) == plain[100:200]  # back to chunk 0: decrypted again
    assert decrypted[-1] == 0


@pytest.mark.parametrize("seconds", [-300, 300])
def test_request_signature_window_is_300_seconds_either_way(seconds: int) -> None:
    created = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)
    view = _signed(created)

    def at(offset: int) -> dt.datetime:  # the verifier's clock
        return created + dt.timedelta(seconds=offset)

    # ``seconds`` < 0: the signer's clock runs ahead of the store's (created in its future)
    assert verify_request(view, b'{"a":1}', lookup=lambda k: KEY, now=at(seconds)).key_id
    beyond = seconds + (1 if seconds > 0 else -1)
    with pytest.raises(SignatureError, match="time window"):
        verify_request(view, b'{"a":1}', lookup=lambda k: KEY, now=at(beyond))


def test_every_header_the_store_reads_is_covered() -> None:
    now = dt.datetime.now(dt.UTC)
    headers = sign_request(
        "POST",
        "http://127.0.0.1:8700/v1/orders",
        {"Idempotency-Key": "k1", "Content-Type": "application/json"},
        b"{}",
        key_id="cu_1",
        key=KEY,
        now=now,
    )
    covered = headers["Signature-Input"]
    assert all(h in covered for h in ('"content-type"', '"idempotency-key"', '"content-digest"'))
    for name, value in (("Content-Type", "text/plain"), ("Range", "bytes=0-1")):
        view = request_view("POST", "http://127.0.0.1:8700/v1/orders", {**headers, name: value})
        with pytest.raises(SignatureError):  # changed, or added without being signed
            verify_request(view, b"{}", lookup=lambda k: KEY, now=now)
