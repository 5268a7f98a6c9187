#!/usr/bin/env node
// Runs the TypeScript benchmark harness directly (tsx compiles on load), like bin/parley.js.
import { register } from 'tsx/esm/api';

register();
await import('../bench/main.ts');
