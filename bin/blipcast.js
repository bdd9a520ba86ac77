#!/usr/bin/env node
'use strict';
// Exits as soon as the command is done, even if a socket or timer is still open
// (a listener that timed out must not hang). stdout and stderr are synchronous
// for files and pipes on Linux, so nothing written is lost.
require('../dist/src/cli/main.js').main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`blipcast: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  },
);
