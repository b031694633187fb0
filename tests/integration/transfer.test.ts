/** Transfer (SPEC A5): server-validated, to an agent or a queue, never lost. Controlled clock. */
import { describe, expect, it } from 'vitest';
import {
	startServer,
	customerSession,
	customerChat,
	setPresence,
	openInbox,
	agentChat,
	api,
	waitFor,
	cleanupAfterEach,
	agentOnline,
	type AgentLogin,
	type TestServer
} from '../helpers/server';
import { ManualClock } from '../../server/clock';
import type { OfferView } from '../../src/lib/domain/inbox-doc';
import { metaOf } from '../../src/lib/domain/conversation-doc';
import { storedConversationKey } from '../../src/lib/domain/doc-names';

const cleanup = cleanupAfterEach();

const online = (srv: TestServer, email: string, clock?: ManualClock) =>
	agentOnline(srv, email, cleanup, clock);

const firstOffer = (inbox: Awaited<ReturnType<typeof openInbox>>, what: string) =>
	waitFor(() => [...inbox.offers.values()][0] as OfferView | undefined, what);

const transfer = (srv: TestServer, agent: AgentLogin, conversationId: string, body: unknown) =>
	api<{ status?: string; error?: { code: string; message: string } }>(
		srv.base,
		`/api/agent/conversations/${conversationId}/transfer`,
		{ body, cookie: agent.cookie }
	);

/** Dana (live) is chatting with Ana; Ben and Cleo are Available too. */
async function setup() {
	const clock = new ManualClock(Date.now());
	const srv = await startServer({ clock });
	cleanup.push(() => srv.dispose());
	const ana = await online(srv, 'ana@example.com', clock);
	const customer = await customerSession(srv.base, 'live', { name: 'Dana' });
	const chat = customerChat(srv, customer);
	cleanup.push(() => chat.destroy());
	await chat.ready;
	chat.send('My order is late');
	const offer = await firstOffer(ana.inbox, 'offer to Ana');

	// Transfer before Accept is refused.
	const early = await transfer(srv, ana.agent, customer.conversationId, { queueId: 'x' });
	expect(early.status).toBe(409);
	expect(early.body.error?.message).toMatch(/Accept the chat/);

	await api(srv.base, `/api/agent/offers/${offer.offerId}/accept`, {
		body: {},
		cookie: ana.agent.cookie
	});
	const ben = await online(srv, 'ben@example.com', clock);
	const cleo = await online(srv, 'cleo@example.com', clock);
	return { clock, srv, ana, ben, cleo, customer, chat };
}

