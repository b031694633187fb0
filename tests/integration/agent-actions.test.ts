/**
 * Working a conversation (SPEC A3, A4, A6–A8, A10): conference, End conference, Waiting and
 * resume, End with wrap-up, the customer ending a live chat, internal notes, the compose rule,
 * the side panel's details and history. Every action, and its refusal when out of order.
 */
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
	startServer,
	customerSession,
	customerChat,
	agentChat,
	api,
	waitFor,
	cleanupAfterEach,
	agentOnline,
	setPresence,
	type AgentLogin,
	type CustomerLogin,
	type TestServer
} from '../helpers/server';
import { ManualClock } from '../../server/clock';
import type { OfferView } from '../../src/lib/domain/inbox-doc';
import { ChatSession } from '../../src/lib/client/chat-session';
import { outboxEntriesOf } from '../../src/lib/domain/conversation-doc';
import type { ConversationService } from '../../server/conversations';

type Details = Awaited<ReturnType<ConversationService['details']>>;

const cleanup = cleanupAfterEach();

type Reply = { error?: { code: string; message: string } } & Record<string, unknown>;
const act = (
	srv: TestServer,
	agent: AgentLogin,
	conversationId: string,
	action: string,
	body: unknown = {}
) =>
	api<Reply>(srv.base, `/api/agent/conversations/${conversationId}/${action}`, {
		body,
		cookie: agent.cookie
	});
const accept = (srv: TestServer, agent: AgentLogin, offerId: string) =>
	api<Reply>(srv.base, `/api/agent/offers/${offerId}/accept`, { body: {}, cookie: agent.cookie });

type Inbox = Awaited<ReturnType<typeof agentOnline>>['inbox'];
const nextOffer = (inbox: Inbox, what: string, except?: string) =>
	waitFor(
		() => [...inbox.offers.values()].find((o) => o.offerId !== except) as OfferView | undefined,
		what
	);
const texts = (s: ChatSession) => s.transcript.map((t) => t.text);

async function details(srv: TestServer, agent: AgentLogin, conversationId: string) {
	const r = await fetch(`${srv.base}/api/agent/conversations/${conversationId}`, {
		headers: { cookie: agent.cookie }
	});
	return { status: r.status, body: (await r.json()) as Details };
}

/** A customer of `workstream` chatting with Ana, who has accepted. Ben and Cleo are Available. */
async function setup(workstream: 'live' | 'persistent' = 'live') {
	const clock = new ManualClock(Date.now());
	const srv = await startServer({ clock });
	cleanup.push(() => srv.dispose());
	const ana = await agentOnline(srv, 'ana@example.com', cleanup, clock);
	const customer = await customerSession(srv.base, workstream, { name: 'Dana' });
	const chat = customerChat(srv, customer);
	cleanup.push(() => chat.destroy());
	await chat.ready;
	chat.send('My order is late');
	const offer = await nextOffer(ana.inbox, 'offer to Ana');
	const early = await act(srv, ana.agent, customer.conversationId, 'end', { reason: 'Resolved' });
	expect(early.status).toBe(409);
	expect(early.body.error?.message).toBe('Accept the chat before ending it.');
	// Nothing else before Accept either.
	for (const [action, message] of [
		['conference', 'Accept the chat before starting a conference.'],
		['end-conference', 'Accept the chat before ending a conference.'],
		['wait', 'Accept the chat before setting it to Waiting.']
	])
		expect(
			(await act(srv, ana.agent, customer.conversationId, action, { agentId: 'x' })).body.error
				?.message
		).toBe(message);
	expect((await accept(srv, ana.agent, offer.offerId)).status).toBe(200);
	const anaSide = agentChat(srv, ana.agent, customer.conversationId);
	cleanup.push(() => anaSide.destroy());
	await waitFor(() => texts(anaSide).includes('My order is late'), 'Ana sees the thread');
	const ben = await agentOnline(srv, 'ben@example.com', cleanup, clock);
	const cleo = await agentOnline(srv, 'cleo@example.com', cleanup, clock);
	return { clock, srv, ana, ben, cleo, customer, chat, anaSide };
}

