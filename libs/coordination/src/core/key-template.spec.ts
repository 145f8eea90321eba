import { InvalidArgumentError } from '../errors/coordination.error.js';
import { MAX_ID_LENGTH } from '../keys/key-builder.js';
import { checkKeyTemplate, checkKeyTemplates, fitKeyLength, resolveKeyTemplate, resolveKeyTemplates } from './key-template.js';

/** The InvalidArgumentError `fn` throws; fails the test if it throws nothing or something else. */
function argumentError(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected an InvalidArgumentError');
}

describe('resolveKeyTemplate', () => {
  it('fills positional placeholders and property paths, leaving other braces alone', () => {
    expect(resolveKeyTemplate('crew:{0}:{1.id}:{1.owner.n}', ['c1', { id: 7, owner: { n: 10n } }])).toBe('crew:c1:7:10');
    expect(resolveKeyTemplate('{x}:{0}', ['a'])).toBe('{x}:a');
    expect(resolveKeyTemplate((a: string, b: number) => `x:${a}:${b}`, ['y', 2])).toBe('x:y:2');
  });

  it('encodes placeholder values, so distinct arguments never make one key; literal text stays as written', () => {
    const template = 'doc:{0}:{1}';
    expect(resolveKeyTemplate(template, ['alice', 'secret:x'])).not.toBe(resolveKeyTemplate(template, ['alice:secret', 'x']));
    expect(resolveKeyTemplate(template, ['alice', 'secret:x'])).toBe('doc:alice:secret%3Ax');
    expect(resolveKeyTemplate(template, ['a%3Ab', 'c'])).toBe('doc:a%253Ab:c');
    expect(resolveKeyTemplate(template, ['a:b', 'c'])).not.toBe(resolveKeyTemplate(template, ['a%3Ab', 'c']));
    // A * in a value is no wildcard once in a pattern; ids, numbers and non-ASCII text stay readable.
    expect(resolveKeyTemplate('search:{0}*', ['a*'])).toBe('search:a%2A*');
    expect(resolveKeyTemplate('crew:{0}:{1}', ['c-1_a.b~', 12])).toBe('crew:c-1_a.b~:12');
    expect(resolveKeyTemplate('user:{0}', ['zoë'])).toBe('user:zoë');
    expect(resolveKeyTemplate('x/{0}|{1}', ['a/b|', ' c'])).toBe('x/a%2Fb%7C|%20c');
  });

  it('maps distinct argument tuples to distinct keys (exhaustively over a small alphabet)', () => {
    const alphabet = ['', 'a', ':', '%', '3A', '%3A', 'a:b', ':a', 'a%'];
    const seen = new Map<string, string>();
    for (const x of alphabet) for (const y of alphabet) {
      const key = resolveKeyTemplate('k:{0}:{1}', [x, y]);
      const tuple = JSON.stringify([x, y]);
      expect(seen.get(key) ?? tuple).toBe(tuple);
      seen.set(key, tuple);
    }
  });

  it('names the argument and the placeholder that resolved to nothing usable', () => {
    const missing = argumentError(() => resolveKeyTemplate('crew:{1.id}', ['c1'], 'tags[0]'));
    expect(missing.argument).toBe('tags[0]');
    expect(missing.message).toMatch(/placeholder \{1\.id\} of "crew:\{1\.id\}" resolved to undefined/);
    expect(argumentError(() => resolveKeyTemplate('crew:{0}', [{ id: 1 }])).message).toMatch(/resolved to object/);
    expect(argumentError(() => resolveKeyTemplate('crew:{0}', [null])).message).toMatch(/resolved to null/);
  });

  it('rejects a key function that returns no non-empty string', () => {
    expect(argumentError(() => resolveKeyTemplate(() => 42 as unknown as string, [])).message).toMatch(/returned number/);
    expect(argumentError(() => resolveKeyTemplate(() => '', [])).argument).toBe('key');
  });
});

