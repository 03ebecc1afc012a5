"""MT's command line, run by ``tollgate run MT -- [--print FILE] [--file FILE] [WORDS...]``.

The free core translates with the basic word list and names the words it could not translate.
Two add-ons, when bought, are opened in memory by tollgate.runtime: ``dic2`` (imported as
``mt_dic2``) fills in most of them; ``print`` (sold per use) renders the translation to an HTML
file, each printed document being one use charged by the store.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from mt.translate import Lookup, Translation, load_basic, translate
from tollgate.runtime import AddOnNotLicensed, LicenceNotValid, Product

DEFAULT = "The old cat was reading books about mountains and rivers in the quiet garden"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="MT", description="Translate English into Japanese.")
    parser.add_argument("words", nargs="*", help="the English text (default: an example)")
    parser.add_argument("--file", type=Path, help="translate this text file instead")
    parser.add_argument(
        "--print",
        dest="print_to",
        type=Path,
        metavar="FILE",
        help="also print the translation to an HTML file (the 'print' add-on, per use)",
    )
    return parser


def _dictionary(product: Product, basic: dict[str, str]) -> Lookup | None:
    """dic2's lookup if the add-on may be used now, else None and a line saying why. A damaged
    add-on, or a key file copied from another machine, is not caught: it stops the program."""
    try:
        import mt_dic2  # served from memory by the runtime's import hook
    except (AddOnNotLicensed, LicenceNotValid) as exc:
        print(f"MT basic: {exc}")
        return None
    print(f"MT with dic2 ({mt_dic2.size()} forms of {mt_dic2.HEADWORDS} words)")
    lookup: Lookup = mt_dic2.lookup_with(basic)
    return lookup


def _print(product: Product, result: Translation, target: Path) -> int:
    """Render to ``target``: rendered in memory and written to a temporary file beside it; the
    use is recorded only then, and the file appears only once the use is recorded."""
    try:
        import mt_print
    except (AddOnNotLicensed, LicenceNotValid) as exc:
        print(f"Not printed: {exc}", file=sys.stderr)
        return 3
    html = mt_print.render_html(result.source, result.pairs)
    target = target.resolve()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        product.use("print", "print-html")
        os.replace(tmp, target)
    except LicenceNotValid as exc:  # a declined card, a cap on uses reached
        print(f"Not printed: {exc}", file=sys.stderr)
        return 3
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    offer = next(o for o in product.offers() if o.addon == "print")
    print(f"Printed to {target} (one use of 'print': {offer.terms})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"Cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
    else:
        text = " ".join(args.words) or DEFAULT
    product = Product.open("MT").enable_imports()
    basic = load_basic()
    result = translate(text, basic, _dictionary(product, basic))
    print(f"  {' '.join(text.split())}\n→ {result.text}")
    if result.missing:
        print(f"{len(result.missing)} word(s) not translated: {', '.join(result.missing)}")
    if args.print_to is not None:
        return _print(product, result, args.print_to)
    return 0
