/** Defaults of the metrics app, each with where its number comes from. */

/** The stream snapshots go on when none is named. */
export const DEFAULT_METRICS_STREAM = 'metrics';

/** Publish interval when none is given: Prometheus' own default scrape interval is 15 s; 5 s keeps a 15 s scrape at most one snapshot behind. */
export const DEFAULT_PUBLISH_INTERVAL_MS = 5000;

/** Shortest publish interval accepted: below it a registry's own collection (default metrics take ~1 ms) becomes the load. */
export const MIN_PUBLISH_INTERVAL_MS = 10;

/** Longest interval: the longest delay a Node timer can wait (2^31 − 1 ms). */
export const MAX_PUBLISH_INTERVAL_MS = 2 ** 31 - 1;

/** An instance whose last snapshot is older than this many of its own intervals is stale and no longer served (Prometheus marks a target down after one missed scrape; three tolerate a lost or late snapshot and a GC pause). */
export const STALE_INTERVALS = 3;

/** How often a collector drops stale instances between scrapes (memory only: scrapes filter by age themselves). */
export const EXPIRE_SWEEP_MS = 1000;

/** The `job` label of instances whose publisher named none, when the collector is given none either. */
export const DEFAULT_JOB = 'blipcast';

/**
 * A publisher's close waits this long at most while collectors make no progress
 * (the channel's `lingerMs`): a snapshot is worth little once the next is due,
 * and stop() must not hold an exiting application.
 */
export const PUBLISHER_LINGER_MS = 1000;

/** A closing publisher serves repairs this long after every collector has everything (the channel's `closeQuietMs`). */
export const PUBLISHER_CLOSE_QUIET_MS = 200;
