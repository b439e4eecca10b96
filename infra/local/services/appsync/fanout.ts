/**
 * The realtime endpoint's delivery of published events, bounded per publish:
 * - Which subscriptions an event can reach is found without looking at the others. A subscription
 *   may declare a `key`, an equality its filter implies (e.g. onAnswer's `answerId`); keyed
 *   subscriptions are indexed by that value, so a publish touches only the subscriptions of its
 *   key (plus any unkeyed ones) instead of every subscription on the server.
 * - The payload is projected and serialized once per subscription `shape` and publish.
 * - `data` messages go out `deliveryBatch` per event-loop turn, in publish order.
 * - A payload over `maxPayloadBytes` is not delivered (AppSync's 240 kB subscription payload quota;
 *   AppSync drops it without an error to the subscriber: aws/aws-appsync-community#33, #175).
 */
import { WebSocket } from 'ws';
import type { Logger } from '../../edge/log.ts';

/** What the subscription's resolver decided: which mutations feed it, which events pass, and their shape. */
export interface RealtimeSubscription<E extends object = object> {
  /** The subscription field, e.g. 'onAnswer' (for logs). */
  fieldName: string;
  /** The mutations of the field's `@aws_subscribe(mutations: [...])`. */
  mutations: readonly string[];
  /** Server-side filter (enhanced filtering / the resolver's response): true delivers the event. */
  filter(event: E): boolean;
  /** The `payload.data` of the `data` message, e.g. `{ onAnswer: { answerId, status } }` (the selection set). */
  project(event: E): Record<string, unknown>;
  /** An equality `filter` implies: no event whose `field` differs from `value` passes. Indexes the subscription. */
  key?: { field: string; value: string | number };
  /** Subscriptions of equal shape project every event identically: the payload is built once per shape and publish. */
  shape?: string;
}

export interface Indexed<E extends object> {
  subscription: RealtimeSubscription<E>;
}

interface MutationSlot<T> {
  /** field -> value -> subscriptions keyed on it */
  keyed: Map<string, Map<unknown, Set<T>>>;
  unkeyed: Set<T>;
}

export class SubscriptionIndex<E extends object, T extends Indexed<E>> {
  private readonly byMutation = new Map<string, MutationSlot<T>>();

  add(entry: T): void {
    for (const mutation of new Set(entry.subscription.mutations)) {
      let slot = this.byMutation.get(mutation);
      if (!slot) this.byMutation.set(mutation, (slot = { keyed: new Map(), unkeyed: new Set() }));
      const key = entry.subscription.key;
      if (!key) {
        slot.unkeyed.add(entry);
        continue;
      }
      let byValue = slot.keyed.get(key.field);
      if (!byValue) slot.keyed.set(key.field, (byValue = new Map()));
      let set = byValue.get(key.value);
      if (!set) byValue.set(key.value, (set = new Set()));
      set.add(entry);
    }
  }

  remove(entry: T): void {
    for (const mutation of new Set(entry.subscription.mutations)) {
      const slot = this.byMutation.get(mutation);
      if (!slot) continue;
      const key = entry.subscription.key;
      if (!key) {
        slot.unkeyed.delete(entry);
      } else {
        const byValue = slot.keyed.get(key.field);
        const set = byValue?.get(key.value);
        set?.delete(entry);
        if (set?.size === 0) byValue!.delete(key.value);
        if (byValue?.size === 0) slot.keyed.delete(key.field);
      }
      if (slot.unkeyed.size === 0 && slot.keyed.size === 0) this.byMutation.delete(mutation);
    }
  }

  /** The subscriptions an event of `mutation` may reach: those keyed on a value the event carries, and the unkeyed. */
  candidates(mutation: string, event: E): T[] {
    const slot = this.byMutation.get(mutation);
    if (!slot) return [];
    const out = [...slot.unkeyed];
    for (const [field, byValue] of slot.keyed) {
      const set = byValue.get((event as Record<string, unknown>)[field]);
      if (set) out.push(...set);
    }
    return out;
  }
}

