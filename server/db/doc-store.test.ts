import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, type SqliteHandle } from './sqlite';
import { SqliteDocStore, versionAfter, type StoredDoc } from './doc-store';

const open: { h: SqliteHandle; store: SqliteDocStore; dir: string }[] = [];
afterEach(async () => {
	for (const o of open.splice(0)) {
		await o.store.close();
		await o.h.db.destroy();
		rmSync(o.dir, { recursive: true, force: true });
	}
});

async function freshHandle() {
	const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
	const h = await openSqlite(join(dir, 'p.db'));
	const store = new SqliteDocStore(h.raw);
	open.push({ h, store, dir });
	return { h, store };
}
const fresh = async () => (await freshHandle()).store;

function restore(stored: StoredDoc) {
	const doc = new Y.Doc();
	if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot.data);
	for (const u of stored.log) Y.applyUpdate(doc, u.data);
	return doc.getArray<number>('a').toArray();
}

describe('SqliteDocStore', () => {
	it('stores appends in order with consecutive versions and loads them back', async () => {
		const store = await fresh();
		const doc = new Y.Doc();
		const writes: Promise<number>[] = [];
		doc.on('update', (u: Uint8Array) => writes.push(store.append('d', u)));
		for (let i = 0; i < 50; i++) doc.getArray<number>('a').push([i]);
		expect(await Promise.all(writes)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
		const loaded = await store.read('d', null);
		expect(loaded.log).toHaveLength(50);
		expect(versionAfter(loaded, null)).toBe(50);
		expect(restore(loaded)).toEqual(Array.from({ length: 50 }, (_, i) => i));
		// A reader holding versions 1..45 gets exactly the last five.
		const since = await store.read('d', 45);
		expect(since.snapshot).toBeNull();
		expect(since.log.map((u) => u.version)).toEqual([46, 47, 48, 49, 50]);
	});

	it('compaction keeps updates appended while it was under way, and versions go on', async () => {
		const store = await fresh();
		const doc = new Y.Doc();
		doc.on('update', (u: Uint8Array) => void store.append('d', u));
		for (let i = 0; i < 10; i++) doc.getArray<number>('a').push([i]);
		await store.flush();
		const compacted = store.compact('d', Y.encodeStateAsUpdate(doc));
		for (let i = 10; i < 20; i++) doc.getArray<number>('a').push([i]); // after the snapshot
		await compacted;
		await store.flush();
		const loaded = await store.read('d', null);
		expect(restore(loaded)).toEqual(Array.from({ length: 20 }, (_, i) => i));
		expect(loaded.snapshot?.upto).toBe(10);
		expect(loaded.log.map((u) => u.version)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
		// A reader at version 5 needs the snapshot, since versions 6..10 are only in it.
		const since = await store.read('d', 5);
		expect(since.snapshot?.upto).toBe(10);
		expect(versionAfter(since, 5)).toBe(20);
	});

	it('keeps counting versions after a restart', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'parley-store-'));
		let h = await openSqlite(join(dir, 'p.db'));
		let store = new SqliteDocStore(h.raw);
		const doc = new Y.Doc();
		doc.getArray<number>('a').push([1]);
		expect(await store.append('d', Y.encodeStateAsUpdate(doc))).toBe(1);
		await store.compact('d', Y.encodeStateAsUpdate(doc));
		// 'e' only has a log; 'f' has a snapshot and a log after it.
		for (let i = 1; i <= 3; i++) expect(await store.append('e', new Uint8Array([0, 0]))).toBe(i);
		for (let i = 1; i <= 2; i++) expect(await store.append('f', new Uint8Array([0, 0]))).toBe(i);
		await store.compact('f', new Uint8Array([0, 0]));
		expect(await store.append('f', new Uint8Array([0, 0]))).toBe(3);
		await store.close();
		await h.db.destroy();
		h = await openSqlite(join(dir, 'p.db'));
		store = new SqliteDocStore(h.raw);
		open.push({ h, store, dir });
		doc.getArray<number>('a').push([2]);
		expect(await store.append('d', Y.encodeStateAsUpdate(doc))).toBe(2);
		expect(await store.append('e', new Uint8Array([0, 0]))).toBe(4);
		expect(await store.append('f', new Uint8Array([0, 0]))).toBe(4);
		expect(await store.append('new', new Uint8Array([0, 0]))).toBe(1);
	});

	it('runs work in the next group commit: one transaction with the appends, a failed work undone alone', async () => {
		const { h, store } = await freshHandle();
		h.raw.exec('create table t (x integer)');
		const seen: { inTransaction: boolean; appendsSoFar: unknown }[] = [];
		const append = store.append('d', new Uint8Array([0, 0]));
		const ok = store.withNextCommit((exec) => {
			// Inside the transaction that has just written the append.
			seen.push({
				inTransaction: h.raw.inTransaction,
				appendsSoFar: h.raw.prepare("select count(*) from doc_log where doc = 'd'").pluck().get()
			});
			return exec({ sql: 'insert into t (x) values (?), (?)', parameters: [1, 2] });
		});
		const failed = store.withNextCommit((exec) => {
			exec({ sql: 'insert into t (x) values (?)', parameters: [3] });
			throw new Error('no');
		});
		expect(await ok).toBe(2);
		await expect(failed).rejects.toThrow('no');
		expect(await append).toBe(1);
		expect(seen).toEqual([{ inTransaction: true, appendsSoFar: 1 }]);
		expect(h.raw.prepare('select x from t order by x').pluck().all()).toEqual([1, 2]);
		expect((await store.read('d', null)).log).toHaveLength(1);
	});

	it('reports nothing stored when a work ends the whole transaction (as disk-full or I/O errors do)', async () => {
		const { h, store } = await freshHandle();
		h.raw.exec('create table t (x integer)');
		const append = store.append('d', new Uint8Array([0, 0]));
		const broken = store.withNextCommit((exec) => {
			exec({ sql: 'insert into t (x) values (?)', parameters: [1] });
			exec({ sql: 'rollback', parameters: [] }); // what SQLite does itself on such errors
			throw new Error('disk full');
		});
		const after = store.withNextCommit((exec) =>
			exec({ sql: 'insert into t (x) values (?)', parameters: [2] })
		);
		await expect(append).rejects.toThrow();
		await expect(broken).rejects.toThrow();
		await expect(after).rejects.toThrow();
		expect(h.raw.inTransaction).toBe(false);
		expect(h.raw.prepare('select count(*) from t').pluck().get()).toBe(0);
		expect((await store.read('d', null)).log).toHaveLength(0);
		// The store goes on: the next append gets the first version.
		expect(await store.append('d', new Uint8Array([0, 0]))).toBe(1);
	});

	it('never nests its commit in another transaction left open on the connection', async () => {
		const { h, store } = await freshHandle();
		h.raw.exec('begin');
		const append = store.append('d', new Uint8Array([0, 0]));
		let durable = false;
		void append.then(() => (durable = true));
		await new Promise((r) => setImmediate(r));
		await new Promise((r) => setImmediate(r));
		// Not reported durable while it could only be a savepoint of that transaction …
		expect(durable).toBe(false);
		h.raw.exec('rollback');
		// … and not lost with its rollback.
		expect(await append).toBe(1);
		await store.flush();
		expect((await store.read('d', null)).log.map((u) => u.version)).toEqual([1]);
	});
});
