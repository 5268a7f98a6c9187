/**
 * The one way tests start a browser: the system's Chromium, headless, with nothing that
 * talks to the network on its own (updates, sync, first-run pages) to slow a test down.
 */
import { chromium, type Browser } from 'playwright-core';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Launches /usr/bin/chromium headless; `extraArgs` add to the shared flags (WebRTC tests need some). */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, ...extraArgs] });
}
