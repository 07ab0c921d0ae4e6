/**
 * What Slack refuses in Block Kit, as the Web API answers it: `invalid_blocks` for a message's blocks and
 * `invalid_arguments` for a view, each with `response_metadata.messages` such as
 * `[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]`. The limits are the documented
 * ones (docs.slack.dev reference/block-kit: blocks, block elements, composition objects, views; chat.postMessage),
 * so a bot over one fails its tests as it would fail in a workspace.
 */

export const BLOCK_KIT = {
  messageBlocks: 50,
  viewBlocks: 100,
  messageText: 40_000,
  blockId: 255,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  actionId: 255,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  inputLabel: 2000,
  inputHint: 2000,
  plainInputValue: 3000,
  placeholder: 150,
  viewTitle: 24,
  viewButton: 24,
  privateMetadata: 3000,
  callbackId: 255,
  externalId: 255,
  /** file_input's `max_files`: 1 to 10 (block-elements/file-input-element). */
  fileInputMaxFiles: 10,
  /** A trigger_id opens one view, within 3 s of the interaction (views.open: `exchanged_trigger_id`, `expired_trigger_id`). */
  triggerMs: 3000,
  /** A response_url takes 5 answers within 30 minutes (interactivity/handling: response_url). */
  responseUrlUses: 5,
} as const;

type Node = Record<string, unknown>;

const text = (v: unknown) => (typeof v === 'string' ? v : ((v as Node | undefined)?.['text'] as string | undefined));

function max(errors: string[], pointer: string, value: string | undefined, limit: number): void {
  if (value !== undefined && value.length > limit)
    errors.push(`[ERROR] must be less than ${limit + 1} characters [json-pointer:${pointer}]`);
}

function items(errors: string[], pointer: string, list: unknown, limit: number): unknown[] {
  const array = Array.isArray(list) ? list : [];
  if (array.length > limit) errors.push(`[ERROR] must provide no more than ${limit} items [json-pointer:${pointer}]`);
  return array;
}

/** Interactive elements (buttons, inputs, selects): ids, texts, values. */
function checkElement(errors: string[], pointer: string, element: Node): void {
  max(errors, `${pointer}/action_id`, element['action_id'] as string | undefined, BLOCK_KIT.actionId);
  if (element['type'] === 'button') {
    max(errors, `${pointer}/text/text`, text(element['text']), BLOCK_KIT.buttonText);
    max(errors, `${pointer}/value`, element['value'] as string | undefined, BLOCK_KIT.buttonValue);
    max(errors, `${pointer}/url`, element['url'] as string | undefined, BLOCK_KIT.buttonUrl);
  }
  if (element['type'] === 'plain_text_input') {
    const initial = element['initial_value'] as string | undefined;
    max(errors, `${pointer}/initial_value`, initial, BLOCK_KIT.plainInputValue);
    const limit = element['max_length'];
    if (typeof limit === 'number' && (limit > BLOCK_KIT.plainInputValue || limit < 1))
      errors.push(`[ERROR] must be between 1 and ${BLOCK_KIT.plainInputValue} [json-pointer:${pointer}/max_length]`);
    if (typeof limit === 'number' && initial !== undefined && initial.length > limit)
      errors.push(`[ERROR] must be less than ${limit + 1} characters [json-pointer:${pointer}/initial_value]`);
  }
  if (element['type'] === 'file_input') {
    const files = element['max_files'];
    if (files !== undefined && (typeof files !== 'number' || files < 1 || files > BLOCK_KIT.fileInputMaxFiles))
      errors.push(`[ERROR] must be between 1 and ${BLOCK_KIT.fileInputMaxFiles} [json-pointer:${pointer}/max_files]`);
  }
  max(errors, `${pointer}/placeholder/text`, text(element['placeholder']), BLOCK_KIT.placeholder);
}

