import { Serializer } from '../serialization/serializer.js';
import { createEnvelope, decodeEnvelope, encodeEnvelope, EnvelopeTemplate } from './event-envelope.js';

describe('EnvelopeTemplate', () => {
  const serializer = new Serializer();
  const id = '3b241101-e2bb-4255-8caf-4136c566a962';

  it.each(['instance-1', 'with "quotes" and \\ backslash', 'braces {} and -1.5 and 00000000', 'ünïcode ✓ \n newline'])(
    'cuts an envelope that, completed with fields and tail, is exactly what encodeEnvelope produces (source %j)',
    (source) => {
      const template = new EnvelopeTemplate(source);
      const message = `${template.prefix(id, 1_700_000_000_123)}"key":"invoice:\\"42\\"","fencingToken":7${template.tail}`;
      const payload = { key: 'invoice:"42"', fencingToken: 7 };
      expect(message).toBe(encodeEnvelope(serializer, { i: id, t: 1_700_000_000_123, s: source, p: payload }));
      expect(decodeEnvelope(serializer, message)).toEqual({ i: id, t: 1_700_000_000_123, s: source, p: payload });
    },
  );

  it("closes payload and envelope with '}}', the literal lua/mutex.lua appends after the fencing token", () => {
    expect(new EnvelopeTemplate('x').tail).toBe('}}');
  });

  it('creates envelopes with a fresh UUID each', () => {
    const [a, b] = [createEnvelope({ n: 1 }, 5, 's'), createEnvelope({ n: 1 }, 5, 's')];
    expect(a).toMatchObject({ t: 5, s: 's', p: { n: 1 } });
    expect(a.i).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.i).not.toBe(a.i);
  });
});
