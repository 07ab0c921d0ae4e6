/** Redis names shared by the bot and the workers. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancel`;
}
