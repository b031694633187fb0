/**
 * The PostgreSQL doc store on its own, on a schema of its own: group commit with several
 * batches in flight keeps each document's updates in the order they were made, with
 * consecutive versions, also when two stores (two instances) write one document at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import * as Y from 'yjs';
import { PgDocStore } from '../../server/db/pg-doc-store';
import { migrate } from '../../server/db/migrations';
import { dropPgSchema, pgSchemaUrl, schemaFor } from '../helpers/backend';
import type { StoredDoc } from '../../server/db/doc-store';

const opened: { pools: pg.Pool[]; schema: string }[] = [];
afterEach(async () => {
	for (const o of opened.splice(0)) {
		for (const p of o.pools) await p.end();
		await dropPgSchema(o.schema);
	}
});

async function freshPools(n: number) {
	const schema = schemaFor(`pgstore-${process.pid}-${Date.now()}-${Math.random()}`);
	const url = await pgSchemaUrl(schema);
	const pools = Array.from({ length: n }, () => new pg.Pool({ connectionString: url, max: 6 }));
	opened.push({ pools, schema });
	const db = new Kysely<unknown>({
		dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) })
	});
	await migrate(db);
	await db.destroy();
	return pools;
}

const items = (stored: StoredDoc) => {
	const doc = new Y.Doc();
	if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot.data);
	for (const u of stored.log) Y.applyUpdate(doc, u.data);
	return doc.getArray<string>('a').toArray();
};

describe('PgDocStore', () => {
	it('stores each document in order with consecutive versions while batches overlap', async () => {
		const [pool] = await freshPools(1);
		const store = new PgDocStore(pool);
		const docs = Array.from({ length: 8 }, () => new Y.Doc());
		const writes = new Map<number, Promise<number>[]>();
		docs.forEach((d, i) => {
			writes.set(i, []);
			d.on('update', (u: Uint8Array) => writes.get(i)!.push(store.append(`d${i}`, u)));
		});
		// 200 event-loop turns; each turn writes to some documents, so batches pile up behind
		// ones still in flight and documents recur in consecutive batches.
		for (let turn = 0; turn < 200; turn++) {
			for (let i = 0; i < docs.length; i++)
				if ((turn + i) % 3 !== 0) docs[i].getArray<string>('a').push([`${i}:${turn}`]);
			await new Promise((r) => setImmediate(r));
		}
		for (let i = 0; i < docs.length; i++) {
			const versions = await Promise.all(writes.get(i)!);
			expect(versions).toEqual(Array.from({ length: versions.length }, (_, k) => k + 1));
			const stored = await store.read(`d${i}`, null);
			// Stored in the order made: applying the log one by one never leaves a gap.
			const replay = new Y.Doc();
			for (const u of stored.log) {
				Y.applyUpdate(replay, u.data);
				expect(replay.store.pendingStructs).toBeNull();
			}
			expect(items(stored)).toEqual(docs[i].getArray<string>('a').toArray());
		}
		await store.close();
	});

	it('two stores writing one document get distinct consecutive versions and lose nothing', async () => {
		const [p1, p2] = await freshPools(2);
		const a = new PgDocStore(p1);
		const b = new PgDocStore(p2);
		const da = new Y.Doc();
		const db = new Y.Doc();
		const all: Promise<number>[] = [];
		da.on('update', (u: Uint8Array) => all.push(a.append('shared', u)));
		db.on('update', (u: Uint8Array) => all.push(b.append('shared', u)));
		for (let turn = 0; turn < 30; turn++) {
			da.getArray<string>('a').push([`a${turn}`]);
			db.getArray<string>('a').push([`b${turn}`]);
			await new Promise((r) => setImmediate(r));
		}
		const versions = (await Promise.all(all)).sort((x, y) => x - y);
		expect(versions).toEqual(Array.from({ length: 60 }, (_, k) => k + 1));
		const stored = await a.read('shared', null);
		const got = items(stored).sort();
		const want = [
			...Array.from({ length: 30 }, (_, t) => `a${t}`),
			...Array.from({ length: 30 }, (_, t) => `b${t}`)
		].sort();
		expect(got).toEqual(want);
		await a.close();
		await b.close();
	});
});
