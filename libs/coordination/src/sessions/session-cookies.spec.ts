import { parse, parseSetCookie } from 'cookie';
import { sign } from 'cookie-signature';
import { ManualClock } from '../core/clock.js';
import { CoordinationCore } from '../core/coordination-core.js';
import { InvalidOptionsError } from '../errors/coordination.error.js';
import { resolveOptions } from '../options/resolve-options.js';
import { SessionCookies, type CookieResponseLike } from './session-cookies.js';
import { sessionTokensOf } from './session-token.js';
import { resolveSessionOptions, type SessionCookieModuleOptions } from './session.options.js';

const NEW = 'n'.repeat(32);
const OLD = 'o'.repeat(32);
const ID = 'acme.AAAAAAAAAAAAAAAAAAAAAA000';
const clock = new ManualClock(1_000_000);

const cookiesWith = (cookie: SessionCookieModuleOptions) =>
  new SessionCookies(resolveSessionOptions({ cookie }), new CoordinationCore(resolveOptions({ driver: 'memory', clock })));

/** A response recording its Set-Cookie headers through Node's getHeader/setHeader. */
function nodeResponse(): CookieResponseLike & { cookies(): string[] } {
  const headers = new Map<string, string[]>();
  return {
    getHeader: (name) => headers.get(name.toLowerCase()),
    setHeader: (name, value) => void headers.set(name.toLowerCase(), Array.isArray(value) ? value : [value]),
    cookies: () => headers.get('set-cookie') ?? [],
  };
}

const request = (cookieHeader?: string, authorization?: string) => ({ headers: { cookie: cookieHeader, authorization } });
/** The `Cookie` header a browser would send back for a Set-Cookie. */
const cookieHeaderOf = (setCookie: string) => setCookie.split(';')[0];

describe('SessionCookies', () => {
  it('signs with the first secret and reads back what it issued (round trip)', () => {
    const cookies = cookiesWith({ secret: NEW });
    const response = nodeResponse();
    cookies.issue(response, { id: ID, absoluteExpiresAt: new Date(clock.now() + 3_600_000) });
    const [setCookie] = response.cookies();
    expect(parse(cookieHeaderOf(setCookie)).sid).toBe(`s:${sign(ID, NEW)}`);
    expect(cookies.read(request(cookieHeaderOf(setCookie)))).toEqual({ present: true, id: ID, ids: [ID] });
  });

  it('verifies against every secret (rotation), and refuses a value no secret signed', () => {
    const rotated = cookiesWith({ secret: [NEW, OLD] });
    expect(rotated.verify(`s:${sign(ID, OLD)}`)).toBe(ID);
    expect(rotated.verify(`s:${sign(ID, NEW)}`)).toBe(ID);
    expect(rotated.verify(`s:${sign(ID, 'x'.repeat(32))}`)).toBeNull();
    // The same signature on another id, an unsigned value, a truncated signature.
    expect(rotated.verify(`s:${sign(ID, NEW)}`.replace('acme', 'evil'))).toBeNull();
    expect(rotated.verify(ID)).toBeNull();
    expect(rotated.verify(`s:${sign(ID, NEW)}`.slice(0, -1))).toBeNull();
    // Retired: the old secret is gone from the list.
    expect(cookiesWith({ secret: NEW }).verify(`s:${sign(ID, OLD)}`)).toBeNull();
  });

  it('reads its own cookie among others, and reports a present but forged one as id null', () => {
    const cookies = cookiesWith({ secret: NEW, name: 'app.sid' });
    expect(cookies.read(request(`theme=dark; app.sid=${encodeURIComponent(`s:${sign(ID, NEW)}`)}`))).toEqual({ present: true, id: ID, ids: [ID] });
    expect(cookies.read(request('app.sid=s%3Aforged.sig'))).toEqual({ present: true, id: null, ids: [] });
    expect(cookies.read(request('sid=whatever'))).toEqual({ present: false });
    expect(cookies.read(request())).toEqual({ present: false });
  });

  it('with the cookie sent several times (one tossed from a sibling subdomain): every value a secret verifies, in order', () => {
    const cookies = cookiesWith({ secret: NEW });
    const OTHER = 'acme.BBBBBBBBBBBBBBBBBBBBBB000';
    const valid = `sid=${encodeURIComponent(`s:${sign(ID, NEW)}`)}`;
    const other = `sid=${encodeURIComponent(`s:${sign(OTHER, NEW)}`)}`;
    expect(cookies.read(request(`sid=junk; theme=dark; ${valid}`))).toEqual({ present: true, id: ID, ids: [ID] });
    expect(cookies.read(request(`sid=s%3Aforged.sig; sid=; ${valid}`))).toEqual({ present: true, id: ID, ids: [ID] });
    expect(cookies.read(request(`sid="${encodeURIComponent(`s:${sign(ID, NEW)}`)}"`))).toEqual({ present: true, id: ID, ids: [ID] });
    // A validly signed tossed value (the attacker's own session) never hides the genuine one: both are listed.
    expect(cookies.read(request(`${other}; ${valid}`))).toEqual({ present: true, id: OTHER, ids: [OTHER, ID] });
    expect(cookies.read(request(`${valid}; sid=junk; ${other}`))).toEqual({ present: true, id: ID, ids: [ID, OTHER] });
    expect(cookies.read(request(`sid=junk; sid=%E0%A4%A`))).toEqual({ present: true, id: null, ids: [] });
    // Another cookie whose name merely contains the session cookie's name is not it.
    expect(cookies.read(request(`xsid=${encodeURIComponent(`s:${sign(ID, NEW)}`)}; sid2=x`))).toEqual({ present: false });
  });

  it('without a secret: issuing throws InvalidOptionsError, and no cookie is ever read', () => {
    const cookies = cookiesWith({});
    expect(() => cookies.issue(nodeResponse(), { id: ID, absoluteExpiresAt: new Date(clock.now() + 1_000) })).toThrow(InvalidOptionsError);
    expect(cookies.read(request(`sid=${encodeURIComponent(`s:${sign(ID, NEW)}`)}`))).toEqual({ present: false });
  });

  it('sets HttpOnly, Secure, SameSite, Path, Domain and a Max-Age to the absolute expiry; clear() expires it; earlier cookies are kept', () => {
    const cookies = cookiesWith({ secret: NEW, sameSite: 'strict', path: '/app', domain: 'example.com' });
    const response = nodeResponse();
    response.setHeader!('Set-Cookie', 'other=1');
    cookies.issue(response, { id: ID, absoluteExpiresAt: new Date(clock.now() + 7_200_500) });
    cookies.clear(response);
    const [other, issued, cleared] = response.cookies();
    expect(other).toBe('other=1');
    // Max-Age counts whole seconds left (rounded down); Expires is an HTTP date (whole seconds) at the absolute expiry.
    expect(parseSetCookie(issued)).toMatchObject({
      name: 'sid', httpOnly: true, secure: true, sameSite: 'strict', path: '/app', domain: 'example.com', maxAge: 7_200, expires: new Date(clock.now() + 7_200_000),
    });
    expect(parseSetCookie(cleared)).toMatchObject({ name: 'sid', value: '', maxAge: 0, expires: new Date(0), path: '/app', domain: 'example.com', httpOnly: true });
  });

  it('uses Express\'s append when the response has it', () => {
    const appended: Array<[string, string]> = [];
    cookiesWith({ secret: NEW, secure: false }).clear({ append: (name, value) => void appended.push([name, value]) });
    expect(appended).toEqual([['Set-Cookie', expect.stringMatching(/^sid=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/)]]);
  });
});

