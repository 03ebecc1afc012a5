"""Regenerate tests/vectors/ (run by hand; the vectors are committed and tests only read them).

Each vector is one JSON file. Deterministic inputs (keys, salts) make the expected bytes stable:
a change to the stream format changes these files, which a reviewer then sees.
"""

from __future__ import annotations

import json
from pathlib import Path

from tollgate.crypto import stream
from tollgate.crypto.keyfile import Binding, seal_key
from tollgate.crypto.sealing import SealingPrivateKey, sealing_info

OUT = Path(__file__).parent / "vectors" / "stream"
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SALT = bytes([0xA5]) * 32
FILE_ID = "MT/dic2/1.0.0/addons/dic2/__init__.py"
CHUNK = 1024
PLAIN = bytes((i * 7 + 3) % 251 for i in range(CHUNK * 2 + 100))


def write(name: str, folder: Path = OUT, **case: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(case, indent=2) + "\n")


def keyfile_vectors() -> None:
    """Key files are randomised (salts, nonces), so the vector is a sealed file plus inputs."""
    folder = OUT.parent / "keyfile"
    ids = {"store_id": "st_vector", "customer_id": "cu_vector"}
    machine = "0123456789abcdef0123456789abcdef"
    for binding, password in ((Binding.MACHINE, None), (Binding.MACHINE_PASSWORD, "correct horse")):
        kf = seal_key(KEY, binding=binding, machine_id=machine, password=password, **ids)
        name = str(binding).replace("+", "-")
        common = {"keyfile": kf.to_bytes().decode()}
        write(
            f"valid-{name}",
            folder,
            **common,
            machine_id=machine,
            password=password,
            key=KEY.hex(),
            result="ok",
        )
        write(
            f"fail-{name}-wrong-machine",
            folder,
            **common,
            machine_id="f" * 32,
            password=password,
            result="binding",
        )
        if password:
            write(
                f"fail-{name}-wrong-password",
                folder,
                **common,
                machine_id=machine,
                password="wrong horse",
                result="binding",
            )
        edited = json.loads(kf.to_bytes())
        edited["customer_id"] = "cu_other"
        write(
            f"fail-{name}-swapped-customer",
            folder,
            keyfile=json.dumps(edited),
            machine_id=machine,
            password=password,
            result="binding",
        )


def sealing_vectors() -> None:
    folder = OUT.parent / "sealing"
    store = SealingPrivateKey.generate()
    info = sealing_info("registration", "st_vector", "cu_vector", "nonce-1")
    sealed = store.public_key().seal(b'{"hello": "store"}', info)
    base = {"private_key": store.private_bytes().hex(), "sealed": sealed.hex()}
    write(
        "valid-registration",
        folder,
        **base,
        info=info.hex(),
        plaintext=b'{"hello": "store"}'.hex(),
        result="ok",
    )
    other = sealing_info("registration", "st_vector", "cu_other", "nonce-1")
    write("fail-other-customer-info", folder, **base, info=other.hex(), result="integrity")
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    write(
        "fail-flipped-byte",
        folder,
        **(base | {"sealed": bytes(flipped).hex()}),
        info=info.hex(),
        result="integrity",
    )


def main() -> None:
    good = stream.encrypt(KEY, FILE_ID, PLAIN, chunk_size=CHUNK, salt=SALT)
    header_len = stream.header_length(good)
    stride = CHUNK + stream.TAG_SIZE
    chunks = [good[header_len + i * stride : header_len + (i + 1) * stride] for i in range(3)]
    header = good[:header_len]
    base = {"key": KEY.hex(), "file_id": FILE_ID, "chunk_size": CHUNK}
    write("valid-three-chunks", **base, ciphertext=good.hex(), plaintext=PLAIN.hex(), result="ok")
    exact = PLAIN[: CHUNK * 2]
    write(
        "valid-exact-multiple",
        **base,
        result="ok",
        plaintext=exact.hex(),
        ciphertext=stream.encrypt(KEY, FILE_ID, exact, chunk_size=CHUNK, salt=SALT).hex(),
    )
    write(
        "valid-empty",
        **base,
        result="ok",
        plaintext="",
        ciphertext=stream.encrypt(KEY, FILE_ID, b"", chunk_size=CHUNK, salt=SALT).hex(),
    )
    write("fail-truncated-mid-chunk", **base, result="integrity", ciphertext=good[:-10].hex())
    write(
        "fail-missing-last-chunk",
        **base,
        result="integrity",
        ciphertext=(header + chunks[0] + chunks[1]).hex(),
    )
    write(
        "fail-reordered-chunks",
        **base,
        result="integrity",
        ciphertext=(header + chunks[1] + chunks[0] + chunks[2]).hex(),
    )
    write("fail-trailing-bytes", **base, result="integrity", ciphertext=(good + b"\0" * 40).hex())
    write("fail-trailing-short", **base, result="integrity", ciphertext=(good + b"\0" * 3).hex())
    flipped = bytearray(good)
    flipped[header_len + 5] ^= 1
    write("fail-flipped-body-byte", **base, result="integrity", ciphertext=bytes(flipped).hex())
    edited = bytearray(good)
    edited[20] ^= 1  # inside the salt: the commitment no longer matches
    write("fail-edited-header", **base, result="wrong_key", ciphertext=bytes(edited).hex())
    write(
        "fail-wrong-key",
        **(base | {"key": OTHER_KEY.hex()}),
        result="wrong_key",
        ciphertext=good.hex(),
    )
    write("fail-header-only", **base, result="integrity", ciphertext=header.hex())
    keyfile_vectors()
    sealing_vectors()


if __name__ == "__main__":
    main()
