import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/coordination.error.js';
import { MAX_ID_LENGTH } from '../keys/key-builder.js';

/**
 * A key computed from the arguments of a decorated method: a template whose placeholders name an
 * argument by position, then optionally a property path (`'crew:{0}'`, `'order:{1.id}'`,
 * `'user:{0.account.id}'`), or a function of the arguments.
 *
 * In a template, each placeholder's value is encoded with {@link encodeKeyPart} (every ASCII
 * character but letters, digits and `- . _ ~` becomes `%XX`) while the literal text stays as
 * written, so distinct arguments never produce the same key: `'doc:{0}:{1}'` gives
 * `doc:alice:secret%3Ax` for `('alice', 'secret:x')` and `doc:alice%3Asecret:x` for
 * `('alice:secret', 'x')`, and a `*` in a value is no wildcard in a pattern. Two placeholders
 * must therefore be kept apart by a character values cannot hold (`:`, `/`, `|`, ...), which
 * is checked when the class is defined. A function's key is used as it returns it.
 *
 * @example
 * @WithLock('crew:{0}')               // the first argument
 * @Cacheable({ key: 'order:{1.id}' }) // the `id` of the second
 * @Cacheable({ key: (crew: Crew) => `crew:${crew.id}` })
 */
export type KeyTemplate = string | ((...args: any[]) => string);

/** A list of keys (or tags, or patterns) computed from the arguments: one template per item, or a function returning the list. */
export type KeyTemplates = readonly string[] | ((...args: any[]) => readonly string[]);

const PLACEHOLDER = /\{(\d+)((?:\.[A-Za-z_$][\w$]*)*)\}/g;
/** ASCII characters outside RFC 3986's unreserved set (letters, digits, `- . _ ~`): encoded in values. */
const ENCODED = /[\x00-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7d\x7f]/g;
/** Characters that keep two placeholders apart: encoded in every value, and not `%` (which encoded values hold). */
const SEPARATOR = /[\x00-\x24\x26-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7d\x7f]/;
/** Marks a hashed key (see fitKeyLength); never in a template, always encoded in a value. */
const HASH_MARK = '\u0000';
/** sha256 in base64url. */
const HASH_LENGTH = 43;

/**
 * A value as it goes into a key: every ASCII character but letters, digits and `- . _ ~`
 * becomes `%XX` (`%` itself included, so the encoding is reversible); other characters stay as
 * they are. Ids, numbers and words stay readable: `'c-1'` → `c-1`, `'a:b'` → `a%3Ab`, `'a*'` → `a%2A`.
 *
 * @example
 * encodeKeyPart('secret:x'); // 'secret%3Ax'
 */
