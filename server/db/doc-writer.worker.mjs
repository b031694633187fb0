// Writes document updates to SQLite on its own thread, so the event loop never waits for an
// fsync. Plain JavaScript so it runs unchanged under tsx, vitest and plain node.
// Messages, in order: { id, type: 'append', items: [{ doc, data }] } | { id, type: 'compact',
// doc, snapshot } | { id, type: 'close' }. Replies: { id, ok: true } | { id, ok: false, error }.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${workerData.synchronous}`);
db.pragma('busy_timeout = 5000');

const insert = db.prepare('insert into doc_updates (doc, data) values (?, ?)');
const maxSeq = db.prepare('select max(seq) as m from doc_updates where doc = ?');
const upsertSnapshot = db.prepare(
	'insert into doc_snapshots (doc, data, upto_seq) values (?, ?, ?) on conflict(doc) do update set data = excluded.data, upto_seq = excluded.upto_seq'
);
const deleteUpto = db.prepare('delete from doc_updates where doc = ? and seq <= ?');
const toBuffer = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

const append = db.transaction((items) => {
	for (const { doc, data } of items) insert.run(doc, toBuffer(data));
});
const compact = db.transaction((doc, snapshot) => {
	const upto = maxSeq.get(doc)?.m ?? 0;
	upsertSnapshot.run(doc, toBuffer(snapshot), upto);
	deleteUpto.run(doc, upto);
});

parentPort.on('message', (msg) => {
	try {
		if (msg.type === 'append') append(msg.items);
		else if (msg.type === 'compact') compact(msg.doc, msg.snapshot);
		else if (msg.type === 'close') db.close();
		parentPort.postMessage({ id: msg.id, ok: true });
	} catch (e) {
		parentPort.postMessage({
			id: msg.id,
			ok: false,
			error: e instanceof Error ? e.message : String(e)
		});
	}
});
