/**
 * Routing I/O: loads what the pure rules in src/lib/domain/routing.ts need (Available agents
 * with their load, queued requests with their queue's skills and exclusions), inside the
 * `routing` lock, so the plan it returns holds until the lock is released.
 */
import { sql } from 'kysely';
import type { Db } from './repo';
import {
	assignAll,
	parseSkills,
	type AgentCandidate,
	type Assignment,
	type RoutingRequest
} from '../src/lib/domain/routing';
import { isOpen, nextOpening, parseHours } from '../src/lib/domain/hours';

/** An agent who declined or let a request time out is not offered it again for this long. */
export const DECLINE_COOLDOWN_MS = 2 * 60_000;

export interface QueuedRequest extends RoutingRequest {
	workstreamId: string;
	requestedAt: number;
}

export interface RoutingPlan {
	assignments: Assignment[];
	/** Workstreams with requests waiting for their operating hours, and when those open (if ever). */
	closed: { workstreamId: string; opensAt: number | null }[];
}

export interface Router {
	/** Whom to offer which queued request now (oldest first). Runs inside the routing lock. */
	plan(db: Db, now: number): Promise<RoutingPlan>;
}

/**
 * Available agents with free capacity: the routing candidates, and the agents a conversation
 * can be transferred to. Load counts active conversations, conversations the agent is
 * transferring (held until taken), and pending offers.
 */
export async function availableAgents(db: Db): Promise<(AgentCandidate & { name: string })[]> {
	const rows = await db
		.selectFrom('agents')
		.select([
			'agents.id',
			'agents.name',
			'agents.presence',
			'agents.skills',
			'agents.capacity',
			'agents.idle_since',
			sql<number>`(select count(*) from participants p join conversations c on c.id = p.conversation_id
				where p.agent_id = agents.id and (c.status = 'active' or c.transfer_from = p.agent_id))
			 + (select count(*) from offers o where o.agent_id = agents.id and o.status = 'pending')`.as('load')
		])
		.where('agents.presence', '=', 'Available')
		.execute();
	return rows
		.map((r) => ({
			id: r.id,
			name: r.name,
			presence: r.presence,
			skills: parseSkills(r.skills),
			capacity: r.capacity,
			load: Number(r.load),
			idleSince: r.idle_since
		}))
		.filter((a) => a.load < a.capacity);
}

export class SkillsRouter implements Router {
	async plan(db: Db, now: number): Promise<RoutingPlan> {
		const agents = await availableAgents(db);
		// With nobody free there is nothing to plan: a long queue costs one query, not a scan.
		if (agents.length === 0) return { assignments: [], closed: [] };
		const rows = await db
			.selectFrom('conversations as c')
			.innerJoin('workstreams as w', 'w.id', 'c.workstream_id')
			.leftJoin('queues as q', 'q.id', 'c.queue_id')
			.select([
				'c.id',
				'c.workstream_id',
				'c.requested_at',
				'c.preferred_agent_id',
				'c.preferred_until',
				'c.transfer_from',
				'q.skills',
				'w.hours'
			])
			.where('c.status', '=', 'queued')
			.where('c.requested_at', 'is not', null)
			.orderBy('c.requested_at')
			.orderBy('c.id')
			.execute();
		// Per workstream: null while open, else when it opens next.
		const closedUntil = new Map<string, number | null | undefined>();
		const requests: QueuedRequest[] = [];
		for (const r of rows) {
			if (!closedUntil.has(r.workstream_id)) {
				const hours = parseHours(r.hours);
				closedUntil.set(r.workstream_id, isOpen(hours, now) ? undefined : nextOpening(hours, now));
			}
			if (closedUntil.get(r.workstream_id) !== undefined) continue;
			requests.push({
				conversationId: r.id,
				workstreamId: r.workstream_id,
				requestedAt: r.requested_at!,
				skills: parseSkills(r.skills),
				preferredAgentId: r.preferred_agent_id,
				preferredUntil: r.preferred_until,
				// The agent transferring it away is not offered it back.
				excludedAgentIds: r.transfer_from ? new Set([r.transfer_from]) : undefined
			});
		}
		if (requests.length > 0) {
			const excluded = await db
				.selectFrom('offers')
				.select(['conversation_id', 'agent_id'])
				.where('status', 'in', ['declined', 'expired'])
				.where('created_at', '>', now - DECLINE_COOLDOWN_MS)
				.execute();
			const byConversation = new Map<string, Set<string>>();
			for (const e of excluded) {
				let set = byConversation.get(e.conversation_id);
				if (!set) byConversation.set(e.conversation_id, (set = new Set()));
				set.add(e.agent_id);
			}
			for (const r of requests) {
				const more = byConversation.get(r.conversationId);
				if (more) r.excludedAgentIds = new Set([...(r.excludedAgentIds ?? []), ...more]);
			}
		}
		const closed = [...closedUntil]
			.filter(([, at]) => at !== undefined)
			.map(([workstreamId, at]) => ({ workstreamId, opensAt: at ?? null }));
		return { assignments: assignAll(agents, requests, now), closed };
	}
}
