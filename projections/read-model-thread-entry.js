// The read-model thread's entry (started by read-model-thread.ts). Plain JavaScript on purpose: worker threads do not
// inherit the TypeScript loader, so it registers tsx (as bin/parley.js does) and then
// loads the thread's code, read-model-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./read-model-worker.ts', import.meta.url).href);
