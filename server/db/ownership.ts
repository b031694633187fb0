/**
 * Ownership of documents between instances: which instance merges an outbox.
 *
 * An outbox is merged by one instance at a time, its owner, so that no entry is merged twice.
 * The owner claims it once, when it first merges, and keeps it for as long as it holds the outbox
 * in memory; its merges then need no lock and no read of the store. Another instance with a
 * device of the same participant does not merge: it stores what its device writes, for the owner
 * to apply, and claims the outbox when the owner lets go.
 *
 * One instance (embedded store): it owns everything. Several: a PostgreSQL session-level advisory
 * lock per owned outbox, all on one connection of the instance's own. If that connection drops,
 * the database releases them all (as when the instance dies), and `owns` turns false for all. A
 * connection that dies silently is noticed by both ends: the database's TCP keepalives (set per
 * session below) free the locks after about 25 s, and this instance pings every few seconds,
 * with a timeout, so it learns of it sooner and stops merging before anyone else can claim.
 * Session-level locks need a session of their own: behind PgBouncer, use session pooling.
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface Ownership {
	/** True if this instance owns `key` (now, or after taking it). */
	claim(key: string): Promise<boolean>;
	/** Still owned (false once the claim was released or lost). */
	owns(key: string): boolean;
	release(key: string): Promise<void>;
	close(): Promise<void>;
}

export class LocalOwnership implements Ownership {
	async claim() {
		return true;
	}
	owns() {
		return true;
	}
	async release() {}
	async close() {}
}

const PING_MS = 3_000;
/** Connecting, and each query on the ownership connection (a ping included). */
const TIMEOUT_MS = 4_000;

export class PgOwnership implements Ownership {
	#client: pg.Client | null = null;
	#connecting: Promise<pg.Client> | null = null;
	#held = new Set<string>();
	#claiming = new Map<string, Promise<boolean>>();
	/** The last query sent on the connection: each waits for the one before (see `#query`). */
	#lastQuery: Promise<unknown> = Promise.resolve();
	#closed = false;

	constructor(
		private readonly config: pg.ClientConfig,
		private readonly log?: Logger
	) {}

	#connection(): Promise<pg.Client> {
		if (this.#client) return Promise.resolve(this.#client);
		this.#connecting ??= (async () => {
			const client = new pg.Client({
				...this.config,
				keepAlive: true,
				keepAliveInitialDelayMillis: 10_000,
				connectionTimeoutMillis: TIMEOUT_MS,
				query_timeout: TIMEOUT_MS
			});
			const lost = (err?: Error) => {
				if (this.#client !== client) return;
				this.#client = null;
				if (this.#held.size > 0 && !this.#closed)
					this.log?.warn({ err, owned: this.#held.size }, 'ownership connection lost');
				this.#held.clear();
				client.end().catch(() => undefined);
			};
			client.on('error', lost);
			client.on('end', () => lost());
			try {
				await client.connect();
				await client.query(
					'set tcp_keepalives_idle = 10; set tcp_keepalives_interval = 5; set tcp_keepalives_count = 3'
				);
			} catch (e) {
				client.end().catch(() => undefined);
				throw e;
			}
			this.#client = client;
			// A connection can die unnoticed (a NAT or firewall timeout) while the database frees
			// its locks; a ping that fails or times out (query_timeout) ends it here too, well
			// before the database's keepalives give up on it.
			const ping = setInterval(() => {
				if (this.#client !== client) clearInterval(ping);
				else if (this.#held.size > 0)
					this.#query(client, 'select 1').catch((err: Error) => lost(err));
			}, PING_MS);
			ping.unref();
			return client;
		})().finally(() => (this.#connecting = null));
		return this.#connecting;
	}

	/**
	 * One query at a time on the ownership connection. pg queues overlapping queries on a client
	 * itself, but that is deprecated (removed in pg 9), so claims, releases and pings queue here.
	 */
	#query<R extends pg.QueryResultRow>(
		client: pg.Client,
		text: string,
		values?: unknown[]
	): Promise<pg.QueryResult<R>> {
		const run = this.#lastQuery.then(() => client.query<R>(text, values));
		this.#lastQuery = run.catch(() => undefined);
		return run;
	}

	claim(key: string): Promise<boolean> {
		if (this.#held.has(key)) return Promise.resolve(true);
		if (this.#closed) return Promise.resolve(false);
		// Concurrent claims of one key share one query: PostgreSQL counts a session's locks on a
		// key, and a second lock would outlive the one release.
		let pending = this.#claiming.get(key);
		if (!pending) {
			pending = this.#claim(key).finally(() => this.#claiming.delete(key));
			this.#claiming.set(key, pending);
		}
		return pending;
	}

	async #claim(key: string): Promise<boolean> {
		const client = await this.#connection();
		const { rows } = await this.#query<{ ok: boolean }>(
			client,
			'select pg_try_advisory_lock(hashtextextended($1, 0)) as ok',
			[`own:${key}`]
		);
		// A lock taken on a connection that has since dropped is already gone.
		if (!rows[0]?.ok || this.#client !== client) return false;
		this.#held.add(key);
		return true;
	}

	owns(key: string): boolean {
		return this.#held.has(key);
	}

	async release(key: string): Promise<void> {
		if (!this.#held.delete(key)) return;
		const client = this.#client;
		if (!client) return;
		await this.#query(client, 'select pg_advisory_unlock(hashtextextended($1, 0))', [
			`own:${key}`
		]).catch((err) => this.log?.warn({ err, key }, 'could not release an outbox'));
	}

	async close(): Promise<void> {
		this.#closed = true;
		this.#held.clear();
		const client = this.#client ?? (await this.#connecting?.catch(() => null));
		this.#client = null;
		await client?.end().catch(() => undefined);
	}
}
