#!/usr/bin/env node
// Installed as `pusa`: loads the TypeScript entry point through tsx (Node 20 cannot strip types itself).
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
