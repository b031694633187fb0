/**
 * The routing engine against a real server with real clients: decline, per-queue timeouts,
 * skills and load ordering, capacity under concurrency, queue positions, keep the same agent,
 * operating hours, a restart in the middle of an offer, and Offline after a grace period.
 * Timers run on a controlled clock.
 */
import { describe, expect, it } from 'vitest';
import {
	startServer,
	customerSession,
	customerChat,
	loginAgent,
	setPresence,
	openInbox,
	api,
	waitFor,
	cleanupAfterEach,
	agentOnline,
	type AgentLogin,
	type TestServer
} from '../helpers/server';
import { ManualClock } from '../../server/clock';
import { agentStateOf, type OfferView } from '../../src/lib/domain/inbox-doc';
import { metaOf, messagesOf } from '../../src/lib/domain/conversation-doc';
import { newId } from '../../server/repo';
import { storedConversationKey } from '../../src/lib/domain/doc-names';
import type { Config } from '../../server/config';
import * as Y from 'yjs';

const cleanup = cleanupAfterEach();

async function setup(opts: { limits?: Partial<Config['limits']>; dir?: string } = {}) {
	const clock = new ManualClock(Date.now());
	const srv: TestServer = await startServer({ clock, ...opts });
	cleanup.push(() => srv.dispose());
	return { clock, srv, db: srv.parley.repo.db };
}

type Inbox = Awaited<ReturnType<typeof openInbox>>;

const online = (srv: TestServer, email: string, clock?: ManualClock) =>
	agentOnline(srv, email, cleanup, clock);

async function customerWrites(
	srv: TestServer,
	workstream: 'live' | 'persistent',
	text: string,
	opts: { name?: string; externalId?: string } = {}
) {
	const customer = await customerSession(srv.base, workstream, opts);
	const chat = customerChat(srv, customer);
	cleanup.push(() => chat.destroy());
	await chat.ready;
	chat.send(text);
	return { customer, chat };
}

const offerIn = (inbox: Inbox, label: string) =>
	waitFor(() => [...inbox.offers.values()][0] as OfferView | undefined, label);

const accept = (srv: TestServer, agent: AgentLogin, offerId: string) =>
	api<{ conversationId: string }>(srv.base, `/api/agent/offers/${offerId}/accept`, {
		body: {},
		cookie: agent.cookie
	});

async function presenceOf(srv: TestServer, agent: AgentLogin) {
	const r = await api<{ agent: { presence: string } }>(srv.base, '/api/agent/me', {
		cookie: agent.cookie
	});
	return r.body.agent.presence;
}

describe('decline', () => {
	it('sends the request to the next agent at once, without RONA, and not back soon', async () => {
		const { clock, srv, db } = await setup();
		const ana = await online(srv, 'ana@example.com', clock);
		const ben = await online(srv, 'ben@example.com', clock);
		const { customer } = await customerWrites(srv, 'live', 'Hello?', { name: 'Dana' });
		const offer = await offerIn(ana.inbox, 'offer to Ana (idle longest)');
		expect(offer).toMatchObject({
			customerName: 'Dana',
			queue: 'General',
			workstream: 'Live chat'
		});
		expect(offer.expiresAt).toBe(offer.offeredAt + 60_000);
		expect(ben.inbox.offers.size).toBe(0);

		const r = await api(srv.base, `/api/agent/offers/${offer.offerId}/decline`, {
			body: {},
			cookie: ana.agent.cookie
		});
		expect(r.status).toBe(200);
		const moved = await offerIn(ben.inbox, 'offer moved to Ben');
		expect(moved.conversationId).toBe(customer.conversationId);
		await waitFor(() => ana.inbox.offers.size === 0, 'gone from Ana');
		expect(await presenceOf(srv, ana.agent)).toBe('Available');

		// Ben declines too: nobody else is free, and neither gets it back within the cool-down.
		await api(srv.base, `/api/agent/offers/${moved.offerId}/decline`, {
			body: {},
			cookie: ben.agent.cookie
		});
		await waitFor(() => ben.inbox.offers.size === 0, 'gone from Ben');
		await srv.parley.conversations.drainQueue();
		expect(ana.inbox.offers.size + ben.inbox.offers.size).toBe(0);
		const conv = await srv.parley.repo.conversationById(customer.conversationId);
		expect(conv?.status).toBe('queued'); // never dropped

		// After the cool-down the request is offered again.
		clock.advance(2 * 60_000 + 1);
		await srv.parley.conversations.drainQueue();
		await waitFor(() => ana.inbox.offers.size + ben.inbox.offers.size === 1, 'offered again');
		const rows = await db
			.selectFrom('offers')
			.select('status')
			.where('conversation_id', '=', customer.conversationId)
			.orderBy('created_at')
			.execute();
		expect(rows.map((o) => o.status)).toEqual(['declined', 'declined', 'pending']);

		// Declining someone else's offer, or twice, is refused.
		const again = await api(srv.base, `/api/agent/offers/${offer.offerId}/decline`, {
			body: {},
			cookie: ana.agent.cookie
		});
		expect(again.status).toBe(409);
	});

	it('uses the queue offer timeout when the queue has one', async () => {
		const { clock, srv, db } = await setup();
		await db
			.updateTable('queues')
			.set({ offer_timeout_ms: 15_000 })
			.where('name', '=', 'General')
			.execute();
		const ana = await online(srv, 'ana@example.com', clock);
		const ben = await online(srv, 'ben@example.com', clock);
		await customerWrites(srv, 'live', 'Quick question');
		const offer = await offerIn(ana.inbox, 'offer to Ana');
		expect(offer.expiresAt - offer.offeredAt).toBe(15_000);
		clock.advance(14_999);
		await srv.parley.timers.poll();
		expect(ana.inbox.offers.size).toBe(1);
		clock.advance(1);
		await srv.parley.timers.poll();
		await offerIn(ben.inbox, 'moved to Ben after 15 s');
		await waitFor(() => agentStateOf(ana.inbox.doc).get('presence') === 'RONA', 'Ana in RONA');
	});
});

