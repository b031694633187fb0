/** Opens the embedded SQLite store: one better-sqlite3 handle shared by Kysely and the doc store. */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { dirname } from 'node:path';
import type { Database as Schema } from './schema';
import { migrate } from './migrations';

export interface SqliteHandle {
	raw: Database.Database;
	db: Kysely<Schema>;
	/** Stops the checkpointer and checkpoints what is left. */
	close(): Promise<void>;
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
	if (path === ':memory:') return { raw, db, close: () => db.destroy() };
	// Checkpoints run on a worker (checkpointer.worker.mjs). The connection's own automatic
	// checkpoint, which would stall a commit on the event loop, only remains as a safety net.
	raw.pragma('wal_autocheckpoint = 20000');
	const checkpointer = new Worker(new URL('./checkpointer.worker.mjs', import.meta.url), {
		workerData: { path, intervalMs: 500 }
	});
	checkpointer.unref();
	return {
		raw,
		db,
		async close() {
			await new Promise<void>((resolve) => {
				checkpointer.once('message', () => resolve());
				checkpointer.once('exit', () => resolve());
				checkpointer.postMessage('close');
			});
			await checkpointer.terminate();
			await db.destroy(); // closes `raw`
		}
	};
}
