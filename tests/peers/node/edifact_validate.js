#!/usr/bin/env node
// The `edifact` npm package's validator on EDIFACT files, for edigate's cross-check
// (tests/integration/edifact_npm.rs).
//
//   node tests/peers/node/edifact_validate.js FILE [FILE...]
//
// Output (stdout): one JSON document per line, one per FILE, in order:
//
//   {"file": "...", "peer": "edifact 1.2.12", "encoding": "utf-8", "accepted": false,
//    "interchanges": 1, "segments": ["UNA", "UNB", "UNH", ...],
//    "messages": [{"interchange": 1, "segment": 2, "type": "ORDERS", "tracked": true}],
//    "errors": [{"segment": 7, "tag": "QTY", "interchange": 1, "message_index": 0,
//                "kind": "syntax", "message": "Could not accept ..."}]}
//
// "accepted" is true when the package found nothing wrong. "segments" are the file's segments in
// order (tags), so an error's "segment" (0-based) can be placed; "message_index" is the index in
// "messages" of the message (UNH..UNT) the error belongs to, null for the envelope (UNA, UNB, UNG,
// UNE, UNZ) and for the end of the document (segment null). "interchange" counts UNB (with its
// UNA) from 1, and anything after a UNZ that is not a UNA or UNB as one more (as edi does);
// "interchanges" is how many the file has.
//
// What the package checks, and so what "accepted" means:
// - Parser + Validator (kind "syntax"): the delimiters of a UNA, read only at the very start of the
//   document and only when the UNA's fifth service character is a space (syntax 1-3's reserved
//   position: a syntax 4 repetition separator `*` makes it read "UNA" as a segment tag); the
//   character repertoire of the syntax identifier in UNB (UNOA, UNOB, UNOC, UNOY, UCS2; anything
//   else is refused), applied to every character of the data; and for the segments and composites
//   in its own tables (segments.js, elements.js: the package's own transcription of a directory
//   later than D.96A, e.g. 6060 quantity an..35, 1154 reference an..70), the element and
//   component counts and each component's format
//   (a/an/n and length; sign and decimal mark not counted). Segments and elements it has no table
//   for pass unchecked. It does not check codes, dates, envelope counts or control numbers.
// - Tracker (kind "structure"): the order and repetition of segments against the package's
//   message table (messages/TYPE.json), where it ships one for the UNH message type (APERAK,
//   AUTHOR, BALANC, DESADV, INVOIC, INVRPT, ORDERS, OSTENQ, OSTRPT, PARTIN, TAXCON, VATDEC); a
//   message with none is "tracked": false. Only the first structure error of a message is
//   reported (after one, the Tracker's position is a guess). The Tracker has no end-of-message
//   call: when a message ends without UNT (another UNH, an envelope segment or the end of the
//   document comes first) the driver asks the Tracker to accept that segment and reports its
//   complaint, or says the table's mandatory UNT is missing at the end of the document.
//
// The package stops at its first error (it throws). To judge every message of a file, the driver
// feeds the package one segment at a time (the file's own text, cut after each segment terminator
// that is not released); after an error it records it and carries on at the next segment with a
// fresh Parser and Validator set up as the package had them (its delimiters and character set).
// Without errors this is the same parse as one write of the whole text.
//
// The package parses text. The file is decoded as UTF-8 when it is valid UTF-8 and as ISO-8859-1
// otherwise (so UNOA-UNOC files read as their bytes), and a UTF-8 byte-order mark is dropped.
//
// Exit status: 0 with the JSON, whether or not the files are accepted; 2 when the package is
// missing (run `sh tests/peers/setup.sh`) or on a usage or file error.
'use strict'

const fs = require('fs')

let Parser, Validator, Tracker, segmentTable, elementTable, version
try {
  ;({ Parser, Validator, Tracker } = require('edifact'))
  segmentTable = require('edifact/segments.js')
  elementTable = require('edifact/elements.js')
  version = require('edifact/package.json').version
} catch (e) {
  process.stderr.write(`the edifact npm package is not installed (${e.message}); run sh tests/peers/setup.sh\n`)
  process.exit(2)
}

// Envelope segments: they close an open message.
const ENVELOPE = new Set(['UNA', 'UNB', 'UNG', 'UNE', 'UNZ'])