describe('choosing the agent', () => {
	it('needs the queue skills, then takes the lowest load, then the longest idle', async () => {
		const { clock, srv } = await setup();
		// Ben lacks the `accounts` skill of the persistent workstream's queue.
		const ben = await online(srv, 'ben@example.com', clock);
		const ana = await online(srv, 'ana@example.com', clock);
		const cleo = await online(srv, 'cleo@example.com', clock);

		await customerWrites(srv, 'persistent', 'About my account', { externalId: 'p1', name: 'P1' });
		const first = await offerIn(ana.inbox, 'Ana: skilled and idle longest');
		expect(first.queue).toBe('Account care');
		expect((await accept(srv, ana.agent, first.offerId)).status).toBe(200);

		// Ana now has a load of 1; Cleo has 0, so Cleo is next though Ana was idle longer.
		await customerWrites(srv, 'persistent', 'Me too', { externalId: 'p2', name: 'P2' });
		await offerIn(cleo.inbox, 'Cleo: lowest load');
		expect(ben.inbox.offers.size).toBe(0);
		expect(ana.inbox.offers.size).toBe(0);

		// A live request needs only `chat`: Ben, with no load and idle longest, gets it.
		await customerWrites(srv, 'live', 'Hi');
		await offerIn(ben.inbox, 'Ben gets the live request');
	});
});

