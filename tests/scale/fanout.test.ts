/**
 * Two instances of one deployment in this process, on one PostgreSQL schema and one Redis:
 * live chat and typing across instances, and catching up from the store when Redis delivery
 * to one instance stops (its Redis connection runs through a proxy the test cuts).
 */
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import {
	startServer,
	startConversation,
	loginAgent,
	setPresence,
	openInbox,
	customerChat,
	agentChat,
	api,
	waitFor,
	cleanupAfterEach,
	type CustomerLogin,
	type TestServer,
	dropTranscriptSocket
} from '../helpers/server';
import { startBalancer, type Balancer } from '../../server/tools/balancer';
import { testRedisUrl } from '../helpers/backend';
import type { ChatSession } from '../../src/lib/client/chat-session';
import { agentStateOf } from '../../src/lib/domain/inbox-doc';
import { ManualClock } from '../../server/clock';
import { storedOutboxKey } from '../../src/lib/domain/doc-names';

const cleanup = cleanupAfterEach();

const texts = (s: ChatSession) => s.transcript.filter((t) => t.kind === 'text').map((t) => t.text);

async function pair(
	limitsB: Parameters<typeof startServer>[0] = {},
	limitsA: Parameters<typeof startServer>[0] = {}
) {
	const a = await startServer(limitsA);
	cleanup.push(() => a.dispose());
	// B reaches Redis through a proxy the test can cut.
	const redis = new URL(testRedisUrl);
	const target = { host: redis.hostname, port: Number(redis.port || 6379) };
	const proxy: Balancer = await startBalancer(0, [target]);
	const b = await startServer({
		...limitsB,
		shared: { ...a.shared!, redisUrl: `redis://127.0.0.1:${proxy.port}` }
	});
	cleanup.push(async () => {
		await b.dispose();
		await proxy.close();
	});
	// The proxy keeps its port while cut, so no other listener can take it meanwhile.
	return {
		a,
		b,
		cutRedis: () => proxy.suspend(),
		restoreRedis: () => proxy.resume()
	};
}

/** Customer on `a`, agent (Ana) on `b`, conversation accepted. */
async function crossConversation(a: TestServer, b: TestServer) {
	const started = await startConversation(a, {
		agentServer: b,
		firstMessage: 'Hello from instance A'
	});
	cleanup.push(
		() => started.customerSide.destroy(),
		() => started.inbox.destroy(),
		() => started.agentSide.destroy()
	);
	return started;
}

/** The same customer on a second device, connected to `srv`. */
async function secondDevice(srv: TestServer, customer: CustomerLogin) {
	const second = customerChat(srv, customer);
	cleanup.push(() => second.destroy());
	await second.ready;
	return second;
}

/** `n` messages from each device, interleaved. */
function sendFromBoth(phone: ChatSession, laptop: ChatSession, n: number) {
	for (let i = 1; i <= n; i++) {
		phone.send(`phone ${i}`);
		laptop.send(`laptop ${i}`);
	}
}

/** Each device's numbered messages, once each and in the order it wrote them. */
function expectEachDeviceInOrder(seen: string[], n: number) {
	for (const device of ['phone', 'laptop'])
		expect(seen.filter((t) => /^(phone|laptop) \d+$/.test(t) && t.startsWith(device))).toEqual(
			Array.from({ length: n }, (_, i) => `${device} ${i + 1}`)
		);
}

