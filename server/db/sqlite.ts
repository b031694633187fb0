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

export async function openSqlite(
	path: string,
	synchronous: 'full' | 'normal' = 'full'
): Promise<SqliteHandle> {
	if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
	const raw = new Database(path);
	raw.pragma('journal_mode = WAL');
	// FULL: a commit is on disk before we call a message "sent". NORMAL (opt-in): in WAL mode a
	// commit survives a process crash, not a power cut.
	raw.pragma(`synchronous = ${synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
	raw.pragma('busy_timeout = 5000');
	const db = new Kysely<Schema>({
		dialect: new SqliteDialect({ database: cachingStatements(raw) })
	});
	await migrate(db as Kysely<unknown>);
	return { raw, db };
}

/**
 * Kysely prepares every query anew, and better-sqlite3's `prepare` costs as much as running a
 * small statement; neither library caches, so this does. Safe because Kysely runs `all`/`run`
 * synchronously to completion; `iterate` (streaming, which Parley does not use) would keep a
 * statement busy, so it gets a fresh one. Few distinct SQL texts exist (the query builder emits
 * placeholders); the bound only guards against a caller building SQL with values inlined.
 */
function cachingStatements(raw: Database.Database): SqliteDatabase {
	const prepare = statementCache(raw);
	return {
		close: () => raw.close(),
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
