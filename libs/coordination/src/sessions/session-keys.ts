import { createHash, randomFillSync } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { decodeId, escapeGlob, type KeyBuilder } from '../keys/key-builder.js';
import type { UserSessionKeys } from './session-store.interface.js';

/** Key segment of session records: `<prefix>:<tenant>:session:{<slot tag>}:<random>`. */
const SESSION = 'session';
/** Key segment of per-user indexes: `<prefix>:<tenant>:session-user:{<slot tag>}:<user>`. */
const USER_INDEX = 'session-user';
/** Characters of the random part of an id: 128 bits in base64url. */
const RANDOM_LENGTH = 22;
/** Characters of the slot tag at the end of an id. */
const TAG_LENGTH = 3;
const RANDOM = /^[A-Za-z0-9_-]{22}$/;
const TAG = /^[A-Za-z0-9]{3}$/;
const TAG_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SLOTS = 16_384;

/** A session id taken apart. */
export interface ParsedSessionId {
  readonly tenant: string;
  /** `<random><tag>`: the session's member in its user's index and the last part of its key. */
  readonly member: string;
  readonly tag: string;
}

let slotTags: string[] | undefined;

/** Random bytes for this many ids are drawn at once: one CSPRNG call per batch (as crypto.randomUUID caches its entropy). */
const IDS_PER_DRAW = 256;
const entropy = Buffer.alloc(16 * IDS_PER_DRAW);
let drawn = IDS_PER_DRAW;

/** 128 random bits from the CSPRNG as 22 base64url characters; each is handed out once. */
function randomId(): string {
  if (drawn === IDS_PER_DRAW) {
    randomFillSync(entropy);
    drawn = 0;
  }
  const offset = 16 * drawn++;
  const id = entropy.toString('base64url', offset, offset + 16);
  entropy.fill(0, offset, offset + 16); // a handed-out id does not linger in the pool
  return id;
}

/**
 * For each of the 16384 cluster slots, a 3-character tag that hashes to it: the first of
 * `000`, `001`, ... that does (every slot has one). Built once, on first use (~50 ms).
 */
function slotTagTable(): string[] {
  if (slotTags) return slotTags;
  const table = new Array<string>(SLOTS);
  let filled = 0;
  outer: for (const a of TAG_ALPHABET) {
    for (const b of TAG_ALPHABET) {
      for (const c of TAG_ALPHABET) {
        const tag = a + b + c;
        const slot = calculateSlot(tag);
        if (table[slot] === undefined) {
          table[slot] = tag;
          if (++filled === SLOTS) break outer;
        }
      }
    }
  }
  return (slotTags = table);
}

/**
 * The keys of sessions (library-internal), all from the KeyBuilder. Every session of one user
 * lives in one cluster slot with the user's index, so that creating, listing, revoking and
 * regenerating are each one atomic script: the slot is picked from a hash of tenant and user,
 * and the session id ends with a short tag that hashes to that slot, so the id alone finds
 * the key. The tag tells which of 16384 slots a user hashes to, nothing more.
 *
 * A session id is `<tenant>.<random><tag>`: the tenant it is bound to, 22 base64url characters
 * of 128 random bits, and the 3-character slot tag.
 *
 * @example
 * const keys = new SessionKeys(core.keys);
 * const { id, member } = keys.newId('acme', 'ada');   // 'acme.Jx3…Q2f', 'Jx3…Q2f'
 * keys.session('acme', member);                     // coord:acme:session:{Q2f}:Jx3…Q2f
 */
export class SessionKeys {
  constructor(private readonly keys: KeyBuilder) {}

  /** A new id for a session of `userId` in `tenant`, in the slot of the user's index. */
  newId(tenant: string, userId: string): { id: string; member: string } {
    const member = randomId() + this.tagOf(tenant, userId);
    return { id: `${tenant}.${member}`, member };
  }

