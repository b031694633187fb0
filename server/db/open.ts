/**
 * Opens the configured store: embedded SQLite (default) or PostgreSQL (`DATABASE_URL`), with
 * migrations applied, the document store and the lock service that fit it.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Database as Schema } from './schema';
import { migrate } from './migrations';
import { openSqlite } from './sqlite';
import { SqliteDocStore, type DocStore } from './doc-store';
import { PgDocStore } from './pg-doc-store';
import { LocalLocks, PgLocks, type Locks } from './locks';
import { LocalOwnership, PgOwnership, type Ownership } from './ownership';

export interface DbHandle {
	kind: 'sqlite' | 'postgres';
	db: Kysely<Schema>;
	store: DocStore;
	locks: Locks;
	/** Which instance merges an outbox (several instances on PostgreSQL). */
	ownership: Ownership;
	close(): Promise<void>;
}

/** int8 (bigint: times in ms, counts) as numbers: every value we store fits in a double. */
const types = {
	getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
		oid === 20
			? (v: string) => Number(v)
			: pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser
};

export async function openDatabase(config: Config, log?: Logger): Promise<DbHandle> {
	if (!config.databaseUrl) {
		const sqlite = await openSqlite(config.databasePath, config.sqliteSynchronous);
		return {
			kind: 'sqlite',
			db: sqlite.db,
			store: new SqliteDocStore(sqlite.raw),
			locks: new LocalLocks(),
			ownership: new LocalOwnership(),
			close: () => sqlite.db.destroy()
		};
	}
	const poolConfig = {
		connectionString: config.databaseUrl,
		types,
		application_name: 'parley'
	};
	const pool = new pg.Pool({ ...poolConfig, max: config.databasePoolSize });
	// Locks hold a connection while their work uses others; a separate pool keeps lock holders
	// from taking every connection their own queries need.
	const lockPool = new pg.Pool({ ...poolConfig, max: config.databasePoolSize });
	for (const p of [pool, lockPool]) p.on('error', () => undefined); // idle client lost; the pool replaces it
	const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
	try {
		await migrate(db as Kysely<unknown>);
	} catch (e) {
		await db.destroy();
		await lockPool.end();
		throw e;
	}
	const ownership = new PgOwnership(poolConfig, log);
	return {
		kind: 'postgres',
		db,
		store: new PgDocStore(pool, log),
		locks: new PgLocks(lockPool),
		ownership,
		async close() {
			await ownership.close();
			await db.destroy(); // ends `pool`
			await lockPool.end();
		}
	};
}
