import { InvalidArgumentError } from '../errors/coordination.error.js';

/**
 * A key computed from the arguments of a decorated method: a template whose placeholders name an
 * argument by position, then optionally a property path (`'crew:{0}'`, `'order:{1.id}'`,
 * `'user:{0.account.id}'`), or a function of the arguments.
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

/**
 * Fills a key template with the call's arguments. A placeholder that resolves to anything but a
 * string, number or bigint (a missing argument or property, null, an object) throws an
 * InvalidArgumentError naming `argument` and the placeholder, before anything else runs; so does
 * a function that returns no non-empty string. The key itself is validated by the service that
 * uses it, like any other key.
 *
 * @example
 * resolveKeyTemplate('crew:{0}:{1.id}', ['c1', { id: 7 }]); // 'crew:c1:7'
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
    return String(value);
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
 * @example
 * checkKeyTemplate(options.key, 'key'); // throws InvalidArgumentError('key', ...) for `undefined` or `''`
 */
export function checkKeyTemplate(value: unknown, argument: string): asserts value is KeyTemplate {
  if (typeof value === 'function') return;
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(argument, 'must be a non-empty template string or a function of the arguments', value);
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
