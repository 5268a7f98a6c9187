/**
 * FileStorage on a real file system: what a resolved `put` promises (it is on disk, also
 * when it was batched behind a write in flight) and what the atomic rewrite promises (a
 * write cut short leaves the last complete file). The cut is real: a child process whose
 * file size limit (`ulimit -f`) makes the write of a large value fail part-way, as a full
 * disk would; a FileStorage that wrote the file in place would leave it torn.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage } from '../../client-lib/file-storage.js';
import { namespaced } from '../../client-lib/storage.js';
import { tempDir } from '../helpers/temp-dir.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE_STORAGE = new URL('../../client-lib/file-storage.ts', import.meta.url).href;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function storeFile(): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return join(dir.path, 'sub', 'store.json');
}

const onDisk = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8'));

describe('FileStorage', () => {
  it('reads back after reopening every put and delete that resolved', async () => {
    const file = storeFile();
    const s = await FileStorage.open(file);
    await Promise.all([s.put('a/1', { n: 1 }), s.put('a/2', [2]), s.put('b', 'x')]);
    await s.delete('b');
    await namespaced(s, 'ext/yjs/').put('doc', { v: 1 });
    await s.close();

    const r = await FileStorage.open(file);
    expect(await r.get('a/1')).toEqual({ n: 1 });
    expect(await r.get('b')).toBeUndefined();
    expect(await r.keys('a/')).toEqual(['a/1', 'a/2']);
    expect(await namespaced(r, 'ext/yjs/').keys('')).toEqual(['doc']);
    expect(await r.get('ext/yjs/doc')).toEqual({ v: 1 });
    await r.close();
  });

  it('resolves each put only once a write holding it is on disk, puts made during a write included', async () => {
    const file = storeFile();
    const s = await FileStorage.open(file);
    // The first put starts a write; the others arrive while it is in flight.
    const seen = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.put(`k/${i}`, i).then(() => onDisk(file)[`k/${i}`])),
    );
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await s.delete('k/0');
    expect(onDisk(file)['k/0']).toBeUndefined();
    await s.close();
  });

  it('keeps the last complete contents when a write is cut short, and leaves nothing torn in their place', async () => {
    const file = storeFile();
    // In a child limited to files of 64 blocks: the small put fits, the 1 MiB one cannot.
    const script = `
      import { FileStorage } from ${JSON.stringify(FILE_STORAGE)};
      const s = await FileStorage.open(process.argv[1]);
      await s.put('kept', { n: 1 });
      console.log('kept');
      await s.put('big', 'x'.repeat(1 << 20)).then(() => console.log('big written'), (err) => console.log('big failed', err.code));
    `;
    const child = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = execFile(
        'sh',
        ['-c', 'ulimit -f 64 && exec "$0" --import tsx --input-type=module -e "$1" "$2"', process.execPath, script, file],
        { cwd: ROOT, timeout: 60_000 },
        (_err, stdout, stderr) => resolve({ code: p.exitCode, stdout, stderr }),
      );
    });
    expect(child.stdout, child.stderr).toBe('kept\nbig failed EFBIG\n');

    expect(onDisk(file)).toEqual({ kept: { n: 1 } });
    const r = await FileStorage.open(file);
    expect(await r.get('kept')).toEqual({ n: 1 });
    expect(await r.get('big')).toBeUndefined();
    // The cut-short write is a temp file beside it, never read.
    expect(readdirSync(join(file, '..')).filter((f) => f !== 'store.json').every((f) => f.endsWith('.tmp'))).toBe(true);
    await r.close();
  });
});
