/** Why an input image or clip was refused; the message is safe to show to the person who sent it. */
export const MediaErrorCode = {
  Empty: 'Empty',
  TooLarge: 'TooLarge',
  Unsupported: 'Unsupported',
  Corrupt: 'Corrupt',
  Encode: 'Encode',
  Budget: 'Budget',
} as const;
export type MediaErrorCode = (typeof MediaErrorCode)[keyof typeof MediaErrorCode];

export class MediaError extends Error {
  readonly code: MediaErrorCode;

  constructor(code: MediaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MediaError';
    this.code = code;
  }
}
