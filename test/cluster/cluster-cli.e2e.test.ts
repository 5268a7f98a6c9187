/**
 * `parley cluster --nodes 3` as a user runs it: a child process that starts 3 NATS
 * servers and 3 nodes, prints their URLs; a message posted on one node is read on
 * another; SIGTERM stops every process it started.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signToken } from '../../engine/index.js';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';
import { clusterLogs } from '../helpers/cluster-logs.js';
import { freePortRange } from '../helpers/ports.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const dir = tempDir('parley-cluster-cli-');
afterAll(() => dir.remove());


const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};


describe('parley cluster', () => {
  it('starts 3 NATS servers and 3 nodes, serves across nodes, and stops them all on SIGTERM', async () => {
    const basePort = await freePortRange(3);
    // NATS ports below the kernel's ephemeral range too, where no other process's outgoing
    // connection takes one between the check and the server's bind.
    const natsBasePort = await freePortRange(9);
    const child = spawn(process.execPath, [BIN, 'cluster', '--nodes', '3', '--base-port', String(basePort), '--nats-base-port', String(natsBasePort), '--data-dir', dir.path], {
      env: { ...process.env, PARLEY_JWT_SECRET: '', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      await Promise.race([
        eventually(() => expect(out).toContain('parley cluster ready:'), 130_000, 100),
        exited.then((code) => Promise.reject(new Error(`parley cluster exited (${code}) before it was ready`))),
      ]);
      const urls = /parley cluster ready: (.*)/.exec(out)![1]!.trim().split(' ');
      expect(urls).toEqual([0, 1, 2].map((i) => `http://127.0.0.1:${basePort + i}`));
      const pids = [...out.matchAll(/ pid (\d+) /g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(6);

      const secret = readFileSync(join(dir.path, 'jwt-secret'), 'utf8').trim();
      const alice = (url: string) => api(url, signToken(secret, { sub: 'alice' }));
      const created = await alice(urls[0]!).post('/v1/conversations', { title: 'smoke', members: ['bob'] });
      expect(created.status).toBe(201);
      const posted = await alice(urls[0]!).post(`/v1/conversations/${created.body.id}/messages`, { clientMessageId: 'm1', text: 'across' });
      expect(posted.status).toBe(201);
      await eventually(async () => {
        const page = await alice(urls[2]!).get(`/v1/conversations/${created.body.id}/messages?after=0`);
        expect(page.body.messages.map((m: { text: string }) => m.text)).toEqual(['across']);
      }, 10_000);
      const health = await api(urls[1]!).get('/health');
      expect(health.body.store).toBe('jetstream');

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('parley cluster stopped');
      expect(pids.filter(alive)).toEqual([]);
    } catch (e) {
      // Stop what it started even when the test failed: the launcher first, then stragglers.
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      for (const m of out.matchAll(/ pid (\d+) /g)) if (alive(Number(m[1]))) process.kill(Number(m[1]), 'SIGKILL');
      child.kill('SIGKILL');
      throw new Error(`${(e as Error).message}\nstdout:\n${out}\nstderr:\n${err}${clusterLogs(dir.path)}`);
    }
  }, 180_000);
});
