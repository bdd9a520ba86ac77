/**
 * The two queues an endpoint fills for its driver: control datagrams to
 * transmit (before any data) and events for the application.
 */

import type { ProtocolEvent } from './api';

export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(v: T): void {
    this.items.push(v);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
}

export class Output {
  readonly control = new Fifo<Uint8Array>();
  readonly events = new Fifo<ProtocolEvent>();
}
