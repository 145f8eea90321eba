import { randomUUID } from 'node:crypto';
import { Serializer } from '../serialization/serializer.js';

/**
 * What an event looks like on the wire: id, publisher's clock (ms), publisher's instance id and
 * payload, encoded by the module serializer. Channel and tenant come from the channel the
 * message arrives on.
 */
export interface EventEnvelope<T = unknown> {
  i: string;
  t: number;
  s: string;
  p: T;
}

/**
 * A new envelope (fresh UUID) for `payload`.
 *
 * @example
 * const message = encodeEnvelope(serializer, createEnvelope({ crewId: 'c1' }, Date.now(), instanceId));
 */
export function createEnvelope<T>(payload: T, t: number, source: string): EventEnvelope<T> {
  return { i: randomUUID(), t, s: source, p: payload };
}

/** The message EventBus.publish sends. */
export function encodeEnvelope(serializer: Serializer, envelope: EventEnvelope): string {
  return serializer.encode(envelope);
}

/** The envelope of a received message; throws DeserializationError for a malformed one. */
export function decodeEnvelope<T = unknown>(serializer: Serializer, text: string | Buffer): EventEnvelope<T> {
  return serializer.decode<EventEnvelope<T>>(text);
}

/** Stand-ins for the id and time, found again in the encoded marker envelope. */
const ID_MARK = '00000000-0000-4000-8000-0000000001d0';
const TIME_MARK = -1.5;
/** The marker envelopes are tiny; a serializer that never compresses keeps the cut exact for any source. */
const UNCOMPRESSED = new Serializer({ compression: 'none' });

/**
 * Encoded envelopes for code that cannot call the serializer: a Lua script that publishes an
 * event in the same round trip as its command. `prefix()` is the envelope up to its payload's
 * opening `{`; the script writer appends the payload's fields (`"key":"v","n":1`), then `tail`.
 * The cut is made once, from what `encodeEnvelope` produces for a marker envelope, so it
 * follows the encoder. The payload must hold plain JSON values only (strings, finite numbers,
 * booleans): what the serializer encodes as plain JSON (its `1J` form). Such a message
 * decodes exactly like one from `EventBus.publish`, only never compressed.
 *
 * @example
 * const envelopes = new EnvelopeTemplate(instanceId);
 * const message = `${envelopes.prefix(randomUUID(), Date.now())}"key":"invoice","fencingToken":7${envelopes.tail}`;
 */
export class EnvelopeTemplate {
  /** What closes the payload and the envelope. */
  readonly tail: string;
  private readonly beforeId: string;
  private readonly beforeTime: string;
  private readonly beforeFields: string;

  constructor(source: string) {
    const text = encodeEnvelope(UNCOMPRESSED, { i: ID_MARK, t: TIME_MARK, s: source, p: {} });
    const id = text.indexOf(ID_MARK);
    const time = text.indexOf(String(TIME_MARK), id + ID_MARK.length);
    const payload = text.lastIndexOf('{}');
    if (id < 0 || time < 0 || payload < time) throw new Error(`Unexpected event envelope encoding: ${text}`);
    this.beforeId = text.slice(0, id);
    this.beforeTime = text.slice(id + ID_MARK.length, time);
    this.beforeFields = text.slice(time + String(TIME_MARK).length, payload + 1);
    this.tail = text.slice(payload + 1);
  }

  /** The encoded envelope of (`id`, `t`, this source) up to its payload's opening brace. */
  prefix(id: string, t: number): string {
    return this.beforeId + id + this.beforeTime + t + this.beforeFields;
  }
}
