/**
 * Which shared engines the tests run on. `PARLEY_TEST_BACKEND=postgres` (set by the
 * integration-pg and scale projects) runs servers on PostgreSQL plus Redis; each test server
 * gets a schema of its own and a Redis channel prefix of its own, so tests run in parallel.
 */
import pg from 'pg';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';

export const backend: 'sqlite' | 'postgres' =
	process.env.PARLEY_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

export const testPgUrl =
	process.env.PARLEY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const testRedisUrl = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A schema name for a test data directory: the same directory gives the same schema (restarts). */
export function schemaFor(dir: string): string {
	return (
		't_' +
		basename(dir)
			.toLowerCase()
			.replace(/[^a-z0-9]/g, '_')
	);
}

/** Creates the schema if needed and returns a DATABASE_URL that uses it. */
export async function pgSchemaUrl(schema: string): Promise<string> {
	const client = new pg.Client({ connectionString: testPgUrl });
	await client.connect();
	try {
		await client.query(`create schema if not exists ${schema}`);
	} finally {
		await client.end();
	}
	const sep = testPgUrl.includes('?') ? '&' : '?';
	return `${testPgUrl}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

export async function dropPgSchema(schema: string): Promise<void> {
	const client = new pg.Client({ connectionString: testPgUrl });
	await client.connect();
	try {
		await client.query(`drop schema if exists ${schema} cascade`);
	} finally {
		await client.end();
	}
}

export const uniquePrefix = () => `parley-test-${randomBytes(4).toString('hex')}`;