function decode (bytes) {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3)
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes), encoding: 'utf-8' }
  } catch (e) {
    if (!(e instanceof TypeError)) throw e
  }
  // Buffer's latin1 is ISO-8859-1 (TextDecoder's "latin1" would be Windows-1252).
  return { text: Buffer.from(bytes).toString('latin1'), encoding: 'iso-8859-1' }
}

// The delimiters the package uses: its defaults, or a UNA it accepts (Parser.prototype.una).
function delimiters (text) {
  const d = { CDS: ':', DES: '+', DM: '.', RC: '?', ST: "'", una: false }
  if (/^UNA....\ ./.test(text)) {
    d.CDS = text[3]
    d.DES = text[4]
    d.DM = text[5]
    d.RC = text[6]
    d.ST = text[8]
    d.una = true
  }
  return d
}

// The text cut after every unreleased segment terminator: [{text, tag}]. A UNA is its nine
// characters. CR/LF before a segment stay with it (the package skips them between segments);
// trailing CR/LF go with the last segment.
function split (text, d) {
  const chunks = []
  let i = 0
  if (d.una) {
    chunks.push({ text: text.slice(0, 9), tag: 'UNA' })
    i = 9
  }
  while (i < text.length) {
    const start = i
    let j = i
    while (j < text.length && (text[j] === '\r' || text[j] === '\n')) j++
    if (j === text.length) {
      if (chunks.length) chunks[chunks.length - 1].text += text.slice(start)
      else chunks.push({ text: text.slice(start), tag: '' })
      break
    }
    let end
    if (text.startsWith('UNA', j)) {
      end = Math.min(j + 9, text.length)
    } else {
      let k = j
      end = text.length
      while (k < text.length) {
        const c = text[k]
        if (c === d.RC) {
          k += 2
          continue
        }
        if (c === d.ST) {
          end = k + 1
          break
        }
        k++
      }
    }
    chunks.push({ text: text.slice(start, end), tag: tagOf(text.slice(j, Math.min(end, j + 40))) })
    i = end
  }
  return chunks
}

// A segment's tag, for the bookkeeping of interchanges and messages: its first (up to) three
// letters and digits once line breaks (which the package skips inside a tag) and leading blanks
// (which it refuses) are left out. The package's own complaint about either is reported as is.
function tagOf (head) {
  const m = /^[A-Za-z0-9]{0,3}/.exec(head.replace(/[\r\n]/g, '').replace(/^[ \t]+/, ''))
  return m[0]
}

// Element `e` (1-based), component `c` (1-based) of a segment's raw text, releases removed.
function rawComponent (chunk, d, e, c) {
  const elements = [[]]
  let cur = ''
  const body = chunk.replace(/[\r\n]/g, '') // the package skips line breaks inside data
  for (let k = 0; k < body.length; k++) {
    const ch = body[k]
    if (ch === d.RC) {
      cur += body[k + 1] || ''
      k++
    } else if (ch === d.DES) {
      elements[elements.length - 1].push(cur)
      elements.push([])
      cur = ''
    } else if (ch === d.CDS) {
      elements[elements.length - 1].push(cur)
      cur = ''
    } else if (ch === d.ST) {
      break
    } else {
      cur += ch
    }
  }
  elements[elements.length - 1].push(cur)
  return (elements[e] || [])[c - 1] || ''
}

function tableFor (type) {
  if (!/^[A-Z0-9]{1,6}$/.test(type)) return null
  try {
    return require(`edifact/messages/${type}.json`)
  } catch (e) {
    return null
  }
}

