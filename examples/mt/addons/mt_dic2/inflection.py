"""English inflection, both ways: the forms of a headword, and the headwords a form may be.

Regular rules cover most words ("book" → "books", "carry" → "carries", "stop" → "stopped");
the irregular forms are listed.
"""

from __future__ import annotations

from collections.abc import Iterator

IRREGULAR_VERBS: dict[str, tuple[str, ...]] = {
    "become": ("became",),
    "begin": ("began", "begun"),
    "bite": ("bit", "bitten"),
    "blow": ("blew", "blown"),
    "break": ("broke", "broken"),
    "bring": ("brought",),
    "build": ("built",),
    "burn": ("burnt",),
    "buy": ("bought",),
    "catch": ("caught",),
    "choose": ("chose", "chosen"),
    "come": ("came",),
    "dig": ("dug",),
    "dive": ("dove",),
    "do": ("did", "done"),
    "draw": ("drew", "drawn"),
    "dream": ("dreamt",),
    "drink": ("drank", "drunk"),
    "drive": ("drove", "driven"),
    "eat": ("ate", "eaten"),
    "fall": ("fell", "fallen"),
    "feed": ("fed",),
    "feel": ("felt",),
    "fight": ("fought",),
    "find": ("found",),
    "fly": ("flew", "flown"),
    "forget": ("forgot", "forgotten"),
    "forgive": ("forgave", "forgiven"),
    "freeze": ("froze", "frozen"),
    "get": ("got", "gotten"),
    "give": ("gave", "given"),
    "go": ("went", "gone"),
    "grow": ("grew", "grown"),
    "hang": ("hung",),
    "have": ("has", "had"),
    "hear": ("heard",),
    "hide": ("hid", "hidden"),
    "hold": ("held",),
    "keep": ("kept",),
    "know": ("knew", "known"),
    "lay": ("laid",),
    "lead": ("led",),
    "leave": ("left",),
    "lend": ("lent",),
    "lie": ("lay", "lain", "lying"),
    "lose": ("lost",),
    "make": ("made",),
    "mean": ("meant",),
    "meet": ("met",),
    "pay": ("paid",),
    "ride": ("rode", "ridden"),
    "ring": ("rang", "rung"),
    "rise": ("rose", "risen"),
    "run": ("ran",),
    "say": ("said",),
    "see": ("saw", "seen"),
    "sell": ("sold",),
    "send": ("sent",),
    "shake": ("shook", "shaken"),
    "shine": ("shone",),
    "shoot": ("shot",),
    "sing": ("sang", "sung"),
    "sink": ("sank", "sunk"),
    "sit": ("sat",),
    "sleep": ("slept",),
    "slide": ("slid",),
    "speak": ("spoke", "spoken"),
    "spend": ("spent",),
    "stand": ("stood",),
    "steal": ("stole", "stolen"),
    "swim": ("swam", "swum"),
    "take": ("took", "taken"),
    "teach": ("taught",),
    "tear": ("tore", "torn"),
    "tell": ("told",),
    "think": ("thought",),
    "throw": ("threw", "thrown"),
    "understand": ("understood",),
    "wake": ("woke", "woken"),
    "wear": ("wore", "worn"),
    "win": ("won",),
    "write": ("wrote", "written"),
}
IRREGULAR_PLURALS: dict[str, str] = {
    "child": "children",
    "deer": "deer",
    "fish": "fish",
    "foot": "feet",
    "knife": "knives",
    "leaf": "leaves",
    "life": "lives",
    "man": "men",
    "mouse": "mice",
    "person": "people",
    "sheep": "sheep",
    "tooth": "teeth",
    "wife": "wives",
    "wolf": "wolves",
    "woman": "women",
}
IRREGULAR_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "good": ("better", "best"),
    "bad": ("worse", "worst"),
    "far": ("farther", "farthest"),
    "little": ("less", "least"),
}
VOWELS = "aeiou"
_BASE_OF_IRREGULAR = {
    form: base
    for table in (IRREGULAR_VERBS, IRREGULAR_ADJECTIVES)
    for base, forms in table.items()
    for form in forms
} | {plural: base for base, plural in IRREGULAR_PLURALS.items()}


def _s(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def _doubles(word: str) -> bool:
    """One-syllable words ending consonant-vowel-consonant double the last letter: stop →
    stopped, but open → opened."""
    return (
        len(word) >= 3
        and sum(c in VOWELS for c in word) == 1
        and word[-1] not in VOWELS + "wxy"
        and word[-2] in VOWELS
        and word[-3] not in VOWELS
    )


def _suffixed(word: str, suffix: str) -> str:
    """``word`` + a suffix starting with a vowel (-ed, -ing, -er, -est)."""
    if word.endswith("ie") and suffix == "ing":
        return word[:-2] + "ying"
    if word.endswith("ee"):
        return word + (suffix if suffix == "ing" else suffix[1:])
    if word.endswith("e"):
        return word[:-1] + suffix
    if word.endswith("y") and word[-2:-1] not in VOWELS and suffix != "ing":
        return word[:-1] + "i" + suffix
    if _doubles(word):
        return word + word[-1] + suffix
    return word + suffix


def inflected_forms(word: str, part: str) -> Iterator[str]:
    """``word`` and the forms of it for its part of speech (n, v, a or x)."""
    yield word
    if part == "n":
        yield IRREGULAR_PLURALS.get(word) or _s(word)
    elif part == "v":
        yield _s(word)
        yield _suffixed(word, "ing")
        irregular = IRREGULAR_VERBS.get(word)
        yield from irregular or (_suffixed(word, "ed"),)
    elif part == "a":
        comparative = IRREGULAR_ADJECTIVES.get(word)
        if comparative:
            yield from comparative
        elif len(word) <= 6:
            yield _suffixed(word, "er")
            yield _suffixed(word, "est")


def base_forms(form: str) -> Iterator[str]:
    """Headwords that ``form`` may be an inflection of, most likely first."""
    if form in _BASE_OF_IRREGULAR:
        yield _BASE_OF_IRREGULAR[form]
    for suffix in ("ies", "ied", "ier", "iest", "ying", "es", "s", "ed", "ing", "er", "est"):
        stem = form[: -len(suffix)]
        if form.endswith(suffix) and len(stem) >= (1 if suffix == "ying" else 2):
            if suffix in ("ies", "ied", "ier", "iest", "ying"):  # carries, happier, dying
                yield stem + ("ie" if suffix == "ying" else "y")
                continue
            yield stem
            yield stem + "e"
            if len(stem) > 2 and stem[-1] == stem[-2]:
                yield stem[:-1]
