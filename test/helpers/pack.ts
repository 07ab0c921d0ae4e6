import { existsSync } from 'node:fs';

/** The pack every runtime test uses: the one the repository ships. */
export const PACK_DIR = new URL('../../models/pusa-mini', import.meta.url).pathname;

if (!existsSync(`${PACK_DIR}/manifest.json`)) {
  throw new Error(`models/pusa-mini is missing (${PACK_DIR}); the runtime tests need the shipped model pack`);
}