  /** The parts of `id`, or null when it is not shaped like a session id (then it is simply not found). */
  parse(id: string): ParsedSessionId | null {
    const dot = id.lastIndexOf('.');
    if (dot <= 0 || id.length - dot - 1 !== RANDOM_LENGTH + TAG_LENGTH) return null;
    const member = id.slice(dot + 1);
    const tag = member.slice(RANDOM_LENGTH);
    if (!RANDOM.test(member.slice(0, RANDOM_LENGTH)) || !TAG.test(tag)) return null;
    return { tenant: id.slice(0, dot), member, tag };
  }

  /** The id of a member of `tenant`. */
  idOf(tenant: string, member: string): string {
    return `${tenant}.${member}`;
  }

  /** The user's index and the prefix of the user's session keys (one hash slot). */
  user(tenant: string, userId: string): UserSessionKeys {
    return this.userByTag(tenant, this.tagOf(tenant, userId), userId);
  }

  /** The full key of a session. */
  session(tenant: string, member: string): string {
    return this.sessionPrefix(tenant, member.slice(RANDOM_LENGTH)) + member;
  }

  /** Whether the session `member` belongs in the slot of `userId` (a forged id of another slot does not). */
  belongsTo(tenant: string, userId: string, member: string): boolean {
    return member.slice(RANDOM_LENGTH) === this.tagOf(tenant, userId);
  }

  /** The SCAN pattern of a tenant's session records, or of every tenant's (`'*'`). */
  sessionPattern(tenant: string): string {
    return tenant === '*' ? `${escapeGlob(this.keys.prefix)}:*:${SESSION}:{*}:*` : `${escapeGlob(this.keys.namespace(tenant, SESSION))}{*}:*`;
  }

  /** The SCAN pattern of every tenant's user indexes (the background pruner's). */
  indexPattern(): string {
    return `${escapeGlob(this.keys.prefix)}:*:${USER_INDEX}:{*}:*`;
  }

  /** Tenant and member of a session key from a scan; null for a key of another shape. */
  parseSessionKey(key: string): { tenant: string; member: string } | null {
    if (!key.startsWith(`${this.keys.prefix}:`)) return null;
    const match = /^(.+?):session:\{([A-Za-z0-9]{3})\}:([A-Za-z0-9_-]{22}([A-Za-z0-9]{3}))$/.exec(key.slice(this.keys.prefix.length + 1));
    if (!match || match[2] !== match[4]) return null;
    return { tenant: match[1], member: match[3] };
  }

  /** Tenant, user and keys of an index key from a scan; null for a key of another shape. */
  parseIndexKey(key: string): { tenant: string; userId: string; keys: UserSessionKeys } | null {
    if (!key.startsWith(`${this.keys.prefix}:`)) return null;
    const match = /^(.+?):session-user:\{([A-Za-z0-9]{3})\}:(.*)$/s.exec(key.slice(this.keys.prefix.length + 1));
    if (!match) return null;
    const [, tenant, tag, encodedUser] = match;
    const userId = decodeId(encodedUser);
    return { tenant, userId, keys: this.userByTag(tenant, tag, userId) };
  }

  /** A non-secret reference to a session for lists, logs and events: 16 base64url characters of SHA-256 of its id. */
  handle(id: string): string {
    return createHash('sha256').update(id).digest('base64url').slice(0, 16);
  }

  private userByTag(tenant: string, tag: string, userId: string): UserSessionKeys {
    return { index: this.keys.key(tenant, USER_INDEX, tag, { parts: [userId] }), sessionPrefix: this.sessionPrefix(tenant, tag) };
  }

  private sessionPrefix(tenant: string, tag: string): string {
    return `${this.keys.key(tenant, SESSION, tag)}:`;
  }

  private tagOf(tenant: string, userId: string): string {
    const hash = createHash('sha256').update(tenant).update('\0').update(userId).digest();
    return slotTagTable()[hash.readUInt16BE(0) % SLOTS];
  }
}
