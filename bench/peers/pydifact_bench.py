#!/usr/bin/env python3
"""pydifact (PyPI) as an EDIFACT speed peer for edigate's benchmark.

    .venv/bin/python peers/pydifact_bench.py FILE [--repeat N]

Reads FILE and decodes it (not timed), then times pydifact's parse: the text is cut into
interchanges where a UNA starts a line (pydifact reads one UNA per string) and each is parsed
with Interchange.from_str, all kept until the end, as a program holding the file would. Prints
one JSON line: {"tool", "version", "bytes", "seconds": [one per repeat], "segments"}.
"""
import argparse, json, re, sys, time, warnings
from importlib.metadata import version

warnings.simplefilter("ignore")  # pydifact warns about missing segment schemas
from pydifact.segmentcollection import Interchange

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--repeat", type=int, default=1)
a = ap.parse_args()

raw = open(a.file, "rb").read()
text = raw.decode("latin-1")  # the generated files are ASCII; UNOC is Latin-1
UNA = re.compile(r"(?:^|(?<=['\n\r]))UNA")


def parse(text):
    starts = [m.start() for m in UNA.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    bounds = starts[1:] + [len(text)]
    return [Interchange.from_str(text[s:e]) for s, e in zip(starts, bounds)]


seconds = []
segments = 0
for _ in range(a.repeat):
    t0 = time.perf_counter()
    interchanges = parse(text)
    seconds.append(time.perf_counter() - t0)
    # UNB and UNZ are kept apart from the segments list
    segments = sum(len(ic.segments) + 2 for ic in interchanges)
    del interchanges
print(json.dumps({"tool": "pydifact", "version": version("pydifact"), "bytes": len(raw),
                  "seconds": seconds, "segments": segments}))
