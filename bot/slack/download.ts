import { UserError } from '../../commands/index.ts';

/** A Slack file as `files.info` (or a payload) describes it; only the fields we use. */
export interface SlackFileLike {
  id?: string;
  name?: string;
  mimetype?: string;
  size?: number;
  url_private_download?: string;
}

export interface DownloadLimits {
  /** Origins files may come from, e.g. `https://files.slack.com`. */
  readonly origins: readonly string[];
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/**
 * Downloads one Slack file with the bot token (`files:read`), refusing other hosts, non-images, files over
 * `maxBytes` (checked before and while reading) and slow transfers. Without the token Slack answers with an HTML login
 * page, which is refused too. Failures are `UserError`s naming the file.
 */
export async function downloadSlackFile(
  fetchFn: typeof fetch,
  file: SlackFileLike,
  token: string,
  limits: DownloadLimits,
): Promise<Buffer> {
  const name = file.name ?? file.id ?? 'the file';
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (file.mimetype !== undefined && !file.mimetype.startsWith('image/'))
    throw new UserError('InvalidInput', `${name} is not an image (${file.mimetype}); use a PNG, JPEG or WebP`);
  if (file.size !== undefined && file.size > limits.maxBytes)
    throw new UserError('InvalidInput', `${name} is ${mb(file.size)}; images are at most ${mb(limits.maxBytes)}`);
  const url = file.url_private_download;
  if (url === undefined) throw new UserError('InvalidInput', `${name} has no downloadable content`);
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    throw new UserError('InvalidInput', `${name} has an invalid download address`);
  }
  if (!limits.origins.includes(origin))
    throw new UserError('InvalidInput', `${name} is not a Slack file; only files uploaded to Slack can be used`);

  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const res = await fetchFn(url, { headers: { authorization: `Bearer ${token}` }, redirect: 'error', signal });
    if (!res.ok || res.body === null)
      throw new UserError('Unavailable', `Slack refused to hand over ${name} (HTTP ${res.status}); try again`);
    if ((res.headers.get('content-type') ?? '').startsWith('text/html'))
      throw new UserError('Unavailable', `Slack answered with a login page instead of ${name}; is files:read granted?`);
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > limits.maxBytes)
      throw new UserError('InvalidInput', `${name} is ${mb(declared)}; images are at most ${mb(limits.maxBytes)}`);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > limits.maxBytes) {
        await res.body.cancel().catch(() => undefined);
        throw new UserError('InvalidInput', `${name} is over ${mb(limits.maxBytes)}; images are at most that`);
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  } catch (error) {
    if (error instanceof UserError) throw error;
    if (signal.aborted)
      throw new UserError('Unavailable', `downloading ${name} took over ${limits.timeoutMs / 1000} s; try again`);
    throw new UserError('Unavailable', `${name} could not be downloaded from Slack; try again`, {
      cause: (error as Error).message,
    });
  }
}