describe('capacity under concurrency', () => {
	it('hundreds of simultaneous requests: nobody over capacity, nothing assigned twice', async () => {
		const { srv, db, clock } = await setup({ limits: { anonymousSessionsPerMinute: 10_000 } });
		const hash = (await srv.parley.repo.agentByEmail('ana@example.com'))!.password_hash;
		const now = clock.now();
		const agents = Array.from({ length: 12 }, (_, i) => ({
			id: newId('ag'),
			email: `load${i}@example.com`,
			name: `Load ${i}`,
			password_hash: hash,
			role: 'agent' as const,
			capacity: 1 + (i % 3),
			presence: 'Available',
			presence_since: now,
			skills: i % 4 === 0 ? '[]' : '["chat"]', // a quarter cannot take the General queue
			idle_since: now - i,
			created_at: now
		}));
		await db.insertInto('agents').values(agents).execute();
		const skilled = agents.filter((a) => a.skills.includes('chat'));
		const slots = skilled.reduce((s, a) => s + a.capacity, 0);

		const N = 300;
		const sessions = await Promise.all(
			Array.from({ length: N }, (_, i) => customerSession(srv.base, 'live', { name: `C${i}` }))
		);
		const chats = sessions.map((s) => customerChat(srv, s));
		cleanup.push(() => chats.forEach((c) => c.destroy()));
		await Promise.all(chats.map((c) => c.ready));
		// Every customer writes at once; presence changes and sweeps race the merges.
		for (const c of chats) c.send('help, please');
		const racers = Array.from({ length: 10 }, () => srv.parley.conversations.drainQueue());

		const invariants = async () => {
			const pending = await db
				.selectFrom('offers')
				.select(['id', 'agent_id', 'conversation_id'])
				.where('status', '=', 'pending')
				.execute();
			const active = await db
				.selectFrom('participants as p')
				.innerJoin('conversations as c', 'c.id', 'p.conversation_id')
				.select(['p.agent_id', 'p.conversation_id'])
				.where('c.status', '=', 'active')
				.execute();
			const held = [...pending, ...active];
			for (const a of agents) {
				const load = held.filter((h) => h.agent_id === a.id).length;
				expect(load, `${a.email} load`).toBeLessThanOrEqual(
					a.skills.includes('chat') ? a.capacity : 0
				);
			}
			const byConversation = new Map<string, number>();
			for (const h of held)
				byConversation.set(h.conversation_id, (byConversation.get(h.conversation_id) ?? 0) + 1);
			expect(Math.max(0, ...byConversation.values())).toBeLessThanOrEqual(1);
			return { pending, active, held };
		};

		await Promise.all(racers);
		await waitFor(
			async () =>
				(
					await db
						.selectFrom('conversations')
						.select('id')
						.where('requested_at', 'is not', null)
						.execute()
				).length === N,
			'every request stored',
			20_000
		);
		await srv.parley.conversations.drainQueue();
		const first = await invariants();
		expect(first.pending.length).toBe(slots);

		// Every offer is accepted at once, while agents also flip presence and the queue drains.
		await Promise.all([
			...first.pending.map((o) => srv.parley.conversations.acceptOffer(o.agent_id, o.id)),
			...Array.from({ length: 10 }, () => srv.parley.conversations.drainQueue())
		]);
		const second = await invariants();
		expect(second.active.length).toBe(slots);
		expect(second.pending.length).toBe(0);

		// More room: the next requests fill exactly the new capacity, oldest first.
		await db.updateTable('agents').set({ capacity: 4 }).where('email', 'like', 'load%').execute();
		for (const a of agents) a.capacity = 4;
		await Promise.all(Array.from({ length: 20 }, () => srv.parley.conversations.drainQueue()));
		const third = await invariants();
		expect(third.held.length).toBe(skilled.length * 4);
		const queued = await db
			.selectFrom('conversations')
			.select('id')
			.where('status', '=', 'queued')
			.execute();
		expect(queued.length).toBe(N - skilled.length * 4);
	}, 60_000);
});

