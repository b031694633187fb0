/** Opens the embedded SQLite store: one better-sqlite3 handle shared by Kysely and the doc store. */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
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
	const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: raw }) });
	await migrate(db as Kysely<unknown>);
	return { raw, db };
}