/** An acknowledged subscription of a connection (realtime.ts registers it before start_ack). */
export interface ActiveSubscription<E extends object> {
  id: string;
  subscription: RealtimeSubscription<E>;
  conn: { connectionId: string; socket: WebSocket; closed: boolean; active: Map<string, ActiveSubscription<E>> };
}

/** One publish's deliveries, sent in batches; payloads built once per subscription shape. */
interface Delivery<E extends object> {
  mutation: string;
  event: E;
  entries: ActiveSubscription<E>[];
  next: number;
  payloads: Map<string, string | null>;
  /** Payloads over the size limit (not delivered). */
  dropped: number;
}

export interface FanOutOptions {
  logger: Logger;
  maxPayloadBytes: number;
  deliveryBatch: number;
}

export class FanOut<E extends object> {
  private readonly index = new SubscriptionIndex<E, ActiveSubscription<E>>();
  private readonly outbox: Delivery<E>[] = [];
  private drainScheduled = false;

  constructor(private readonly options: FanOutOptions) {}

  add(entry: ActiveSubscription<E>): void {
    this.index.add(entry);
  }

  remove(entry: ActiveSubscription<E>): void {
    this.index.remove(entry);
  }

  /**
   * Picks the subscriptions of `mutation` whose filter accepts `event` now (so one that saw
   * start_ack before the publish gets it), queues their `data` messages and returns their number.
   */
  publish(mutation: string, event: E): number {
    const { logger } = this.options;
    const entries: ActiveSubscription<E>[] = [];
    const candidates = this.index.candidates(mutation, event);
    for (const entry of candidates) {
      try {
        if (entry.subscription.filter(event)) entries.push(entry);
      } catch (err) {
        logger.log('error', 'realtime.deliver.failed', { connectionId: entry.conn.connectionId, subscriptionId: entry.id, error: (err as Error).name });
      }
    }
    logger.log('debug', 'realtime.publish', { mutation, candidates: candidates.length, matched: entries.length });
    if (entries.length > 0) {
      this.outbox.push({ mutation, event, entries, next: 0, payloads: new Map(), dropped: 0 });
      this.drain();
    }
    return entries.length;
  }

  private drain(): void {
    let budget = this.options.deliveryBatch;
    while (this.outbox.length > 0 && budget > 0) {
      const job = this.outbox[0]!;
      for (; job.next < job.entries.length && budget > 0; budget--) this.deliver(job, job.entries[job.next++]!);
      if (job.next < job.entries.length) break;
      this.outbox.shift();
      if (job.dropped > 0) {
        this.options.logger.log('warn', 'realtime.deliver.too_large', { mutation: job.mutation, payloads: job.dropped, limitBytes: this.options.maxPayloadBytes });
      }
    }
    if (this.outbox.length > 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => {
        this.drainScheduled = false;
        this.drain();
      });
    }
  }

  /** One `data` message, unless the subscription ended meanwhile or its payload is over the limit. */
  private deliver(job: Delivery<E>, entry: ActiveSubscription<E>): void {
    const { conn, id, subscription } = entry;
    if (conn.closed || conn.active.get(id) !== entry) return;
    let data = subscription.shape === undefined ? undefined : job.payloads.get(subscription.shape);
    if (data === undefined) {
      try {
        data = JSON.stringify(subscription.project(job.event));
        if (Buffer.byteLength(data) > this.options.maxPayloadBytes) {
          data = null;
          job.dropped++;
        }
      } catch (err) {
        this.options.logger.log('error', 'realtime.deliver.failed', { connectionId: conn.connectionId, subscriptionId: id, error: (err as Error).name });
        data = null;
      }
      if (subscription.shape !== undefined) job.payloads.set(subscription.shape, data);
    }
    if (data === null) return;
    if (conn.socket.readyState === WebSocket.OPEN) conn.socket.send(`{"id":${JSON.stringify(id)},"type":"data","payload":{"data":${data}}}`);
  }
}
