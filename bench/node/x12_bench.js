// node-x12 (npm) as an X12 speed peer for edigate's benchmark.
//   node node/x12_bench.js FILE [--repeat N]
// Reads FILE as Latin-1 text (not timed), then times node-x12's X12Parser.parse over the whole
// file: every interchange, group, transaction and segment. Strict mode, since only that keeps a
// file's interchanges apart (non-strict folds them into one); it also checks control numbers
// and counts, as edigate's strict parse does. Prints one JSON line:
// {"tool", "version", "bytes", "seconds": [one per repeat], "segments"}.
const fs = require('fs')
const { X12Parser } = require('node-x12')
const pkg = require('node-x12/package.json')

const args = process.argv.slice(2)
const file = args[0]
if (!file) { console.error('usage: x12_bench.js FILE [--repeat N]'); process.exit(2) }
const ri = args.indexOf('--repeat')
const repeat = ri >= 0 ? Number(args[ri + 1]) : 1

const raw = fs.readFileSync(file)
const text = raw.toString('latin1')
const seconds = []
let segments = 0
for (let i = 0; i < repeat; i++) {
  const t0 = process.hrtime.bigint()
  let parsed = new X12Parser(true).parse(text)
  const t1 = process.hrtime.bigint()
  seconds.push(Number(t1 - t0) / 1e9)
  const interchanges = parsed.interchanges || [parsed] // X12FatInterchange or X12Interchange
  segments = 0
  for (const ix of interchanges) {
    segments += 2
    for (const g of ix.functionalGroups) {
      segments += 2
      for (const t of g.transactions) segments += 2 + t.segments.length
    }
  }
  parsed = null
}
console.log(JSON.stringify({ tool: 'node-x12', version: pkg.version, bytes: raw.length, seconds, segments }))