describe('conference (A6)', () => {
	it('invites, shows Conference requested, joins with a message for everyone; End conference removes the others', async () => {
		const { srv, ana, ben, cleo, customer, chat, anaSide } = await setup();
		const id = customer.conversationId;
		// Not to oneself, nor twice at once.
		expect((await act(srv, ana.agent, id, 'conference', { agentId: ana.agent.id })).status).toBe(
			400
		);
		const r = await act(srv, ana.agent, id, 'conference', { agentId: ben.agent.id });
		expect(r.status).toBe(200);
		await waitFor(() => anaSide.meta.conference?.invited === 'Ben', 'Conference requested');
		const again = await act(srv, ana.agent, id, 'conference', { agentId: cleo.agent.id });
		expect(again.status).toBe(409);
		expect(again.body.error?.message).toMatch(/already waiting/);

		const invite = await nextOffer(ben.inbox, 'invitation to Ben');
		expect(invite).toMatchObject({ kind: 'conference', invitedBy: 'Ana', customerName: 'Dana' });
		// Before accepting, Ben cannot act on the conversation.
		expect((await act(srv, ben.agent, id, 'end', { reason: 'Resolved' })).status).toBe(409);
		expect((await accept(srv, ben.agent, invite.offerId)).status).toBe(200);
		await waitFor(() => texts(chat).includes('Ben joined the chat'), 'customer sees the join');
		await waitFor(
			() => anaSide.meta.agents?.length === 2 && !anaSide.meta.conference,
			'Conference'
		);
		expect(anaSide.meta.agents?.map((a) => a.name)).toEqual(['Ana', 'Ben']);
		expect(await srv.parley.repo.participantsOf(id)).toEqual(
			expect.arrayContaining([ana.agent.id, ben.agent.id])
		);

		// Ben sees the whole history and writes; the customer sees who is writing.
		const benSide = agentChat(srv, ben.agent, id);
		cleanup.push(() => benSide.destroy());
		await waitFor(() => texts(benSide).includes('My order is late'), 'Ben sees the history');
		benSide.send('Ben here, checking the warehouse');
		await waitFor(() => texts(chat).includes('Ben here, checking the warehouse'), 'customer');
		benSide.setTyping(true);
		await waitFor(() => chat.typing.some((t) => t.name === 'Ben'), 'Ben typing, by name');

		// Who has the conversation, and whether it goes on, is Ana's call: Ben is refused, and
		// told how to leave instead.
		for (const [action, body] of [
			['end', { reason: 'Resolved' }],
			['end-session', {}],
			['wait', {}],
			['transfer', { agentId: cleo.agent.id }],
			['conference', { agentId: cleo.agent.id }],
			['status', { status: 'pending' }]
		] as const) {
			const refused = await act(srv, ben.agent, id, action, body);
			expect(refused.status, action).toBe(403);
			expect(refused.body.error?.message, action).toMatch(
				/^Only Ana can .+: you were invited to this conversation\. Leave the conference instead\.$/
			);
		}
		expect(await srv.parley.repo.participantsOf(id)).toEqual([ana.agent.id, ben.agent.id]);

		// A third agent cannot join without an invitation, nor post.
		const cleoSide = agentChat(srv, cleo.agent, id);
		await waitFor(() => cleoSide.closedReason, 'Cleo refused');
		cleoSide.destroy();

		// End conference: Ben leaves; his socket closes, his copy keeps what he saw.
		const ended = await act(srv, ana.agent, id, 'end-conference');
		expect(ended.status).toBe(200);
		expect(ended.body.removed).toBe(1);
		await waitFor(() => benSide.closedReason, "Ben's socket is closed");
		expect(benSide.closedReason).toMatch(/conference was ended/);
		expect(texts(benSide)).toContain('Ben here, checking the warehouse');
		await waitFor(() => texts(chat).includes('Ben left the chat'), 'customer sees Ben leave');
		expect(await srv.parley.repo.participantsOf(id)).toEqual([ana.agent.id]);
		await waitFor(
			() => ben.inbox.conversations.get(id)?.left === true,
			"marked left in Ben's list"
		);
		chat.send('after the conference');
		await waitFor(() => texts(anaSide).includes('after the conference'), 'Ana still live');
		expect(texts(benSide)).not.toContain('after the conference');

		// Ben's late offline message is refused with a notice, not dropped silently.
		const late = agentChat(srv, ben.agent, id);
		cleanup.push(() => late.destroy());
		late.send('one more thing from Ben');
		const refused = await waitFor(
			() =>
				late.transcript.find((t) => t.text === 'one more thing from Ben' && t.state === 'rejected'),
			"Ben's late message refused"
		);
		expect(refused.rejection).toBe(
			'You are no longer in this conversation; this message was not sent.'
		);
		expect(texts(chat)).not.toContain('one more thing from Ben');
		expect((await act(srv, ana.agent, id, 'end-conference')).status).toBe(409);

		// Ben takes it off his list.
		expect((await act(srv, ben.agent, id, 'dismiss')).status).toBe(200);
		await waitFor(() => !ben.inbox.conversations.has(id), 'dismissed');

		const { body } = await details(srv, ana.agent, id);
		const types: string[] = body.events.map((e: { type: string }) => e.type);
		// The first agent message is recorded as it is merged, whenever that lands among the rest.
		expect(types.filter((t) => t === 'first_response')).toHaveLength(1);
		expect(types.filter((t) => t !== 'first_response')).toEqual([
			'requested',
			'offered',
			'accepted',
			'ticket_status',
			'conference_requested',
			'conference_joined',
			'conference_ended',
			'conference_left'
		]);

		// Invited again, Ben is back; what he was told was not sent stays unsent.
		late.destroy();
		await act(srv, ana.agent, id, 'conference', { agentId: ben.agent.id });
		const reinvite = await nextOffer(ben.inbox, 'second invitation to Ben');
		expect((await accept(srv, ben.agent, reinvite.offerId)).status).toBe(200);
		const back = agentChat(srv, ben.agent, id);
		cleanup.push(() => back.destroy());
		await waitFor(
			() =>
				back.transcript.some((t) => t.text === 'one more thing from Ben' && t.state === 'rejected'),
			'the refused message is still marked Not sent'
		);
		back.send('Ben again');
		await waitFor(() => texts(chat).includes('Ben again'), 'customer sees the new message');
		expect(texts(chat)).not.toContain('one more thing from Ben');
		expect(texts(anaSide)).not.toContain('one more thing from Ben');
	});

	it('an invited agent leaves with End conference; the conversation stays with Ana and Cleo', async () => {
		const { srv, ana, ben, cleo, customer, chat, anaSide } = await setup();
		const id = customer.conversationId;
		for (const guest of [ben, cleo]) {
			await act(srv, ana.agent, id, 'conference', { agentId: guest.agent.id });
			const invite = await nextOffer(guest.inbox, 'invitation');
			expect((await accept(srv, guest.agent, invite.offerId)).status).toBe(200);
		}
		const benSide = agentChat(srv, ben.agent, id);
		cleanup.push(() => benSide.destroy());
		await waitFor(() => benSide.connection === 'connected', 'Ben connected');
		const left = await act(srv, ben.agent, id, 'end-conference');
		expect(left.status).toBe(200);
		expect(left.body).toMatchObject({ removed: 1, left: true });
		await waitFor(() => benSide.closedReason, "Ben's socket is closed");
		expect(benSide.closedReason).toBe('You left the conference.');
		await waitFor(() => texts(chat).includes('Ben left the chat'), 'customer sees Ben leave');
		expect(await srv.parley.repo.participantsOf(id)).toEqual([ana.agent.id, cleo.agent.id]);
		await waitFor(() => ben.inbox.conversations.get(id)?.left === true, 'marked left for Ben');
		expect(ana.inbox.conversations.get(id)?.left).toBeUndefined();
		expect(anaSide.meta.agents?.map((a) => a.name)).toEqual(['Ana', 'Cleo']);
		expect(anaSide.meta.status).toBe('active');
	});

	it('an invitation that is not answered in time is withdrawn; the conversation stays with Ana', async () => {
		const { srv, ana, ben, customer, clock, anaSide } = await setup();
		await act(srv, ana.agent, customer.conversationId, 'conference', { agentId: ben.agent.id });
		const invite = await nextOffer(ben.inbox, 'invitation');
		clock.advance(invite.expiresAt - clock.now() + 1);
		await waitFor(() => !ben.inbox.offers.has(invite.offerId), 'withdrawn from Ben');
		await waitFor(() => !anaSide.meta.conference, 'no longer requested');
		expect(anaSide.meta.status).toBe('active');
		expect(await srv.parley.repo.participantsOf(customer.conversationId)).toEqual([ana.agent.id]);
	});
});

