/**
 * Persistence of Yjs documents: an append log of updates plus snapshots (compaction).
 * Two implementations are planned: SQLite (embedded, here) and PostgreSQL (scale-out).
 */
import type Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';

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

type WriterRequest =
	| { type: 'append'; items: { doc: string; data: Uint8Array }[] }
	| { type: 'compact'; doc: string; snapshot: Uint8Array }
	| { type: 'close' };

/**
 * SQLite doc store. Writes go to a worker thread (doc-writer.worker.mjs) with group commit:
 * while one transaction (and its fsync) is in flight, later appends gather into the next one.
 * A promise resolves only after its transaction committed. Reads use the main connection
 * (WAL: readers see every committed write and never block the writer).
 */
export class SqliteDocStore implements DocStore {
	#raw: Database.Database;
	#worker: Worker;
	#pending: Pending[] = [];
	#inFlight: Promise<void> | null = null;
	#nextId = 1;
	#replies = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
	#stmts;

	constructor(raw: Database.Database, opts: { synchronous?: 'FULL' | 'NORMAL' } = {}) {
		this.#raw = raw;
		this.#worker = new Worker(new URL('./doc-writer.worker.mjs', import.meta.url), {
			workerData: { path: raw.name, synchronous: opts.synchronous ?? 'FULL' }
		});
		this.#worker.unref();
		this.#worker.on('message', (msg: { id: number; ok: boolean; error?: string }) => {
			const reply = this.#replies.get(msg.id);
			this.#replies.delete(msg.id);
			if (msg.ok) reply?.resolve();
			else reply?.reject(new Error(`document store write failed: ${msg.error}`));
		});
		this.#worker.on('error', (err) => {
			for (const r of this.#replies.values()) r.reject(err);
			this.#replies.clear();
		});
		this.#stmts = {
			snapshot: raw.prepare<[string], { data: Buffer; upto_seq: number }>(
				'select data, upto_seq from doc_snapshots where doc = ?'
			),
			updates: raw.prepare<[string, number], { data: Buffer }>(
				'select data from doc_updates where doc = ? and seq > ? order by seq'
			)
		};
	}

	#request(req: WriterRequest): Promise<void> {
		const id = this.#nextId++;
		return new Promise((resolve, reject) => {
			this.#replies.set(id, { resolve, reject });
			this.#worker.postMessage({ id, ...req });
		});
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
			if (!this.#inFlight) this.#inFlight = this.#drain();
		});
	}

	/** Sends batches one at a time until nothing is pending. */
	async #drain() {
		await new Promise((r) => setImmediate(r)); // gather this turn's appends
		while (this.#pending.length > 0) {
			const batch = this.#pending;
			this.#pending = [];
			try {
				await this.#request({
					type: 'append',
					items: batch.map((p) => ({ doc: p.doc, data: p.update }))
				});
				for (const p of batch) p.resolve();
			} catch (e) {
				for (const p of batch) p.reject(e);
			}
		}
		this.#inFlight = null;
	}

	/**
	 * Posted at once, not after a flush: the worker handles messages in order, so every append
	 * posted before this one is in `snapshot` (the caller encodes it right before calling) and is
	 * replaced; appends posted later get higher sequence numbers and are kept.
	 */
	compact(doc: string, snapshot: Uint8Array): Promise<void> {
		return this.#request({ type: 'compact', doc, snapshot });
	}

	async flush(): Promise<void> {
		while (this.#inFlight) await this.#inFlight;
	}

	async close(): Promise<void> {
		await this.flush();
		await this.#request({ type: 'close' });
		await this.#worker.terminate();
	}
}