describe('live chat waiting', () => {
	it('shows each waiting customer their position, moving as customers are served', async () => {
		const { srv, clock } = await setup();
		const waiting: Awaited<ReturnType<typeof customerWrites>>[] = [];
		for (const name of ['W1', 'W2', 'W3']) {
			const w = await customerWrites(srv, 'live', `I am ${name}`, { name });
			await waitFor(
				async () =>
					(await srv.parley.repo.conversationById(w.customer.conversationId))?.requested_at != null,
				`${name} queued`
			);
			waiting.push(w);
			clock.advance(10);
		}
		const notice = (i: number) =>
			(metaOf(waiting[i].chat.conversation).get('waiting') as { text: string } | undefined)?.text;
		// Each notice is a write to that customer's conversation; with several writes in flight
		// (PostgreSQL) they need not arrive in the order they were made.
		await waitFor(
			() =>
				notice(0) === 'You are number 1 in the queue.' &&
				notice(1) === 'You are number 2 in the queue.' &&
				notice(2) === 'You are number 3 in the queue.',
			'W1, W2 and W3 see their positions'
		);

		// Ana (capacity 3, set to 1 here) serves W1 after five minutes of waiting.
		await srv.parley.repo.db
			.updateTable('agents')
			.set({ capacity: 1 })
			.where('email', '=', 'ana@example.com')
			.execute();
		clock.advance(5 * 60_000);
		const ana = await online(srv, 'ana@example.com');
		const offer = await offerIn(ana.inbox, 'W1 offered');
		expect((await accept(srv, ana.agent, offer.offerId)).status).toBe(200);
		await waitFor(() => notice(0) === undefined, 'W1 no longer waiting');
		await waitFor(
			() => notice(1) === 'You are number 1 in the queue. The estimated wait is about 5 minutes.',
			'W2 moves up, with an estimate from history'
		);
		// Written in the same refresh, just after W2's: it may reach W3's device a moment later.
		await waitFor(
			() => notice(2) === 'You are number 2 in the queue. The estimated wait is about 10 minutes.',
			'W3 moves up too'
		);

		// Two quiet hours later nobody was served this hour: the latest served requests (W1 waited
		// five minutes) still give W2 an estimate. Read on the server, as the refresh wrote it.
		clock.advance(2 * 3600_000);
		await srv.parley.waiting.refresh();
		const stored = await srv.parley.rooms.with(
			storedConversationKey(waiting[1].customer.conversationId),
			(room) => (metaOf(room.doc).get('waiting') as { text: string }).text
		);
		expect(stored).toBe('You are number 1 in the queue. The estimated wait is about 5 minutes.');
	});

	it('says when nobody is Available, and takes an address to reply to', async () => {
		const { srv } = await setup();
		const { customer, chat } = await customerWrites(srv, 'live', 'Anyone?');
		const waiting = () =>
			metaOf(chat.conversation).get('waiting') as { nobodyAvailable?: boolean } | undefined;
		await waitFor(() => waiting()?.nobodyAvailable === true, 'nobody available');
		const leave = async (email: unknown, token: string | null = customer.sessionToken) => {
			const res = await fetch(srv.base + '/api/widget/email', {
				method: 'POST',
				headers: {
					'content-type': 'application/json',
					...(token ? { authorization: `Bearer ${token}` } : {})
				},
				body: JSON.stringify({ email })
			});
			return {
				status: res.status,
				body: (await res.json()) as { error?: { fields?: Record<string, string> } }
			};
		};
		const bad = await leave('not an address');
		expect(bad.status).toBe(400);
		expect(bad.body.error?.fields?.email).toBe('Enter an email address so we can reply.');
		expect((await leave('x@example.com', null)).status).toBe(401);
		const ok = await leave('  kim@example.com ');
		expect(ok.status).toBe(200);
		const row = await srv.parley.repo.customerById(customer.customer.id);
		expect(row?.email).toBe('kim@example.com');
		// An agent Available without the queue's skill (`chat`) cannot take it: still nobody.
		await srv.parley.repo.db
			.updateTable('agents')
			.set({ skills: '["accounts"]' })
			.where('email', '=', 'ana@example.com')
			.execute();
		const ana = await online(srv, 'ana@example.com');
		await srv.parley.waiting.refresh();
		const stored = await srv.parley.rooms.with(
			storedConversationKey(customer.conversationId),
			(room) => metaOf(room.doc).get('waiting') as { nobodyAvailable?: boolean }
		);
		expect(stored.nobodyAvailable).toBe(true);
		expect(ana.inbox.offers.size).toBe(0);
		// Someone who can: the request is offered, and the notice no longer says nobody is.
		const ben = await online(srv, 'ben@example.com');
		await offerIn(ben.inbox, 'offered to Ben');
		await srv.parley.waiting.refresh();
		await waitFor(() => waiting()?.nobodyAvailable === undefined, 'someone available');
	});

	it('says so when the hours close while the customer waits, and when they open again', async () => {
		const { srv, db, clock } = await setup();
		const { chat } = await customerWrites(srv, 'live', 'Still open?');
		type Waiting = {
			text: string;
			estimateMs: number | null;
			nobodyAvailable?: boolean;
			closed?: boolean;
			nextOpenAt?: number | null;
		};
		const waiting = () => metaOf(chat.conversation).get('waiting') as Waiting | undefined;
		await waitFor(() => waiting()?.text.startsWith('You are number 1'), 'in the queue');
		// The admin sets hours that leave only the day after tomorrow (UTC) open.
		const now = new Date(clock.now());
		const opensAt = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2);
		const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date(opensAt).getUTCDay()];
		const hours = JSON.stringify({ timeZone: 'UTC', weekly: { [day]: [['00:00', '24:00']] } });
		await db.updateTable('workstreams').set({ hours }).where('slug', '=', 'live').execute();
		await srv.parley.waiting.refresh();
		await waitFor(() => waiting()?.closed === true, 'closed');
		expect(waiting()).toMatchObject({
			text: 'Our agents are not available right now. Leave a message with your email address and we will reply.',
			estimateMs: null,
			nobodyAvailable: true,
			nextOpenAt: opensAt
		});
		// Open again: the queue notice is back.
		await db.updateTable('workstreams').set({ hours: null }).where('slug', '=', 'live').execute();
		await srv.parley.waiting.refresh();
		await waitFor(() => waiting()?.closed === undefined, 'open again');
		expect(waiting()?.text).toMatch(/^You are number 1 in the queue/);
	});

	it('uses the workstream texts; persistent chat gets no such messages', async () => {
		const { srv, db } = await setup();
		await db
			.updateTable('workstreams')
			.set({ queue_position_text: 'Sei il numero {position} in coda.' })
			.where('slug', '=', 'live')
			.execute();
		const live = await customerWrites(srv, 'live', 'Ciao');
		const persistent = await customerWrites(srv, 'persistent', 'Hello');
		await waitFor(
			() =>
				(metaOf(live.chat.conversation).get('waiting') as { text: string } | undefined)?.text ===
				'Sei il numero 1 in coda.',
			'custom text'
		);
		await srv.parley.waiting.refresh();
		expect(metaOf(persistent.chat.conversation).get('waiting')).toBeUndefined();
	});
});

