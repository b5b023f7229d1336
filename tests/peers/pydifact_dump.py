#!/usr/bin/env python3
"""Print pydifact's parse of one EDIFACT file as JSON, for edigate's peer tests.

    tests/peers/.venv/bin/python tests/peers/pydifact_dump.py FILE [--encoding CODEC]

Output (stdout, one JSON document):

    {"peer": "pydifact 0.2.3", "encoding": "latin-1",
     "characters": ":+.? '",
     "segments": [{"tag": "UNB", "elements": [["UNOC", "3"], ["SENDER", "14"], ...]}, ...]}

Each element is the list of its components, values unescaped (pydifact removes the release
character). pydifact gives a simple element as a string and a composite as a list, drops trailing
empty components, and has no repetition separator (a syntax-4 "*" stays in the data); this script
only wraps a simple element into a one-component list and changes nothing else. A UNA service
string advice comes out as pydifact reports it: a segment tagged "UNA" with the six characters as
its one element. "characters" is the set pydifact parsed with (UNA's or its default).

The segments come from pydifact's Parser, the layer Interchange.from_str runs on, in file order.
Interchange itself is not used: it rebuilds UNB and UNZ from the fields it read (date reformatted,
UNZ count recomputed), so its header and trailer would not be a parse of the file.

pydifact takes text, not bytes. The file is decoded with the codec its UNB syntax identifier
declares (ISO 9735: UNOA/UNOB/UNOC ISO-8859-1 ... UNOW/UNOY UTF-8; unknown: UTF-8 if valid, else
ISO-8859-1), or --encoding. A leading UTF-8 byte-order mark is dropped before parsing: it is not
part of the interchange, and pydifact only looks for UNA at the very start.

Exit status: 0 with JSON on stdout; 1 when pydifact refuses the file (its error on stderr);
2 on a usage or environment problem (pydifact not installed, file unreadable).
"""

import json
import sys
import warnings

try:
    import pydifact
    from pydifact.parser import Parser
except ImportError as e:  # pragma: no cover - environment problem, reported as such
    sys.stderr.write(f"pydifact is not installed ({e}); run tests/peers/setup.sh\n")
    sys.exit(2)

# pydifact warns about missing per-directory schemas for nearly every segment; they are noise here.
warnings.simplefilter("ignore")

# ISO 9735 syntax identifiers and the character repertoires they declare.
DECLARED = {
    "UNOA": "latin-1",  # a subset of ISO 646; read as ISO-8859-1 so stray bytes still decode
    "UNOB": "latin-1",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOG": "iso8859-3",
    "UNOH": "iso8859-4",
    "UNOI": "iso8859-6",
    "UNOJ": "iso8859-8",
    "UNOK": "iso8859-9",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}
BOM = b"\xef\xbb\xbf"


def declared_codec(raw: bytes) -> str:
    at = raw.find(b"UNB")
    ident = raw[at + 4 : at + 8].decode("ascii", "replace") if at >= 0 else ""
    if ident in DECLARED:
        return DECLARED[ident]
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def main(argv: list[str]) -> int:
    args = list(argv)
    encoding = None
    if "--encoding" in args:
        i = args.index("--encoding")
        if i + 1 >= len(args):
            sys.stderr.write("--encoding needs a codec name\n")
            return 2
        encoding = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(args[0], "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.stderr.write(f"{args[0]}: {e}\n")
        return 2
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    codec = encoding or declared_codec(raw)
    try:
        text = raw.decode(codec)
    except (UnicodeDecodeError, LookupError) as e:
        sys.stderr.write(f"{args[0]}: cannot decode as {codec}: {e}\n")
        return 1

    parser = Parser()
    segments = []
    try:
        for seg in parser.parse(text):
            elements = []
            for el in seg.elements:
                elements.append(list(el) if isinstance(el, list) else [el])
            segments.append({"tag": seg.tag, "elements": elements})
    except Exception as e:  # pydifact raises several types; any of them means "refused"
        sys.stderr.write(f"pydifact: {type(e).__name__}: {e}\n")
        return 1
    # Parser.parse settles its characters only once it has read UNA; report what it used.
    characters = segments[0]["elements"][0][0] if segments and segments[0]["tag"] == "UNA" else str(parser.characters)
    out = {
        "peer": f"pydifact {getattr(pydifact, '__version__', '?')}",
        "encoding": codec,
        "characters": characters,
        "segments": segments,
    }
    # ASCII-only JSON (\u escapes), so the locale's stdout encoding cannot matter.
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
