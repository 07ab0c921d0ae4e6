/** Button and modal actions. A `custom_id` is `v1:<action>:<id>`: stateless, so it works after a restart. */
export const Action = {
  Cancel: 'cancel',
  Extend: 'extend',
  Reroll: 'reroll',
  Remix: 'remix',
  Info: 'info',
  Delete: 'delete',
  /** The /long storyboard form; its id is the form's (the slash command's interaction id). */
  Long: 'long',
} as const;
export type Action = (typeof Action)[keyof typeof Action];

const ACTIONS = new Set<string>(Object.values(Action));

export const customId = (action: Action, id: string) => `v1:${action}:${id}`;

/** Parses a `custom_id`; undefined for anything that is not ours or not this version. */
export function parseCustomId(value: string): { action: Action; id: string } | undefined {
  const match = /^v1:([a-z]+):([A-Za-z0-9_-]{1,90})$/.exec(value);
  if (match === null || !ACTIONS.has(match[1] ?? '')) return undefined;
  return { action: match[1] as Action, id: match[2] as string };
}
