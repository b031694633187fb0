import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, type SqliteHandle } from './sqlite';
import { SqliteDocStore } from './doc-store';

const open: { h: SqliteHandle; store: SqliteDocStore; dir: string }[] = [];
afterEach(async () => {
	for (const o of open.splice(0)) {
		await o.store.close();
		await o.h.db.destroy();
		rmSync(o.dir, { recursive: true, force: true });
	}
});

async function fresh() {
	const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
	const h = await openSqlite(join(dir, 'p.db'));
	const store = new SqliteDocStore(h.raw);
	open.push({ h, store, dir });
	return store;
}

function restore(updates: Uint8Array[]) {
	const doc = new Y.Doc();
	for (const u of updates) Y.applyUpdate(doc, u);
	return doc.getArray<number>('a').toArray();
}

describe('SqliteDocStore', () => {
	it('stores appends in order and loads them back', async () => {
		const store = await fresh();
		const doc = new Y.Doc();
		const writes: Promise<void>[] = [];
		doc.on('update', (u: Uint8Array) => writes.push(store.append('d', u)));
		for (let i = 0; i < 50; i++) doc.getArray<number>('a').push([i]);
		await Promise.all(writes);
		const loaded = await store.load('d');
		expect(loaded.logLength).toBe(50);
		expect(restore(loaded.updates)).toEqual(Array.from({ length: 50 }, (_, i) => i));
	});

	it('compaction keeps updates appended while it was under way', async () => {
		const store = await fresh();
		const doc = new Y.Doc();
		doc.on('update', (u: Uint8Array) => void store.append('d', u));
		for (let i = 0; i < 10; i++) doc.getArray<number>('a').push([i]);
		await store.flush();
		const compacted = store.compact('d', Y.encodeStateAsUpdate(doc));
		for (let i = 10; i < 20; i++) doc.getArray<number>('a').push([i]); // after the snapshot
		await compacted;
		await store.flush();
		const loaded = await store.load('d');
		expect(restore(loaded.updates)).toEqual(Array.from({ length: 20 }, (_, i) => i));
		expect(loaded.logLength).toBe(10); // the snapshot replaced the first ten
	});
});
