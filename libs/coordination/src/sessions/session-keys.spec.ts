import calculateSlot from 'cluster-key-slot';
import { globToRegExp } from '../keys/glob.js';
import { KeyBuilder } from '../keys/key-builder.js';
import { SessionKeys } from './session-keys.js';

/** A small seeded generator (mulberry32): the same "random" users on every run, so a failure can be replayed. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Pieces user ids are built from: the characters a key must encode, unicode, a lone surrogate. */
const PIECES = ['a', 'Z', '7', ':', '%', '%3a', '{', '}', '*', '?', '[', ']', '\\', ' ', '.', '-', 'é', '日本', '😀', '\ud800', ':session-user:{abc}:', '%u00e9'];

function randomUsers(count: number, seed: number): string[] {
  const random = seeded(seed);
  return Array.from({ length: count }, (_, n) => {
    const length = 1 + Math.floor(random() * 8);
    let user = '';
    for (let i = 0; i < length; i++) user += PIECES[Math.floor(random() * PIECES.length)];
    return `${user}${n}`;
  });
}

const TENANTS = ['acme', 'globex', 'acme.eu-1', 'T_9'];
const ID = /^(.+)\.([A-Za-z0-9_-]{22})([A-Za-z0-9]{3})$/;

describe('SessionKeys', () => {
  const builder = new KeyBuilder('coord');
  const keys = new SessionKeys(builder);

  it("puts every new session of a user in the cluster slot of the user's index, for 2 000 users of 4 tenants", () => {
    for (const [n, userId] of randomUsers(2_000, 1).entries()) {
      const tenant = TENANTS[n % TENANTS.length];
      const user = keys.user(tenant, userId);
      const indexSlot = calculateSlot(user.index);
      for (let i = 0; i < 3; i++) {
        const { id, member } = keys.newId(tenant, userId);
        const session = keys.session(tenant, member);
        expect(session).toBe(user.sessionPrefix + member);
        expect(calculateSlot(session)).toBe(indexSlot);
        expect(keys.belongsTo(tenant, userId, member)).toBe(true);
        expect(id).toBe(keys.idOf(tenant, member));
        expect(ID.exec(id)?.slice(1, 2)).toEqual([tenant]);
      }
    }
  });

  it('spreads users over the slots: 2 000 users land in more than 1 500 distinct slots', () => {
    const slots = new Set(randomUsers(2_000, 2).map((userId) => calculateSlot(keys.user('acme', userId).index)));
    expect(slots.size).toBeGreaterThan(1_500);
  });

  it('gives a user another slot in another tenant (most of the time), and never another user\'s tag by accident of the id', () => {
    const users = randomUsers(200, 3);
    const moved = users.filter((userId) => keys.user('acme', userId).index.match(/\{(...)\}/)![1] !== keys.user('globex', userId).index.match(/\{(...)\}/)![1]);
    expect(moved.length).toBeGreaterThan(190);
    const { member } = keys.newId('acme', users[0]);
    const others = users.slice(1).filter((userId) => keys.belongsTo('acme', userId, member));
    expect(others.length).toBeLessThan(3); // 3-character tags over 16384 slots: a collision is rare, and harmless
  });

  it('makes ids of 128 random bits: 10 000 ids of one user are all different, all URL-safe', () => {
    const ids = Array.from({ length: 10_000 }, () => keys.newId('acme', 'ada').id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(encodeURIComponent(id)).toBe(id);
  });

  it('parses an id into tenant, member and tag', () => {
    const { id, member } = keys.newId('acme.eu-1', 'ada');
    expect(keys.parse(id)).toEqual({ tenant: 'acme.eu-1', member, tag: member.slice(22) });
  });

  it('rejects ids of the wrong length, with glob or brace characters, or without a tenant', () => {
    const { id, member } = keys.newId('acme', 'ada');
    const random = member.slice(0, 22);
    const tag = member.slice(22);
    const malformed = [
      '', 'acme', 'acme.', '.', id.slice(0, -1), `${id}x`, `acme.${random.slice(1)}${tag}`, `acme.${random}${tag}0`,
      `.${member}`, member, // no tenant
      ...['*', '?', '[', ']', '\\', '{', '}', ':', '.', ' ', '%', 'é'].flatMap((ch) => [
        `acme.${ch}${random.slice(1)}${tag}`, // in the random part
        `acme.${random}${ch}${tag.slice(1)}`, // in the tag
      ]),
      `acme.${random}_${tag.slice(1)}`, `acme.${random}-${tag.slice(1)}`, // the tag is alphanumeric
    ];
    for (const bad of malformed) expect([bad, keys.parse(bad)]).toEqual([bad, null]);
  });

  it('round-trips session keys through parseSessionKey, and refuses keys of another shape', () => {
    for (const [n, userId] of randomUsers(300, 4).entries()) {
      const tenant = TENANTS[n % TENANTS.length];
      const { member } = keys.newId(tenant, userId);
      const session = keys.session(tenant, member);
      expect(keys.parseSessionKey(session)).toEqual({ tenant, member });
      expect(keys.parseIndexKey(session)).toBeNull();
    }
    const { member } = keys.newId('acme', 'ada');
    const otherTag = member.slice(22) === 'abc' ? 'abd' : 'abc';
    for (const bad of [
      `other:acme:session:{${member.slice(22)}}:${member}`, // another prefix
      `coord:acme:session:{${otherTag}}:${member}`, // the tag of the key is not the member's
      `coord:acme:session:{${member.slice(22)}}:${member}:x`,
      `coord:acme:session:{${member.slice(22)}}:${member.slice(1)}`,
      keys.user('acme', 'ada').index,
    ]) {
      expect([bad, keys.parseSessionKey(bad)]).toEqual([bad, null]);
    }
  });

  it("round-trips index keys through parseIndexKey: tenant, user id (':' '%' '{' unicode and all) and the user's keys", () => {
    for (const [n, userId] of [...randomUsers(500, 5), '', ':', '%', '%25', '{}', '\ud800\udc00', '\udc00'].entries()) {
      const tenant = TENANTS[n % TENANTS.length];
      const user = keys.user(tenant, userId);
      expect(keys.parseIndexKey(user.index)).toEqual({ tenant, userId, keys: user });
    }
    const { member } = keys.newId('acme', 'ada');
    expect(keys.parseIndexKey(keys.session('acme', member))).toBeNull();
    expect(keys.parseIndexKey(keys.user('acme', 'ada').index.replace(/^coord:/, 'other:'))).toBeNull();
  });

  it("matches a tenant's session keys with sessionPattern, every tenant's with '*', and only indexes with indexPattern", () => {
    const [acme, globex] = ['acme', 'globex'].map((tenant) => keys.session(tenant, keys.newId(tenant, 'ada').member));
    const index = keys.user('acme', 'ada').index;
    const foreign = new SessionKeys(new KeyBuilder('other')).session('acme', keys.newId('acme', 'ada').member);
    const matching = (pattern: string) => [acme, globex, index, foreign].filter((key) => globToRegExp(pattern).test(key));
    expect(matching(keys.sessionPattern('acme'))).toEqual([acme]);
    expect(matching(keys.sessionPattern('*'))).toEqual([acme, globex]);
    expect(matching(keys.indexPattern())).toEqual([index]);
  });

  it('hands out a non-secret handle: 16 base64url characters, the same for one id, different for two', () => {
    const [a, b] = [keys.newId('acme', 'ada').id, keys.newId('acme', 'ada').id];
    expect(keys.handle(a)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(keys.handle(a)).toBe(keys.handle(a));
    expect(keys.handle(a)).not.toBe(keys.handle(b));
    expect(a).not.toContain(keys.handle(a));
  });
});
