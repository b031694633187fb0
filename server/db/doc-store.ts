/**
 * Persistence of Yjs documents: a versioned log of updates plus snapshots (compaction).
 *
 * Each stored update gets the next version of its document (1, 2, 3, …). An instance that holds
 * a document in memory knows the highest version it has applied without a gap, so it can tell
 * when it missed one (another instance wrote it and the fan-out lost it) and read exactly what
 * it lacks with `read(doc, after)`. Two implementations: SQLite (embedded, one instance, here)
 * and PostgreSQL (several instances, `pg-doc-store.ts`).
 */
import type Database from 'better-sqlite3';
import { statementCache } from './sqlite';

export interface StoredUpdate {
	version: number;
	data: Uint8Array;
}

export interface StoredDoc {
	/**
	 * A snapshot holding every update up to version `upto`: returned when reading everything
	 * (`after` null) or when it covers versions newer than `after` (their log rows are gone).
	 */
	snapshot: { data: Uint8Array; upto: number } | null;
	/** Log updates after `after` and after the snapshot, in version order. */
	log: StoredUpdate[];
}

export interface DocStore {
	/** True when other instances write the same documents: rooms must catch up from the store. */
	readonly shared: boolean;
	/** Everything (`after` null), or what a holder of versions 1..after lacks. */
	read(doc: string, after: number | null): Promise<StoredDoc>;
	/** Resolves with the update's version once it is durable. */
	append(doc: string, update: Uint8Array): Promise<number>;
	/**
	 * Replaces the stored log up to now with a snapshot. `state` is the caller's full state of the
	 * document, encoded immediately before calling; it may lack updates other instances stored,
	 * which a shared store merges in.
	 */
	compact(doc: string, state: Uint8Array): Promise<void>;
	/** The last stored version of each of `docs` (shared stores; for the periodic check). */
	heads?(docs: string[]): Promise<Map<string, number>>;
	/**
	 * Embedded store only: runs `work` inside the transaction of the next group commit, so what
	 * it writes is durable with that commit's one fsync instead of a commit of its own. `work`
	 * is synchronous and writes only through `exec`; if it throws, only its own writes are undone
	 * (a savepoint) and the promise rejects. Resolves with its result once committed.
	 */
	withNextCommit?<T>(work: (exec: CommitExec) => T): Promise<T>;
	/** Resolves once everything appended so far is durable. */
	flush(): Promise<void>;
	close(): Promise<void>;
	/** Told of each commit of appends: how long it took (durable at its end) and how many. */
	onCommit?: CommitObserver;
}

export type CommitObserver = (seconds: number, updates: number) => void;

/** Tells the observer, if any; what it throws (it only counts) never reaches the commit. */
export function observeCommit(
	observer: CommitObserver | undefined,
	seconds: number,
	updates: number
) {
	try {
		observer?.(seconds, updates);
	} catch {
		// metrics only
	}
}

/** The version a reader holds after applying `stored` on top of versions 1..after. */
export function versionAfter(stored: StoredDoc, after: number | null): number {
	let v = Math.max(after ?? 0, stored.snapshot?.upto ?? 0);
	for (const u of stored.log) v = Math.max(v, u.version);
	return v;
}

/** Runs one compiled statement (e.g. Kysely's `compile()`) and returns the rows it changed. */
export type CommitExec = (query: { sql: string; parameters: readonly unknown[] }) => number;

/** Work waiting for the next group commit (see `DocStore.withNextCommit`). */
interface PendingWork {
	run: (exec: CommitExec) => unknown;
	resolve: (result: unknown) => void;
	reject: (e: unknown) => void;
}

/** An append waiting for its batch (group commit). */
export interface PendingAppend {
	doc: string;
	update: Uint8Array;
	resolve: (version: number) => void;
	reject: (e: unknown) => void;
}

export const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * SQLite doc store with group commit: appends made in one event-loop turn are written in one
 * transaction (one fsync), then their promises resolve. One process owns the file, so versions
 * are counted in memory; on the next start a document's head is its highest stored version (log
 * or snapshot). `doc_heads` is not written here: updating it per commit doubled the pages each
 * commit writes (its table and its index, at random places), and with them the commit's time
 * and how often the WAL needs a checkpoint. PostgreSQL keeps it, for its row lock.
 */
export class SqliteDocStore implements DocStore {
	readonly shared = false;
	onCommit?: CommitObserver;
	#raw: Database.Database;
	#pending: PendingAppend[] = [];
	#work: PendingWork[] = [];
	#scheduled: Promise<void> | null = null;
	/** Statements run by `withNextCommit` work, prepared once per SQL text. */
	#prepare: (sql: string) => Database.Statement;
	#heads = new Map<string, number>();
	#stmts;

