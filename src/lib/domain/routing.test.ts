import { describe, expect, it } from 'vitest';
import {
	assignAll,
	chooseAgent,
	compareCandidates,
	isEligible,
	parseSkills,
	type AgentCandidate,
	type RoutingRequest
} from './routing';

const agent = (id: string, over: Partial<AgentCandidate> = {}): AgentCandidate => ({
	id,
	presence: 'Available',
	skills: [],
	capacity: 2,
	load: 0,
	idleSince: 0,
	...over
});
const req = (id: string, over: Partial<RoutingRequest> = {}): RoutingRequest => ({
	conversationId: id,
	skills: [],
	...over
});

describe('eligibility', () => {
	it('takes only Available agents', () => {
		for (const presence of ['Busy', 'Away', 'Offline', 'RONA'])
			expect(isEligible(agent('a', { presence }), req('c'))).toBe(false);
		expect(isEligible(agent('a'), req('c'))).toBe(true);
	});
	it('needs every skill of the queue', () => {
		const r = req('c', { skills: ['billing', 'it'] });
		expect(isEligible(agent('a', { skills: ['billing'] }), r)).toBe(false);
		expect(isEligible(agent('a', { skills: ['it', 'billing', 'fr'] }), r)).toBe(true);
	});
	it('needs a free unit of capacity', () => {
		expect(isEligible(agent('a', { capacity: 2, load: 2 }), req('c'))).toBe(false);
		expect(isEligible(agent('a', { capacity: 2, load: 1 }), req('c'))).toBe(true);
		expect(isEligible(agent('a', { capacity: 0 }), req('c'))).toBe(false);
	});
	it('skips agents who declined or missed this request', () => {
		expect(isEligible(agent('a'), req('c', { excludedAgentIds: new Set(['a']) }))).toBe(false);
	});
});

describe('ordering', () => {
	it('lowest load first, then idle longest, then id', () => {
		const list = [
			agent('d', { load: 1, idleSince: 1 }),
			agent('c', { load: 0, idleSince: 50 }),
			agent('b', { load: 0, idleSince: 10 }),
			agent('a', { load: 0, idleSince: 10 })
		];
		expect([...list].sort(compareCandidates).map((a) => a.id)).toEqual(['a', 'b', 'c', 'd']);
	});
	it('chooses the best eligible agent', () => {
		const agents = [
			agent('busy', { presence: 'Busy', load: 0 }),
			agent('full', { load: 2, capacity: 2 }),
			agent('loaded', { load: 1, idleSince: 0 }),
			agent('fresh', { load: 0, idleSince: 99 })
		];
		expect(chooseAgent(agents, req('c'), 100)).toEqual({ kind: 'offer', agentId: 'fresh' });
		expect(chooseAgent([agents[0], agents[1]], req('c'), 100)).toEqual({ kind: 'none' });
	});
});

describe('keep the same agent', () => {
	const agents = [agent('ana', { load: 1 }), agent('ben')];
	it('goes back to the preferred agent when eligible, even if another is less loaded', () => {
		expect(
			chooseAgent(agents, req('c', { preferredAgentId: 'ana', preferredUntil: 500 }), 100)
		).toEqual({
			kind: 'offer',
			agentId: 'ana'
		});
	});
	it('waits for them until the deadline, then takes anyone', () => {
		const away = [agent('ana', { presence: 'Offline' }), agent('ben')];
		const r = req('c', { preferredAgentId: 'ana', preferredUntil: 500 });
		expect(chooseAgent(away, r, 100)).toEqual({
			kind: 'wait-for-agent',
			agentId: 'ana',
			until: 500
		});
		expect(chooseAgent(away, r, 500)).toEqual({ kind: 'offer', agentId: 'ben' });
	});
});

describe('assignAll', () => {
	it('never gives an agent more than their free capacity and places each request once', () => {
		const agents = Array.from({ length: 5 }, (_, i) =>
			agent(`a${i}`, { capacity: 3, load: i % 2 })
		);
		const requests = Array.from({ length: 40 }, (_, i) => req(`c${i}`));
		const out = assignAll(agents, requests, 1000);
		const free = agents.reduce((s, a) => s + a.capacity - a.load, 0);
		expect(out).toHaveLength(free);
		expect(new Set(out.map((o) => o.conversationId)).size).toBe(out.length);
		for (const a of agents)
			expect(out.filter((o) => o.agentId === a.id).length).toBe(a.capacity - a.load);
		// Oldest first: the first `free` requests are the placed ones.
		expect(out.map((o) => o.conversationId)).toEqual(
			requests.slice(0, free).map((r) => r.conversationId)
		);
		expect(agents[1].load).toBe(1); // the input is not modified
	});
	it('spreads equal agents by load, and skips requests nobody can take', () => {
		const agents = [agent('a', { skills: ['fr'] }), agent('b')];
		const out = assignAll(agents, [req('x', { skills: ['de'] }), req('y'), req('z')], 5);
		expect(out).toEqual([
			{ conversationId: 'y', agentId: 'a' },
			{ conversationId: 'z', agentId: 'b' }
		]);
	});
});

it('parses stored skills defensively', () => {
	expect(parseSkills('["a","b"]')).toEqual(['a', 'b']);
	expect(parseSkills('[1,"a"]')).toEqual(['a']);
	expect(parseSkills('nope')).toEqual([]);
	expect(parseSkills(null)).toEqual([]);
});
