"""``tollgate run MT -- some English words``"""

from __future__ import annotations

from mt.translate import load_basic, translate
from tollgate.runtime import Product

DEFAULT = "the old cat reads a book about the mountain river in the quiet garden"


def main(argv: list[str] | None = None) -> int:
    text = " ".join(argv or []) or DEFAULT
    product = Product.open("MT")
    lookup = None
    if product.has("dic2"):
        dic2 = product.import_module("dic2")  # decrypted and verified in memory
        lookup = dic2.lookup
        print(f"MT with dic2 ({dic2.size()} entries)")
    else:
        print("MT basic (buy dic2 for the large dictionary: tollgate buy MT dic2)")
    result = translate(text, load_basic(), lookup)
    print(f"  {text}\n→ {result.text}")
    if result.missing:
        print(f"{len(result.missing)} word(s) need the dic2 add-on: {', '.join(result.missing)}")
    return 0
