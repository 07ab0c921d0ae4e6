/**
 * What Discord refuses in a message or modal body, as the API answers it: 400 with code 50035 "Invalid Form Body"
 * and an `errors` tree keyed by the JSON path (`{ content: { _errors: [{ code, message }] } }`). The limits are
 * Discord's documented ones (developers/resources/message.mdx "Create Message", channel.mdx "Embed Limits",
 * components/reference.mdx "Button", "Action Row", "Text Input", interactions "Modal"); the stand-in applies them
 * so a bot that breaks one fails its tests the way it would fail in production.
 */

export interface FieldError {
  path: (string | number)[];
  code: string;
  message: string;
}

export const LIMITS = {
  content: 2000,
  embeds: 10,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footerText: 2048,
  authorName: 256,
  embedTotal: 6000,
  actionRows: 5,
  rowComponents: 5,
  customId: 100,
  buttonLabel: 80,
  selectOptions: 25,
  modalTitle: 45,
  modalRows: 5,
  textInputLabel: 45,
  textInputValue: 4000,
  textInputPlaceholder: 100,
  allowedMentionIds: 100,
} as const;

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** Checks a string's length against `1..max` (or `0..max`), Discord's way of saying so. */
function length(errors: FieldError[], path: (string | number)[], value: unknown, max: number, min = 0): void {
  if (value === undefined || value === null) {
    if (min > 0) errors.push({ path, code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });
    return;
  }
  const n = str(value).length;
  if (n > max || n < min)
    errors.push(
      min > 0
        ? { path, code: 'BASE_TYPE_BAD_LENGTH', message: `Must be between ${min} and ${max} in length.` }
        : { path, code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${max} or fewer in length.` },
    );
}

function count(errors: FieldError[], path: (string | number)[], list: unknown[], max: number, min = 0): void {
  if (list.length > max || list.length < min)
    errors.push({ path, code: 'BASE_TYPE_BAD_LENGTH', message: `Must be between ${min} and ${max} in length.` });
}

function checkEmbeds(errors: FieldError[], embeds: unknown[]): void {
  count(errors, ['embeds'], embeds, LIMITS.embeds);
  let total = 0;
  embeds.forEach((raw, e) => {
    const embed = (raw ?? {}) as Record<string, unknown>;
    const fields = Array.isArray(embed['fields']) ? (embed['fields'] as Record<string, unknown>[]) : [];
    const footer = (embed['footer'] ?? {}) as Record<string, unknown>;
    const author = (embed['author'] ?? {}) as Record<string, unknown>;
    length(errors, ['embeds', e, 'title'], embed['title'], LIMITS.embedTitle);
    length(errors, ['embeds', e, 'description'], embed['description'], LIMITS.embedDescription);
    count(errors, ['embeds', e, 'fields'], fields, LIMITS.embedFields);
    fields.forEach((f, i) => {
      length(errors, ['embeds', e, 'fields', i, 'name'], f['name'], LIMITS.fieldName, 1);
      length(errors, ['embeds', e, 'fields', i, 'value'], f['value'], LIMITS.fieldValue, 1);
      total += str(f['name']).length + str(f['value']).length;
    });
    length(errors, ['embeds', e, 'footer', 'text'], footer['text'], LIMITS.footerText);
    length(errors, ['embeds', e, 'author', 'name'], author['name'], LIMITS.authorName);
    total +=
      str(embed['title']).length +
      str(embed['description']).length +
      str(footer['text']).length +
      str(author['name']).length;
  });
  if (total > LIMITS.embedTotal)
    errors.push({
      path: ['embeds'],
      code: 'MAX_EMBED_SIZE_EXCEEDED',
      message: `Embed size exceeds maximum size of ${LIMITS.embedTotal}`,
    });
}

/** Legacy (not Components V2) action rows of buttons and select menus. */
function checkComponents(errors: FieldError[], rows: unknown[]): void {
  count(errors, ['components'], rows, LIMITS.actionRows);
  const seen = new Set<string>();
  rows.forEach((raw, r) => {
    const row = (raw ?? {}) as Record<string, unknown>;
    const children = Array.isArray(row['components']) ? (row['components'] as Record<string, unknown>[]) : [];
    if (row['type'] !== 1) {
      errors.push({
        path: ['components', r, 'type'],
        code: 'UNION_TYPE_CHOICES',
        message: 'Value must be one of {1}.',
      });
      return;
    }
    count(errors, ['components', r, 'components'], children, LIMITS.rowComponents, 1);
    const hasSelect = children.some((c) => typeof c['type'] === 'number' && c['type'] >= 3 && c['type'] <= 8);
    if (hasSelect && children.length > 1)
      errors.push({
        path: ['components', r, 'components'],
        code: 'COMPONENT_LAYOUT_WIDTH_EXCEEDED',
        message: 'The specified component exceeds the maximum width',
      });
    children.forEach((c, i) => {
      const path = ['components', r, 'components', i];
      const linkOrPremium = c['type'] === 2 && (c['style'] === 5 || c['style'] === 6);
      if (!linkOrPremium) length(errors, [...path, 'custom_id'], c['custom_id'], LIMITS.customId, 1);
      const id = str(c['custom_id']);
      if (id !== '' && seen.has(id))
        errors.push({
          path: [...path, 'custom_id'],
          code: 'COMPONENT_CUSTOM_ID_DUPLICATED',
          message: 'Component custom id cannot be duplicated',
        });
      seen.add(id);
      if (c['type'] === 2) length(errors, [...path, 'label'], c['label'], LIMITS.buttonLabel);
      if (c['type'] === 3 && Array.isArray(c['options']))
        count(errors, [...path, 'options'], c['options'], LIMITS.selectOptions, 1);
    });
  });
}

function checkAllowedMentions(errors: FieldError[], raw: unknown): void {
  if (raw === undefined || raw === null) return;
  const allowed = raw as { parse?: unknown; users?: unknown; roles?: unknown };
  const parse = Array.isArray(allowed.parse) ? (allowed.parse as string[]) : [];
  for (const kind of ['users', 'roles'] as const) {
    const list = allowed[kind];
    if (!Array.isArray(list)) continue;
    // Discord: "parse" and an explicit list of the same kind are mutually exclusive.
    if (parse.includes(kind))
      errors.push({
        path: ['allowed_mentions', kind],
        code: 'MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE',
        message: `parse:["${kind}"] and ${kind}: [ids...] are mutually exclusive.`,
      });
    count(errors, ['allowed_mentions', kind], list, LIMITS.allowedMentionIds);
  }
}

/** A message body (create or edit, channel or interaction route): the errors Discord would answer with. */
export function checkMessage(json: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  length(errors, ['content'], json['content'], LIMITS.content);
  if (Array.isArray(json['embeds'])) checkEmbeds(errors, json['embeds']);
  const componentsV2 = (Number(json['flags'] ?? 0) & (1 << 15)) !== 0;
  if (Array.isArray(json['components']) && !componentsV2) checkComponents(errors, json['components']);
  checkAllowedMentions(errors, json['allowed_mentions']);
  return errors;
}

/** A modal (interaction callback type 9): title, rows of one text input each, and the text inputs' limits. */
export function checkModal(data: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  length(errors, ['data', 'title'], data['title'], LIMITS.modalTitle, 1);
  length(errors, ['data', 'custom_id'], data['custom_id'], LIMITS.customId, 1);
  const rows = Array.isArray(data['components']) ? (data['components'] as Record<string, unknown>[]) : [];
  count(errors, ['data', 'components'], rows, LIMITS.modalRows, 1);
  rows.forEach((row, r) => {
    const inputs = (row['type'] === 18 ? [row['component']] : row['components']) as Record<string, unknown>[];
    const list = Array.isArray(inputs) ? inputs : [];
    if (row['type'] === 1) count(errors, ['data', 'components', r, 'components'], list, 1, 1);
    list.forEach((input, i) => {
      if (input?.['type'] !== 4) return;
      const path = ['data', 'components', r, 'components', i];
      length(errors, [...path, 'custom_id'], input['custom_id'], LIMITS.customId, 1);
      if (row['type'] === 1) length(errors, [...path, 'label'], input['label'], LIMITS.textInputLabel, 1);
      length(errors, [...path, 'value'], input['value'], LIMITS.textInputValue);
      length(errors, [...path, 'placeholder'], input['placeholder'], LIMITS.textInputPlaceholder);
      for (const key of ['min_length', 'max_length'] as const) {
        const v = input[key];
        if (v !== undefined && (typeof v !== 'number' || v < (key === 'max_length' ? 1 : 0) || v > 4000))
          errors.push({
            path: [...path, key],
            code: 'NUMBER_TYPE_MAX',
            message: `${key} must be between ${key === 'max_length' ? 1 : 0} and 4000.`,
          });
      }
    });
  });
  return errors;
}

/**
 * Application commands as `PUT /applications/{id}/commands` takes them (developers/interactions/application-commands.mdx
 * "Application Command Naming", "Application Command Option Structure"): names 1–32 lowercase characters of
 * `-_`, letters and digits; descriptions 1–100 (none on a context-menu command); at most 25 options, the required
 * before the others; at most 25 choices, their names 1–100 and string values at most 100; `min_length`/`max_length`
 * 0–6000 and 1–6000; and a command's names, descriptions and choice values at most 8,000 characters together.
 */
export function checkCommands(list: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const commands = Array.isArray(list) ? (list as Record<string, unknown>[]) : [];
  const NAME = /^[-_\p{Ll}\p{Lo}\p{N}]{1,32}$/u;
  commands.forEach((command, c) => {
    const chatInput = command['type'] === undefined || command['type'] === 1;
    let total = 0;
    const name = (path: (string | number)[], value: unknown) => {
      total += str(value).length;
      if (!NAME.test(str(value)))
        errors.push({ path, code: 'APPLICATION_COMMAND_INVALID_NAME', message: 'Command name is invalid' });
    };
    const described = (path: (string | number)[], value: unknown) => {
      total += str(value).length;
      length(errors, path, value, 100, 1);
    };
    if (chatInput) name([c, 'name'], command['name']);
    else length(errors, [c, 'name'], command['name'], 32, 1);
    if (chatInput) described([c, 'description'], command['description']);
    const options = Array.isArray(command['options']) ? (command['options'] as Record<string, unknown>[]) : [];
    count(errors, [c, 'options'], options, 25);
    let optionalSeen = false;
    options.forEach((option, o) => {
      const path = [c, 'options', o];
      name([...path, 'name'], option['name']);
      described([...path, 'description'], option['description']);
      if (option['required'] === true && optionalSeen)
        errors.push({
          path: [...path, 'required'],
          code: 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
          message: 'Required options must be placed before non-required options',
        });
      if (option['required'] !== true) optionalSeen = true;
      const choices = Array.isArray(option['choices']) ? (option['choices'] as Record<string, unknown>[]) : [];
      count(errors, [...path, 'choices'], choices, 25);
      choices.forEach((choice, k) => {
        total += str(choice['name']).length + String(choice['value'] ?? '').length;
        length(errors, [...path, 'choices', k, 'name'], choice['name'], 100, 1);
        if (typeof choice['value'] === 'string') length(errors, [...path, 'choices', k, 'value'], choice['value'], 100);
      });
      for (const [key, min] of [
        ['min_length', 0],
        ['max_length', 1],
      ] as const) {
        const v = option[key];
        if (v !== undefined && (typeof v !== 'number' || v < min || v > 6000))
          errors.push({
            path: [...path, key],
            code: 'NUMBER_TYPE_MAX',
            message: `${key} must be between ${min} and 6000.`,
          });
      }
    });
    if (total > 8000)
      errors.push({
        path: [c],
        code: 'APPLICATION_COMMAND_TOO_LARGE',
        message: 'Command exceeds maximum size (8000)',
      });
  });
  return errors;
}

/** The 400 body Discord sends for invalid fields: code 50035 with the errors nested by path. */
export function invalidFormBody(errors: FieldError[]): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  for (const error of errors) {
    let node = tree;
    for (const key of error.path) {
      const k = String(key);
      node[k] ??= {};
      node = node[k] as Record<string, unknown>;
    }
    const list = (node['_errors'] ?? []) as { code: string; message: string }[];
    list.push({ code: error.code, message: error.message });
    node['_errors'] = list;
  }
  return { message: 'Invalid Form Body', code: 50035, errors: tree };
}

/** Who a message notifies, as Discord resolves `allowed_mentions` (absent: everything in the content is parsed). */
export interface Mentions {
  everyone: boolean;
  users: string[];
  roles: string[];
}

export function resolveMentions(content: string, raw: unknown): Mentions {
  const allowed = raw as { parse?: string[]; users?: string[]; roles?: string[] } | undefined | null;
  const parse = allowed === undefined || allowed === null ? ['everyone', 'users', 'roles'] : (allowed.parse ?? []);
  const ids = (pattern: RegExp) => [...content.matchAll(pattern)].map((m) => m[1] ?? '');
  const pick = (kind: 'users' | 'roles', found: string[]) =>
    [...new Set(found)].filter((id) => parse.includes(kind) || (allowed?.[kind] ?? []).includes(id));
  return {
    everyone: parse.includes('everyone') && /@(everyone|here)\b/.test(content),
    users: pick('users', ids(/<@!?(\d+)>/g)),
    roles: pick('roles', ids(/<@&(\d+)>/g)),
  };
}
