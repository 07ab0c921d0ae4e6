import { UserError } from '../../commands/index.ts';

export interface DownloadLimits {
  /** Hosts (lowercase) attachments may come from; anything else is refused before a request is made. */
  readonly hosts: readonly string[];
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

export interface AttachmentLike {
  readonly url: string;
  readonly name: string;
  readonly size: number;
  readonly contentType: string | null;
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

/**
 * Checks an attachment without fetching it: an allowed host, an image content type and the declared size. Cheap
 * enough to run before the interaction is acknowledged, so these refusals can be ephemeral from the start.
 */
export function checkAttachment(attachment: AttachmentLike, limits: DownloadLimits): UserError | undefined {
  let host: string;
  try {
    const url = new URL(attachment.url);
    host = url.hostname.toLowerCase();
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
  } catch {
    return new UserError('InvalidInput', `${attachment.name}: the attachment link is not a valid URL`);
  }
  if (!limits.hosts.includes(host))
    return new UserError(
      'InvalidInput',
      `${attachment.name}: attachments are only taken from Discord's CDN (${limits.hosts.join(', ')}), not ${host}`,
    );
  const type = (attachment.contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!IMAGE_TYPES.has(type))
    return new UserError(
      'InvalidInput',
      `${attachment.name} is ${type === '' ? 'not an image' : `a ${type} file`}; attach a PNG, JPEG or WebP image`,
    );
  if (attachment.size > limits.maxBytes)
    return new UserError(
      'InvalidInput',
      `${attachment.name} is ${mb(attachment.size)}; the limit is ${mb(limits.maxBytes)}`,
    );
  return undefined;
}

/**
 * Downloads an attachment now (Discord's signed URLs expire), within the size and time limits; the body is
 * counted as it streams so a lying `content-length` cannot push past the limit.
 */
export async function downloadAttachment(attachment: AttachmentLike, limits: DownloadLimits): Promise<Buffer> {
  const refused = checkAttachment(attachment, limits);
  if (refused !== undefined) throw refused;
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await fetch(attachment.url, { signal, redirect: 'error' });
  } catch (error) {
    throw new UserError(
      'InvalidInput',
      signal.aborted
        ? `${attachment.name} took longer than ${limits.timeoutMs / 1000} s to download; try a smaller image`
        : `${attachment.name} could not be downloaded; attach it again`,
      { cause: (error as Error).message },
    );
  }
  if (!response.ok || response.body === null)
    throw new UserError(
      'InvalidInput',
      `${attachment.name} could not be downloaded (HTTP ${response.status}); attach it again`,
    );
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > limits.maxBytes) {
        await response.body.cancel().catch(() => undefined);
        throw new UserError('InvalidInput', `${attachment.name} is larger than the ${mb(limits.maxBytes)} limit`);
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(
      'InvalidInput',
      signal.aborted
        ? `${attachment.name} took longer than ${limits.timeoutMs / 1000} s to download; try a smaller image`
        : `${attachment.name} could not be downloaded; attach it again`,
    );
  }
  return Buffer.concat(chunks);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