describe('keep the same agent and shift handoff', () => {
	async function carlaWithAna() {
		const ctx = await setup();
		const ana = await online(ctx.srv, 'ana@example.com', ctx.clock);
		const { customer, chat } = await customerWrites(ctx.srv, 'persistent', 'First question');
		const offer = await offerIn(ana.inbox, 'offer to Ana');
		expect((await accept(ctx.srv, ana.agent, offer.offerId)).status).toBe(200);
		const cleo = await online(ctx.srv, 'cleo@example.com', ctx.clock);
		// Ana's shift ends.
		await setPresence(ctx.srv.base, ana.agent, 'Offline');
		return { ...ctx, ana, cleo, customer, chat };
	}

	it('waits for the same agent, who gets it back on return', async () => {
		const { srv, ana, cleo, customer, chat } = await carlaWithAna();
		chat.send('Back again, days later');
		await waitFor(
			async () =>
				(await srv.parley.repo.conversationById(customer.conversationId))?.status === 'queued',
			'routed again'
		);
		await srv.parley.conversations.drainQueue();
		expect(cleo.inbox.offers.size).toBe(0); // waiting for Ana
		await setPresence(srv.base, ana.agent, 'Available');
		const back = await offerIn(ana.inbox, 'offer back to Ana');
		expect(back.conversationId).toBe(customer.conversationId);
		expect((await accept(srv, ana.agent, back.offerId)).status).toBe(200);
		// She had it already: no second "joined" message, and she keeps her place.
		const joined = messagesOf(chat.conversation)
			.toArray()
			.filter((m) => m.text === 'Ana joined the chat');
		expect(joined).toHaveLength(1);
		expect(ana.inbox.conversations.has(customer.conversationId)).toBe(true);
	});

	it('after the wait, goes to whoever is Available, who takes it over', async () => {
		const { srv, clock, ana, cleo, customer, chat } = await carlaWithAna();
		chat.send('Anyone?');
		await waitFor(
			async () =>
				(await srv.parley.repo.conversationById(customer.conversationId))?.status === 'queued',
			'routed again'
		);
		clock.advance(5 * 60_000 - 1);
		await srv.parley.timers.poll();
		expect(cleo.inbox.offers.size).toBe(0);
		clock.advance(1);
		await srv.parley.timers.poll();
		const offer = await offerIn(cleo.inbox, 'Cleo after the wait');
		expect((await accept(srv, cleo.agent, offer.offerId)).status).toBe(200);
		await waitFor(() => !ana.inbox.conversations.has(customer.conversationId), 'gone from Ana');
		expect(await srv.parley.repo.participantsOf(customer.conversationId)).toEqual([cleo.agent.id]);
		await waitFor(
			() =>
				(metaOf(chat.conversation).get('agents') as { name: string }[])
					.map((a) => a.name)
					.join() === 'Cleo',
			'the customer sees Cleo'
		);
		// Ana can no longer open the conversation.
		const r = await api(srv.base, '/api/agent/me', { cookie: ana.agent.cookie });
		expect(r.status).toBe(200);
		expect(await srv.parley.repo.isParticipant(customer.conversationId, ana.agent.id)).toBe(false);
	});

	it('the wait survives a restart: its durable timer routes the request to anyone afterwards', async () => {
		const first = await carlaWithAna();
		first.chat.send('Still there?');
		await waitFor(
			async () =>
				(await first.srv.parley.repo.conversationById(first.customer.conversationId))?.status ===
				'queued',
			'routed again'
		);
		first.chat.destroy();
		await first.srv.stop();

		const clock = new ManualClock(first.clock.now() + 60_000);
		const srv = await startServer({ clock, dir: first.srv.dir });
		cleanup.push(() => srv.stop());
		const cleo = await online(srv, 'cleo@example.com', clock);
		await srv.parley.conversations.drainQueue();
		expect(cleo.inbox.offers.size).toBe(0); // still waiting for Ana
		clock.advance(4 * 60_000);
		await srv.parley.timers.poll();
		const offer = await offerIn(cleo.inbox, 'Cleo once the wait is over');
		expect(offer.conversationId).toBe(first.customer.conversationId);
		const fired = await srv.parley.repo.db
			.selectFrom('timers')
			.select('id')
			.where('kind', '=', 'keep-wait')
			.execute();
		expect(fired).toEqual([]);
	});

	it('a message after the agent left is handed off, after messages that needed nothing', async () => {
		const ctx = await setup();
		const ana = await online(ctx.srv, 'ana@example.com', ctx.clock);
		const { customer, chat } = await customerWrites(ctx.srv, 'persistent', 'First question');
		const offer = await offerIn(ana.inbox, 'offer to Ana');
		expect((await accept(ctx.srv, ana.agent, offer.offerId)).status).toBe(200);
		await ctx.db
			.updateTable('workstreams')
			.set({ keep_same_agent: 0 })
			.where('slug', '=', 'persistent')
			.execute();
		const status = async () =>
			(await ctx.srv.parley.repo.conversationById(customer.conversationId))?.status;
		// While Ana works, the customer's messages need nothing: the server remembers that, and
		// the next message skips the check.
		for (const text of ['More detail', 'And more']) {
			chat.send(text);
			await waitFor(
				() =>
					messagesOf(chat.conversation)
						.toArray()
						.some((m) => m.text === text),
				text
			);
			await ctx.srv.parley.conversations.settled();
			expect(await status()).toBe('active');
		}
		// Ana's shift ends: what was remembered no longer holds, and the next message goes on.
		await setPresence(ctx.srv.base, ana.agent, 'Offline');
		const cleo = await online(ctx.srv, 'cleo@example.com', ctx.clock);
		chat.send('Anyone there?');
		const next = await offerIn(cleo.inbox, 'Cleo takes over');
		expect(next.conversationId).toBe(customer.conversationId);
	});

	it('an agent in RONA or Away keeps the conversations they are in; only Offline hands them off', async () => {
		const { srv, clock, db } = await setup();
		await db
			.updateTable('workstreams')
			.set({ keep_same_agent: 0 })
			.where('slug', '=', 'persistent')
			.execute();
		const ana = await online(srv, 'ana@example.com', clock);
		const carla = await customerWrites(srv, 'persistent', 'My card was charged twice');
		const first = await offerIn(ana.inbox, 'offer to Ana');
		expect((await accept(srv, ana.agent, first.offerId)).status).toBe(200);
		// Ana misses another customer's offer: RONA.
		await customerWrites(srv, 'live', 'Hello?', { name: 'Lou' });
		await waitFor(() => ana.inbox.offers.size === 1, 'the second offer');
		clock.advance(60_000);
		await srv.parley.timers.poll();
		await waitFor(() => agentStateOf(ana.inbox.doc).get('presence') === 'RONA', 'Ana in RONA');
		const cleo = await online(srv, 'cleo@example.com', clock);
		const id = carla.customer.conversationId;
		const offeredToCleo = () =>
			[...cleo.inbox.offers.values()].some((o) => o.conversationId === id);
		const carlaSays = async (text: string) => {
			carla.chat.send(text);
			await waitFor(
				() =>
					messagesOf(carla.chat.conversation)
						.toArray()
						.some((m) => m.text === text),
				text
			);
			await srv.parley.conversations.settled();
			await srv.parley.conversations.drainQueue();
		};
		await carlaSays('Are you still there?');
		expect((await srv.parley.repo.conversationById(id))?.status).toBe('active');
		expect(await srv.parley.repo.participantsOf(id)).toEqual([ana.agent.id]);
		expect(offeredToCleo()).toBe(false);
		// A break: still hers.
		await setPresence(srv.base, ana.agent, 'Away');
		await carlaSays('No rush');
		expect((await srv.parley.repo.conversationById(id))?.status).toBe('active');
		expect(offeredToCleo()).toBe(false);
		// Her shift ends: the next message goes to Cleo.
		await setPresence(srv.base, ana.agent, 'Offline');
		carla.chat.send('Anyone?');
		await waitFor(offeredToCleo, 'handed off to Cleo');
	});

	it('with keep the same agent off, goes to whoever is Available at once', async () => {
		const { db, cleo, customer, chat } = await carlaWithAna();
		await db
			.updateTable('workstreams')
			.set({ keep_same_agent: 0 })
			.where('slug', '=', 'persistent')
			.execute();
		chat.send('Hello?');
		const offer = await offerIn(cleo.inbox, 'Cleo at once');
		expect(offer.conversationId).toBe(customer.conversationId);
	});
});