describe('resolveKeyTemplates', () => {
  it('resolves each template, naming the item in errors', () => {
    expect(resolveKeyTemplates(['crew:{0}', 'company:{1}'], ['c1', 'acme'], 'tags')).toEqual(['crew:c1', 'company:acme']);
    expect(argumentError(() => resolveKeyTemplates(['crew:{0}', 'company:{1}'], ['c1'], 'tags')).argument).toBe('tags[1]');
  });

  it('checks what a list function returns', () => {
    expect(resolveKeyTemplates((id: string) => [`crew:${id}`], ['c1'], 'tags')).toEqual(['crew:c1']);
    expect(argumentError(() => resolveKeyTemplates(() => 'crew' as unknown as string[], [], 'tags')).argument).toBe('tags');
    expect(argumentError(() => resolveKeyTemplates(() => ['a', 3] as unknown as string[], [], 'keys')).argument).toBe('keys[1]');
  });
});

describe('fitKeyLength', () => {
  it('keeps a key of at most MAX_ID_LENGTH characters, and hashes a longer one keeping its head', () => {
    const fits = `k:${'a'.repeat(MAX_ID_LENGTH - 2)}`;
    expect(fitKeyLength(fits)).toBe(fits);
    const long = `doc:${'a'.repeat(MAX_ID_LENGTH)}`;
    const fitted = fitKeyLength(long);
    expect(fitted.length).toBeLessThanOrEqual(MAX_ID_LENGTH);
    expect(fitted.startsWith('doc:aaaa')).toBe(true);
    expect(fitKeyLength(long)).toBe(fitted);
    expect(fitKeyLength(`${long}b`)).not.toBe(fitted);
    // Two long keys with one head differ by their hash.
    expect(fitKeyLength(`${long}:1`)).not.toBe(fitKeyLength(`${long}:2`));
  });

  it('never equals a key that fits and came from a template (the mark cannot appear in one)', () => {
    const long = fitKeyLength(`doc:${'a'.repeat(600)}:x`);
    const mark = long.charAt(long.length - 44);
    expect(resolveKeyTemplate('doc:{0}', [mark])).not.toContain(mark);
    expect(() => checkKeyTemplate(`doc:{0}${mark}`, 'key')).toThrow(InvalidArgumentError);
  });
});

describe('checkKeyTemplate / checkKeyTemplates', () => {
  it('rejects placeholders that no separator keeps apart', () => {
    expect(argumentError(() => checkKeyTemplate('doc:{0}{1}', 'key')).message).toMatch(/\{0\} and \{1\}/);
    expect(argumentError(() => checkKeyTemplate('doc:{0}-{1}', 'key')).argument).toBe('key');
    expect(argumentError(() => checkKeyTemplate('doc:{0}%{1}', 'key')).argument).toBe('key');
    expect(argumentError(() => checkKeyTemplates(['ok:{0}', 'v{0.a}.{0.b}'], 'tags')).argument).toBe('tags[1]');
    for (const template of ['doc:{0}:{1}', 'doc/{0}/{1}', 'a{0}b:c{1}d', '{0}|{1}', 'x-{0}', '{0}']) {
      expect(() => checkKeyTemplate(template, 'key')).not.toThrow();
    }
  });


  it('accept templates and functions, and name what is wrong otherwise', () => {
    expect(() => checkKeyTemplate('crew:{0}', 'key')).not.toThrow();
    expect(() => checkKeyTemplate(() => 'k', 'key')).not.toThrow();
    expect(argumentError(() => checkKeyTemplate('', 'key')).argument).toBe('key');
    expect(argumentError(() => checkKeyTemplate(5, 'key')).argument).toBe('key');
    expect(() => checkKeyTemplates(['a', 'b'], 'tags')).not.toThrow();
    expect(argumentError(() => checkKeyTemplates('a', 'tags')).argument).toBe('tags');
    expect(argumentError(() => checkKeyTemplates(['a', ''], 'tags')).argument).toBe('tags[1]');
  });
});
