// SPDX-License-Identifier: Apache-2.0
//
// The peer system for kawan's catch-up benchmark: Hypercore (npm `hypercore`), appending the
// same number of entries of the same size as kawan's payloads and replicating them between two
// processes over 127.0.0.1 TCP. Run by tests/bench/bench_net.sh, which installs hypercore into
// a temporary directory (HC_DIR) first.
//
//   node bench_hypercore.js writer DIR ENTRIES BYTES CONTENT_FILE
//       Creates a core in DIR, appends ENTRIES blocks of BYTES bytes in batches of 10 (kawan
//       writes 10 entries per transaction), each block a window of CONTENT_FILE (the same IOC
//       text kawan published, so the bytes are alike), then serves replication on an
//       ephemeral 127.0.0.1 port. Prints one JSON line {key, port, append_s} and serves until
//       it is killed.
//   node bench_hypercore.js reader DIR KEY PORT ENTRIES
//       Opens an empty core for KEY in DIR, connects, downloads blocks [0, ENTRIES) and prints
//       {replicate_s} (from the connect to the last block stored), then exits.
'use strict'

const path = require('path')
const fs = require('fs')
const net = require('net')
const { createRequire } = require('module')

const hcDir = process.env.HC_DIR
if (!hcDir) {
  console.error('bench_hypercore: HC_DIR must name the directory hypercore is installed in')
  process.exit(2)
}
const Hypercore = createRequire(path.join(hcDir, 'package.json'))('hypercore')

function now () {
  return Number(process.hrtime.bigint()) / 1e9
}

async function writer (dir, entries, bytes, contentFile) {
  const text = fs.readFileSync(contentFile)
  const core = new Hypercore(dir)
  await core.ready()
  let off = 0
  const t0 = now()
  for (let i = 0; i < entries; i += 10) {
    const batch = []
    for (let j = i; j < Math.min(i + 10, entries); j++) {
      const b = Buffer.alloc(bytes)
      for (let w = 0; w < bytes;) {
        if (off >= text.length) off = 0
        const n = text.copy(b, w, off, Math.min(text.length, off + bytes - w))
        w += n
        off += n
      }
      batch.push(b)
    }
    await core.append(batch)
  }
  const appendS = now() - t0
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    const s = core.replicate(false)
    s.on('error', () => {})
    socket.pipe(s).pipe(socket)
  })
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({
      key: core.key.toString('hex'),
      port: server.address().port,
      append_s: appendS,
      length: core.length,
      byte_length: core.byteLength
    }))
  })
  const stop = async () => {
    server.close()
    await core.close()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

async function reader (dir, key, port, entries) {
  const core = new Hypercore(dir, Buffer.from(key, 'hex'))
  await core.ready()
  const t0 = now()
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const s = core.replicate(true)
  s.on('error', () => {})
  socket.pipe(s).pipe(socket)
  await core.download({ start: 0, end: entries }).done()
  const t = now() - t0
  console.log(JSON.stringify({ replicate_s: t, length: core.contiguousLength }))
  socket.destroy()
  await core.close()
  process.exit(0)
}

const [mode, ...args] = process.argv.slice(2)
const main = mode === 'writer'
  ? writer(args[0], Number(args[1]), Number(args[2]), args[3])
  : mode === 'reader'
    ? reader(args[0], args[1], Number(args[2]), Number(args[3]))
    : Promise.reject(new Error('usage: writer DIR ENTRIES BYTES FILE | reader DIR KEY PORT ENTRIES'))
main.catch((err) => {
  console.error('bench_hypercore:', err.message)
  process.exit(1)
})