describe('two instances', () => {
	it('a customer on A and an agent on B chat in real time, with typing both ways', async () => {
		const { a, b } = await pair();
		const { customerSide, agentSide } = await crossConversation(a, b);
		await waitFor(() => texts(agentSide).includes('Hello from instance A'), 'agent on B sees it');
		await waitFor(
			() => customerSide.transcript.some((t) => t.text === 'Ana joined the chat'),
			'join notice written on B reaches A'
		);
		agentSide.send('Hi from instance B');
		await waitFor(() => texts(customerSide).includes('Hi from instance B'), 'customer on A');
		await waitFor(
			() => customerSide.transcript.find((t) => t.text === 'Hello from instance A')?.state,
			'delivery state'
		);

		agentSide.setTyping(true);
		const typers = await waitFor(
			() => (customerSide.typing.length ? customerSide.typing : null),
			'agent typing seen on A'
		);
		expect(typers).toEqual([
			{ principal: agentSide.opts.me.principal, name: 'Ana', role: 'agent' }
		]);
		agentSide.setTyping(false);
		await waitFor(() => customerSide.typing.length === 0, 'typing stops on A');
		customerSide.setTyping(true);
		await waitFor(
			() => agentSide.typing.some((t) => t.role === 'customer' && t.name === 'Dana'),
			'customer typing seen on B'
		);

		// The agent's socket on B drops and comes back with the same awareness client id: A saw
		// the removal through Redis and the customer's provider echoed it; the agent's state and
		// its next change still reach A.
		agentSide.setTyping(true);
		await waitFor(() => customerSide.typing.some((t) => t.name === 'Ana'), 'Ana typing on A');
		await dropTranscriptSocket(agentSide, customerSide);
		await waitFor(() => customerSide.typing.some((t) => t.name === 'Ana'), 'Ana back on A');
		agentSide.setTyping(false);
		await waitFor(() => !customerSide.typing.some((t) => t.name === 'Ana'), 'and stops');

		// Dropped again, it comes back on A this time (as after a balancer's failover): A learned
		// of the removal only through Redis, and still takes the same client id back at once.
		customerSide.setTyping(false);
		await waitFor(() => agentSide.typing.length === 0, 'the customer stops typing');
		agentSide.setTyping(true);
		await waitFor(() => customerSide.typing.some((t) => t.name === 'Ana'), 'Ana typing again');
		await dropTranscriptSocket(agentSide, customerSide, a.wsUrl);
		expect(agentSide.conversationProvider.url.startsWith(a.wsUrl)).toBe(true);
		await waitFor(() => customerSide.typing.some((t) => t.name === 'Ana'), 'Ana back, on A');
		agentSide.setTyping(false);
		await waitFor(() => !customerSide.typing.some((t) => t.name === 'Ana'), 'and stops on A');
		customerSide.setTyping(true);
		await waitFor(
			() => agentSide.typing.some((t) => t.name === 'Dana'),
			"the customer's typing reaches the moved agent"
		);
		customerSide.setTyping(false);

		// Both transcripts hold every message exactly once.
		const all = ['Hello from instance A', 'Hi from instance B'];
		for (const side of [customerSide, agentSide]) expect(texts(side)).toEqual(all);
	});

	it('an instance whose Redis delivery stopped catches up from the store when it returns', async () => {
		// The periodic head check is slowed down so that this test shows the reconnect path.
		const { a, b, cutRedis, restoreRedis } = await pair({ limits: { headsCheckMs: 600_000 } });
		const { customerSide, agentSide } = await crossConversation(a, b);
		await waitFor(() => texts(agentSide).includes('Hello from instance A'), 'live at first');
		// B merges the agent's outbox once it has loaded it, and every merge reads the store
		// first (which would also bring in what A stores next). A reply that reaches A shows
		// that merge is behind us.
		agentSide.send('Hi from B');
		await waitFor(() => texts(customerSide).includes('Hi from B'), 'the agent on B is live');

		await cutRedis();
		for (let i = 1; i <= 5; i++) customerSide.send(`while B was deaf ${i}`);
		await waitFor(
			() =>
				customerSide.transcript.filter((t) => t.mine && (t.state === 'sent' || t.state === 'read'))
					.length === 6,
			'stored by A'
		);
		// B cannot hear A now; nothing of the five reached its agent.
		await new Promise((r) => setTimeout(r, 200));
		expect(texts(agentSide)).toEqual(['Hello from instance A', 'Hi from B']);

		await restoreRedis();
		const expected = [
			'Hello from instance A',
			'Hi from B',
			...[1, 2, 3, 4, 5].map((i) => `while B was deaf ${i}`)
		];
		await waitFor(() => texts(agentSide).length === 7, 'B caught up', 10_000);
		expect(texts(agentSide)).toEqual(expected);
		// And it is live again.
		customerSide.send('after');
		await waitFor(() => texts(agentSide).includes('after'), 'live again');
		expect(texts(agentSide)).toEqual([...expected, 'after']);
	});

	it('one customer on two devices, one per instance: each message once, in order, and the outbox changes owner when a device leaves', async () => {
		// A evicts documents soon after their last socket closes; B tries to claim often.
		const { a, b } = await pair({ limits: { claimRetryMs: 100 } }, { limits: { docIdleMs: 200 } });
		const { customer, customerSide, agentSide } = await crossConversation(a, b);
		await waitFor(() => texts(agentSide).includes('Hello from instance A'), 'live at first');
		// The same customer's second device, on B. A owns the outbox (it merged the first
		// message), so B stores what this device writes for A to merge.
		const second = await secondDevice(b, customer);
		await waitFor(() => texts(second).includes('Hello from instance A'), 'second device synced');
		sendFromBoth(customerSide, second, 10);
		await waitFor(() => texts(agentSide).length === 21, 'all twenty reach the agent', 10_000);
		const seen = texts(agentSide);
		expect(new Set(seen).size).toBe(21);
		expectEachDeviceInOrder(seen, 10);
		for (const side of [customerSide, second])
			await waitFor(() => texts(side).length === 21, 'both devices have everything');
		expect(texts(customerSide)).toEqual(seen);
		expect(texts(second)).toEqual(seen);

		// The phone (on A) goes away; A lets the outbox go once idle, and B takes it over.
		customerSide.destroy();
		const outbox = storedOutboxKey(customer.conversationId, customer.customer.principal);
		await waitFor(() => !a.parley.rooms.holds(outbox), 'A evicted the outbox');
		second.send('laptop alone');
		await waitFor(() => texts(agentSide).includes('laptop alone'), 'merged by B now', 10_000);
		second.send('laptop again');
		await waitFor(() => texts(agentSide).includes('laptop again'), 'and on');
		expect(texts(agentSide)).toEqual([...seen, 'laptop alone', 'laptop again']);
		// Every message of this customer, from either device, shows as sent on the laptop.
		await waitFor(() => {
			const mine = second.transcript.filter((t) => t.mine);
			return mine.length === 23 && mine.every((t) => t.state === 'sent' || t.state === 'read');
		}, 'the laptop sees them sent');
	});

	it('an owner whose ownership connection drops stops merging; the other instance takes over, nothing twice', async () => {
		const { a, b } = await pair({ limits: { claimRetryMs: 100 } });
		const { customer, customerSide, agentSide } = await crossConversation(a, b);
		await waitFor(() => texts(agentSide).includes('Hello from instance A'), 'live at first');
		const second = await secondDevice(b, customer);
		second.send('laptop before');
		await waitFor(() => texts(agentSide).includes('laptop before'), 'merged by A, the owner');

		// The database ends A's ownership connection (as it would after losing it): the lock is
		// free at once, B claims the outbox on its next retry, and A must not merge any more.
		const outbox = storedOutboxKey(customer.conversationId, customer.customer.principal);
		const pgc = new pg.Client({ connectionString: a.shared!.databaseUrl });
		await pgc.connect();
		try {
			const { rows } = await pgc.query<{ pid: number }>(
				`select pid from pg_locks
				 where locktype = 'advisory' and granted and objsubid = 1
				 and ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
				[`own:${outbox}`]
			);
			expect(rows).toHaveLength(1);
			await pgc.query('select pg_terminate_backend($1)', [rows[0].pid]);
		} finally {
			await pgc.end();
		}
		sendFromBoth(customerSide, second, 5);
		await waitFor(() => texts(agentSide).length === 12, 'all ten arrive', 10_000);
		const seen = texts(agentSide);
		expect(new Set(seen).size).toBe(12);
		expectEachDeviceInOrder(seen, 5);
		// Nothing more arrives later (a second merge of the same entries would).
		await new Promise((r) => setTimeout(r, 300));
		expect(texts(agentSide)).toEqual(seen);
	});

	it('an agent removed through one instance has their next message refused on the instance that merges their outbox', async () => {
		const { a, b } = await pair();
		// The customer on A; Ana, then Ben, on B: B owns (merges) their outboxes.
		const { customer, customerSide, agent: ana } = await crossConversation(a, b);
		const id = customer.conversationId;
		const ben = await loginAgent(b.base, 'ben@example.com');
		await setPresence(b.base, ben, 'Available');
		const benInbox = await openInbox(b, ben);
		cleanup.push(() => benInbox.destroy());
		const invited = await api(a.base, `/api/agent/conversations/${id}/conference`, {
			body: { agentId: ben.id },
			cookie: ana.cookie
		});
		expect(invited.status).toBe(200);
		const offerId = await waitFor(() => [...benInbox.offers.keys()][0], 'invitation to Ben');
		const accepted = await api(b.base, `/api/agent/offers/${offerId}/accept`, {
			body: {},
			cookie: ben.cookie
		});
		expect(accepted.status).toBe(200);
		const benSide = agentChat(b, ben, id);
		cleanup.push(() => benSide.destroy());
		// B merges this and remembers that Ben is a participant.
		benSide.send('Ben here');
		await waitFor(() => texts(customerSide).includes('Ben here'), 'Ben reaches the customer');

		// Ended through A: B hears that the participants changed (then that Ben's sockets close).
		const ended = await api(a.base, `/api/agent/conversations/${id}/end-conference`, {
			body: {},
			cookie: ana.cookie
		});
		expect(ended.status).toBe(200);
		await waitFor(() => benSide.closedReason, "Ben's socket on B closed");
		const late = agentChat(b, ben, id);
		cleanup.push(() => late.destroy());
		late.send('one more from Ben');
		const refused = await waitFor(
			() => late.transcript.find((t) => t.text === 'one more from Ben' && t.state === 'rejected'),
			'refused on B'
		);
		expect(refused.rejection).toMatch(/no longer in this conversation/);
		expect(texts(customerSide)).not.toContain('one more from Ben');
	});

	it('without any Redis message, the periodic head check brings a lagging instance up to date', async () => {
		const { a, b, cutRedis } = await pair({ limits: { headsCheckMs: 200 } });
		const { customerSide, agentSide } = await crossConversation(a, b);
		await waitFor(() => texts(agentSide).includes('Hello from instance A'), 'live at first');
		await cutRedis(); // and never restored
		customerSide.send('heard through the store');
		await waitFor(() => texts(agentSide).includes('heard through the store'), 'B caught up');
		expect(texts(agentSide)).toEqual(['Hello from instance A', 'heard through the store']);
	});

	it("signing out on one instance closes the agent's sockets on every instance", async () => {
		const { a, b } = await pair();
		const { agent, agentSide } = await crossConversation(a, b);
		await waitFor(() => agentSide.connection === 'connected', 'agent connected to B');
		const out = await api(a.base, '/api/auth/logout', { body: {}, cookie: agent.cookie });
		expect(out.status).toBe(200);
		await waitFor(() => agentSide.connection === 'closed', 'agent socket on B closed');
		expect(agentSide.closedReason).toBe('signed out');
	});

	it("presence set through one instance reaches the agent's inbox on the other", async () => {
		const { a, b } = await pair();
		const agent = await loginAgent(a.base, 'ben@example.com');
		const inbox = await openInbox(b, agent);
		cleanup.push(() => inbox.destroy());
		await waitFor(() => inbox.provider.synced, 'inbox synced on B');
		await setPresence(a.base, agent, 'Away');
		await waitFor(() => agentStateOf(inbox.doc).get('presence') === 'Away', 'Away on B');
		await setPresence(a.base, agent, 'Available');
		await waitFor(() => agentStateOf(inbox.doc).get('presence') === 'Available', 'Available on B');
	});

	it('an agent goes Offline only when no instance holds a tab of theirs for the grace period', async () => {
		const clock = new ManualClock(Date.now());
		const a = await startServer({ clock });
		cleanup.push(() => a.dispose());
		const b = await startServer({ clock, shared: a.shared });
		cleanup.push(() => b.dispose());
		const agent = await loginAgent(a.base, 'ana@example.com');
		const onA = await openInbox(a, agent);
		const onB = await openInbox(b, agent);
		cleanup.push(
			() => onA.destroy(),
			() => onB.destroy()
		);
		await setPresence(a.base, agent, 'Available');
		await waitFor(() => onA.provider.synced && onB.provider.synced, 'both tabs synced');
		const rows = () =>
			a.parley.repo.db
				.selectFrom('agent_connections')
				.selectAll()
				.where('agent_id', '=', agent.id)
				.execute();
		await waitFor(async () => (await rows()).length === 2, 'a connection row per instance');

		onA.destroy(); // the tab on A closes; the one on B stays
		await waitFor(async () => (await rows()).length === 1, 'A dropped its row');
		clock.advance(60_000);
		await b.parley.liveness.heartbeat(); // B's periodic refresh of its row
		await a.parley.timers.poll();
		await b.parley.timers.poll();
		const me = async () =>
			(
				await api<{ agent: { presence: string } }>(a.base, '/api/agent/me', {
					cookie: agent.cookie
				})
			).body.agent.presence;
		expect(await me()).toBe('Available');

		onB.destroy(); // now every tab is gone
		await waitFor(async () => (await rows()).length === 0, 'B dropped its row');
		clock.advance(60_000);
		await a.parley.timers.poll();
		await b.parley.timers.poll();
		expect(await me()).toBe('Offline');
	});
});
