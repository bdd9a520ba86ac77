/** Small pieces shared by the CLI subcommands. */

import { choiceOption, Parsed } from './args';

const KINDS = ['auto', 'native', 'dgram'] as const;

/** `--transport KIND` as an open() option (absent → the library default, which honours BLIPCAST_TRANSPORT). */
export function transportOption(values: Parsed['values']): { transport?: (typeof KINDS)[number] } {
  const kind = choiceOption(values, 'transport', KINDS);
  return kind === undefined ? {} : { transport: kind };
}
