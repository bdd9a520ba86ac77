#!/usr/bin/env node
// Writes the seed corpus of the native header fuzzer (native/fuzz/fuzz_header.cc)
// from the shared vectors: one file per vector of test/vectors/header.json as a
// one-datagram batch, the same with the CRC-fixing bit, and one batch of all
// vectors end to end (up to 64). Usage: node native/fuzz/make-corpus.js DIR
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const MAX_BATCH = 64;

/** Byte 0 of an input: count - 1 in bits 0-5, raw mode bit 6, fix-CRC bit 7. */
function batchInput(datagrams, fixCrc) {
  const head = Buffer.alloc(1 + 2 * datagrams.length);
  head[0] = (datagrams.length - 1) | (fixCrc ? 0x80 : 0);
  datagrams.forEach((d, i) => head.writeUInt16BE(d.length, 1 + 2 * i));
  return Buffer.concat([head, ...datagrams]);
}

/** The same datagrams as a raw-mode input: explicit u32 offset and length per datagram. */
function rawInput(datagrams) {
  const head = Buffer.alloc(1 + 8 * datagrams.length);
  head[0] = (datagrams.length - 1) | 0x40;
  let offset = 0;
  datagrams.forEach((d, i) => {
    head.writeUInt32BE(offset, 1 + 8 * i);
    head.writeUInt32BE(d.length, 5 + 8 * i);
    offset += d.length;
  });
  return Buffer.concat([head, ...datagrams]);
}

function main() {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: make-corpus.js DIR\n');
    process.exit(2);
  }
  const vectorsPath = path.join(__dirname, '..', '..', 'test', 'vectors', 'header.json');
  const { vectors } = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'));
  fs.mkdirSync(dir, { recursive: true });
  const datagrams = vectors.map((v) => Buffer.from(v.hex, 'hex'));
  let files = 0;
  const write = (name, bytes) => {
    fs.writeFileSync(path.join(dir, name), bytes);
    files++;
  };
  vectors.forEach((v, i) => {
    const slug = v.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    write(`vector-${String(i).padStart(2, '0')}-${slug}`, batchInput([datagrams[i]], false));
    write(`vector-${String(i).padStart(2, '0')}-fixcrc`, batchInput([datagrams[i]], true));
  });
  const batch = datagrams.slice(0, MAX_BATCH);
  write('batch-all-vectors', batchInput(batch, false));
  write('batch-all-vectors-raw', rawInput(batch));
  process.stdout.write(`${files} seed files from ${vectors.length} vectors in ${dir}\n`);
}

main();
