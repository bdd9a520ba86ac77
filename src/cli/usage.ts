/** Command-line usage texts (the whole one and one per command) and the usage error (exit code 2). */

export class UsageError extends Error {
  readonly code = 'BLIPCAST_ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The subcommands that have a usage text of their own. */
export type CommandName = 'send' | 'listen' | 'members' | 'demo' | 'collect logs' | 'collect metrics' | 'serve' | 'request' | 'work' | 'submit' | 'state' | 'top' | 'doctor' | 'dashboard';

/**
 * `--help` / `-h` after a subcommand: not an error. main() prints that
 * command's usage on stdout and exits 0, whatever else is (or is not) on the line.
 */
export class HelpRequest extends Error {
  constructor(readonly command: CommandName) {
    super(`help for ${command}`);
    this.name = 'HelpRequest';
  }
}

const COMMON = `Common options:
  --interface IP|NAME   interface to use (default: the system's multicast interface)
  --ttl N               multicast TTL / hop limit, 0-255 (default 1)
  --stream NAME         named stream within the group (default: the unnamed stream)
  --transport KIND      auto | native | dgram (default auto; env BLIPCAST_TRANSPORT)
  -h, --help            this help
`;

/** COMMON for the collectors: their stream has a default of its own (the app's), given in their options. */
const COMMON_APP = COMMON.replace(/  --stream NAME[^\n]*\n/, '');

const KEY = `  --key-file PATH       encrypt the group (AES-256-GCM) with the key in PATH: 32 raw
                        bytes or 64 hex digits (make one: head -c 32 /dev/urandom);
                        env BLIPCAST_KEY=<64 hex digits> when no --key-file is given
`;

const SEND = `  --rate BYTES_PER_S    limit the send rate
  --linger SECONDS      after stdin ends (or Ctrl-C / SIGTERM), keep repairing while
                        receivers make progress; give up a receiver that makes
                        none for this long (default 5)
  --close-quiet SECONDS once every known receiver has everything, still serve
                        until nobody has asked for anything for this long: a
                        receiver stalled at the end is unknown until it speaks
                        (default 2.5)
  --stats               print the channel's counters (and the close outcome) as
                        one JSON line on stderr at exit
`;

const LISTEN = `  --stats               print the channel's counters as one JSON line on stderr
                        at exit
  --from next|earliest  start at the next message (default) or the oldest one the
                        sender still holds
  --count N             exit 0 after N messages
  --timeout SECONDS     exit 1 if this much time passes first
  --json                one JSON object per message: {data, source, stream, seq}
`;

const MEMBERS = `  --wait SECONDS        listen this long, then print the table (default: the
                        group's convergence time + 0.5 s, 3.5 s below 500 members)
  --watch               print every change (join, leave, suspect, alive, dead,
                        update) as it happens until Ctrl-C; the first line is self
  --json                the table as one JSON array; with --watch one JSON
                        object per line: {time, event, id, name, state,
                        incarnation, metadata, self, observer, missed}
  --stats               print the channel's counters (membership included) as
                        one JSON line on stderr at exit
`;

const MEMBERSHIP = `  --name NAME           member name (default: the host name)
  --meta KEY=VALUE      member metadata, repeatable
`;

const DEMO = `  --messages N          messages to send (default 100000)
  --receivers N         receiver processes (default 3)
  --loss RATE           share of datagrams each receiver drops, 0 to <1 (default 0.05)
  --size BYTES          message size (default 64)
  --seed N              seed of the injected loss (default 1)
  -h, --help            this help
`;

/** Options of the four bus commands (serve, request, work, submit). */
const BUS = `  --name NAME           member name (default HOST:PID)
  --stream NAME         the bus's stream (default bus); every member must use the same
  --stats               print the bus's counters as one JSON line on stderr at exit
`;

const EXEC = `The command runs as /bin/sh -c CMD in a process group of its own, the
payload on its stdin; its whole stdout is the answer. When it exits non-zero
the answer is an error whose message is the end (1 KiB) of its stderr,
trimmed, or "exit code N" when it wrote nothing there; the failure is also
one line on this command's stderr. BLIPCAST_KEY is not passed on.
`;

const EXIT_CODES = `Exit codes: 0 ok, 1 failure or timeout, 2 bad arguments, 3 (send) some
receiver it heard was given up before it had everything: one JSON line per
such receiver on stderr,
{"event":"receiver-given-up","receiver","address","port","reason","missing"}.
`;

/** Each subcommand's own usage, printed by `blipcast COMMAND --help` and `blipcast help COMMAND`. */
export const COMMAND_USAGE: Record<CommandName, string> = {
  send: `Usage: blipcast send GROUP:PORT [options]

Each stdin line (without its newline) is one message. When stdin ends (or on
Ctrl-C / SIGTERM) it sends what is queued, then keeps repairing until every
receiver it heard has everything.

Options:
${SEND}${KEY}
Group membership (join the group as a member too):
${MEMBERSHIP}
${COMMON}
${EXIT_CODES}
Example (loopback only):
  printf 'a\\nb\\nc\\n' | blipcast send 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0
`,
  listen: `Usage: blipcast listen GROUP:PORT [options]

Prints each message followed by a newline, exactly as sent, in order. Loss
reports go to stderr as JSON lines.

Options:
${LISTEN}${KEY}
Group membership (join the group as a member too):
${MEMBERSHIP}
${COMMON}
Exit codes: 0 after --count messages (or on Ctrl-C / SIGTERM), 1 failure or
--timeout, 2 bad arguments.

Example (loopback only):
  blipcast listen 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --count 3
`,
  members: `Usage: blipcast members GROUP:PORT [options]

Joins the group as a full member (the others see it too; it leaves on exit)
and prints who is in it.

Options:
${MEMBERS}${MEMBERSHIP}
${COMMON}
Exit codes: 0 ok, 1 failure, 2 bad arguments.

Example (loopback only):
  blipcast members 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --name probe --watch
`,
  demo: `Usage: blipcast demo [options]

One sender and N receivers as separate processes on loopback (127.0.0.1,
TTL 0), each receiver dropping a seeded share of what arrives; live counters,
then a verdict. Exit 0 when every receiver got every message in order.

Options:
${DEMO}`,
  'collect logs': `Usage: blipcast collect logs GROUP:PORT --dir DIR [options]

Writes every log record sent to the group (blipcast/pino, blipcast/winston)
as newline-delimited JSON, one file per source (NAME.HOST.PID.SESSION.ndjson),
each record with a "source" and a "seq" field; losses and disagreements with
other collectors become lines too. Joins the group as a log collector: senders
wait for it when they close. Runs until Ctrl-C / SIGTERM (files and checkpoint
flushed, group left, exit 0). docs/logging.md has the formats.

Options:
  --dir DIR             where the files go (created if missing); one collector
                        per directory
  --rotate SPEC         rotate each file by size (10M; units B K M G), by
                        interval (1h; units s m h d) or both (10M,1h)
  --from next|earliest  start at the next record (default) or at the oldest the
                        senders still hold: use earliest when restarting a
                        collector, so that it fills in from its checkpoint
  --name NAME           member name (default log-collector)
  --stream NAME         the senders' stream (default logs)
  --stats               print the collector's counters as one JSON line on
                        stderr at exit (and on SIGUSR1, without exiting):
                        {"event":"stats","records","bytes","sources","losses",
                        "divergences","files","held",…}
${KEY}
${COMMON_APP}
Exit codes: 0 after Ctrl-C / SIGTERM, 1 failure, 2 bad arguments.

Example (loopback only):
  blipcast collect logs 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --dir ./logs --rotate 10M
`,
  serve: `Usage: blipcast serve GROUP:PORT --subject S --exec CMD [options]

Serves requests on the bus (blipcast/bus): each request to subject S runs
CMD, and what it prints is the reply. Runs until Ctrl-C / SIGTERM, then
kills the commands still running and leaves the group (requesters waiting on
it fail over to another server at once) and exits 0.

${EXEC}Its environment also holds BLIPCAST_SUBJECT, BLIPCAST_REQUEST_ID (the same on a
failover to another server), BLIPCAST_REQUESTER (the requester's name) and
BLIPCAST_KIND (request or gather).

Options:
  --subject S           the subject to serve; repeatable (one CMD for all: it
                        reads BLIPCAST_SUBJECT)
  --exec CMD            the shell command that answers one request
  --concurrency N       commands running at once per subject (default 16);
                        more requests wait, and beyond 1024 waiting this server
                        says "overloaded" and the requester asks another
${BUS}${KEY}
${COMMON_APP}
Exit codes: 0 after Ctrl-C / SIGTERM, 1 failure, 2 bad arguments.

Example (loopback only):
  blipcast serve 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --subject upper --exec 'tr a-z A-Z'
`,
  request: `Usage: blipcast request GROUP:PORT --subject S [options] [PAYLOAD]

Sends one request on the bus (blipcast/bus) with PAYLOAD, or all of stdin when
no PAYLOAD is given (a PAYLOAD that starts with a dash goes after --). Waits
for the servers of S to be discovered (2 s at most), asks one; if it does not
answer in half the timeout, the next one too. Prints the reply on stdout
exactly as received (no newline added).

With --gather every server of S is asked: each reply is printed as it comes
as one line NAME<TAB>REPLY (the server's name; the reply without one trailing
newline, any other newline as it is), then each server that did not answer
as one line on stderr: missing NAME (ID): REASON, the reason timeout, dead,
left or error: MESSAGE.

Options:
  --subject S           whom to ask
  --gather              ask every server of S, not one
  --timeout SECONDS     the whole request, discovery included (default 5); with
                        --gather, when to stop waiting for replies: a gather
                        asks once the 2 s discovery wait is over, so give it more
${BUS}${KEY}
${COMMON_APP}
Exit codes: 0 a reply (with --gather: every server answered), 1 the server's
command failed: its message on stderr (with --gather: some server did not
answer), 2 bad arguments, 3 no live member serves S, 4 no answer within
--timeout (with --gather: it passed before anybody was asked), 130 / 143
Ctrl-C / SIGTERM.

Examples (loopback only):
  blipcast request 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --subject upper hello
  blipcast request 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --subject upper --gather < file
`,
  work: `Usage: blipcast work GROUP:PORT --queue Q --exec CMD [options]

Takes tasks of queue Q from the bus (blipcast/bus): each task runs CMD, and
what it prints (its trailing newline included: submit strips one) is the
task's result; a failure counts against the task's --max-failures. A task
taken away from this worker (its lease lapsed: this worker seemed gone, or the
submitter stopped) has its command killed (SIGTERM to its process group).
Runs until Ctrl-C / SIGTERM, then kills the commands still running, leaves
the group (their tasks go to the other workers at once) and exits 0.

${EXEC}Its environment also holds BLIPCAST_QUEUE, BLIPCAST_TASK_ID (the same when the
task is run again), BLIPCAST_ATTEMPT (1, 2, ...) and BLIPCAST_SUBMITTER.

Options:
  --queue Q             the queue to work on; repeatable (one CMD for all: it
                        reads BLIPCAST_QUEUE)
  --exec CMD            the shell command that runs one task
  --capacity N          tasks running at once per queue (default 1)
${BUS}${KEY}
${COMMON_APP}
Exit codes: 0 after Ctrl-C / SIGTERM, 1 failure, 2 bad arguments.

Example (loopback only):
  blipcast work 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --queue squares --capacity 4 --exec 'read x; echo $((x*x))'
`,
  submit: `Usage: blipcast submit GROUP:PORT --queue Q [options]

Each stdin line (without its newline) is one task of queue Q on the bus
(blipcast/bus), numbered from 0; a last line without a newline is a task too.
Each task goes to one worker (or --replicas of them), and to another when its
worker fails or goes. As each result arrives it is printed as one line
INDEX<TAB>RESULT, the result without one trailing newline (any other newline
in it is printed as it is: a multi-line result spans lines). A task that
failed prints nothing on stdout and one line on stderr: task INDEX failed:
MESSAGE. At most 10000 tasks wait for their result at once: stdin is read on
as results come in. Should every worker go, the tasks submitted wait for one
to come back; the next line read then ends the run (exit 3).

Options:
  --queue Q             where the tasks go
  --lease SECONDS       how long a worker may hold a task without renewing it
                        before it goes to another (default 10)
  --replicas K          run each task on K different workers; the results must
                        be byte-equal, else the task fails (default 1)
  --max-failures N      failures of the command after which the task fails
                        (default 3; lost workers do not count)
${BUS}${KEY}
${COMMON_APP}
Exit codes: 0 every task has a result, 1 some task failed (or another
failure), 2 bad arguments, 3 no live member works Q, 130 / 143 Ctrl-C /
SIGTERM (the tasks without a result are counted on stderr).

Example (loopback only):
  seq 1 100 | blipcast submit 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --queue squares
`,
  state: `Usage: blipcast state GROUP:PORT --map NAME [--load FILE] [--dump] [--watch] [options]

One replica of the replicated map NAME (blipcast/state, stream state/NAME).
It first gets what the group holds (a snapshot from the others, then their
changes), which takes about 2 s when nobody else holds the map; progress goes
to stderr. Values are strings (other JSON values written by programs print as
JSON).

  --load FILE           once synced, set each line key=value of FILE (split at
                        the first =; blank lines and lines starting with # are
                        skipped; a line without = is a usage error naming it,
                        and nothing is sent); then exit once the writes have
                        reached the replicas heard (or serve: --serve)
  --dump                once settled (this replica synced, and every replica it
                        hears synced with the same content: the group agrees),
                        print every entry as key=value, sorted by key, and exit
                        (after --load: once the others hold the load too)
  --watch               print each change as one JSON line
                        {"key","value","previous","origin"} (value absent for a
                        delete, previous absent for a new key; origin is the
                        writer's id) until Ctrl-C / SIGTERM; after --load or
                        --dump, the changes from then on; alone, from the start
  --serve SECONDS       stay in the group this long after the load or dump,
                        serving snapshots to replicas that join (default 0;
                        with --watch: until Ctrl-C / SIGTERM). Ctrl-C / SIGTERM
                        ends it early, cleanly (exit 0)
  --timeout SECONDS     how long --load waits to be synced and --dump to be
                        settled, from the start (default 30)

Options:
  --map NAME            the map (every replica of it uses the same NAME)
  --owner               single-writer mode: this replica is the map's only
                        writer; the others that hear it become read-only
  --read-only           never write (no --load)
  --snapshot-rate BYTES_PER_SEC
                        most bytes per second this replica's snapshots send
                        (default 1048576)
  --stats               print the map's counters as one JSON line on stderr at exit
${KEY}
${COMMON_APP}
Exit codes: 0 ok (and after Ctrl-C / SIGTERM while serving or watching), 1 not
synced (--load) or not settled (--dump) within --timeout: nothing loaded or
dumped; or another failure (e.g. --load on a map whose owner is another
replica), 2 bad arguments, 130 / 143 Ctrl-C / SIGTERM before the load or dump
was done.

Examples (loopback only):
  blipcast state 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --map config --load config.txt --serve 60
  blipcast state 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --map config --dump
  blipcast state 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --map config --watch
`,
  doctor: `Usage: blipcast doctor [--group GROUP:PORT] [options]

Checks this host's multicast setup for the group and prints one line per
check — ✓ pass, ! warning, ✗ failure, - skipped — with the command that fixes
it below a warning or failure: the interface (up, MULTICAST flag), the route
to the group, rp_filter, the receive buffer against --rate, what the TTL
reaches, nftables/iptables rules that drop the port, the join in
/proc/net/igmp, IP_MULTICAST_ALL. docs/doctor.md explains each check.

Options:
  --group GROUP:PORT    the group to check (default 239.255.0.1:5000)
  --interface IP|NAME   interface to check (default: the one the route to the
                        group uses)
  --ttl N               the TTL you use, 0-255 (default 1)
  --rate BYTES_PER_S    the sender's rate: is the receive buffer big enough?
  --probe               also exchange probes with the doctors running --probe on
                        the group at the same time (other hosts): per peer,
                        probes received, loss and round trip p50/p99
  --probe-seconds S     how long to probe (default 3; at least 1)
  --json                one JSON object: {ok, checks: [{name, status, detail, fix?}]}
  --stats               print the counters of the channel the join (and the probe)
                        used as one JSON line on stderr at exit
  --transport KIND      auto | native | dgram (default auto; env BLIPCAST_TRANSPORT)
  -h, --help            this help

Exit codes: 0 every check passed (warnings allowed), 1 some check failed,
2 bad arguments.

Example (loopback only):
  blipcast doctor --interface 127.0.0.1 --ttl 0 --group 239.255.0.1:5000
`,
  dashboard: `Usage: blipcast dashboard GROUP:PORT [--listen HOST:PORT] [options]

Watches the group as a passive observer and serves it as a live web page:
members, sources with their rates, receivers worst first (lag, NAK rate,
losses, repair latency, kernel drops), and charts of the last five minutes.
Prints "dashboard: http://HOST:PORT/" on stderr once serving; runs until
Ctrl-C / SIGTERM, then closes the page's connections, leaves the group and
exits 0. Also serves GET /snapshot.json (the latest snapshot) and a WebSocket
at /ws (every snapshot as JSON). docs/observe.md has the details.

Options:
  --listen HOST:PORT    where to serve (default 127.0.0.1:8080; port 0 picks a
                        free one). Only this address is bound: the page has no
                        login, so serve it on loopback or behind a proxy
  --name NAME           member name (default blipcast-dashboard)
  --stats               print the channel's and the page server's counters as
                        one JSON line on stderr at exit
${KEY}
${COMMON_APP}
Exit codes: 0 on Ctrl-C / SIGTERM, 1 failure (e.g. the port is in use),
2 bad arguments.

Example (loopback only):
  blipcast dashboard 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --listen 127.0.0.1:8080
`,
  'collect metrics': `Usage: blipcast collect metrics GROUP:PORT --listen HOST:PORT [options]

Joins the group as a member and serves every publisher's metrics
(blipcast/metrics) for Prometheus, in the Prometheus text format:
  GET /metrics            every instance's series, labelled instance and job
  GET /metrics/aggregate  combined over the instances of each job (counters
                          and histograms summed, gauges by --gauge-rule)
An instance is dropped when it leaves the group, is declared dead, or sends
nothing for three of its publish intervals. Scrape it with honor_labels: true.

Options:
  --listen HOST:PORT    where to serve (e.g. 127.0.0.1:9464; port 0 picks one,
                        printed on stderr)
  --job NAME            job label of publishers that name none (default blipcast)
  --gauge-rule RULE     sum | max | min | average | first: how /metrics/aggregate
                        combines gauges left at prom-client's default (sum)
  --stream NAME         the publishers' stream (default metrics)
  --stats               print the collector's counters as one JSON line on
                        stderr at exit, and on SIGUSR1
${KEY}
${COMMON.split('\n').filter((l) => !l.includes('--stream')).join('\n')}
Exit codes: 0 on Ctrl-C / SIGTERM, 1 failure (e.g. the port is in use),
2 bad arguments.

Example (loopback only):
  blipcast collect metrics 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --listen 127.0.0.1:9464
`,
  top: `Usage: blipcast top GROUP:PORT [options]

A live view of the group: receivers worst first (how far behind, NAKs per
second, repairs, messages lost, gaps open, kernel drops, repair latency, last
heard), sources with their rates, members with their metadata. Rows marked !
need a look. It joins passively, as an observer member: it sends no status
and no NAK, so no sender paces to it or waits for it. On a terminal it redraws
in place; otherwise it prints one block per interval. docs/observe.md.

Options:
  --interval SECONDS    time between refreshes (default 1)
  --once                print one snapshot after --wait, then exit
  --wait SECONDS        with --once: listen this long first (default 3)
  --json                snapshots as JSON, one per line (the GroupSnapshot of
                        docs/observe.md)
  --name NAME           its member name (default blipcast-top)
  --stats               print the channel's counters as one JSON line on stderr
                        at exit
${KEY}
${COMMON.split('\n').filter((l) => !l.includes('--stream')).join('\n')}
Exit codes: 0 ok (and on Ctrl-C / SIGTERM), 1 failure, 2 bad arguments.

Examples (loopback only):
  blipcast top 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0
  blipcast top 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --once --json
`,
};

export const USAGE = `blipcast — reliable IP multicast

Usage:
  blipcast send GROUP:PORT [options]     each stdin line becomes one message
  blipcast listen GROUP:PORT [options]   prints each message followed by a newline
  blipcast members GROUP:PORT [options]  joins the group and prints who is in it
  blipcast demo [options]                one sender, three lossy receivers on loopback
  blipcast collect logs GROUP:PORT --dir DIR           log records to files
  blipcast collect metrics GROUP:PORT --listen H:P     metrics for Prometheus
  blipcast serve GROUP:PORT --subject S --exec CMD     answers requests with CMD
  blipcast request GROUP:PORT --subject S [PAYLOAD]    asks one server (--gather: all)
  blipcast work GROUP:PORT --queue Q --exec CMD        runs tasks with CMD
  blipcast submit GROUP:PORT --queue Q                 each stdin line one task
  blipcast state GROUP:PORT --map NAME --load F|--dump|--watch   a replicated map
  blipcast top GROUP:PORT [--once --json]              who is behind, NAKing, losing
  blipcast doctor [--group GROUP:PORT] [--probe]      checks this host's multicast setup
  blipcast dashboard GROUP:PORT --listen H:P           the group live in a web page
  blipcast COMMAND --help                one command's options
  blipcast --help | --version

${COMMON}
send and listen:
${KEY}
send:
${SEND}
listen:
${LISTEN}
members (joins as a full member: the others see it too; it leaves on exit):
${MEMBERS}
Group membership (members, and listen/send to join the group too):
${MEMBERSHIP}
demo:
${DEMO.split('\n').filter((l) => !l.includes('--help')).join('\n')}
Loss reports go to stderr as JSON lines. ${EXIT_CODES}
Examples (loopback only):
  blipcast listen 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --count 3
  printf 'a\\nb\\nc\\n' | blipcast send 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0
  blipcast members 239.255.0.1:5000 --interface 127.0.0.1 --ttl 0 --name probe --watch
`;
