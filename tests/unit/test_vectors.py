"""Known-answer vectors in tests/vectors/: one case per file, good and must-fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tollgate.crypto import BindingError, IntegrityError, WrongKeyError, stream
from tollgate.crypto.keyfile import KeyFile, password_key, unseal_key
from tollgate.crypto.sealing import SealingPrivateKey

VECTORS = Path(__file__).parent.parent / "vectors"
ERRORS: dict[str, type[Exception]] = {
    "integrity": IntegrityError,
    "wrong_key": WrongKeyError,
    "binding": BindingError,
}


def cases(kind: str) -> list[Path]:
    found = sorted((VECTORS / kind).glob("*.json"))
    assert found, f"no {kind} vectors"
    return found


@pytest.mark.parametrize("path", cases("stream"), ids=lambda p: p.stem)
def test_stream_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    key, data = bytes.fromhex(case["key"]), bytes.fromhex(case["ciphertext"])
    if case["result"] == "ok":
        assert stream.decrypt(key, data, expected_file_id=case["file_id"]) == bytes.fromhex(
            case["plaintext"]
        )
        # Re-encrypting with the vector's salt reproduces the ciphertext byte for byte.
        header = stream.parse_header(data)
        again = stream.encrypt(
            key,
            case["file_id"],
            bytes.fromhex(case["plaintext"]),
            chunk_size=case["chunk_size"],
            salt=header.salt,
        )
        assert again == data
    else:
        with pytest.raises(ERRORS[case["result"]]):
            stream.decrypt(key, data)


@pytest.mark.parametrize("path", cases("keyfile"), ids=lambda p: p.stem)
def test_keyfile_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    kf = KeyFile.from_bytes(case["keyfile"].encode())
    pw = password_key(kf.argon2, case["password"])
    if case["result"] == "ok":
        assert unseal_key(kf, machine_id=case["machine_id"], password_key=pw) == bytes.fromhex(
            case["key"]
        )
    else:
        with pytest.raises(ERRORS[case["result"]]):
            unseal_key(kf, machine_id=case["machine_id"], password_key=pw)


@pytest.mark.parametrize("path", cases("sealing"), ids=lambda p: p.stem)
def test_sealing_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    key = SealingPrivateKey(bytes.fromhex(case["private_key"]))
    sealed, info = bytes.fromhex(case["sealed"]), bytes.fromhex(case["info"])
    if case["result"] == "ok":
        assert key.open(sealed, info) == bytes.fromhex(case["plaintext"])
    else:
        with pytest.raises(ERRORS[case["result"]]):
            key.open(sealed, info)