describe('sessionTokensOf', () => {
  const signed = `sid=${encodeURIComponent(`s:${sign(ID, NEW)}`)}`;

  it('lists the cookie first, then a bearer token (any case of the scheme); none when neither is there', () => {
    const cookies = cookiesWith({ secret: NEW });
    expect(sessionTokensOf(request(signed, 'Bearer other'), cookies, true)).toEqual([{ source: 'cookie', id: ID }, { source: 'bearer', id: 'other' }]);
    expect(sessionTokensOf(request('sid=forged', `Bearer ${ID}`), cookies, true)).toEqual([{ source: 'cookie', id: null }, { source: 'bearer', id: ID }]);
    expect(sessionTokensOf(request(signed), cookies, true)).toEqual([{ source: 'cookie', id: ID }]);
    // Every verified duplicate, in the order sent, then the bearer token.
    const other = `sid=${encodeURIComponent(`s:${sign('acme.BBBBBBBBBBBBBBBBBBBBBB000', NEW)}`)}`;
    expect(sessionTokensOf(request(`${other}; sid=junk; ${signed}`, 'Bearer x'), cookies, true)).toEqual([
      { source: 'cookie', id: 'acme.BBBBBBBBBBBBBBBBBBBBBB000' }, { source: 'cookie', id: ID }, { source: 'bearer', id: 'x' },
    ]);
    expect(sessionTokensOf(request(undefined, `Bearer ${ID}`), cookies, true)).toEqual([{ source: 'bearer', id: ID }]);
    expect(sessionTokensOf(request(undefined, `bearer   ${ID} `), cookies, true)).toEqual([{ source: 'bearer', id: ID }]);
    expect(sessionTokensOf(request(undefined, 'Bearer'), cookies, true)).toEqual([{ source: 'bearer', id: null }]);
    expect(sessionTokensOf(request(undefined, 'Basic dXNlcjpwYXNz'), cookies, true)).toEqual([]);
    expect(sessionTokensOf(request(), cookies, true)).toEqual([]);
  });

  it('ignores the Authorization header when bearer tokens are off', () => {
    const cookies = cookiesWith({ secret: NEW });
    expect(sessionTokensOf(request(undefined, `Bearer ${ID}`), cookies, false)).toEqual([]);
    expect(sessionTokensOf(request('sid=forged', `Bearer ${ID}`), cookies, false)).toEqual([{ source: 'cookie', id: null }]);
  });
});
