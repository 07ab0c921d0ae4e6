// Pure string work shared by every process (the bot's and the worker's loggers, the store's and the queue's
// messages): it lives with the contracts so that the worker, which holds no database, need not import prisma/.

/**
 * The URL without its password, for messages and logs. Parsed as a URL, so a URL with an empty user name
 * (`postgresql://:pw@host`) or an `@` in its password is redacted too (a pattern over `user:` missed both); what does
 * not parse loses everything between `//` and its last `@`.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/?#]*@/, '//***@');
  }
}

/**
 * A function that takes the secrets of these URLs (DATABASE_URL, REDIS_URL) out of any text: each URL as written
 * becomes its redacted form, and its password, percent-encoded or decoded, becomes `***` wherever else it shows (a
 * driver may quote it, or a part of the URL, in its own words). Used on every line a bot or worker writes.
 */
export function secretScrubber(urls: readonly (string | undefined)[]): (text: string) => string {
  const replacements: [string, string][] = [];
  for (const url of urls) {
    if (url === undefined || url === '') continue;
    const redacted = redactUrl(url);
    if (redacted !== url) replacements.push([url, redacted]);
    for (const secret of passwordsOf(url)) if (secret.length >= 3) replacements.push([secret, '***']);
  }
  // Longest first, so a password that contains another secret is replaced whole.
  replacements.sort((a, b) => b[0].length - a[0].length);
  return (text) => replacements.reduce((out, [secret, mask]) => out.split(secret).join(mask), text);
}

function passwordsOf(url: string): string[] {
  let raw: string | undefined;
  try {
    raw = new URL(url).password;
  } catch {
    raw = /\/\/[^/?#]*?:([^/?#]*)@/.exec(url)?.[1];
  }
  if (raw === undefined || raw === '') return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {}
  return [...new Set([raw, decoded])];
}