function checkBlock(errors: string[], pointer: string, block: Node): void {
  max(errors, `${pointer}/block_id`, block['block_id'] as string | undefined, BLOCK_KIT.blockId);
  switch (block['type']) {
    case 'section': {
      max(errors, `${pointer}/text/text`, text(block['text']), BLOCK_KIT.sectionText);
      const fields = items(errors, `${pointer}/fields`, block['fields'], BLOCK_KIT.sectionFields);
      fields.forEach((f, i) => {
        max(errors, `${pointer}/fields/${i}/text`, text(f), BLOCK_KIT.fieldText);
      });
      if (block['accessory'] !== undefined) checkElement(errors, `${pointer}/accessory`, block['accessory'] as Node);
      if (text(block['text']) === undefined && fields.length === 0)
        errors.push(`[ERROR] must provide either text or fields [json-pointer:${pointer}]`);
      break;
    }
    case 'header':
      max(errors, `${pointer}/text/text`, text(block['text']), BLOCK_KIT.headerText);
      break;
    case 'context':
      items(errors, `${pointer}/elements`, block['elements'], BLOCK_KIT.contextElements);
      break;
    case 'actions':
      items(errors, `${pointer}/elements`, block['elements'], BLOCK_KIT.actionsElements).forEach((e, i) => {
        checkElement(errors, `${pointer}/elements/${i}`, e as Node);
      });
      break;
    case 'input':
      max(errors, `${pointer}/label/text`, text(block['label']), BLOCK_KIT.inputLabel);
      max(errors, `${pointer}/hint/text`, text(block['hint']), BLOCK_KIT.inputHint);
      if (block['element'] !== undefined) checkElement(errors, `${pointer}/element`, block['element'] as Node);
      break;
    default:
      break;
  }
}

/** A message's `blocks`: at most 50, each within its limits. Empty list: valid. */
export function checkMessageBlocks(blocks: unknown): string[] {
  const errors: string[] = [];
  items(errors, '/blocks', blocks, BLOCK_KIT.messageBlocks).forEach((b, i) => {
    checkBlock(errors, `/blocks/${i}`, b as Node);
  });
  return errors;
}

/**
 * A modal or Home tab view: title and buttons 24, private_metadata 3000, callback_id 255, at most 100 blocks, a submit
 * button when it has an input.
 */
export function checkView(view: Node): string[] {
  const errors: string[] = [];
  max(errors, '/view/title/text', text(view['title']), BLOCK_KIT.viewTitle);
  max(errors, '/view/submit/text', text(view['submit']), BLOCK_KIT.viewButton);
  max(errors, '/view/close/text', text(view['close']), BLOCK_KIT.viewButton);
  max(errors, '/view/private_metadata', view['private_metadata'] as string | undefined, BLOCK_KIT.privateMetadata);
  max(errors, '/view/callback_id', view['callback_id'] as string | undefined, BLOCK_KIT.callbackId);
  max(errors, '/view/external_id', view['external_id'] as string | undefined, BLOCK_KIT.externalId);
  const blocks = items(errors, '/view/blocks', view['blocks'], BLOCK_KIT.viewBlocks);
  blocks.forEach((b, i) => {
    checkBlock(errors, `/view/blocks/${i}`, b as Node);
  });
  // A modal with an input block and no submit button cannot be sent; Slack refuses to open it.
  if (view['type'] === 'modal' && view['submit'] === undefined && blocks.some((b) => (b as Node)['type'] === 'input'))
    errors.push(
      '[ERROR] submit is required when an input block is within the blocks array [json-pointer:/view/submit]',
    );
  return errors;
}

/**
 * What a message's text notifies or disguises, as Slack parses mrkdwn: `<!channel>`, `<!here>`, `<!everyone>`,
 * user group `<!subteam^…>` and member `<@U…>` mentions, and links whose label hides the address (`<url|label>`
 * where the label is not the address itself).
 */
export function specialsIn(mrkdwn: string): { mentions: string[]; disguisedLinks: string[] } {
  const mentions = [
    ...mrkdwn.matchAll(/<(!channel|!here|!everyone|!subteam\^[A-Z0-9]+|@[UW][A-Z0-9]+)(?:\|[^>]*)?>/g),
  ].map((m) => m[1] ?? '');
  const disguisedLinks = [...mrkdwn.matchAll(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g)]
    .filter((m) => m[2] !== m[1])
    .map((m) => m[0]);
  return { mentions, disguisedLinks };
}
