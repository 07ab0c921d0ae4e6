/** Machine-readable reasons a sampler call was refused or failed. */
export const SamplerErrorCode = {
  InvalidSchedule: 'InvalidSchedule',
  InvalidCondition: 'InvalidCondition',
  InvalidOption: 'InvalidOption',
  ShapeMismatch: 'ShapeMismatch',
  DenoiserOutput: 'DenoiserOutput',
} as const;
export type SamplerErrorCode = (typeof SamplerErrorCode)[keyof typeof SamplerErrorCode];

/**
 * Every error the sampler throws for bad input. The message states what was expected and what was given, so a
 * caller can show it unchanged; `code` lets adapters map it to a user-facing error without parsing text.
 */
export class SamplerError extends Error {
  readonly code: SamplerErrorCode;

  constructor(code: SamplerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SamplerError';
    this.code = code;
  }
}