	constructor(raw: Database.Database) {
		this.#raw = raw;
		this.#prepare = statementCache(raw);
		this.#stmts = {
			snapshot: raw.prepare<[string], { data: Buffer; upto: number }>(
				'select data, upto from doc_snaps where doc = ?'
			),
			log: raw.prepare<[string, number], { version: number; data: Buffer }>(
				'select version, data from doc_log where doc = ? and version > ? order by version'
			),
			// Both halves use an index: doc_log's primary key (doc, version) and doc_snaps'.
			head: raw.prepare<[string, string], { version: number | null }>(
				'select max(coalesce((select max(version) from doc_log where doc = ?), 0), coalesce((select upto from doc_snaps where doc = ?), 0)) as version'
			),
			insert: raw.prepare('insert into doc_log (doc, version, data) values (?, ?, ?)'),
			upsertSnapshot: raw.prepare(
				'insert into doc_snaps (doc, data, upto) values (?, ?, ?) on conflict(doc) do update set data = excluded.data, upto = excluded.upto'
			),
			deleteUpto: raw.prepare('delete from doc_log where doc = ? and version <= ?')
		};
	}

	async read(doc: string, after: number | null): Promise<StoredDoc> {
		// Only this document's pending appends matter: writing everyone's batch now would cost a
		// commit per read (a routing pass opens thousands of documents one after another).
		if (this.#pending.some((p) => p.doc === doc)) await this.flush();
		const snap = this.#stmts.snapshot.get(doc);
		const snapshot =
			snap && (after === null || snap.upto > after)
				? { data: new Uint8Array(snap.data), upto: snap.upto }
				: null;
		const from = Math.max(after ?? 0, snap?.upto ?? 0);
		const log = this.#stmts.log
			.all(doc, from)
			.map((r) => ({ version: r.version, data: new Uint8Array(r.data) }));
		return { snapshot, log };
	}

	#head(doc: string): number {
		let v = this.#heads.get(doc);
		if (v === undefined) {
			v = this.#stmts.head.get(doc, doc)?.version ?? 0;
			this.#heads.set(doc, v);
		}
		return v;
	}

	append(doc: string, update: Uint8Array): Promise<number> {
		return new Promise((resolve, reject) => {
			this.#pending.push({ doc, update, resolve, reject });
			this.#schedule();
		});
	}

	withNextCommit<T>(work: (exec: CommitExec) => T): Promise<T> {
		return new Promise<T>((resolve, reject) => {
			this.#work.push({ run: work, resolve: resolve as (r: unknown) => void, reject });
			this.#schedule();
		});
	}

	#exec: CommitExec = ({ sql, parameters }) => this.#prepare(sql).run(...parameters).changes;

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
		// Never inside another transaction on this connection (a Kysely transaction waiting on
		// something): better-sqlite3 would nest ours as a savepoint, which commits only with it.
		if (this.#raw.inTransaction) {
			if (this.#pending.length > 0 || this.#work.length > 0) this.#schedule();
			return;
		}
		const batch = this.#pending;
		const work = this.#work;
		this.#pending = [];
		this.#work = [];
		if (batch.length === 0 && work.length === 0) return;
		const versions: number[] = [];
		const touched = new Map<string, number>();
		const results: { ok: boolean; value: unknown }[] = [];
		const started = performance.now();
		try {
			this.#raw.transaction(() => {
				for (const p of batch) {
					const v = (touched.get(p.doc) ?? this.#head(p.doc)) + 1;
					touched.set(p.doc, v);
					versions.push(v);
					this.#stmts.insert.run(p.doc, v, asBuffer(p.update));
				}
				for (const w of work)
					try {
						// A transaction function called inside a transaction is a savepoint.
						results.push({ ok: true, value: this.#raw.transaction(() => w.run(this.#exec))() });
					} catch (e) {
						// Some errors (disk full, I/O) end the whole transaction, not just the savepoint:
						// then nothing of the batch may be reported stored.
						if (!this.#raw.inTransaction) throw e;
						results.push({ ok: false, value: e });
					}
			})();
		} catch (e) {
			for (const p of batch) p.reject(e);
			for (const w of work) w.reject(e);
			return;
		}
		const seconds = (performance.now() - started) / 1000;
		for (const [doc, v] of touched) this.#heads.set(doc, v);
		batch.forEach((p, i) => p.resolve(versions[i]));
		work.forEach((w, i) =>
			results[i].ok ? w.resolve(results[i].value) : w.reject(results[i].value)
		);
		if (batch.length > 0) observeCommit(this.onCommit, seconds, batch.length);
	}

	/**
	 * Synchronous on purpose: pending appends are written first (they are already in `state`,
	 * which the caller encodes right before calling), then the log up to now is replaced, with no
	 * await in between for a later update to slip into the deleted range.
	 */
	async compact(doc: string, state: Uint8Array): Promise<void> {
		this.#write();
		this.#raw.transaction(() => {
			const upto = this.#head(doc);
			this.#stmts.upsertSnapshot.run(doc, asBuffer(state), upto);
			this.#stmts.deleteUpto.run(doc, upto);
		})();
	}

	async flush(): Promise<void> {
		for (;;) {
			if (this.#scheduled) await this.#scheduled;
			this.#write();
			// Left pending only while another transaction is open on the connection.
			if (this.#pending.length === 0 && this.#work.length === 0) return;
			await new Promise((r) => setImmediate(r));
		}
	}

	async close(): Promise<void> {
		await this.flush();
	}
}
