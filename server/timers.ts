/**
 * Durable timers: a row per timer in the shared store, fired by whichever instance claims it
 * first, so a timer outlives the instance that set it.
 *
 * An instance polls for due timers and claims a few at a time with one UPDATE (on PostgreSQL
 * over `FOR UPDATE SKIP LOCKED`, so two instances never claim the same row). The claim is a
 * lease: the row is deleted when its handler succeeds; if the claiming instance dies
 * mid-handler, another instance runs it again once the lease ends. Handlers therefore check
 * that their work is still to do (an offer still pending, say), which makes each timer's effect
 * happen exactly once.
 *
 * Due-ness is judged by the domain clock (tests move it); polling itself runs on real time.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from './clock';
import type { Database } from './db/schema';
import type { Db } from './repo';

export type TimerHandler = (payload: unknown, id: string) => Promise<void>;

export interface TimersOptions {
	db: Kysely<Database>;
	postgres: boolean;
	clock: Clock;
	log: Logger;
	/** How often to look for due timers (real time). */
	pollMs: number;
	/** How long a claim lasts before another instance may retry the timer (domain time). */
	leaseMs?: number;
}

const BATCH = 20;

export class Timers {
	#handlers = new Map<string, TimerHandler>();
	#interval: ReturnType<typeof setInterval> | null = null;
	#running: Promise<void> | null = null;
	#again: Promise<void> | null = null;
	#stopped = false;

	constructor(private readonly opts: TimersOptions) {}

	on(kind: string, handler: TimerHandler) {
		this.#handlers.set(kind, handler);
	}

	/**
	 * Sets (or moves) timer `id` to fire at `dueAt` (ms, domain clock). Pass a transaction as
	 * `db` to make the timer visible together with the row it serves.
	 */
	async set(id: string, kind: string, dueAt: number, payload: unknown, db: Db = this.opts.db) {
		await db
			.insertInto('timers')
			.values({ id, kind, payload: JSON.stringify(payload), due_at: dueAt, locked_until: null })
			.onConflict((oc) =>
				oc.column('id').doUpdateSet({
					kind,
					payload: JSON.stringify(payload),
					due_at: dueAt,
					locked_until: null
				})
			)
			.execute();
	}

	async cancel(id: string) {
		await this.opts.db.deleteFrom('timers').where('id', '=', id).execute();
	}

	start() {
		this.#interval ??= setInterval(() => void this.poll(), this.opts.pollMs);
		this.#interval.unref();
	}

	/**
	 * Fires every due timer this instance can claim; returns when they have run. A call during a
	 * pass gets another pass after it: the running one may have judged due-ness before the call
	 * (a test that moves the clock and polls must see what became due).
	 */
	poll(): Promise<void> {
		if (this.#running)
			return (this.#again ??= this.#running.then(() => {
				this.#again = null;
				return this.poll();
			}));
		this.#running = this.#poll().finally(() => (this.#running = null));
		return this.#running;
	}

	async #poll() {
		const { db, clock, log } = this.opts;
		for (;;) {
			if (this.#stopped) return;
			const now = clock.now();
			const lockedUntil = now + (this.opts.leaseMs ?? 30_000);
			let due = db
				.selectFrom('timers')
				.select('id')
				.where('due_at', '<=', now)
				.where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
				.orderBy('due_at')
				.limit(BATCH);
			if (this.opts.postgres) due = due.forUpdate().skipLocked();
			let claimed;
			try {
				claimed = await db
					.updateTable('timers')
					.set((eb) => ({
						locked_until: lockedUntil,
						attempts: eb('attempts', '+', 1)
					}))
					.where('id', 'in', due)
					.returningAll()
					.execute();
			} catch (err) {
				log.warn({ err }, 'could not claim timers');
				return;
			}
			for (const t of claimed) {
				const handler = this.#handlers.get(t.kind);
				if (!handler) {
					log.error({ timer: t.id, kind: t.kind }, 'no handler for timer kind');
					continue;
				}
				try {
					await handler(JSON.parse(t.payload), t.id);
					// Only the claim we hold is deleted; a timer set again meanwhile stays.
					await db
						.deleteFrom('timers')
						.where('id', '=', t.id)
						.where('locked_until', '=', lockedUntil)
						.execute();
					log.info({ timer: t.id, kind: t.kind }, 'timer fired');
				} catch (err) {
					log.error({ err, timer: t.id, kind: t.kind }, 'timer handler failed; will retry');
				}
			}
			if (claimed.length < BATCH) return;
		}
	}

	async stop() {
		this.#stopped = true;
		if (this.#interval) clearInterval(this.#interval);
		await this.#running;
		await this.#again;
	}
}