describe('first reply (reports)', () => {
	it("records the agent's first reply once, at its own time, however many messages follow it at once", async () => {
		const { clock, srv, customer, chat, anaSide } = await setup();
		const id = customer.conversationId;
		const firstAt = clock.now();
		// Three messages in one burst: merged while the first reply is still being recorded.
		anaSide.send('Hello Dana');
		anaSide.send('Let me look');
		anaSide.send('One moment');
		await waitFor(() => texts(chat).includes('One moment'), 'customer sees all three');
		clock.advance(60_000);
		anaSide.send('Found it');
		await waitFor(() => texts(chat).includes('Found it'), 'a later message');
		const events = await waitFor(async () => {
			const rows = await srv.parley.repo.db
				.selectFrom('conversation_events')
				.selectAll()
				.where('conversation_id', '=', id)
				.where('type', '=', 'first_response')
				.execute();
			return rows.length > 0 ? rows : undefined;
		}, 'first_response event');
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({ actor: anaSide.opts.me.principal, at: firstAt });
		expect((await srv.parley.repo.conversationById(id))?.first_response_at).toBe(firstAt);
		// Nothing more is recorded later: the conversation is known to have its first reply.
		anaSide.send('Anything else?');
		await waitFor(() => texts(chat).includes('Anything else?'), 'one more');
		const after = await srv.parley.repo.db
			.selectFrom('conversation_events')
			.select('id')
			.where('conversation_id', '=', id)
			.where('type', '=', 'first_response')
			.execute();
		expect(after).toHaveLength(1);
	});
});

