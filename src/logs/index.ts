/**
 * `blipcast/logs`: the log collector ({@link createLogCollector}) and the
 * contract between log senders and collectors (format.ts). docs/logging.md.
 *
 * @packageDocumentation
 */

export * from './format';
export { createLogCollector, LogCollector } from './collector';
export { DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_HOLD_BYTES, DEFAULT_HOLD_MS, DEFAULT_LEDGER_INTERVAL_MS, DEFAULT_MAX_BACKLOG_BYTES } from './collector-options';
export type { LogCollectorCounters, LogCollectorEvents, LogCollectorOptions } from './collector';
export { blockHead, chainStep, DEFAULT_LEDGER_BLOCK_SEQS, Ledger } from './ledger';
export type { BlockHead, Divergence, LedgerOptions } from './ledger';
export { CHECKPOINT_FILE } from './checkpoint';
export { fileStem, parseFileName, recordLine, rotatedFileName, sanitize } from './lines';
export { parseRotate } from './rotation';
export type { Rotation } from './rotation';
// The sender core under blipcast/pino and blipcast/winston, for another logger.
export { createLogSender, LogSender } from './sender';
export type { LogSenderOptions, LogSenderState, LogSenderStats } from './sender';