function validate (text) {
  const d = delimiters(text)
  const chunks = split(text, d)
  const errors = []
  const messages = []
  let level = 'UNOA'
  let interchange = 0
  let prevTag = null
  let open = null // index in `messages` of the message being read (UNH seen, no UNT yet)
  let tracker = null
  let structureError = null
  let index = 0 // the chunk being written

  const ic = () => Math.max(interchange, 1)

  // A Parser and Validator as the package's Reader builds them (auto-detecting the character set
  // from UNB), with the delimiters it uses for this document.
  function fresh (first) {
    const validator = new Validator()
    validator.define(segmentTable)
    validator.define(elementTable)
    const parser = new Parser(validator)
    if (!first) {
      parser.configure({
        segmentTerminator: d.ST.charCodeAt(0),
        dataElementSeparator: d.DES.charCodeAt(0),
        componentDataSeparator: d.CDS.charCodeAt(0),
        decimalMark: d.DM.charCodeAt(0),
        releaseCharacter: d.RC.charCodeAt(0)
      })
      parser.encoding(level)
      // Past the start of the document: a UNA is no longer read as one.
      parser.state = Parser.states.segment
    }
    let syntaxIdentifier = false
    let segmentName = ''
    parser.on('opensegment', (name) => {
      segmentName = name
      syntaxIdentifier = name === 'UNB'
    })
    parser.on('component', (value) => {
      if (syntaxIdentifier) {
        syntaxIdentifier = false
        parser.encoding(value)
        level = value
      }
    })
    // The tag as the package read it (it skips line breaks inside a tag).
    parser.on('closesegment', () => track(segmentName, index))
    return parser
  }

  function structure (segment, tag, messageIndex, message) {
    errors.push({ segment, tag, interchange: ic(), message_index: messageIndex, kind: 'structure', message })
  }

  // The Tracker's opinion of one more segment of the open message.
  function accept (tag, i) {
    structureError = null
    tracker.accept(tag)
    if (structureError) {
      structure(i, tag, open, structureError.message)
      tracker = null
    }
  }

  // Segment `i` is complete (or refused): message bookkeeping and structure tracking.
  function track (tag, i) {
    if (tag === 'UNH' || ENVELOPE.has(tag)) {
      if (open !== null && tracker) {
        // The open message has no UNT: what the Tracker says to the segment that ends it.
        accept(tag, i)
        if (tracker) structure(i, tag, open, `message ends at ${tag} without UNT`)
      }
      open = null
      tracker = null
    }
    if (tag === 'UNH') {
      const type = rawComponent(chunks[i].text, d, 2, 1)
      const table = tableFor(type)
      messages.push({ interchange: ic(), segment: i, type, tracked: table !== null })
      open = messages.length - 1
      if (table) {
        tracker = new Tracker(table)
        tracker.on('error', (e) => {
          structureError = e
        })
      }
    }
    if (open !== null && tracker) accept(tag, i)
    if (tag === 'UNT') {
      open = null
      tracker = null
    }
  }

  let parser = fresh(true)
  for (index = 0; index < chunks.length; index++) {
    const { tag } = chunks[index]
    // A new interchange: UNA, UNB without one, or anything after UNZ (data past an interchange
    // trailer does not belong to it).
    if (tag === 'UNA' || (tag === 'UNB' && prevTag !== 'UNA') || (prevTag === 'UNZ' && tag !== 'UNB')) {
      interchange++
    }
    prevTag = tag
    try {
      parser.write(chunks[index].text)
    } catch (e) {
      const inMessage = open !== null && !ENVELOPE.has(tag) && tag !== 'UNH' ? open : null
      errors.push({ segment: index, tag, interchange: ic(), message_index: inMessage, kind: 'syntax', message: e.message })
      // The segment did not close: keep the structure tracking going with its tag.
      const before = messages.length
      track(tag, index)
      if (tag === 'UNH' && messages.length > before) {
        // The refused UNH belongs to its own message.
        errors[errors.length - 1].message_index = messages.length - 1
      }
      parser = fresh(false)
    }
  }
  try {
    parser.end()
  } catch (e) {
    errors.push({ segment: null, tag: null, interchange: ic(), message_index: open, kind: 'syntax', message: e.message })
  }
  if (open !== null && tracker) {
    structure(null, null, open, 'end of document: the mandatory segment UNT is missing')
  }
  return { interchanges: interchange, segments: chunks.map((c) => c.tag), messages, errors }
}

function main (argv) {
  if (argv.length === 0) {
    process.stderr.write('usage: edifact_validate.js FILE [FILE...]\n')
    return 2
  }
  const out = []
  for (const file of argv) {
    let bytes
    try {
      bytes = fs.readFileSync(file)
    } catch (e) {
      process.stderr.write(`${file}: ${e.message}\n`)
      return 2
    }
    const { text, encoding } = decode(bytes)
    const r = validate(text)
    out.push(JSON.stringify({
      file,
      peer: `edifact ${version}`,
      encoding,
      accepted: r.errors.length === 0,
      interchanges: r.interchanges,
      segments: r.segments,
      messages: r.messages,
      errors: r.errors
    }).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')))
  }
  process.stdout.write(out.join('\n') + '\n')
  return 0
}

process.exitCode = main(process.argv.slice(2))