describe('membership while merging', () => {
	it('asks whether an agent is still a participant only when needed, and with several instances again before the answer expires', async () => {
		const { clock, srv, customer, chat, anaSide } = await setup();
		const id = customer.conversationId;
		const repo = srv.parley.repo;
		const asked: number[] = [];
		const ask = repo.isParticipant.bind(repo);
		repo.isParticipant = (conversationId: string, agentId: string) => {
			if (conversationId === id) asked.push(clock.now());
			return ask(conversationId, agentId);
		};
		const say = async (text: string) => {
			anaSide.send(text);
			await waitFor(() => texts(chat).includes(text), text);
		};
		await say('one');
		const before = asked.length;
		// Several instances trust an answer 10 s: past half of that it is used and asked again in
		// the background, so the next message finds a fresh one.
		clock.advance(6_000);
		await say('two');
		if (srv.shared) {
			await waitFor(() => asked.length === before + 1, 'asked again in the background');
			clock.advance(4_500); // 10.5 s after the first answer, 4.5 s after the second
			await say('three');
			expect(asked.length).toBe(before + 1);
		} else {
			// One instance: remembered until the participants change.
			clock.advance(60_000);
			await say('three');
			expect(asked.length).toBe(before);
		}
	});
});

describe('a customer writing into an active conversation', () => {
	it('checks the ticket and the agents once, then again only after a presence change (several instances: also after 10 s)', async () => {
		const { clock, srv, ben, customer, chat, anaSide } = await setup();
		const id = customer.conversationId;
		const repo = srv.parley.repo;
		let asked = 0;
		const ask = repo.ticketAndPresence.bind(repo);
		repo.ticketAndPresence = (conversationId: string) => {
			if (conversationId === id) asked++;
			return ask(conversationId);
		};
		const say = async (text: string) => {
			chat.send(text);
			await waitFor(() => texts(anaSide).includes(text), text);
			await srv.parley.conversations.settled();
		};
		await say('one');
		expect(asked).toBe(1);
		await say('two');
		expect(asked).toBe(1); // nothing needed doing: not asked again
		// Any agent's presence may matter (a handoff): asked again.
		await setPresence(srv.base, ben.agent, 'Busy');
		await say('three');
		expect(asked).toBe(2);
		await say('four');
		expect(asked).toBe(2);
		if (srv.shared) {
			clock.advance(10_001);
			const before = asked;
			await say('five');
			expect(asked).toBe(before + 1);
		}
	});
});