describe('transfer', () => {
	it('to an agent: they get an offer, accept, see the whole history; the first agent is released', async () => {
		const { srv, ana, ben, customer, chat } = await setup();
		const r = await transfer(srv, ana.agent, customer.conversationId, { agentId: ben.agent.id });
		expect(r.status).toBe(200);
		const offer = await firstOffer(ben.inbox, 'offer to Ben');
		expect(offer.conversationId).toBe(customer.conversationId);
		expect(offer.transferredBy).toBe('Ana');
		// Ana still holds it (and its capacity) until Ben accepts.
		expect(await srv.parley.repo.isParticipant(customer.conversationId, ana.agent.id)).toBe(true);
		const held = await srv.parley.conversations.transferTargets(ben.agent.id);
		expect(held.agents.find((a) => a.id === ana.agent.id)?.load).toBe(1);

		await api(srv.base, `/api/agent/offers/${offer.offerId}/accept`, {
			body: {},
			cookie: ben.agent.cookie
		});
		await waitFor(() => !ana.inbox.conversations.has(customer.conversationId), 'released from Ana');
		expect(await srv.parley.repo.participantsOf(customer.conversationId)).toEqual([ben.agent.id]);
		const benSide = agentChat(srv, ben.agent, customer.conversationId);
		cleanup.push(() => benSide.destroy());
		await waitFor(
			() => benSide.transcript.some((t) => t.text === 'My order is late'),
			'Ben sees the history'
		);
		await waitFor(
			() => chat.transcript.some((t) => t.text === 'Ben joined the chat'),
			'the customer sees Ben join'
		);
		// Ana can no longer transfer (or write: she is not a participant).
		const again = await transfer(srv, ana.agent, customer.conversationId, { queueId: 'x' });
		expect(again.status).toBe(403);
	});

	it('to an agent who lets it time out: it goes back to routing, never to the sender, never lost', async () => {
		const { clock, srv, ana, ben, cleo, customer } = await setup();
		await transfer(srv, ana.agent, customer.conversationId, { agentId: ben.agent.id });
		await firstOffer(ben.inbox, 'offer to Ben');
		clock.advance(60_000);
		await srv.parley.timers.poll();
		const next = await firstOffer(cleo.inbox, 'back to routing: Cleo');
		expect(next.conversationId).toBe(customer.conversationId);
		// Ana, who transferred it, sees what became of it.
		await waitFor(
			() =>
				ana.inbox.conversations.get(customer.conversationId)?.transferNote ===
				'Ben did not answer in time. Offered to Cleo.',
			"Ana's note"
		);
		expect(ana.inbox.offers.size).toBe(0);
		expect(ben.inbox.offers.size).toBe(0);
		expect(await srv.parley.repo.isParticipant(customer.conversationId, ana.agent.id)).toBe(true);
	});

	it('taken back by the agent who transferred it, after a decline: the offers go, the chat goes on', async () => {
		const { srv, ana, ben, cleo, customer, chat } = await setup();
		await transfer(srv, ana.agent, customer.conversationId, { agentId: ben.agent.id });
		const toBen = await firstOffer(ben.inbox, 'offer to Ben');
		await api(srv.base, `/api/agent/offers/${toBen.offerId}/decline`, {
			body: {},
			cookie: ben.agent.cookie
		});
		const toCleo = await firstOffer(cleo.inbox, 'back to routing: Cleo');
		await waitFor(
			() =>
				ana.inbox.conversations.get(customer.conversationId)?.transferNote ===
				'Ben declined. Offered to Cleo.',
			"Ana's note: Ben declined"
		);
		// Ben may not take it back: only the agent who transferred it.
		const outsider = await api(
			srv.base,
			`/api/agent/conversations/${customer.conversationId}/take-back`,
			{ body: {}, cookie: ben.agent.cookie }
		);
		expect(outsider.status).toBe(403);
		const back = await api<{ status?: string }>(
			srv.base,
			`/api/agent/conversations/${customer.conversationId}/take-back`,
			{ body: {}, cookie: ana.agent.cookie }
		);
		expect(back.body.status).toBe('active');
		await waitFor(() => cleo.inbox.offers.size === 0, "Cleo's offer withdrawn");
		const late = await api(srv.base, `/api/agent/offers/${toCleo.offerId}/accept`, {
			body: {},
			cookie: cleo.agent.cookie
		});
		expect(late.status).toBeGreaterThanOrEqual(400);
		const conv = await srv.parley.repo.conversationById(customer.conversationId);
		expect(conv).toMatchObject({ status: 'active', transfer_from: null });
		expect(ana.inbox.conversations.get(customer.conversationId)?.transferNote).toBeUndefined();
		expect(await srv.parley.repo.participantsOf(customer.conversationId)).toEqual([ana.agent.id]);
		await waitFor(
			() => metaOf(chat.conversation).get('status') === 'active',
			'the customer sees it active'
		);
		const anaSide = agentChat(srv, ana.agent, customer.conversationId);
		cleanup.push(() => anaSide.destroy());
		await anaSide.ready;
		anaSide.send('Still with you, Dana');
		await waitFor(
			() => chat.transcript.some((t) => t.text === 'Still with you, Dana'),
			'the chat goes on'
		);
		const twice = await api(
			srv.base,
			`/api/agent/conversations/${customer.conversationId}/take-back`,
			{ body: {}, cookie: ana.agent.cookie }
		);
		expect(twice.status).toBe(409);
		const details = await srv.parley.conversations.details(ana.agent.id, customer.conversationId);
		expect(details.events.map((e) => e.type)).toContain('transfer_cancelled');
	});

	it('to a queue, taken back: it is in the queue it was in before, for reports and routing', async () => {
		const { srv, ana, cleo, customer } = await setup();
		const before = (await srv.parley.repo.conversationById(customer.conversationId))!.queue_id;
		const queues = await api<{ queues: { id: string; name: string; available: number }[] }>(
			srv.base,
			'/api/agent/transfer-targets',
			{ cookie: ana.agent.cookie }
		);
		const accounts = queues.body.queues.find((q) => q.name === 'Account care')!;
		expect(accounts.id).not.toBe(before);
		// Who could take it now, per queue: Cleo has the accounts skill (Ana herself does not count).
		expect(accounts).toMatchObject({ available: 1 });
		await transfer(srv, ana.agent, customer.conversationId, { queueId: accounts.id });
		await firstOffer(cleo.inbox, 'offer to Cleo');
		expect((await srv.parley.repo.conversationById(customer.conversationId))!.queue_id).toBe(
			accounts.id
		);
		const back = await api<{ status?: string }>(
			srv.base,
			`/api/agent/conversations/${customer.conversationId}/take-back`,
			{ body: {}, cookie: ana.agent.cookie }
		);
		expect(back.body.status).toBe('active');
		expect(await srv.parley.repo.conversationById(customer.conversationId)).toMatchObject({
			status: 'active',
			transfer_from: null,
			queue_id: before
		});
	});

	it('to a queue: routed to an agent with that queue skills; the customer gets no queue notice', async () => {
		const { srv, ana, ben, cleo, customer } = await setup();
		const queues = await api<{ queues: { id: string; name: string }[] }>(
			srv.base,
			'/api/agent/transfer-targets',
			{ cookie: ana.agent.cookie }
		);
		const accounts = queues.body.queues.find((q) => q.name === 'Account care')!;
		const r = await transfer(srv, ana.agent, customer.conversationId, { queueId: accounts.id });
		expect(r.body.status).toBe('queued');
		const offer = await firstOffer(cleo.inbox, 'Cleo has the accounts skill');
		expect(offer.queue).toBe('Account care');
		expect(ben.inbox.offers.size).toBe(0); // Ben lacks it
		// The customer is mid-conversation, not waiting in a queue: no "You are number 1 in the
		// queue" while the transfer is under way.
		await srv.parley.waiting.refresh();
		const waiting = await srv.parley.rooms.with(
			storedConversationKey(customer.conversationId),
			(room) => metaOf(room.doc).get('waiting')
		);
		expect(waiting).toBeUndefined();
	});

	it('refuses bad targets and outsiders with clear errors', async () => {
		const { srv, ana, ben, customer } = await setup();
		expect((await transfer(srv, ana.agent, customer.conversationId, {})).status).toBe(400);
		const self = await transfer(srv, ana.agent, customer.conversationId, { agentId: ana.agent.id });
		expect(self.status).toBe(400);
		await setPresence(srv.base, ben.agent, 'Away');
		const away = await transfer(srv, ana.agent, customer.conversationId, { agentId: ben.agent.id });
		expect(away.status).toBe(409);
		expect(away.body.error?.message).toMatch(/Refresh/);
		const outsider = await transfer(srv, ben.agent, customer.conversationId, { queueId: 'x' });
		expect(outsider.status).toBe(403);
		const noQueue = await transfer(srv, ana.agent, customer.conversationId, { queueId: 'q_nope' });
		expect(noQueue.status).toBe(404);
	});
});

describe('participants', () => {
	it('are listed in the order they joined, whatever their ids (the first is the one who had it)', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const db = srv.parley.repo.db;
		await db
			.insertInto('participants')
			.values([
				{ conversation_id: 'cv_order', agent_id: 'ag_a', joined_at: 300 },
				{ conversation_id: 'cv_order', agent_id: 'ag_z', joined_at: 100 },
				{ conversation_id: 'cv_order', agent_id: 'ag_m', joined_at: 200 }
			])
			.execute();
		expect(await srv.parley.repo.participantsOf('cv_order')).toEqual(['ag_z', 'ag_m', 'ag_a']);
	});
});