describe('operating hours', () => {
	/** Open only on the day after tomorrow (UTC), 09:00–17:00. */
	function closedUntilLater(now: number) {
		const day = new Date(now + 2 * 86_400_000);
		const name = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][day.getUTCDay()];
		const opensAt = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 9);
		return {
			hours: JSON.stringify({ timeZone: 'UTC', weekly: { [name]: [['09:00', '17:00']] } }),
			opensAt
		};
	}

	it('live: the widget says agents are away and takes a message, routed when hours open', async () => {
		const { srv, db, clock } = await setup();
		const { hours, opensAt } = closedUntilLater(clock.now());
		await db.updateTable('workstreams').set({ hours }).where('slug', '=', 'live').execute();
		const ana = await online(srv, 'ana@example.com');

		const info = await api<{
			workstream: { open: boolean; nextOpenAt: number; offlineText: string };
		}>(srv.base, '/api/widget/workstreams/live');
		expect(info.body.workstream).toMatchObject({ open: false, nextOpenAt: opensAt });
		expect(info.body.workstream.offlineText).toMatch(/not available/);

		const bad = await api<{ error: { fields: Record<string, string> } }>(
			srv.base,
			'/api/widget/offline-message',
			{
				body: { workstream: 'live', email: 'nope', message: '' }
			}
		);
		expect(bad.status).toBe(400);
		expect(Object.keys(bad.body.error.fields).sort()).toEqual(['email', 'message']);

		const left = await api<{ conversationId: string }>(srv.base, '/api/widget/offline-message', {
			body: { workstream: 'live', name: 'Olga', email: 'olga@example.com', message: 'Call me back' }
		});
		expect(left.status).toBe(200);
		await srv.parley.conversations.drainQueue();
		expect(ana.inbox.offers.size).toBe(0);
		const conv = await srv.parley.repo.conversationById(left.body.conversationId);
		expect(conv).toMatchObject({ status: 'queued', offline_message: 1 });

		clock.advance(opensAt - clock.now());
		await srv.parley.timers.poll();
		const offer = await offerIn(ana.inbox, 'offered when hours open');
		expect(offer).toMatchObject({ conversationId: left.body.conversationId, customerName: 'Olga' });
		await accept(srv, ana.agent, offer.offerId);
		const doc = new Y.Doc();
		await srv.parley.rooms.with(storedConversationKey(left.body.conversationId), (room) => {
			Y.applyUpdate(doc, Y.encodeStateAsUpdate(room.doc));
		});
		expect(messagesOf(doc).toArray()[0]).toMatchObject({ role: 'customer', text: 'Call me back' });
		expect(metaOf(doc).get('offlineMessage')).toEqual({ email: 'olga@example.com' });
	});

	it('persistent: accepts messages at any hour and routes them when hours open', async () => {
		const { srv, db, clock } = await setup();
		const { hours, opensAt } = closedUntilLater(clock.now());
		await db.updateTable('workstreams').set({ hours }).where('slug', '=', 'persistent').execute();
		const ana = await online(srv, 'ana@example.com');
		const { customer } = await customerWrites(srv, 'persistent', 'Written at night');
		await waitFor(
			async () =>
				(await srv.parley.repo.conversationById(customer.conversationId))?.requested_at != null,
			'stored as a request'
		);
		await srv.parley.conversations.drainQueue();
		expect(ana.inbox.offers.size).toBe(0);
		clock.advance(opensAt - 1 - clock.now());
		await srv.parley.timers.poll();
		expect(ana.inbox.offers.size).toBe(0);
		clock.advance(opensAt - clock.now());
		await srv.parley.timers.poll();
		await offerIn(ana.inbox, 'routed at opening');
	});
});