describe('a customer reply after the ticket changed', () => {
	it('reopens it, even after messages that needed nothing', async () => {
		const { srv, ana, customer, chat, anaSide } = await setup();
		const id = customer.conversationId;
		const ticket = async () => (await srv.parley.repo.conversationById(id))?.ticket_status;
		const say = async (text: string) => {
			chat.send(text);
			await waitFor(() => texts(anaSide).includes(text), text);
			await srv.parley.conversations.settled();
		};
		await say('one');
		await say('two'); // remembered: nothing to do
		expect(await ticket()).toBe('open');
		// Live chat: a Pending ticket keeps the conversation active, and a reply reopens it.
		expect((await act(srv, ana.agent, id, 'status', { status: 'pending' })).status).toBe(200);
		expect(await ticket()).toBe('pending');
		expect((await srv.parley.repo.conversationById(id))?.status).toBe('active');
		await say('three');
		expect(await ticket()).toBe('open');
	});
});

describe('waiting (A8)', () => {
	it('parks a persistent conversation, frees capacity, and routes it back to the same agent when the customer writes', async () => {
		const { srv, ana, customer, chat } = await setup('persistent');
		const id = customer.conversationId;
		const load = async () =>
			(await srv.parley.conversations.transferTargets('nobody')).agents.find(
				(a) => a.id === ana.agent.id
			)?.load;
		expect(await load()).toBe(1);
		expect((await act(srv, ana.agent, id, 'wait')).status).toBe(200);
		await waitFor(() => !ana.inbox.conversations.has(id), 'off the active list');
		expect(await load()).toBe(0);
		expect((await srv.parley.repo.conversationById(id))?.status).toBe('waiting');
		expect((await act(srv, ana.agent, id, 'wait')).status).toBe(409);

		chat.send('I am back');
		const offer = await nextOffer(ana.inbox, 'Ana gets it back');
		expect(offer.conversationId).toBe(id);
		expect((await accept(srv, ana.agent, offer.offerId)).status).toBe(200);
		await waitFor(() => ana.inbox.conversations.has(id), 'back on the list');
		// No second "joined" message for a returning agent.
		expect(texts(chat).filter((t) => t === 'Ana joined the chat')).toHaveLength(1);
		const { body } = await details(srv, ana.agent, id);
		expect(body.events.map((e: { type: string }) => e.type)).toContain('resumed');
	});

	it('is refused for live chat', async () => {
		const { srv, ana, customer } = await setup('live');
		const r = await act(srv, ana.agent, customer.conversationId, 'wait');
		expect(r.status).toBe(400);
		expect(r.body.error?.message).toMatch(/persistent chat/);
	});
});

