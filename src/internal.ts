/**
 * `blipcast/internal` — UNSTABLE: what tests, benchmarks, demos and tools
 * reach for below the public API. Anything here may change or go in any
 * release, without a major version. Applications use `blipcast` (and
 * `blipcast/core` for the sans-IO core).
 *
 * @packageDocumentation
 */

/** `open()` with the test hooks ({@link TestHooks}: `seed`, `wrapTransport`). */
export { open } from './api/channel';
export type { TestHooks } from './api/options';
export { loadNative } from './addon/addon';
export type { NativeAddon, NativeLoadResult } from './addon/addon';
export { batchDecoder, decodeBatchTs, decodeHeaderInto, decodeHeaderWords, DECODED_WORDS, unpackHeader } from './wire/decode';
export { CRC_OFFSET, emptyHeader, MAGIC, MAX_SEQUENCE, VERSION, writeHeader } from './wire/header';
export { Reject, SealedReject, SEALED_REJECT_BASE } from './wire/rejects';
export { crc32c } from './wire/crc32c';
