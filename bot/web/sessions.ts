import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie that carries a playground session. */
export const SESSION_COOKIE = 'pusa_session';

const HOUR_MS = 3_600_000;
/** A browser keeps its session (and so its history) this long without coming back. */
const COOKIE_MAX_AGE_S = 30 * 24 * 3600;

export interface SessionOptions {
  /** The deployment's admin token: sessions are signed with a key derived from it, so they survive a restart. */
  readonly secret: string;
  /** New sessions one client address may open per hour; the per-user quota times this bounds what rotation gains. */
  readonly maxNewPerIpPerHour: number;
  /**
   * Most addresses counted at once (default 10 000): the counter's memory is bounded however many addresses ask.
   * Past it, new sessions wait until counted addresses age out, while open sessions keep working.
   */
  readonly maxTrackedAddresses?: number;
  readonly now?: () => number;
}

export type Issued =
  | { ok: true; externalId: string; setCookie: string }
  | { ok: false; retryAfterSeconds: number; message: string };

/**
 * Sessions for a playground reachable beyond loopback: the identity is a random id the server signed and handed to
 * this browser in an HttpOnly, SameSite=Strict cookie, never a name the request chose. The user id in the store is
 * derived from the session id (not the id itself, which is a bearer secret and would show in the dashboard).
 * Stateless apart from the per-address counter: a session is valid iff its signature is, so a restart keeps users'
 * histories and a made-up cookie is refused (it cannot be used to rotate identities past the cap).
 */
export function createSessions(options: SessionOptions) {
  const key = createHash('sha256').update(`pusa-playground-session\0${options.secret}`).digest();
  const now = options.now ?? Date.now;
  const mac = (purpose: string, value: string) =>
    createHmac('sha256', key).update(`${purpose}\0${value}`).digest('base64url');
  const issuedAt = new Map<string, number[]>();

  const externalIdOf = (sessionId: string) => `web-${mac('user', sessionId).slice(0, 16)}`;

  /** The user behind a cookie header, or undefined when it carries no session this server signed. */
  function verify(cookieHeader: string | undefined): string | undefined {
    const value = readCookie(cookieHeader, SESSION_COOKIE);
    const dot = value?.lastIndexOf('.') ?? -1;
    if (value === undefined || dot <= 0) return undefined;
    const id = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1));
    const expected = Buffer.from(mac('session', id));
    return given.length === expected.length && timingSafeEqual(given, expected) ? externalIdOf(id) : undefined;
  }

  const maxTracked = options.maxTrackedAddresses ?? 10_000;

  /** Opens a new session for a client address, unless that address has opened its hourly share already. */
  function issue(remoteAddress: string): Issued {
    const t = now();
    const address = networkOf(remoteAddress);
    forget(t);
    if (!issuedAt.has(address) && issuedAt.size >= maxTracked) {
      forget(t, true);
      if (issuedAt.size >= maxTracked) {
        // Insertion order: the first address counted is the first whose hour ends.
        const oldest = issuedAt.values().next().value?.[0] ?? t;
        const retryAfterSeconds = Math.max(60, Math.ceil((HOUR_MS - (t - oldest)) / 1000));
        return {
          ok: false,
          retryAfterSeconds,
          message: `too many new playground sessions are being opened right now; try again in ${Math.ceil(retryAfterSeconds / 60)} minutes`,
        };
      }
    }
    const recent = (issuedAt.get(address) ?? []).filter((at) => t - at < HOUR_MS);
    if (recent.length >= options.maxNewPerIpPerHour) {
      const retryAfterSeconds = Math.ceil((HOUR_MS - (t - (recent[0] ?? t))) / 1000);
      return {
        ok: false,
        retryAfterSeconds,
        message:
          `too many new playground sessions from your address this hour (${options.maxNewPerIpPerHour}): ` +
          `keep cookies on so this browser keeps its session, or try again in ${Math.ceil(retryAfterSeconds / 60)} minutes`,
      };
    }
    recent.push(t);
    // Re-inserted, so the map stays ordered by each address's first session of the hour.
    issuedAt.delete(address);
    issuedAt.set(address, recent);
    const id = randomBytes(24).toString('base64url');
    return {
      ok: true,
      externalId: externalIdOf(id),
      setCookie: `${SESSION_COOKIE}=${id}.${mac('session', id)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${COOKIE_MAX_AGE_S}`,
    };
  }

  // Addresses whose last session is over an hour old are dropped, so the counter cannot grow without bound.
  let lastSweep = 0;
  function forget(t: number, force = false) {
    if (t - lastSweep < (force ? 1_000 : 60_000)) return;
    lastSweep = t;
    for (const [address, times] of issuedAt) if (times.every((at) => t - at >= HOUR_MS)) issuedAt.delete(address);
  }

  return { verify, issue };
}

/**
 * The network a client address stands for: an IPv4 address itself (an IPv4-mapped IPv6 one too), an IPv6 address its
 * /64, which one host or home is given whole, so rotating through it opens no more sessions than one address.
 */
export function networkOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4: `name=value` pairs separated by `; `). */
function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
