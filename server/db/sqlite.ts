/** Opens the embedded SQLite store: one better-sqlite3 handle shared by Kysely and the doc store. */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase } from 'kysely';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Database as Schema } from './schema';
import { migrate } from './migrations';

export interface SqliteHandle {
	raw: Database.Database;
	db: Kysely<Schema>;
}

/** The embedded store is already open in another process (see `holdStore`). */
export class StoreInUseError extends Error {
	constructor(readonly path: string) {
		super(
			`the embedded store ${path} is in use by another Parley process: stop that one first (the embedded store serves one instance; several instances share PostgreSQL and Redis, see DATABASE_URL), or set PARLEY_DB to another file`
		);
	}
}

/**
 * Claims the store file for this process, or throws `StoreInUseError`. The doc store counts
 * versions in memory and the routing, timers and queue assume one instance, so a second process
 * on the same file (say `PORT=4000 npm start` while the first still runs) would fail writes and
 * offer requests twice. The claim is SQLite's own file lock on a small side file (`<path>.lock`)
 * held in exclusive locking mode: the kernel drops it when the process ends, even by kill -9, so
 * nothing stale is left behind. The store file itself stays open to readers (backups, `sqlite3`).
 * Returns the lock's handle; closing it releases the claim.
 */
export function holdStore(path: string): Database.Database {
	const lock = new Database(`${path}.lock`, { timeout: 0 });
	try {
		lock.pragma('locking_mode = EXCLUSIVE');
		// The first write takes the exclusive lock; exclusive locking mode keeps it until close.
		lock.exec('begin exclusive; commit');
		return lock;
	} catch (e) {
		lock.close();
		if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new StoreInUseError(path);
		throw e;
	}
}

export async function openSqlite(
	path: string,
	synchronous: 'full' | 'normal' = 'full'
): Promise<SqliteHandle> {
	if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
	const lock = path === ':memory:' ? null : holdStore(path);
	let raw: Database.Database;
	try {
		raw = new Database(path);
	} catch (e) {
		lock?.close();
		throw e;
	}
	raw.pragma('journal_mode = WAL');
	// FULL: a commit is on disk before we call a message "sent". NORMAL (opt-in): in WAL mode a
	// commit survives a process crash, not a power cut.
	raw.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
	raw.pragma('busy_timeout = 5000');
	const db = new Kysely<Schema>({
		dialect: new SqliteDialect({ database: cachingStatements(raw, () => lock?.close()) })
	});
	try {
		await migrate(db as Kysely<unknown>);
	} catch (e) {
		await db.destroy();
		throw e;
	}
	return { raw, db };
}

/**
 * Kysely prepares every query anew, and better-sqlite3's `prepare` costs as much as running a
 * small statement; neither library caches, so this does. Safe because Kysely runs `all`/`run`
 * synchronously to completion; `iterate` (streaming, which Parley does not use) would keep a
 * statement busy, so it gets a fresh one. Few distinct SQL texts exist (the query builder emits
 * placeholders); the bound only guards against a caller building SQL with values inlined.
 */
function cachingStatements(raw: Database.Database, afterClose: () => void): SqliteDatabase {
	const prepare = statementCache(raw);
	return {
		close() {
			raw.close();
			afterClose();
		},
		prepare(sql) {
			const cached = prepare(sql);
			return {
				reader: cached.reader,
				all: (params) => cached.all(...params),
				run: (params) => cached.run(...params),
				iterate: (params) => raw.prepare(sql).iterate(...params)
			};
		}
	};
}

/** `raw.prepare`, remembered per SQL text (see `cachingStatements`). */
export function statementCache(raw: Database.Database): (sql: string) => Database.Statement {
	const cache = new Map<string, Database.Statement>();
	return (sql) => {
		let stmt = cache.get(sql);
		if (!stmt) {
			if (cache.size >= 1000) cache.clear();
			stmt = raw.prepare(sql);
			cache.set(sql, stmt);
		}
		return stmt;
	};
}
