/**
 * Agents who close every tab or lose the network go Offline after a grace period (SPEC A1);
 * a short blip, or a reconnect to another instance, does not count.
 *
 * Each instance records which agents have an inbox socket open on it (`agent_connections`,
 * refreshed every heartbeat). When an agent's last socket on an instance closes, a durable
 * timer is set for the end of the grace period; any instance that fires it checks that no
 * instance still holds a fresh connection row before making the agent Offline. An instance
 * killed with its sockets open closes nothing, so heartbeats also clear rows nobody refreshed
 * for the grace period and start the same check.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from './clock';
import type { Database } from './db/schema';
import type { Timers } from './timers';

const graceTimer = (agentId: string) => `presence:${agentId}`;

export interface AgentLivenessDeps {
	db: Kysely<Database>;
	timers: Timers;
	clock: Clock;
	log: Logger;
	instanceId: string;
	graceMs: number;
	/** Real-time interval of the row refresh. */
	heartbeatMs: number;
	/** Called (once per absence) when the grace period ended with no socket anywhere. */
	onGone(agentId: string): Promise<void>;
}

export class AgentLiveness {
	readonly #local = new Map<string, number>();
	readonly #inFlight = new Set<Promise<unknown>>();
	readonly #chains = new Map<string, Promise<void>>();
	#beat: ReturnType<typeof setInterval> | null = null;

	constructor(private readonly deps: AgentLivenessDeps) {
		deps.timers.on('presence-grace', (payload) =>
			this.#graceEnded((payload as { agentId: string }).agentId)
		);
	}

	start() {
		this.#beat = setInterval(() => {
			this.heartbeat().catch((err) => this.deps.log.warn({ err }, 'presence heartbeat failed'));
		}, this.deps.heartbeatMs);
		this.#beat.unref();
	}

	stop() {
		if (this.#beat) clearInterval(this.#beat);
		this.#beat = null;
	}

	/**
	 * Records a socket opening or closing. The count changes at once; the rows and timers are
	 * written one after another per agent, so a quick reconnect cancels the grace timer its
	 * disconnect set instead of racing it. Errors are logged; `settle` waits for the writes.
	 */
	track(agentId: string, open: boolean) {
		const n = (this.#local.get(agentId) ?? 0) + (open ? 1 : -1);
		if (n > 0) this.#local.set(agentId, n);
		else this.#local.delete(agentId);
		// Only the first socket here and the last one matter to other instances.
		if ((open && n !== 1) || (!open && n > 0)) return;
		const before = this.#chains.get(agentId) ?? Promise.resolve();
		const p: Promise<void> = before
			.then(() => (open ? this.#arrived(agentId) : this.#left(agentId)))
			.catch((err) => this.deps.log.warn({ err, agent: agentId }, 'presence tracking failed'))
			.finally(() => {
				this.#inFlight.delete(p);
				if (this.#chains.get(agentId) === p) this.#chains.delete(agentId);
			});
		this.#chains.set(agentId, p);
		this.#inFlight.add(p);
	}

	/** Waits for recorded opens and closes (before the store closes). */
	async settle() {
		while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
	}

	/** The agent's first socket on this instance opened. */
	async #arrived(agentId: string) {
		const { db, clock, instanceId, timers } = this.deps;
		await db
			.insertInto('agent_connections')
			.values({ agent_id: agentId, instance_id: instanceId, seen_at: clock.now() })
			.onConflict((oc) =>
				oc.columns(['agent_id', 'instance_id']).doUpdateSet({ seen_at: clock.now() })
			)
			.execute();
		await timers.cancel(graceTimer(agentId));
	}

	/** The agent's last socket on this instance closed. */
	async #left(agentId: string) {
		const { db, clock, instanceId, timers, graceMs } = this.deps;
		await db
			.deleteFrom('agent_connections')
			.where('agent_id', '=', agentId)
			.where('instance_id', '=', instanceId)
			.execute();
		await timers.set(graceTimer(agentId), 'presence-grace', clock.now() + graceMs, { agentId });
	}

	isConnectedHere(agentId: string) {
		return this.#local.has(agentId);
	}

	/** Refreshes this instance's rows and clears other instances' stale ones. */
	async heartbeat() {
		const { db, clock, instanceId, timers, graceMs } = this.deps;
		const now = clock.now();
		const mine = [...this.#local.keys()];
		if (mine.length > 0)
			await db
				.updateTable('agent_connections')
				.set({ seen_at: now })
				.where('instance_id', '=', instanceId)
				.where('agent_id', 'in', mine)
				.execute();
		const stale = await db
			.deleteFrom('agent_connections')
			.where('instance_id', '!=', instanceId)
			.where('seen_at', '<', now - graceMs)
			.returning('agent_id')
			.execute();
		// Those sockets have been gone for the grace period already: check now.
		for (const { agent_id } of stale)
			await timers.set(graceTimer(agent_id), 'presence-grace', now, { agentId: agent_id });
	}

	async #graceEnded(agentId: string) {
		if (this.isConnectedHere(agentId)) return;
		const { db, clock, graceMs } = this.deps;
		const live = await db
			.selectFrom('agent_connections')
			.select('instance_id')
			.where('agent_id', '=', agentId)
			.where('seen_at', '>=', clock.now() - graceMs)
			.executeTakeFirst();
		if (live) return;
		await this.deps.onGone(agentId);
	}
}
