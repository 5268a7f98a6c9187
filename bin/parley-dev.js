#!/usr/bin/env node
// The CLI from source, for development and the tests: tsx compiles the TypeScript on load,
// so edits count at once (no build). `parley` itself (bin/parley.js) runs the compiled dist/.
import { register } from 'tsx/esm/api';

register();
await import('../engine/cli/main.ts');
