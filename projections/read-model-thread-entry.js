// The read-model thread's entry when the node runs from source (tests, development;
// started by read-model-thread.ts). Plain JavaScript on purpose: worker threads do not
// inherit the TypeScript loader, so it registers tsx (as bin/parley-dev.js does) and then
// loads the thread's code, read-model-worker.ts. The compiled node (dist/) starts
// read-model-worker.js directly and never loads this file or tsx.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./read-model-worker.ts', import.meta.url).href);
