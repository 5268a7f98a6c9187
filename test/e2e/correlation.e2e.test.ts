/** A request's correlation id is in its log lines and in the metadata of the events it appends. */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { api } from '../helpers/http.js';
import { spawnNode, tokenFor, type SpawnedNode } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { connectWs } from '../helpers/ws-client.js';

const dir = tempDir();
let node: SpawnedNode;
const lines: Array<Record<string, unknown>> = [];
beforeAll(async () => {
  // Command lines are debug (one per command is hot-path work).
  node = await spawnNode(dir.path, { LOG_LEVEL: 'debug' });
  let buffer = '';
  node.process.stdout!.pipe(
    new Writable({
      write(chunk, _enc, done) {
        buffer += chunk.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        for (const l of parts) if (l.startsWith('{')) lines.push(JSON.parse(l));
        done();
      },
    }),
  );
});
afterAll(async () => {
  await node.kill('SIGTERM');
  dir.remove();
});

async function feed(conversationId: string) {
  const res = await fetch(`${node.url}/v1/admin/feed?conversation=${conversationId}`, {
    headers: { authorization: `Bearer ${tokenFor('ops', { role: 'admin' })}` },
  });
  return (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('correlation ids', () => {
  it('ties HTTP request logs, command logs and event metadata together', async () => {
    const alice = api(node.url, tokenFor('alice'));
    const { body: c } = await alice.post('/v1/conversations', { title: 'Trace', members: [] });
    const posted = await alice.post(`/v1/conversations/${c.id}/messages`, { clientMessageId: 'trace-1', text: 'hi' }, { 'x-request-id': 'req-abc-123' });
    expect(posted.status).toBe(201);
    const [, message] = await feed(c.id);
    expect(message.metadata).toMatchObject({ correlationId: 'req-abc-123', commandId: 'trace-1', actor: 'alice' });
    // The node's stdout is a pipe: its log lines may arrive a moment after the response.
    await eventually(() => {
      const logged = lines.filter((l) => l.reqId === 'req-abc-123');
      expect(logged.map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'command handled', 'request completed']));
      expect(logged.find((l) => l.msg === 'command handled')).toMatchObject({ commandId: 'trace-1', seq: 2 });
    });
  });

  it('uses the command id as the correlation id over WebSockets', async () => {
    const { body: c } = await api(node.url, tokenFor('alice')).post('/v1/conversations', { title: 'Trace WS', members: [] });
    const s = await connectWs(node.url, tokenFor('alice'));
    await s.command('ws-cmd-7', { type: 'PostMessage', conversationId: c.id, text: 'over ws' });
    s.close();
    const [, message] = await feed(c.id);
    expect(message.metadata).toMatchObject({ correlationId: 'ws-cmd-7', commandId: 'ws-cmd-7' });
    await eventually(() =>
      expect(lines.find((l) => l.correlationId === 'ws-cmd-7')).toMatchObject({ msg: 'command handled', seq: 2, userId: 'alice' }),
    );
  });
});
