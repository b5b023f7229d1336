#!/usr/bin/env node
// Print node-x12's parse of one X12 file as JSON, for edigate's peer tests.
//
//   node tests/peers/node/x12_dump.js FILE
//
// Output (stdout, one JSON document):
//
//   {"peer": "node-x12 1.7.1", "encoding": "utf-8",
//    "delimiters": {"element": "*", "segment": "~", "component": ">", "repetition": "^"},
//    "segments": [{"tag": "ISA", "elements": [["00"], ["          "], ...]}, ...]}
//
// What node-x12 does, and so what this shows:
// - It parses with `new X12Parser(true).parse(text)`: strict mode, in which node-x12 also checks
//   every envelope count and control number and throws on the first problem (or on any segment
//   outside ISA/GS/ST). Non-strict mode would drop such segments silently, so it is not used.
// - The segments are read back from its object model in file order (ISA, GS, ST, body, SE, ...,
//   GE, IEA, next ISA). A trailer node-x12 did not see (it drops a final segment that has no
//   terminator) is simply absent, and named in "missing".
// - Elements are node-x12's strings, padding kept. It never splits them into components or
//   repetitions itself; it only detects the separators from fixed ISA positions (element: ISA
//   byte 3, component: 104, repetition: 82 whatever the version, segment terminator: 105). This
//   script splits each element into components at the component separator node-x12 detected and
//   leaves repetitions to the reader, reporting the separator node-x12 would use ("delimiters").
// - node-x12 rewrites ISA13 and IEA02 through parseInt (leading zeros gone); shown as it has them.
//
// node-x12 takes text. X12 declares no character set, so the file is decoded as UTF-8 when it is
// valid UTF-8 and as Windows-1252 otherwise (the de facto X12 rule); a UTF-8 byte-order mark is
// dropped, since node-x12 reads the separators from fixed offsets of the text.
//
// Exit status: 0 with JSON on stdout; 1 when node-x12 refuses the file (its error on stderr);
// 2 on a usage or environment problem.
'use strict'

const fs = require('fs')

let X12Parser
let version = '?'
try {
  ;({ X12Parser } = require('node-x12'))
  version = require('node-x12/package.json').version
} catch (e) {
  process.stderr.write(`node-x12 is not installed (${e.message}); run tests/peers/setup.sh\n`)
  process.exit(2)
}

function decode (bytes) {
  try {
    // fatal: throws on invalid UTF-8; a leading BOM is removed by the decoder.
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' }
  } catch (e) {
    if (!(e instanceof TypeError)) throw e
  }
  const text = new TextDecoder('windows-1252').decode(bytes)
  return { text, encoding: 'windows-1252' }
}

function main (argv) {
  if (argv.length !== 1) {
    process.stderr.write('usage: x12_dump.js FILE\n')
    return 2
  }
  let bytes
  try {
    bytes = fs.readFileSync(argv[0])
  } catch (e) {
    process.stderr.write(`${argv[0]}: ${e.message}\n`)
    return 2
  }
  const { text, encoding } = decode(bytes)
  const parser = new X12Parser(true)
  let parsed
  try {
    parsed = parser.parse(text)
  } catch (e) {
    process.stderr.write(`node-x12: ${e.name || 'Error'}: ${e.message}\n`)
    return 1
  }
  const opts = parser._options || {}
  const component = opts.subElementDelimiter
  const segments = []
  const missing = []
  const put = (seg, what) => {
    if (seg === undefined) {
      missing.push(what)
      return
    }
    segments.push({
      tag: seg.tag,
      // ISA's elements are simple (ISA16 is the component separator itself).
      elements: seg.elements.map(e => (component && seg.tag !== 'ISA' ? e.value.split(component) : [e.value]))
    })
  }
  const interchanges = parsed.interchanges || (Array.isArray(parsed) ? parsed : [parsed])
  interchanges.forEach((ix, i) => {
    const n = `interchange ${i + 1}`
    put(ix.header, `${n} ISA`)
    ix.functionalGroups.forEach((g, j) => {
      put(g.header, `${n} group ${j + 1} GS`)
      g.transactions.forEach((t, k) => {
        put(t.header, `${n} group ${j + 1} set ${k + 1} ST`)
        t.segments.forEach(s => put(s, 'body'))
        put(t.trailer, `${n} group ${j + 1} set ${k + 1} SE`)
      })
      put(g.trailer, `${n} group ${j + 1} GE`)
    })
    put(ix.trailer, `${n} IEA`)
  })
  const out = {
    peer: `node-x12 ${version}`,
    encoding,
    delimiters: {
      element: opts.elementDelimiter,
      segment: opts.segmentTerminator,
      component,
      repetition: opts.repetitionDelimiter
    },
    segments,
    missing
  }
  // ASCII-only JSON (\u escapes), so nothing depends on how stdout is encoded.
  process.stdout.write(
    JSON.stringify(out).replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '\n'
  )
  return 0
}

process.exitCode = main(process.argv.slice(2))
