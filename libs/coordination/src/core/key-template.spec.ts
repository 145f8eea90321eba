import { InvalidArgumentError } from '../errors/coordination.error.js';
import { checkKeyTemplate, checkKeyTemplates, resolveKeyTemplate, resolveKeyTemplates } from './key-template.js';

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

describe('checkKeyTemplate / checkKeyTemplates', () => {
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
