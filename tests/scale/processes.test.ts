/**
 * Several real instances (`server/main.ts` processes) on one PostgreSQL schema and one Redis,
 * as a deployment runs them: started together, behind the TCP balancer, one killed with
 * SIGKILL in the middle of the work.
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../helpers/process';
import {
	api,
	customerChat,
	customerSession,
	loginAgent,
	setPresence,
	waitFor,
	cleanupAfterEach,
	type CustomerLogin
} from '../helpers/server';
import {
	dropPgSchema,
	pgSchemaUrl,
	schemaFor,
	testRedisUrl,
	uniquePrefix
} from '../helpers/backend';
import { startBalancer, type Balancer } from '../../server/tools/balancer';
import type { ChatSession } from '../../src/lib/client/chat-session';

const cleanup = cleanupAfterEach();

interface Cluster {
	instances: ServerProcess[];
	balancer: Balancer;
	base: string;
	wsUrl: string;
	db: pg.Client;
}

async function startCluster(n: number, opts: { testClock?: boolean } = {}): Promise<Cluster> {
	const dir = mkdtempSync(join(tmpdir(), 'parley-scale-'));
	const schema = schemaFor(dir);
	const env = {
		DATABASE_URL: await pgSchemaUrl(schema),
		REDIS_URL: testRedisUrl,
		PARLEY_REDIS_PREFIX: uniquePrefix(),
		LOG_LEVEL: 'info'
	};
	// Started at the same time: migrations and demo data must cope with each other.
	const instances = await Promise.all(
		Array.from({ length: n }, (_, i) =>
			startServerProcess({ dir: join(dir, `i${i}`), env, testClock: opts.testClock })
		)
	);
	cleanup.push(async () => {
		for (const p of instances) await p.dispose();
		await dropPgSchema(schema);
	});
	const balancer = await startBalancer(
		0,
		instances.map((p) => ({ host: '127.0.0.1', port: p.port }))
	);
	cleanup.push(() => balancer.close());
	const db = new pg.Client({ connectionString: env.DATABASE_URL });
	await db.connect();
	cleanup.push(() => db.end());
	return {
		instances,
		balancer,
		base: `http://127.0.0.1:${balancer.port}`,
		wsUrl: `ws://127.0.0.1:${balancer.port}/sync`,
		db
	};
}

const texts = (s: ChatSession) => s.transcript.filter((t) => t.kind === 'text').map((t) => t.text);

describe('several instances as processes', () => {
	it('kill -9 of one instance during a load: every message arrives exactly once, in order', async () => {
		const cluster = await startCluster(2);
		const [victim] = cluster.instances;
		const customers: { login: CustomerLogin; chat: ChatSession; sent: string[] }[] = [];
		for (let k = 0; k < 8; k++) {
			const login = await customerSession(cluster.base, 'live', { name: `Customer ${k}` });
			const chat = customerChat(cluster, login);
			cleanup.push(() => chat.destroy());
			customers.push({ login, chat, sent: [] });
		}
		await Promise.all(customers.map((c) => c.chat.ready));
		// The balancer spreads the sockets over both instances.
		const ROUNDS = 40;
		for (let i = 0; i < ROUNDS; i++) {
			if (i === ROUNDS / 2) await victim.stop('SIGKILL');
			for (const [k, c] of customers.entries()) {
				const text = `c${k}-${i}`;
				expect(c.chat.send(text).ok).toBe(true);
				c.sent.push(text);
			}
			await new Promise((r) => setTimeout(r, 20));
		}
		expect(victim.child.signalCode).toBe('SIGKILL');

		// Every device sees each of its messages stored ("sent") ...
		await waitFor(
			() =>
				customers.every(
					(c) => c.chat.transcript.filter((t) => t.mine && t.state !== 'pending').length === ROUNDS
				),
			'all messages stored',
			30_000
		);
		// ... and a new device, served by the surviving instance, reads each exactly once, in order.
		for (const c of customers) {
			const reader = customerChat(cluster, c.login);
			cleanup.push(() => reader.destroy());
			await reader.ready;
			await waitFor(() => texts(reader).length >= ROUNDS, 'reader synced', 10_000);
			expect(texts(reader)).toEqual(c.sent);
			expect(texts(c.chat)).toEqual(c.sent);
		}
		// No request was lost: every conversation is a stored request, queued or offered.
		const { rows } = await cluster.db.query<{ status: string; requested_at: string | null }>(
			'select status, requested_at from conversations'
		);
		expect(rows).toHaveLength(customers.length);
		for (const r of rows) {
			expect(r.requested_at).not.toBeNull();
			expect(['queued', 'offered', 'active']).toContain(r.status);
		}
	});

	it('routes concurrent requests from two instances: no agent over capacity, no request offered twice', async () => {
		const cluster = await startCluster(2);
		const [a, b] = cluster.instances;
		const agents = await Promise.all(
			['ana', 'ben', 'cleo'].map((n, i) => loginAgent((i % 2 ? b : a).base, `${n}@example.com`))
		);
		for (const [i, agent] of agents.entries())
			await setPresence((i % 2 ? b : a).base, agent, 'Available');

		const N = 30;
		const chats: ChatSession[] = [];
		for (let k = 0; k < N; k++) {
			const inst = k % 2 ? b : a;
			const login = await customerSession(inst.base, 'live', { name: `Customer ${k}` });
			const chat = customerChat({ wsUrl: `ws://127.0.0.1:${inst.port}/sync` }, login);
			cleanup.push(() => chat.destroy());
			chats.push(chat);
		}
		await Promise.all(chats.map((c) => c.ready));
		for (const c of chats) c.send('Hello, I need help'); // all at once, half on each instance

		const capacity = 3;
		const pendingOffers = async () =>
			(
				await cluster.db.query<{ conversation_id: string; agent_id: string }>(
					"select conversation_id, agent_id from offers where status = 'pending'"
				)
			).rows;
		await waitFor(
			async () => (await pendingOffers()).length === agents.length * capacity,
			'every agent offered up to capacity',
			15_000
		).catch(async (e) => {
			console.log((await cluster.db.query('select id, presence, capacity from agents')).rows);
			console.log((await cluster.db.query('select status, requested_at from conversations')).rows);
			console.log(await pendingOffers());
			throw e;
		});
		// Give any duplicate or over-capacity offer a moment to show up, then check.
		await new Promise((r) => setTimeout(r, 500));
		const offers = await pendingOffers();
		expect(offers).toHaveLength(agents.length * capacity);
		expect(new Set(offers.map((o) => o.conversation_id)).size).toBe(offers.length);
		for (const agent of agents)
			expect(offers.filter((o) => o.agent_id === agent.id)).toHaveLength(capacity);

		// Everyone accepts everything at once, through both instances.
		const ids = await cluster.db.query<{ id: string; agent_id: string }>(
			"select id, agent_id from offers where status = 'pending'"
		);
		const results = await Promise.all(
			ids.rows.map((o, i) => {
				const agent = agents.find((x) => x.id === o.agent_id)!;
				return api(cluster.instances[i % 2].base, `/api/agent/offers/${o.id}/accept`, {
					body: {},
					cookie: agent.cookie
				});
			})
		);
		expect(results.map((r) => r.status)).toEqual(ids.rows.map(() => 200));
		const participants = await cluster.db.query<{ conversation_id: string; n: number }>(
			'select conversation_id, count(*)::int as n from participants group by conversation_id'
		);
		expect(participants.rows).toHaveLength(agents.length * capacity);
		expect(participants.rows.every((r) => r.n === 1)).toBe(true);
		const queued = await cluster.db.query("select id from conversations where status = 'queued'");
		expect(queued.rows).toHaveLength(N - agents.length * capacity);
	});

	it('an offer timer fires on another instance, exactly once, after its owner died', async () => {
		const cluster = await startCluster(2, { testClock: true });
		const [owner, survivor] = cluster.instances;
		const ana = await loginAgent(owner.base, 'ana@example.com');
		const ben = await loginAgent(survivor.base, 'ben@example.com');
		await setPresence(owner.base, ana, 'Available');
		await new Promise((r) => setTimeout(r, 20)); // Ana has waited longer: she is offered first
		await setPresence(survivor.base, ben, 'Available');

		const login = await customerSession(owner.base, 'live', { name: 'Dana' });
		const chat = customerChat({ wsUrl: `ws://127.0.0.1:${owner.port}/sync` }, login);
		cleanup.push(() => chat.destroy());
		await chat.ready;
		chat.send('Anyone there?');
		const offer = await waitFor(
			async () =>
				(
					await cluster.db.query<{ id: string; agent_id: string }>(
						"select id, agent_id from offers where status = 'pending'"
					)
				).rows[0],
			'offer made by the first instance'
		);
		expect(offer.agent_id).toBe(ana.id);
		const timers = await cluster.db.query('select id from timers');
		expect(timers.rows).toEqual([{ id: `offer:${offer.id}` }]);

		await owner.stop('SIGKILL');
		await survivor.advanceClock(61_000); // past the 60 s offer timeout

		await waitFor(
			async () =>
				(
					await cluster.db.query(
						"select id from offers where status = 'pending' and agent_id = $1",
						[ben.id]
					)
				).rows.length === 1,
			'the request offered to the next agent',
			10_000
		);
		const all = await cluster.db.query<{ agent_id: string; status: string }>(
			'select agent_id, status from offers order by created_at'
		);
		expect(all.rows).toEqual([
			{ agent_id: ana.id, status: 'expired' },
			{ agent_id: ben.id, status: 'pending' }
		]);
		const presence = await cluster.db.query<{ presence: string }>(
			'select presence from agents where id = $1',
			[ana.id]
		);
		expect(presence.rows[0].presence).toBe('RONA');
		// The handler's effects are visible before its timer row is deleted and the line logged.
		const firedLines = () =>
			survivor.logs
				.join('')
				.split('\n')
				.filter((l) => l.includes('"timer fired"'));
		await waitFor(() => firedLines().length > 0, 'the timer logged as fired');
		const fired = firedLines();
		expect(fired).toHaveLength(1);
		// Only Ben's new offer timer is left.
		const left = await cluster.db.query<{ id: string }>('select id from timers');
		expect(left.rows.map((r) => r.id)).toEqual([expect.stringMatching(/^offer:/)]);
		expect(left.rows[0].id).not.toBe(`offer:${offer.id}`);
	});
});
