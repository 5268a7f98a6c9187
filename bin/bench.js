#!/usr/bin/env node
// Runs the TypeScript benchmark harness directly (tsx compiles on load), like bin/parley-dev.js;
// the nodes it measures run compiled (bench/procs.ts builds dist/ first).
import { register } from 'tsx/esm/api';

register();
await import('../bench/main.ts');
