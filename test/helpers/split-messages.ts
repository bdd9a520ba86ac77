import type { MessageEvent, ProtocolEvent } from '../../src/protocol/api';
import { PackedView } from '../../src/protocol/packed-view';

/**
 * The event as per-message events: a {@link MessagesEvent} becomes its
 * `count` {@link MessageEvent}s (views into its payload); any other event is
 * returned alone. For tests that check one message at a time; the channel
 * reads batches directly.
 */
export function splitMessages(event: ProtocolEvent): ProtocolEvent[] {
  if (event.type !== 'messages') return [event];
  const view = new PackedView(event.payload, event.count);
  const out: MessageEvent[] = [];
  for (let i = 0; i < event.count; i++) {
    out.push({ type: 'message', source: event.source, streamId: event.streamId, seq: event.firstSeq + i, data: view.at(i) });
  }
  return out;
}
