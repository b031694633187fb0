/**
 * Named mutual exclusion for state changes (routing, offers, outbox merges).
 *
 * One instance: an in-process queue per name. Several instances: the same queue (so one
 * instance uses one connection per name) plus a PostgreSQL transaction-scoped advisory lock,
 * released by the database if the holding instance dies.
 */
import type { Pool } from 'pg';

export interface Locks {
	/**
	 * Runs `fn` while holding the lock `name`; waits for earlier holders. Never take a lock inside
	 * `fn`: on PostgreSQL each holder keeps a connection, and nested waits can exhaust the pool.
	 */
	run<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export class LocalLocks implements Locks {
	#tails = new Map<string, Promise<unknown>>();

	/** True while `name` is held or waited for. */
	busy(name: string): boolean {
		return this.#tails.has(name);
	}

	run<T>(name: string, fn: () => Promise<T>): Promise<T> {
		const tail = this.#tails.get(name) ?? Promise.resolve();
		const run = tail.then(fn, fn);
		const settled = run.catch(() => undefined);
		this.#tails.set(name, settled);
		void settled.then(() => {
			if (this.#tails.get(name) === settled) this.#tails.delete(name);
		});
		return run;
	}
}

export class PgLocks implements Locks {
	#local = new LocalLocks();

	constructor(private readonly pool: Pool) {}

	run<T>(name: string, fn: () => Promise<T>): Promise<T> {
		return this.#local.run(name, async () => {
			const client = await this.pool.connect();
			try {
				// One round trip for both statements (the simple protocol takes no parameters, so the
				// name is quoted as a literal).
				await client.query(
					`begin; select pg_advisory_xact_lock(hashtextextended('${name.replace(/'/g, "''")}', 0))`
				);
				const result = await fn();
				await client.query('commit');
				return result;
			} catch (e) {
				await client.query('rollback').catch(() => undefined);
				throw e;
			} finally {
				client.release();
			}
		});
	}
}
