import type { KeyBuilder } from '../keys/key-builder.js';
import type { StreamKeyPair } from './stream-store.interface.js';

/** Capability segment of stream keys: `<prefix>:<tenant>:stream:{<name>}`. */
export const STREAM_CAPABILITY = 'stream';

/**
 * Keys of durable streams: `<prefix>:<tenant>:stream:{<name>}` and its dead-letter stream
 * `<prefix>:<tenant>:stream:{<name>}:dead`, sharing the hash tag of the name (one cluster slot).
 * The name is encoded by the key builder, so any string is safe; the tenant is validated there.
 *
 * @example
 * new StreamKeys(core.keys).of('acme', 'crew-events'); // { stream: 'coord:acme:stream:{crew-events}', dead: '…:dead' }
 */
const DEAD = { suffix: 'dead' } as const;

export class StreamKeys {
  constructor(private readonly keys: KeyBuilder) {}

  of(tenant: string, name: string): StreamKeyPair {
    return { stream: this.keys.key(tenant, STREAM_CAPABILITY, name), dead: this.keys.key(tenant, STREAM_CAPABILITY, name, DEAD) };
  }
}
