/** `parley stats`: the numbers match what was written. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { api } from '../helpers/http.js';
import { startTestNode, tokenFor, TEST_SECRET } from '../helpers/node.js';
import { tempDir } from '../helpers/temp-dir.js';
import { PARLEY_BIN as BIN } from '../helpers/cli.js';

const exec = promisify(execFile);
const dir = tempDir();
afterAll(() => dir.remove());

describe('parley stats', () => {
  it('counts streams, events per type, idempotency records and reports sizes and lag', async () => {
    const node = await startTestNode({ dataDir: dir.path });
    const alice = api(node.url, tokenFor('alice'));
    const convs: string[] = [];
    for (let c = 0; c < 3; c++) convs.push((await alice.post('/v1/conversations', { title: `s${c}`, members: ['bob'] })).body.id);
    let messageId = '';
    for (let i = 0; i < 7; i++) messageId = (await alice.post(`/v1/conversations/${convs[i % 3]}/messages`, { clientMessageId: `s${i}`, text: `x${i}` })).body.messageId;
    await api(node.url, tokenFor('bob')).post(`/v1/conversations/${convs[0]}/messages/${messageId}/reactions`, { emoji: '👀' });
    await node.close();

    const { stdout } = await exec(process.execPath, [BIN, 'stats', '--json', '--data-dir', dir.path], { env: { ...process.env, PARLEY_JWT_SECRET: TEST_SECRET } });
    const s = JSON.parse(stdout);
    expect(s.streams.byKind.conversation).toBe(3);
    expect(s.eventsByType.ConversationCreated).toBe(3);
    expect(s.eventsByType.MessagePosted).toBe(7);
    expect(s.eventsByType.ReactionAdded).toBe(1);
    const total = Object.values(s.eventsByType as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(s.events).toBe(total);
    expect(s.headPosition).toBe(total);
    // Every command above carried an id: 3 creates, 7 posts, 1 reaction.
    expect(s.idempotencyRecords).toBeGreaterThanOrEqual(11);
    expect(s.files['events.sqlite']).toBeGreaterThan(0);
    expect(s.files['readmodels.sqlite']).toBeGreaterThan(0);
    const names = s.projections.map((p: { name: string }) => p.name);
    expect(names).toEqual(expect.arrayContaining(['history', 'conversation-list', 'presence']));
    for (const p of s.projections.filter((p: { name: string }) => ['history', 'conversation-list', 'presence'].includes(p.name))) {
      expect(p.checkpoint).toBe(total);
      expect(p.lag).toBe(0);
    }

    const text = await exec(process.execPath, [BIN, 'stats', '--data-dir', dir.path]);
    expect(text.stdout).toContain(`${total} events in ${s.streams.total} streams`);
    expect(text.stdout).toMatch(/MessagePosted\s+7/);
  });
});
