/**
 * The replicated map's typed errors. The others a caller may meet are the
 * library's own: ClosedError (the map closed), AbortError (a call's signal),
 * InvalidArgumentTypeError / InvalidArgumentValueError (bad key, value or option).
 */

import { BlipcastError } from '../index';

/** set() or delete() on a replica that may not write: opened `readOnly`, or a reader of a map with an owner (single-writer mode). */
export class ReadOnlyError extends BlipcastError {
  constructor(readonly map: string, why: 'readOnly' | 'owned', readonly ownerId?: string) {
    super('BLIPCAST_STATE_READ_ONLY', why === 'readOnly' ? `map '${map}' was replicated readOnly` : `map '${map}' has an owner (${ownerId ?? '?'}): only it writes`);
    this.name = 'ReadOnlyError';
  }
}
