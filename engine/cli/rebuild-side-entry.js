// The side rebuild thread's entry when the CLI runs from source (tests, development;
// started by rebuild-side.ts). Plain JavaScript on purpose: worker threads do not inherit
// the TypeScript loader, so it registers tsx (as bin/parley-dev.js does) and then loads
// rebuild-side-worker.ts. The compiled CLI (dist/) starts rebuild-side-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./rebuild-side-worker.ts', import.meta.url).href);