describe('operating hours across a restart', () => {
	it('the opening timer is stored, survives a restart and routes the waiting request once', async () => {
		const first = await setup();
		const day = new Date(first.clock.now() + 2 * 86_400_000);
		const name = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][day.getUTCDay()];
		const opensAt = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), 9);
		await first.db
			.updateTable('workstreams')
			.set({ hours: JSON.stringify({ timeZone: 'UTC', weekly: { [name]: [['09:00', '17:00']] } }) })
			.where('slug', '=', 'persistent')
			.execute();
		await online(first.srv, 'ana@example.com', first.clock);
		const { customer, chat } = await customerWrites(first.srv, 'persistent', 'Written on Sunday');
		await waitFor(
			async () =>
				(await first.srv.parley.repo.conversationById(customer.conversationId))?.requested_at !=
				null,
			'stored as a request'
		);
		await first.srv.parley.conversations.drainQueue();
		const stored = () =>
			first.db
				.selectFrom('timers')
				.select(['id', 'due_at'])
				.where('kind', '=', 'hours-open')
				.execute();
		await waitFor(async () => (await stored()).length === 1, 'the opening timer is stored');
		expect(Number((await stored())[0].due_at)).toBe(opensAt);
		chat.destroy();
		await first.srv.stop();

		const clock = new ManualClock(opensAt - 60_000);
		const srv = await startServer({ clock, dir: first.srv.dir });
		cleanup.push(() => srv.stop());
		const ana = await online(srv, 'ana@example.com', clock);
		await srv.parley.conversations.drainQueue();
		expect(ana.inbox.offers.size).toBe(0); // still closed
		clock.advance(60_000);
		await srv.parley.timers.poll();
		const offer = await offerIn(ana.inbox, 'routed at opening, after the restart');
		expect(offer.conversationId).toBe(customer.conversationId);
		await srv.parley.timers.poll();
		const offers = await srv.parley.repo.db
			.selectFrom('offers')
			.select('id')
			.where('conversation_id', '=', customer.conversationId)
			.execute();
		expect(offers).toHaveLength(1);
		expect(
			await srv.parley.repo.db
				.selectFrom('timers')
				.select('id')
				.where('kind', '=', 'hours-open')
				.execute()
		).toEqual([]);
	});
});

