/**
 * `parley cluster` never leaves processes behind: killed with SIGKILL (no chance to stop
 * anything itself), every node and nats-server it started is gone within a bound. Also
 * checks that `--nats-base-port` places every NATS port, that servers which support it
 * (2.10+) run with `sync_interval: always`, and that nodes given a certificate
 * (PARLEY_TLS_CERT) are started, waited for and printed as https:// URLs that answer.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';
import { clusterLogs } from '../helpers/cluster-logs.js';
import { freePortRange } from '../helpers/ports.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';
import { certificateAuthority, issueCertificate } from '../helpers/certificates.js';

const dir = tempDir('parley-cluster-lifecycle-');
afterAll(() => dir.remove());


/** Running, and not a zombie waiting for a parent that died to be reaped by init. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(0) said it runs
  }
};

function natsVersion(): [number, number] {
  const out = execFileSync(process.env.NATS_SERVER_BIN ?? 'nats-server', ['--version'], { encoding: 'utf8' });
  const m = /v(\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

describe('parley cluster lifecycle', () => {
  it('takes every node and nats-server along when it is killed with SIGKILL', async () => {
    const basePort = await freePortRange(2);
    const natsBasePort = await freePortRange(9);
    const ca = certificateAuthority(dir.path);
    const cert = issueCertificate(ca, dir.path, 'node');
    const child = spawn(
      process.execPath,
      [BIN, 'cluster', '--nodes', '2', '--base-port', String(basePort), '--nats-base-port', String(natsBasePort), '--data-dir', join(dir.path, 'cluster')],
      {
        env: { ...process.env, PARLEY_JWT_SECRET: '', LOG_LEVEL: 'warn', PARLEY_TLS_CERT: cert.certFile, PARLEY_TLS_KEY: cert.keyFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const pids = () => [...out.matchAll(/ pid (\d+) /g)].map((m) => Number(m[1]));
    try {
      await Promise.race([
        // Longer than the launcher's own 90 s for the NATS cluster, so a launcher that gives
        // up says why (it exits with the reason) instead of this wait ending first.
        eventually(() => expect(out).toContain('parley cluster ready:'), 130_000, 100),
        exited.then((code) => Promise.reject(new Error(`parley cluster exited (${code}) before it was ready`))),
      ]);
      const started = pids();
      expect(started).toHaveLength(5); // 3 nats-servers, 2 nodes
      expect(started.every(alive)).toBe(true);

      // Every NATS port comes from --nats-base-port: clients, then routes, then monitoring.
      const urls = [...out.matchAll(/^nats .* (nats:\/\/\S+) /gm)].map((m) => m[1]);
      expect(urls).toEqual([0, 1, 2].map((i) => `nats://127.0.0.1:${natsBasePort + i}`));
      const nodeUrls = [...out.matchAll(/^node .* (\S+:\/\/\S+) /gm)].map((m) => m[1]);
      expect(nodeUrls).toEqual([0, 1].map((i) => `https://127.0.0.1:${basePort + i}`));
      expect(await Promise.all(nodeUrls.map((u) => healthStatus(`${u}/health`, ca.pem)))).toEqual([200, 200]);
      const conf = readFileSync(join(dir.path, 'cluster', 'nats-1', 'server.conf'), 'utf8');
      expect(conf).toContain(`listen: 127.0.0.1:${natsBasePort}`);
      expect(conf).toContain(`listen: 127.0.0.1:${natsBasePort + 3}`);
      expect(conf).toContain(`http: 127.0.0.1:${natsBasePort + 6}`);
      const [major, minor] = natsVersion();
      if (major > 2 || (major === 2 && minor >= 10)) {
        expect(conf).toContain('sync_interval: "always"');
        expect(out).toContain('sync_interval always');
      } else {
        console.log(`nats-server ${major}.${minor} has no sync_interval: not checked`);
        expect(conf).not.toContain('sync_interval');
      }

      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      // The nodes stop within their 10 s grace, the servers on SIGTERM from their watchdog.
      await eventually(() => expect(started.filter(alive)).toEqual([]), 30_000, 200);
    } catch (e) {
      child.kill('SIGKILL');
      for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
      throw new Error(`${(e as Error).message}\nstdout:\n${out}\nstderr:\n${err}${clusterLogs(join(dir.path, 'cluster'))}`);
    }
  }, 180_000);
});

/** The status of a GET over HTTPS, trusting only `ca`. */
function healthStatus(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}