describe('end and wrap-up (A7)', () => {
	it('needs one of the workstream reasons; ends it for the customer, solves the ticket and frees capacity', async () => {
		const { srv, ana, customer, chat } = await setup();
		const id = customer.conversationId;
		const bad = await act(srv, ana.agent, id, 'end', { reason: 'Because' });
		expect(bad.status).toBe(400);
		expect(bad.body.error?.message).toMatch(/wrap-up reasons/);
		expect((await act(srv, ana.agent, id, 'end', {})).status).toBe(400);
		const { body: before } = await details(srv, ana.agent, id);
		expect(before.ticket.wrapUpReasons).toContain('Resolved');
		expect(before.ticket.status).toBe('open');

		const r = await act(srv, ana.agent, id, 'end', { reason: 'Resolved' });
		expect(r.status).toBe(200);
		await waitFor(() => chat.meta.status === 'ended', 'customer sees it ended');
		expect(chat.meta.ended).toMatchObject({ by: 'agent', name: 'Ana' });
		expect(texts(chat)).toContain('Ana ended the chat');
		await waitFor(() => !ana.inbox.conversations.has(id), 'interaction closed');
		const row = await srv.parley.repo.conversationById(id);
		// Live chat style: Solved closes the ticket at once (SPEC A11).
		expect(row).toMatchObject({
			status: 'ended',
			wrap_up_reason: 'Resolved',
			ticket_status: 'closed',
			session_status: 'ended',
			session_ended_by: 'agent'
		});
		expect((await act(srv, ana.agent, id, 'end', { reason: 'Resolved' })).status).toBe(409);
		const { body } = await details(srv, ana.agent, id);
		// (The first agent message's `first_response` lands whenever its merge finishes, and the
		// default CSAT trigger's `csat_sent` whenever its durable timer is polled.)
		expect(
			body.events
				.map((e: { type: string }) => e.type)
				.filter((t: string) => t !== 'first_response' && t !== 'csat_sent')
				.slice(-4)
		).toEqual(['session_ended', 'wrap_up', 'ticket_status', 'ticket_status']);
		expect(body.events.find((e) => e.type === 'wrap_up')?.data.reason).toBe('Resolved');
		// A message written into the ended conversation (e.g. offline) is refused with a notice.
		chat.send('one last thing');
		const late = await waitFor(
			() => chat.transcript.find((t) => t.text === 'one last thing' && t.state === 'rejected'),
			'late message refused'
		);
		expect(late.rejection).toMatch(/has ended/);
		// The customer's next message is a new conversation (a new session).
		const again = await customerSession(srv.base, 'live', { resumeToken: customer.sessionToken });
		expect(again.conversationId).not.toBe(id);
	});

	it('a live-chat customer ends the chat; the agent still wraps it up', async () => {
		const { srv, ana, customer, anaSide } = await setup();
		const id = customer.conversationId;
		const end = (c: CustomerLogin, conv = c.conversationId) =>
			fetch(`${srv.base}/api/widget/conversations/${conv}/end`, {
				method: 'POST',
				headers: { authorization: `Bearer ${c.sessionToken}`, 'content-type': 'application/json' },
				body: '{}'
			});
		expect((await end({ ...customer, sessionToken: 'nope' })).status).toBe(401);
		const other = await customerSession(srv.base, 'live', { name: 'Eve' });
		expect((await end(other, id)).status).toBe(403);
		expect((await end(customer)).status).toBe(200);
		await waitFor(() => anaSide.meta.ended?.by === 'customer', 'Ana sees the customer left');
		expect(texts(anaSide)).toContain('Dana ended the chat');
		expect(ana.inbox.conversations.has(id)).toBe(true); // still to wrap up
		expect((await end(customer)).status).toBe(409);
		expect((await act(srv, ana.agent, id, 'end', { reason: 'Information given' })).status).toBe(
			200
		);
		await waitFor(() => !ana.inbox.conversations.has(id), 'closed after wrap-up');
	});

	it('a persistent-chat customer has no end control', async () => {
		const { srv, customer } = await setup('persistent');
		const r = await fetch(`${srv.base}/api/widget/conversations/${customer.conversationId}/end`, {
			method: 'POST',
			headers: { authorization: `Bearer ${customer.sessionToken}` }
		});
		expect(r.status).toBe(403);
	});
});

