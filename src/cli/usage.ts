/** Command-line usage text and the usage error (exit code 2). */

export class UsageError extends Error {
  readonly code = 'BLIPCAST_ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `blipcast — reliable IP multicast

Usage:
  blipcast send GROUP:PORT [options]     each stdin line becomes one message
  blipcast listen GROUP:PORT [options]   prints each message followed by a newline
  blipcast members GROUP:PORT [options]  joins the group and prints who is in it
  blipcast demo [options]                one sender, three lossy receivers on loopback
  blipcast --help | --version

Common options:
  --interface IP|NAME   interface to use (default: the system's multicast interface)
  --ttl N               multicast TTL / hop limit, 0-255 (default 1)
  --stream NAME         named stream within the group (default: the unnamed stream)
  --transport KIND      auto | native | dgram (default auto; env BLIPCAST_TRANSPORT)

send and listen:
  --key-file PATH       encrypt the group (AES-256-GCM) with the key in PATH: 32 raw
                        bytes or 64 hex digits (make one: head -c 32 /dev/urandom);
                        env BLIPCAST_KEY=<64 hex digits> when no --key-file is given

send:
  --rate BYTES_PER_S    limit the send rate
  --linger SECONDS      after stdin ends (or Ctrl-C / SIGTERM), keep repairing while
                        receivers make progress; give up a receiver that makes
                        none for this long (default 5)
  --close-quiet SECONDS once every known receiver has everything, still serve
                        until nobody has asked for anything for this long: a
                        receiver stalled at the end is unknown until it speaks
                        (default 2.5)
  --stats               print the channel's counters (and the close outcome) as
                        one JSON line on stderr at exit

listen:
  --stats               print the channel's counters as one JSON line on stderr
                        at exit
  --from next|earliest  start at the next message (default) or the oldest one the
                        sender still holds
  --count N             exit 0 after N messages
  --timeout SECONDS     exit 1 if this much time passes first
  --json                one JSON object per message: {data, source, stream, seq}

members (joins as a full member: the others see it too; it leaves on exit):
  --wait SECONDS        listen this long, then print the table (default: one
                        announce interval + 0.5 s, enough for the group to converge)
  --watch               print every change (join, leave, suspect, alive, dead,
                        update) as it happens until Ctrl-C; the first line is self
  --json                the table as one JSON array; with --watch one JSON
                        object per line: {time, event, id, name, state,
                        incarnation, metadata, self, missed}

Group membership (members, and listen/send to join the group too):
  --name NAME           member name (default: the host name)
  --meta KEY=VALUE      member metadata, repeatable

Loss reports go to stderr as JSON lines. Exit codes: 0 ok, 1 failure or timeout,
2 bad arguments, 3 (send) some receiver it heard was given up before it had
everything: one JSON line per such receiver on stderr,
{"event":"receiver-given-up","receiver","address","port","reason","missing"}.

Examples (loopback only):
  blipcast listen 239.255.0.1:5000 --interface 127.0.0.1 --count 3
  printf 'a\\nb\\nc\\n' | blipcast send 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0
  blipcast members 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --name probe --watch
`;
