/**
 * Persistence of Yjs documents: an append log of updates plus snapshots (compaction).
 * Two implementations are planned: SQLite (embedded, here) and PostgreSQL (scale-out).
 */
import type Database from 'better-sqlite3';

export interface StoredDoc {
	/** Snapshot first (if any), then every later update, in append order. */
	updates: Uint8Array[];
	/** Number of log entries after the snapshot; used to decide when to compact. */
	logLength: number;
}

export interface DocStore {
	load(doc: string): Promise<StoredDoc>;
	/** Resolves once the update is durable. */
	append(doc: string, update: Uint8Array): Promise<void>;
	/**
	 * Replaces the stored log with `snapshot`, which must contain every update appended so far
	 * (encode it immediately before calling).
	 */
	compact(doc: string, snapshot: Uint8Array): Promise<void>;
	/** Resolves once everything appended so far is durable. */
	flush(): Promise<void>;
	close(): Promise<void>;
}

interface Pending {
	doc: string;
	update: Uint8Array;
	resolve: () => void;
	reject: (e: unknown) => void;
}

/**
 * SQLite doc store with group commit: appends made in one event-loop turn are written in one
 * transaction (one fsync), then their promises resolve.
 */
export class SqliteDocStore implements DocStore {
	#raw: Database.Database;
	#pending: Pending[] = [];
	#scheduled: Promise<void> | null = null;
	#stmts;

	constructor(raw: Database.Database) {
		this.#raw = raw;
		this.#stmts = {
			snapshot: raw.prepare<[string], { data: Buffer; upto_seq: number }>(
				'select data, upto_seq from doc_snapshots where doc = ?'
			),
			updates: raw.prepare<[string, number], { data: Buffer }>(
				'select data from doc_updates where doc = ? and seq > ? order by seq'
			),
			insert: raw.prepare('insert into doc_updates (doc, data) values (?, ?)'),
			maxSeq: raw.prepare<[string], { m: number | null }>(
				'select max(seq) as m from doc_updates where doc = ?'
			),
			upsertSnapshot: raw.prepare(
				'insert into doc_snapshots (doc, data, upto_seq) values (?, ?, ?) on conflict(doc) do update set data = excluded.data, upto_seq = excluded.upto_seq'
			),
			deleteUpto: raw.prepare('delete from doc_updates where doc = ? and seq <= ?')
		};
	}

	async load(doc: string): Promise<StoredDoc> {
		await this.flush();
		const snap = this.#stmts.snapshot.get(doc);
		const rows = this.#stmts.updates.all(doc, snap?.upto_seq ?? 0);
		const updates = rows.map((r) => new Uint8Array(r.data));
		if (snap) updates.unshift(new Uint8Array(snap.data));
		return { updates, logLength: rows.length };
	}

	append(doc: string, update: Uint8Array): Promise<void> {
		return new Promise((resolve, reject) => {
			this.#pending.push({ doc, update, resolve, reject });
			this.#schedule();
		});
	}

	#schedule() {
		this.#scheduled ??= new Promise<void>((done) =>
			setImmediate(() => {
				this.#scheduled = null;
				this.#write();
				done();
			})
		);
	}

	#write() {
		const batch = this.#pending;
		this.#pending = [];
		if (batch.length === 0) return;
		try {
			this.#raw.transaction(() => {
				for (const p of batch)
					this.#stmts.insert.run(
						p.doc,
						Buffer.from(p.update.buffer, p.update.byteOffset, p.update.byteLength)
					);
			})();
			for (const p of batch) p.resolve();
		} catch (e) {
			for (const p of batch) p.reject(e);
		}
	}

	/**
	 * Synchronous on purpose: pending appends are written first (they are already in `snapshot`,
	 * which the caller encodes right before calling), then the log up to now is replaced, with no
	 * await in between for a later update to slip into the deleted range.
	 */
	async compact(doc: string, snapshot: Uint8Array): Promise<void> {
		this.#write();
		this.#raw.transaction(() => {
			const upto = this.#stmts.maxSeq.get(doc)?.m ?? 0;
			this.#stmts.upsertSnapshot.run(doc, Buffer.from(snapshot), upto);
			this.#stmts.deleteUpto.run(doc, upto);
		})();
	}

	async flush(): Promise<void> {
		if (this.#scheduled) await this.#scheduled;
		this.#write();
	}

	async close(): Promise<void> {
		await this.flush();
	}
}
