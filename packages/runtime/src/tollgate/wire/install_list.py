"""The install list (DESIGN.md section 5; the patent's Fig. 14): what one machine should install
of one product, in order.

```json
{"type": "install-list", "format": 1, "store_id": "st_…", "store_url": "http://…",
 "product": "MT", "version": "1.1.0", "release": "MT/1.1.0/release/release.json",
 "client": {"version": "0.1.0"}, "environment": {…},
 "commands": [
   {"command": "notice", "text": "What changed in this version"},
   {"command": "require", "requirement": "Base>=1.2"},
   {"command": "install", "target": "MT/1.1.0/core/mt%2Fcli.py", "entry": {…},
    "patches": [{"target": "MT/1.1.0/patch.<base sha256>/mt%2Fcli.py", "entry": {…}}]}]}
```

A list the storefront hands to the browser also says what its button asked for: ``"action":
"install"`` or ``"action": "buy", "addon": "dic2"`` (wire/handoff.py). That is a request the
customer confirms, never an authority.

The list itself is not signed: every command is checked by the client against TUF (the release
target for ``notice`` and ``require``, each file's target for ``install``), so the store's
HTTP answer decides nothing TUF does not also say. ``entry`` is the target's ``custom``, the
patent's install command: name, version, function, revision, parts (length and SHA-256 each)
and the decompressed size.

`parse` raises only `MalformedInstallList`, whatever the value: every text field is a
non-empty string of bounded length (``MAX_TEXT``; a notice ``MAX_NOTICE``) without control
characters, at most ``MAX_COMMANDS`` commands. A notice is the vendor's release notes, whatever
they hold: like all vendor text it is made safe where it is shown (wire/text.py ``clean``),
and refusing it would refuse the install for a stray escape in the notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollgate.wire.handoff import BadHandOff, HandOff
from tollgate.wire.text import unstorable

MEDIA_TYPE = "application/vnd.tollgate.install-list+json"
FORMAT = 1
MAX_TEXT = 16 * 1024  # a target name, a URL, a requirement
MAX_NOTICE = 64 * 1024  # the release's notes
MAX_COMMANDS = 100_000


class MalformedInstallList(ValueError):
    """The install list does not follow this format."""


@dataclass(frozen=True)
class Offer:
    """A patch offered for an install: the client uses it if it holds the patch's base."""

    target: str
    entry: dict[str, Any]


@dataclass(frozen=True)
class Install:
    target: str
    entry: dict[str, Any]
    patches: tuple[Offer, ...] = ()


@dataclass(frozen=True)
class InstallList:
    store_id: str
    store_url: str
    product: str
    version: str
    release: str
    client_version: str | None
    notices: tuple[str, ...]
    requires: tuple[str, ...]
    installs: tuple[Install, ...]
    handoff: HandOff | None = None  # what a storefront button asked for


def build(
    *,
    store_id: str,
    store_url: str,
    product: str,
    version: str,
    release: str,
    client_version: str | None,
    environment: dict[str, Any],
    notes: str,
    requires: list[str],
    installs: list[Install],
    handoff: HandOff | None = None,
) -> dict[str, Any]:
    commands: list[dict[str, Any]] = []
    if notes:
        commands.append({"command": "notice", "text": notes})
    commands += [{"command": "require", "requirement": r} for r in requires]
    for i in installs:
        command: dict[str, Any] = {"command": "install", "target": i.target, "entry": i.entry}
        if i.patches:
            command["patches"] = [{"target": p.target, "entry": p.entry} for p in i.patches]
        commands.append(command)
    doc = {
        "type": "install-list",
        "format": FORMAT,
        "store_id": store_id,
        "store_url": store_url,
        "product": product,
        "version": version,
        "release": release,
        "client": {} if client_version is None else {"version": client_version},
        "environment": environment,
        "commands": commands,
    }
    if handoff is not None:
        doc["action"] = handoff.action
        if handoff.addon is not None:
            doc["addon"] = handoff.addon
    return doc


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise MalformedInstallList(f"{key} must be a string of 1 to {MAX_TEXT} characters")
    bad = unstorable(value)
    if bad is not None:
        raise MalformedInstallList(f"{key} holds {bad}")
    return value


def _notice(cmd: dict[str, Any]) -> str:
    """A notice's text: the release's notes, which may span lines (shown cleaned)."""
    value = cmd.get("text")
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NOTICE:
        raise MalformedInstallList(f"a notice must be text of 1 to {MAX_NOTICE} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no printer could show it
        raise MalformedInstallList("a notice is not text (a lone surrogate)") from None
    return value


def _offers(cmd: dict[str, Any]) -> tuple[Offer, ...]:
    raw = cmd.get("patches", [])
    if not isinstance(raw, list) or not all(
        isinstance(p, dict) and isinstance(p.get("entry"), dict) for p in raw
    ):
        raise MalformedInstallList("patches must be a list of {target, entry}")
    return tuple(Offer(_str(p, "target"), p["entry"]) for p in raw)


def parse(doc: Any) -> InstallList:
    """Read the structure of an install list (nothing here is trusted yet)."""
    if not isinstance(doc, dict) or doc.get("type") != "install-list":
        raise MalformedInstallList("not an install list")
    found = doc.get("format")
    if isinstance(found, bool) or found != FORMAT:
        raise MalformedInstallList(f"install list format {str(found)[:20]!r} is not {FORMAT}")
    client = doc.get("client")
    commands = doc.get("commands")
    if not isinstance(client, dict) or not isinstance(commands, list):
        raise MalformedInstallList("client and commands are required")
    if len(commands) > MAX_COMMANDS:
        raise MalformedInstallList(f"an install list has at most {MAX_COMMANDS} commands")
    notices: list[str] = []
    requires: list[str] = []
    installs: list[Install] = []
    for i, cmd in enumerate(commands):
        kind = cmd.get("command") if isinstance(cmd, dict) else None
        if kind == "notice":
            notices.append(_notice(cmd))
        elif kind == "require":
            requires.append(_str(cmd, "requirement"))
        elif kind == "install" and isinstance(cmd.get("entry"), dict):
            installs.append(Install(_str(cmd, "target"), cmd["entry"], _offers(cmd)))
        else:
            raise MalformedInstallList(f"command {i} is not notice, require or install")
    version = client.get("version")
    if version is not None:
        version = _str(client, "version")
    store_id, product = _str(doc, "store_id"), _str(doc, "product")
    return InstallList(
        store_id=store_id,
        store_url=_str(doc, "store_url"),
        product=product,
        version=_str(doc, "version"),
        release=_str(doc, "release"),
        client_version=version,
        notices=tuple(notices),
        requires=tuple(requires),
        installs=tuple(installs),
        handoff=_handoff(doc, store_id, product),
    )


def _handoff(doc: dict[str, Any], store_id: str, product: str) -> HandOff | None:
    action, addon = doc.get("action"), doc.get("addon")
    if action is None and addon is None:
        return None
    if not isinstance(action, str) or not (addon is None or isinstance(addon, str)):
        raise MalformedInstallList("action and addon must be strings")
    try:
        return HandOff(action, store_id, product, addon)
    except BadHandOff as exc:
        raise MalformedInstallList(str(exc)) from exc
