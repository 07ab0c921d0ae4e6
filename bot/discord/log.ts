/** The logger the Discord adapter needs (pino fits); tokens and attachment URLs are never passed to it. */
export interface DiscordLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}
