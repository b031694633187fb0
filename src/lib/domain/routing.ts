/**
 * Routing rules (SPEC R1, R2, R4), pure so the server applies them and tests pin them down.
 * The server loads a snapshot of agents and queued requests inside the routing lock, asks these
 * functions whom to offer each request to, then writes the offers.
 */

export interface AgentCandidate {
	id: string;
	presence: string;
	skills: readonly string[];
	capacity: number;
	/** Active conversations plus pending offers (an offer reserves a unit of capacity). */
	load: number;
	/** When the agent last became Available or last got an offer (ms): smaller is idle longer. */
	idleSince: number;
}

export interface RoutingRequest {
	conversationId: string;
	/** Skills the request's queue requires; an agent needs every one of them. */
	skills: readonly string[];
	/** Keep the same agent: the agent who had this customer last, waited for until `preferredUntil`. */
	preferredAgentId?: string | null;
	preferredUntil?: number | null;
	/** Agents who declined or let this request time out: not offered it again. */
	excludedAgentIds?: ReadonlySet<string>;
}

export const freeCapacity = (a: AgentCandidate) => Math.max(0, a.capacity - a.load);

export const hasSkills = (agent: Pick<AgentCandidate, 'skills'>, required: readonly string[]) =>
	required.every((s) => agent.skills.includes(s));

/** May `agent` be offered `req` now? Available, skilled, with a free unit of capacity. */
export function isEligible(agent: AgentCandidate, req: RoutingRequest): boolean {
	return (
		agent.presence === 'Available' &&
		freeCapacity(agent) > 0 &&
		hasSkills(agent, req.skills) &&
		!req.excludedAgentIds?.has(agent.id)
	);
}

/** Lowest load first, then idle longest, then id (so the order is total and stable). */
export function compareCandidates(a: AgentCandidate, b: AgentCandidate): number {
	return a.load - b.load || a.idleSince - b.idleSince || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export type Choice =
	| { kind: 'offer'; agentId: string }
	/** Keep the same agent: nobody else gets it before `until`. */
	| { kind: 'wait-for-agent'; agentId: string; until: number }
	| { kind: 'none' };

/** The agent to offer `req` to now, among `agents`. */
export function chooseAgent(
	agents: readonly AgentCandidate[],
	req: RoutingRequest,
	now: number
): Choice {
	if (req.preferredAgentId) {
		const preferred = agents.find((a) => a.id === req.preferredAgentId);
		if (preferred && isEligible(preferred, req)) return { kind: 'offer', agentId: preferred.id };
		if (req.preferredUntil != null && req.preferredUntil > now)
			return { kind: 'wait-for-agent', agentId: req.preferredAgentId, until: req.preferredUntil };
	}
	let best: AgentCandidate | null = null;
	for (const a of agents)
		if (isEligible(a, req) && (!best || compareCandidates(a, best) < 0)) best = a;
	return best ? { kind: 'offer', agentId: best.id } : { kind: 'none' };
}

export interface Assignment {
	conversationId: string;
	agentId: string;
}

/**
 * Places requests in the given order (oldest first), each taking one unit of its agent's
 * capacity, so two requests never take the same last unit. `agents` is not modified.
 */
export function assignAll(
	agents: readonly AgentCandidate[],
	requests: readonly RoutingRequest[],
	now: number
): Assignment[] {
	const pool = agents.map((a) => ({ ...a }));
	const out: Assignment[] = [];
	for (const req of requests) {
		if (!pool.some((a) => freeCapacity(a) > 0)) break;
		const choice = chooseAgent(pool, req, now);
		if (choice.kind !== 'offer') continue;
		const agent = pool.find((a) => a.id === choice.agentId)!;
		agent.load += 1;
		agent.idleSince = now;
		out.push({ conversationId: req.conversationId, agentId: agent.id });
	}
	return out;
}

/** Skills as stored (a JSON array of names); anything else reads as none. */
export function parseSkills(json: string | null | undefined): string[] {
	try {
		const v: unknown = JSON.parse(json ?? '[]');
		return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
	} catch {
		return [];
	}
}