export function encodeKeyPart(value: string): string {
  ENCODED.lastIndex = 0;
  if (!ENCODED.test(value)) return value;
  return value.replace(ENCODED, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * `key` itself when it has at most MAX_ID_LENGTH characters; else its first characters, a NUL mark
 * and the sha256 of the whole key (base64url), MAX_ID_LENGTH characters at most. The head keeps
 * prefix patterns working (`invalidatePattern('doc:*')` still reaches a hashed `doc:` key); the
 * mark keeps hashed keys apart from every key a template resolves to (templates cannot hold it and
 * values encode it). Used by the cache decorators, CacheInterceptor and CoordinationKeyvStore, so
 * a long key is cached instead of failing with InvalidKeyError; lock keys are never hashed.
 *
 * @example
 * fitKeyLength('crew:7');              // 'crew:7'
 * fitKeyLength(`doc:${'a'.repeat(600)}`); // 'doc:aaaa…a\u0000<43 characters of sha256>'
 */
export function fitKeyLength(key: string): string {
  if (key.length <= MAX_ID_LENGTH) return key;
  let head = MAX_ID_LENGTH - HASH_LENGTH - HASH_MARK.length;
  // Never cut a surrogate pair in two.
  const code = key.charCodeAt(head - 1);
  if (code >= 0xd800 && code <= 0xdbff) head -= 1;
  return `${key.slice(0, head)}${HASH_MARK}${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * Fills a key template with the call's arguments, each value encoded (see {@link KeyTemplate}).
 * A placeholder that resolves to anything but a string, number or bigint (a missing argument or
 * property, null, an object) throws an InvalidArgumentError naming `argument` and the
 * placeholder, before anything else runs; so does a function that returns no non-empty string.
 * The key itself is validated by the service that uses it, like any other key: a lock key over
 * MAX_ID_LENGTH characters is an InvalidKeyError (the cache decorators hash theirs, see fitKeyLength).
 *
 * @example
 * resolveKeyTemplate('crew:{0}:{1.id}', ['c1', { id: 7 }]); // 'crew:c1:7'
 * resolveKeyTemplate('doc:{0}:{1}', ['alice', 'secret:x']);  // 'doc:alice:secret%3Ax'
 * resolveKeyTemplate('crew:{0.id}', [{}]);                  // InvalidArgumentError: placeholder {0.id} of "crew:{0.id}" resolved to undefined
 */
export function resolveKeyTemplate(source: KeyTemplate, args: readonly unknown[], argument = 'key'): string {
  if (typeof source === 'function') {
    const key: unknown = source(...args);
    if (typeof key !== 'string' || key === '') throw new InvalidArgumentError(argument, `the key function returned ${describe(key)}, not a non-empty string`, key);
    return key;
  }
  return source.replace(PLACEHOLDER, (_match, index: string, path: string) => {
    let value: unknown = args[Number(index)];
    for (const part of path.split('.').filter(Boolean)) value = (value as Record<string, unknown> | null | undefined)?.[part];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') {
      throw new InvalidArgumentError(argument, `placeholder {${index}${path}} of "${source}" resolved to ${describe(value)}`, value);
    }
    return encodeKeyPart(String(value));
  });
}

/**
 * Resolves a list of templates (each item named `argument[i]` in errors), or calls the function
 * and checks it returned an array of non-empty strings.
 *
 * @example
 * resolveKeyTemplates(['crew:{0}', 'company:{1}'], ['c1', 'acme'], 'tags'); // ['crew:c1', 'company:acme']
 */
export function resolveKeyTemplates(source: KeyTemplates, args: readonly unknown[], argument: string): string[] {
  if (typeof source !== 'function') return source.map((template, i) => resolveKeyTemplate(template, args, `${argument}[${i}]`));
  const list: unknown = source(...args);
  if (!Array.isArray(list)) throw new InvalidArgumentError(argument, `the ${argument} function returned ${describe(list)}, not an array of strings`, list);
  return list.map((item: unknown, i) => {
    if (typeof item !== 'string' || item === '') throw new InvalidArgumentError(`${argument}[${i}]`, `the ${argument} function returned ${describe(item)}, not a non-empty string`, item);
    return item;
  });
}

/**
 * Checks at decoration time that `value` is a template (a non-empty string) or a function.
 *
 * Placeholders must be kept apart by a separator (see {@link KeyTemplate}): `'doc:{0}{1}'` and
 * `'doc:{0}-{1}'` are rejected.
 *
 * @example
 * checkKeyTemplate(options.key, 'key'); // throws InvalidArgumentError('key', ...) for `undefined`, `''` or 'doc:{0}{1}'
 */
export function checkKeyTemplate(value: unknown, argument: string): asserts value is KeyTemplate {
  if (typeof value === 'function') return;
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(argument, 'must be a non-empty template string or a function of the arguments', value);
  if (value.includes(HASH_MARK)) throw new InvalidArgumentError(argument, 'must not contain a NUL character (it marks hashed keys)', value);
  let previous: RegExpExecArray | undefined;
  for (const match of value.matchAll(PLACEHOLDER)) {
    if (previous !== undefined && !SEPARATOR.test(value.slice(previous.index + previous[0].length, match.index))) {
      throw new InvalidArgumentError(
        argument,
        `placeholders ${previous[0]} and ${match[0]} of "${value}" must be separated by a character other than a letter, a digit, ` +
          '"-", ".", "_", "~" or "%" (e.g. ":"), or two different argument lists could make the same key',
        value,
      );
    }
    previous = match;
  }
}

/**
 * Checks at decoration time that `value` is an array of templates or a function returning one.
 *
 * @example
 * checkKeyTemplates(options.tags, 'tags'); // InvalidArgumentError('tags[1]', ...) for ['crew:{0}', '']
 */
export function checkKeyTemplates(value: unknown, argument: string): asserts value is KeyTemplates {
  if (typeof value === 'function') return;
  if (!Array.isArray(value)) throw new InvalidArgumentError(argument, 'must be an array of template strings or a function of the arguments returning one', value);
  value.forEach((item: unknown, i) => checkKeyTemplate(item, `${argument}[${i}]`));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return typeof value;
}
