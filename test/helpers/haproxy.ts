/**
 * A real HAProxy in front of test nodes: its configuration is the deploy template
 * (deploy/haproxy/haproxy.cfg) with the frontend bound to a free loopback port and the
 * backend's servers replaced by the nodes given; everything else — health check on
 * /ready, balancing, timeouts — is the template's own. Its output is kept so a test can
 * wait for what HAProxy reports (a server going DOWN) instead of sleeping.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './eventually.js';
import { freePortRange } from './ports.js';
import { tempDir } from './temp-dir.js';

const TEMPLATE = new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url);

export interface Haproxy {
  /** http://127.0.0.1:port of the frontend. */
  url: string;
  /** Resolves with the first output line that matches (bounded). */
  waitForLine(match: RegExp, timeoutMs?: number): Promise<string>;
  /** Output lines so far (bounded), for a failure message. */
  output(): string;
  stop(): Promise<void>;
}

/** The haproxy binary (HAPROXY_BIN or the one on PATH), or undefined when none is installed. */
export function haproxyBin(): string | undefined {
  const bin = process.env.HAPROXY_BIN ?? 'haproxy';
  return spawnSync(bin, ['-v'], { encoding: 'utf8' }).status === 0 ? bin : undefined;
}

/** The deploy template with `servers` (name → host:port) behind a frontend on `port`. */
export function haproxyConfig(port: number, servers: Record<string, string>): string {
  const template = readFileSync(TEMPLATE, 'utf8');
  const lines = template.split('\n').filter((l) => !/^\s*server\s/.test(l));
  const config = lines.map((l) => l.replace(/^(\s*)bind\s+\S+/, `$1bind 127.0.0.1:${port}`)).join('\n');
  if (!/^\s*bind 127\.0\.0\.1:/m.test(config)) throw new Error('the deploy template has no bind line to rewrite');
  // The servers go at the end: the template's last section must be the nodes' backend.
  const sections = config.match(/^(global|defaults|frontend|backend|listen)\b.*$/gm) ?? [];
  if (sections.at(-1) !== 'backend parley_nodes') throw new Error('the deploy template must end with `backend parley_nodes`');
  const serverLines = Object.entries(servers).map(([name, address]) => `    server ${name} ${address}`);
  return `${config.trimEnd()}\n${serverLines.join('\n')}\n`;
}

export async function startHaproxy(servers: Record<string, string>): Promise<Haproxy> {
  const bin = haproxyBin();
  if (!bin) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const dir = tempDir('parley-haproxy-');
  const port = await freePortRange(1);
  const file = join(dir.path, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig(port, servers));
  const child: ChildProcess = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let pending = '';
  const onData = (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      // Request log lines are many under load: keep the state changes and problems.
      if (/\b(UP|DOWN|WARNING|ALERT|NOTICE)\b/.test(line) && lines.length < 2000) lines.push(line);
    }
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const waitForLine = (match: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = lines.find((l) => match.test(l));
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`haproxy said nothing matching ${match} in ${timeoutMs} ms:\n${lines.join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    dir.remove();
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}):\n${lines.join('\n')}`);
      const res = await fetch(`${url}/health`);
      if (res.status !== 200) throw new Error(`haproxy answered ${res.status}`);
    }, 15_000, 50);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, waitForLine, output: () => lines.join('\n'), stop };
}
