/**
 * Turns a Redis glob (as KeyBuilder.pattern and KeyBuilder.channelPattern build it) into an
 * anchored RegExp, for the memory stores and transports that match keys and channels the way
 * SCAN MATCH and PSUBSCRIBE do: `*` any run, `?` one character, `\x` a literal x. KeyBuilder
 * never emits `[...]` classes, so `[` and `]` are taken literally.
 *
 * @example
 * const match = globToRegExp(keys.pattern('acme', 'cache', 'user:*'));
 * match.test(keys.key('acme', 'cache', 'user:42')); // true
 * match.test(keys.key('other', 'cache', 'user:42')); // false
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '\\' && i + 1 < glob.length) source += escapeRegExp(glob[++i]);
    else if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`);
}

function escapeRegExp(ch: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(ch) ? `\\${ch}` : ch;
}
