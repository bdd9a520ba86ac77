#!/usr/bin/env node
// Writes the seed corpus of the native AEAD open fuzzer (native/fuzz/fuzz_aead.cc)
// from the shared header vectors (test/vectors/header.json):
//   - sealed mode: each vector of 32 bytes or more as a one-datagram input, once
//     per mutation (0 none … 6 key id) and key choice, and all of them as one batch;
//   - contiguous mode: the vectors sealed here with node:crypto under fuzz key 1
//     (so the raw path starts from valid tags, and the sealing of the C++ and
//     node:crypto sides is checked against each other by the target's oracle),
//     one by one, as one batch, and with one bit flipped in each.
// Usage: node native/fuzz/make-aead-corpus.js DIR
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** Fuzz key 1 of fuzz_aead.cc: bytes 0x00..0x1f. */
const KEY1 = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const MAX_BATCH = 64;

/** Seals a clear datagram as docs/protocol.md "Encryption" says (the node:crypto twin of Keyring::seal). */
function seal(clear, keyId, key, counter) {
  const plain = clear.length - 32;
  const out = Buffer.alloc(clear.length + 16);
  clear.copy(out, 0, 0, 32);
  out[0] = 0xb1;
  out[1] = 0xca;
  out[2] = 1;
  out[5] = keyId;
  out.writeUInt16BE(plain + 16, 24);
  out.writeUInt16BE(Math.floor(counter / 2 ** 32), 26);
  out.writeUInt32BE(counter >>> 0, 28);
  const nonce = Buffer.concat([out.subarray(8, 16), out.subarray(28, 32)]);
  nonce[0] ^= out[26];
  nonce[1] ^= out[27];
  const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(out.subarray(0, 32));
  const body = Buffer.concat([cipher.update(clear.subarray(32)), cipher.final()]);
  body.copy(out, 32);
  cipher.getAuthTag().copy(out, 32 + plain);
  return out;
}

/** Sealed mode (byte 0 bits 6-7 = 2): per datagram u16 clear length, u8 key choice, u8 mutation, u16 argument; then a u48 first counter. */
function sealedInput(clears, keyChoice, mutation, arg, firstCounter) {
  const head = Buffer.alloc(1 + 6 * clears.length + 6);
  head[0] = (clears.length - 1) | 0x80;
  clears.forEach((c, i) => {
    head.writeUInt16BE(c.length, 1 + 6 * i);
    head[3 + 6 * i] = keyChoice;
    head[4 + 6 * i] = mutation;
    head.writeUInt16BE(arg, 5 + 6 * i);
  });
  const at = 1 + 6 * clears.length;
  head.writeUInt16BE(Math.floor(firstCounter / 2 ** 32), at);
  head.writeUInt32BE(firstCounter >>> 0, at + 2);
  return Buffer.concat([head, ...clears]);
}

/** Contiguous mode (byte 0 bits 6-7 = 0): u16 length per datagram, then the datagrams end to end. */
function contiguousInput(datagrams) {
  const head = Buffer.alloc(1 + 2 * datagrams.length);
  head[0] = datagrams.length - 1;
  datagrams.forEach((d, i) => head.writeUInt16BE(d.length, 1 + 2 * i));
  return Buffer.concat([head, ...datagrams]);
}

function main() {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: make-aead-corpus.js DIR\n');
    process.exit(2);
  }
  const { vectors } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'vectors', 'header.json'), 'utf8'));
  fs.mkdirSync(dir, { recursive: true });
  let files = 0;
  const write = (name, bytes) => {
    fs.writeFileSync(path.join(dir, name), bytes);
    files++;
  };
  const clears = vectors.map((v) => Buffer.from(v.hex, 'hex')).filter((d) => d.length >= 32).slice(0, MAX_BATCH);
  clears.forEach((c, i) => {
    const n = String(i).padStart(2, '0');
    for (let mutation = 0; mutation <= 6; mutation++) write(`sealed-${n}-m${mutation}`, sealedInput([c], i % 4, mutation, 0x1234 + 97 * i, 1000 + i));
    for (let keyChoice = 1; keyChoice < 4; keyChoice++) write(`sealed-${n}-k${keyChoice}`, sealedInput([c], keyChoice, 0, 0, i));
  });
  write('sealed-batch', sealedInput(clears, 0, 0, 0, 2 ** 32 - 3));
  write('sealed-batch-counter-max', sealedInput(clears, 1, 0, 0, 2 ** 48 - 4));
  const sealed = clears.map((c, i) => seal(c, 1, KEY1, 7 * i));
  sealed.forEach((s, i) => {
    const n = String(i).padStart(2, '0');
    write(`raw-sealed-${n}`, contiguousInput([s]));
    const flipped = Buffer.from(s);
    flipped[(37 * i) % flipped.length] ^= 0x10;
    write(`raw-sealed-${n}-flipped`, contiguousInput([flipped]));
  });
  write('raw-sealed-batch', contiguousInput(sealed));
  process.stdout.write(`${files} seed files from ${vectors.length} vectors in ${dir}\n`);
}

main();