describe('restart in the middle of an offer', () => {
	it('keeps the offer, and its timeout fires once after the restart', async () => {
		const first = await setup();
		const ana = await online(first.srv, 'ana@example.com', first.clock);
		await online(first.srv, 'ben@example.com', first.clock);
		const { customer } = await customerWrites(first.srv, 'live', 'Before the restart');
		const offer = await offerIn(ana.inbox, 'offer to Ana');
		await first.srv.stop();

		const clock = new ManualClock(first.clock.now() + 30_000);
		const srv = await startServer({ clock, dir: first.srv.dir });
		cleanup.push(() => srv.stop());
		const anaAgain = await loginAgent(srv.base, 'ana@example.com');
		const benAgain = await loginAgent(srv.base, 'ben@example.com');
		const anaInbox = await openInbox(srv, anaAgain);
		const benInbox = await openInbox(srv, benAgain);
		cleanup.push(
			() => anaInbox.destroy(),
			() => benInbox.destroy()
		);
		await waitFor(() => anaInbox.offers.has(offer.offerId), 'the offer survived');
		clock.advance(30_000);
		await srv.parley.timers.poll();
		await srv.parley.timers.poll();
		const moved = await offerIn(benInbox, 'moved to Ben after the restart');
		expect(moved.conversationId).toBe(customer.conversationId);
		const rows = await srv.parley.repo.db
			.selectFrom('offers')
			.select(['agent_id', 'status'])
			.where('conversation_id', '=', customer.conversationId)
			.execute();
		expect(rows.map((r) => r.status).sort()).toEqual(['expired', 'pending']);
		expect(await presenceOf(srv, anaAgain)).toBe('RONA');
	});
});

describe('going Offline when every tab closes', () => {
	it('a short blip keeps the agent Available; a longer absence makes them Offline', async () => {
		const { srv, clock } = await setup();
		const graceTimers = async () =>
			(
				await srv.parley.repo.db
					.selectFrom('timers')
					.select('id')
					.where('kind', '=', 'presence-grace')
					.execute()
			).length;
		const ana = await online(srv, 'ana@example.com');
		ana.inbox.provider.disconnect();
		clock.advance(30_000);
		await srv.parley.timers.poll();
		ana.inbox.provider.connect();
		await waitFor(() => ana.inbox.provider.wsconnected, 'reconnected');
		await waitFor(async () => (await graceTimers()) === 0, 'grace timer cancelled');
		clock.advance(60_000);
		await srv.parley.timers.poll();
		expect(await presenceOf(srv, ana.agent)).toBe('Available');

		ana.inbox.provider.disconnect();
		await waitFor(async () => (await graceTimers()) === 1, 'grace timer set');
		clock.advance(59_999);
		await srv.parley.timers.poll();
		expect(await presenceOf(srv, ana.agent)).toBe('Available');
		clock.advance(1);
		await srv.parley.timers.poll();
		expect(await presenceOf(srv, ana.agent)).toBe('Offline');
		// Back, the workspace learns why (its inbox says so) until she sets a presence herself.
		ana.inbox.provider.connect();
		await waitFor(
			() => agentStateOf(ana.inbox.doc).get('presenceReason') === 'disconnected',
			'told why'
		);
		expect(agentStateOf(ana.inbox.doc).get('presence')).toBe('Offline');
		await setPresence(srv.base, ana.agent, 'Available');
		await waitFor(() => !agentStateOf(ana.inbox.doc).has('presenceReason'), 'reason gone');
	});
});