describe('internal notes (A10) and the compose rule (A4)', () => {
	it('notes reach every agent in the conversation and not one byte of them reaches the customer', async () => {
		const { srv, ana, customer } = await setup();
		const id = customer.conversationId;
		// Every frame the customer's sockets receive, from a fresh device that syncs everything.
		const received: Buffer[] = [];
		class Recording extends WebSocket {
			constructor(url: string, protocols?: string | string[]) {
				super(url, protocols);
				this.on('message', (data: Buffer) => received.push(Buffer.from(data)));
			}
		}
		const device = customerChat(srv, customer, { WebSocketPolyfill: Recording });
		cleanup.push(() => device.destroy());

		const anaNotes = agentChat(srv, ana.agent, id, { internal: true });
		cleanup.push(() => anaNotes.destroy());
		await anaNotes.ready;
		anaNotes.send('SECRET-NOTE-7781 refund approved by finance', { internal: true });
		const note = await waitFor(
			() => anaNotes.transcript.find((t) => t.kind === 'note' && t.state === 'sent'),
			'note stored'
		);
		expect(note).toMatchObject({ role: 'agent', name: 'Ana', mine: true });
		anaNotes.send('A reply after the note');
		await waitFor(() => texts(device).includes('A reply after the note'), 'customer got the reply');

		// A customer cannot open the internal document at all.
		const sneak = customerChat(srv, customer, { internal: true });
		cleanup.push(() => sneak.destroy());
		await waitFor(() => sneak.closedReason, 'internal document refused');
		expect(sneak.closedReason).toMatch(/not a participant/);

		const all = Buffer.concat(received);
		expect(received.length).toBeGreaterThan(0);
		expect(all.includes('SECRET-NOTE-7781')).toBe(false);
		expect(all.includes('A reply after the note')).toBe(true);
		expect(JSON.stringify(device.conversation.toJSON())).not.toContain('SECRET');
		expect(JSON.stringify(device.outbox.toJSON())).not.toContain('SECRET');

		// A customer's attempt to write a note is refused.
		const chat = customerChat(srv, customer);
		cleanup.push(() => chat.destroy());
		outboxEntriesOf(chat.outbox).push([
			{ id: 'customernote1', text: 'me too', time: Date.now(), internal: true }
		]);
		await waitFor(
			() => chat.transcript.find((t) => t.id === 'customernote1')?.state === 'rejected',
			'customer note refused'
		);
	});

	it('notes written offline between messages keep their place once sent', async () => {
		const { srv, ana, customer } = await setup();
		const id = customer.conversationId;
		let now = Date.now();
		const side = agentChat(srv, ana.agent, id, { internal: true, now: () => ++now });
		cleanup.push(() => side.destroy());
		await side.ready;
		await waitFor(() => side.connection === 'connected', 'connected');
		side.disconnect();
		side.send('b1');
		side.send('bn1', { internal: true });
		side.send('b2');
		side.send('bn2', { internal: true });
		side.connect();
		const order = (s: typeof side) =>
			s.transcript.filter((t) => /^bn?\d$/.test(t.text)).map((t) => `${t.text}:${t.state}`);
		await waitFor(() => order(side).every((o) => o.endsWith(':sent')) && order(side), 'sent');
		expect(order(side)).toEqual(['b1:sent', 'bn1:sent', 'b2:sent', 'bn2:sent']);
		// Another device of the agent, which only ever saw the stored documents.
		const other = agentChat(srv, ana.agent, id, { internal: true });
		cleanup.push(() => other.destroy());
		await waitFor(() => order(other).length === 4, 'other device');
		expect(order(other)).toEqual(['b1:sent', 'bn1:sent', 'b2:sent', 'bn2:sent']);
	});

	it('refuses < and > in an agent message, with the reason, and keeps it visible to the author', async () => {
		const { srv, ana, customer, chat } = await setup();
		const side = agentChat(srv, ana.agent, customer.conversationId);
		cleanup.push(() => side.destroy());
		side.send('Dear <customer.email>, hello');
		const refused = await waitFor(
			() => side.transcript.find((t) => t.state === 'rejected'),
			'refused'
		);
		expect(refused.rejection).toBe(
			'Fill in <customer.email> before sending: it has no value here.'
		);
		side.send('Dear Dana, hello');
		await waitFor(() => texts(chat).includes('Dear Dana, hello'), 'a clean message goes through');
		expect(texts(chat).some((t) => t.includes('<'))).toBe(false);
	});

	it('lists the templates with their parameters', async () => {
		const { srv, ana } = await setup();
		const r = await fetch(`${srv.base}/api/agent/templates`, {
			headers: { cookie: ana.agent.cookie }
		});
		const body = (await r.json()) as { templates: { name: string; text: string }[] };
		expect(body.templates.map((t) => t.name)).toContain('Greeting');
		expect(body.templates.find((t) => t.name === 'Greeting')?.text).toContain('<customer.name>');
		expect((await fetch(`${srv.base}/api/agent/templates`)).status).toBe(401);
	});
});

describe('side panel (A3)', () => {
	it('shows the customer, past conversations, the ticket and its history, to its agents only', async () => {
		const { srv, ana, ben, customer } = await setup('persistent');
		const { status, body } = await details(srv, ana.agent, customer.conversationId);
		expect(status).toBe(200);
		expect(body.customer).toMatchObject({ name: 'Dana', authenticated: true, past: [] });
		expect(body.ticket).toMatchObject({
			status: 'open',
			conversationStatus: 'active',
			queue: 'Account care',
			assignee: 'Ana',
			participants: ['Ana'],
			mode: 'persistent'
		});
		expect(body.events[0]).toMatchObject({ type: 'requested' });
		expect(body.events.find((e) => e.type === 'accepted')?.actorName).toBe('Ana');
		expect((await details(srv, ben.agent, customer.conversationId)).status).toBe(403);
	});
});
