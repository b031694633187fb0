/**
 * Sessions, tickets and conversation styles (SPEC A9, A11, C7, C8, M2, P4): End session and
 * the customer's next message, the three styles through their whole timeline on a controlled
 * clock, triggers (once per event, across a restart), CSAT both ways, and email through a real
 * SMTP server.
 */
import { describe, expect, it } from 'vitest';
import {
	startServer,
	customerSession,
	customerChat,
	agentChat,
	api,
	waitFor,
	cleanupAfterEach,
	agentOnline,
	type AgentLogin,
	type CustomerLogin,
	type TestServer
} from '../helpers/server';
import { startSmtp } from '../helpers/smtp';
import { ManualClock } from '../../server/clock';
import type { OfferView } from '../../src/lib/domain/inbox-doc';
import type { ChatSession } from '../../src/lib/client/chat-session';
import type { ConversationDetails } from '../../src/lib/domain/events';
import { availableAgents } from '../../server/routing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cleanup = cleanupAfterEach();
const MIN = 60_000;
const DAY = 24 * 60 * MIN;

type Reply = { error?: { code: string; message: string } } & Record<string, unknown>;
const act = (srv: TestServer, agent: AgentLogin, id: string, action: string, body: unknown = {}) =>
	api<Reply>(srv.base, `/api/agent/conversations/${id}/${action}`, { body, cookie: agent.cookie });
const accept = (srv: TestServer, agent: AgentLogin, offerId: string) =>
	api<Reply>(srv.base, `/api/agent/offers/${offerId}/accept`, { body: {}, cookie: agent.cookie });

type Inbox = Awaited<ReturnType<typeof agentOnline>>['inbox'];
const offerFor = (inbox: Inbox, conversationId: string) =>
	waitFor(
		() =>
			[...inbox.offers.values()].find((o) => o.conversationId === conversationId) as
				OfferView | undefined,
		`an offer for ${conversationId}`
	);

async function details(srv: TestServer, agent: AgentLogin, id: string) {
	const r = await fetch(`${srv.base}/api/agent/conversations/${id}`, {
		headers: { cookie: agent.cookie }
	});
	expect(r.status).toBe(200);
	return (await r.json()) as ConversationDetails;
}

const loadOf = async (srv: TestServer, agentId: string) => {
	const row = await srv.parley.repo.db
		.selectFrom('agents')
		.select('capacity')
		.where('id', '=', agentId)
		.executeTakeFirstOrThrow();
	const free = (await availableAgents(srv.parley.repo.db)).find((a) => a.id === agentId);
	return free ? free.load : row.capacity; // at capacity: not listed
};

/** Runs every due durable timer (the test's clock decides what is due). */
const fireTimers = (srv: TestServer) => srv.parley.timers.poll();

async function setup(
	opts: {
		workstream?: 'live' | 'persistent';
		email?: string;
		smtpUrl?: string;
		style?: 'live' | 'returning' | 'social';
		solvedCloseMs?: number | null;
		keepSameAgent?: boolean;
		dir?: string;
	} = {}
) {
	const workstream = opts.workstream ?? 'live';
	const clock = new ManualClock(Date.now());
	const srv = await startServer({
		clock,
		dir: opts.dir,
		// Timers fire when the test says (fireTimers), never on their own.
		config: { timerPollMs: 3_600_000, ...(opts.smtpUrl ? { smtpUrl: opts.smtpUrl } : {}) }
	});
	cleanup.push(() => srv.dispose());
	const db = srv.parley.repo.db;
	if (opts.style || opts.solvedCloseMs !== undefined || opts.keepSameAgent !== undefined)
		await db
			.updateTable('workstreams')
			.set({
				...(opts.style ? { style: opts.style } : {}),
				...(opts.solvedCloseMs !== undefined ? { solved_close_ms: opts.solvedCloseMs } : {}),
				...(opts.keepSameAgent !== undefined ? { keep_same_agent: opts.keepSameAgent ? 1 : 0 } : {})
			})
			.where('slug', '=', workstream)
			.execute();
	const ana = await agentOnline(srv, 'ana@example.com', cleanup, clock);
	const customer = await customerSession(srv.base, workstream, { name: 'Dana', email: opts.email });
	const chat = customerChat(srv, customer);
	cleanup.push(() => chat.destroy());
	await chat.ready;
	chat.send('My order is late');
	const offer = await offerFor(ana.inbox, customer.conversationId);
	expect((await accept(srv, ana.agent, offer.offerId)).status).toBe(200);
	const id = customer.conversationId;
	await waitFor(() => chat.meta.status === 'active', 'active');
	const anaId = ana.agent.id;
	return { srv, clock, ana, anaId, customer, chat, id, db };
}

const row = (srv: TestServer, id: string) => srv.parley.repo.conversationById(id).then((r) => r!);
const texts = (s: ChatSession) => s.transcript.map((t) => t.text);

/** The customer writes into `conv` after it ended: refused, and a new session is a new ticket. */
async function replyMakesNewTicket(
	srv: TestServer,
	workstream: 'live' | 'persistent',
	customer: CustomerLogin,
	chat: ChatSession,
	text: string,
	now = Date.now()
) {
	chat.send(text);
	const refused = await waitFor(
		() => chat.transcript.find((t) => t.text === text && t.state === 'rejected'),
		'reply refused by the server'
	);
	expect(refused.rejection).toMatch(/has ended/);
	const again = await customerSession(srv.base, workstream, {
		name: 'Dana',
		resumeToken: workstream === 'live' ? customer.sessionToken : undefined,
		now
	});
	expect(again.conversationId).not.toBe(customer.conversationId);
	const fresh = await row(srv, again.conversationId);
	expect(fresh).toMatchObject({ ticket_status: 'new', session_status: 'active', status: 'queued' });
	return again;
}

describe("the server's clock", () => {
	it('a widget session carries the server time, so that a device whose clock is off writes in it', async () => {
		const { srv, clock } = await setup();
		clock.advance(3 * 3_600_000); // the server three hours ahead of this machine
		const r = await api<{ now: number }>(srv.base, '/api/widget/session', {
			body: { workstream: 'live', name: 'Tess' }
		});
		expect(r.status).toBe(200);
		expect(r.body.now).toBe(clock.now());
	});
});

describe('End session (SPEC A9, C7)', () => {
	it('disables messaging silently, keeps the ticket, frees capacity; the next message is a new ticket', async () => {
		const { srv, ana, anaId, customer, chat, id } = await setup();
		expect(await loadOf(srv, anaId)).toBe(1);
		const early = await act(srv, ana.agent, 'cv_nope', 'end-session');
		expect(early.status).toBe(403);

		const r = await act(srv, ana.agent, id, 'end-session');
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ session: 'ended', ticketStatus: 'open' });
		// The customer is not told: no system message, the ended mark is silent.
		await waitFor(() => chat.meta.status === 'ended', 'customer document says ended');
		expect(chat.meta.ended).toMatchObject({ by: 'agent', name: 'Ana', silent: true });
		expect(texts(chat)).toEqual(['My order is late', 'Ana joined the chat']);
		// The ticket stays in Ana's list, marked, and still Open; her capacity is free.
		await waitFor(() => ana.inbox.conversations.get(id)?.sessionEnded === true, 'inbox marks it');
		expect(await loadOf(srv, anaId)).toBe(0);
		const d = await details(srv, ana.agent, id);
		expect(d.ticket.status).toBe('open');
		expect(d.session).toMatchObject({ state: 'ended', endedBy: 'agent', endedByName: 'Ana' });
		expect(d.ticket.channel).toBe('messaging');
		const ended = d.events.find((e) => e.type === 'session_ended');
		expect(ended).toMatchObject({ actorName: 'Ana', data: { role: 'agent' } });
		// Once only, with a typed error.
		const twice = await act(srv, ana.agent, id, 'end-session');
		expect(twice.status).toBe(409);
		expect(twice.body.error).toMatchObject({ code: 'session_ended' });

		// Agents go on with internal notes.
		const agentSide = agentChat(srv, ana.agent, id, { internal: true });
		cleanup.push(() => agentSide.destroy());
		await agentSide.ready;
		agentSide.send('Customer needs a refund form', { internal: true });
		await waitFor(
			() =>
				agentSide.transcript.find(
					(t) => t.text === 'Customer needs a refund form' && t.state !== 'pending'
				),
			'note merged'
		);
		// No email known: a public reply by email is refused with the reason.
		const mail = await act(srv, ana.agent, id, 'email', { text: 'Here is the form' });
		expect(mail.status).toBe(400);
		expect(mail.body.error?.message).toMatch(/no email address/);

		// The customer writes again: the server refuses it in the old conversation, and their
		// next session is a new conversation with a new ticket, routed as usual.
		const again = await replyMakesNewTicket(srv, 'live', customer, chat, 'Hello again');
		const next = customerChat(srv, again);
		cleanup.push(() => next.destroy());
		await next.ready;
		next.send('Hello again');
		const offer = await offerFor(ana.inbox, again.conversationId);
		expect((await accept(srv, ana.agent, offer.offerId)).status).toBe(200);
		expect(await row(srv, again.conversationId)).toMatchObject({
			ticket_status: 'open',
			status: 'active'
		});
		// The old ticket is untouched.
		expect(await row(srv, id)).toMatchObject({ ticket_status: 'open', session_status: 'ended' });
	});

	it('the ended session is refused before Accept and for agents outside the conversation', async () => {
		const { srv, id } = await setup();
		const { agent: ben } = await agentOnline(srv, 'ben@example.com', cleanup);
		expect((await act(srv, ben, id, 'end-session')).status).toBe(403);
		expect((await act(srv, ben, id, 'status', { status: 'solved' })).status).toBe(403);
	});
});

describe('conversation styles (SPEC A11), on a controlled clock', () => {
	it('live chat: Solved closes at once; the customer coming back starts a new ticket', async () => {
		const { srv, ana, customer, chat, id } = await setup({ style: 'live' });
		const r = await act(srv, ana.agent, id, 'end', { reason: 'Resolved' });
		expect(r.status).toBe(200);
		expect(await row(srv, id)).toMatchObject({
			ticket_status: 'closed',
			status: 'ended',
			session_ended_by: 'agent'
		});
		await waitFor(() => chat.meta.status === 'ended', 'ended for the customer');
		expect(chat.meta.ended?.silent).toBeUndefined(); // live chat says "Ana ended the chat"
		const d = await details(srv, ana.agent, id);
		expect(
			d.events.filter((e) => e.type === 'ticket_status').map((e) => `${e.data.from}>${e.data.to}`)
		).toEqual(['new>open', 'open>solved', 'solved>closed']);
		await replyMakesNewTicket(srv, 'live', customer, chat, 'One more question');
	});

	it('live chat may wait a few minutes before Closed', async () => {
		const { srv, clock, ana, id } = await setup({ style: 'live', solvedCloseMs: 5 * MIN });
		expect((await act(srv, ana.agent, id, 'status', { status: 'solved' })).status).toBe(200);
		expect((await row(srv, id)).ticket_status).toBe('solved');
		clock.advance(5 * MIN - 1);
		await fireTimers(srv);
		expect((await row(srv, id)).ticket_status).toBe('solved');
		clock.advance(1);
		await fireTimers(srv);
		expect(await row(srv, id)).toMatchObject({ ticket_status: 'closed', status: 'ended' });
	});

	it('returning customers: a message inside the window reopens the same ticket with the same agent, again and again; then it closes', async () => {
		const { srv, clock, ana, anaId, customer, chat, id } = await setup({
			style: 'returning',
			solvedCloseMs: 60 * MIN,
			keepSameAgent: true
		});
		await agentOnline(srv, 'cleo@example.com', cleanup, clock); // someone else is free too
		for (const round of [1, 2]) {
			const end = await act(srv, ana.agent, id, round === 1 ? 'end' : 'status', {
				...(round === 1 ? { reason: 'Resolved' } : { status: 'solved' })
			});
			expect(end.status).toBe(200);
			expect(await row(srv, id)).toMatchObject({ ticket_status: 'solved', status: 'waiting' });
			expect(await loadOf(srv, anaId)).toBe(0);
			expect(chat.meta.status).not.toBe('ended'); // the customer can still write here
			clock.advance(30 * MIN);
			await fireTimers(srv);
			expect((await row(srv, id)).ticket_status).toBe('solved');
			chat.send(`Round ${round}: it broke again`);
			if (round === 1) {
				// Ended with a wrap-up, it left Ana's list: offered to her again, not to Cleo.
				const offer = await offerFor(ana.inbox, id);
				expect(await row(srv, id)).toMatchObject({ ticket_status: 'open', status: 'offered' });
				expect((await accept(srv, ana.agent, offer.offerId)).status).toBe(200);
			} else {
				// Set to Solved, it stayed in her list: straight back to her, nothing to accept.
				await waitFor(
					async () => (await row(srv, id)).status === 'active',
					'back to Ana without an offer'
				);
				expect((await row(srv, id)).ticket_status).toBe('open');
				expect([...ana.inbox.offers.values()].some((o) => o.conversationId === id)).toBe(false);
			}
			expect(await loadOf(srv, anaId)).toBe(1);
		}
		// Solved once more; nobody writes; the window ends: Closed, silently.
		expect((await act(srv, ana.agent, id, 'status', { status: 'solved' })).status).toBe(200);
		clock.advance(60 * MIN);
		await fireTimers(srv);
		expect(await row(srv, id)).toMatchObject({
			ticket_status: 'closed',
			status: 'ended',
			session_ended_by: 'system'
		});
		await waitFor(() => chat.meta.ended?.silent === true, 'silently closed');
		const d = await details(srv, ana.agent, id);
		expect(
			d.events.filter((e) => e.type === 'ticket_status').map((e) => `${e.data.from}>${e.data.to}`)
		).toEqual([
			'new>open',
			'open>solved',
			'solved>open',
			'open>solved',
			'solved>open',
			'open>solved',
			'solved>closed'
		]);
		await replyMakesNewTicket(srv, 'live', customer, chat, 'New problem');
	});

	it('social messaging: Pending, On-hold and Solved release capacity, a reply reopens; Solved → Closed after 4 days', async () => {
		const { srv, clock, ana, anaId, customer, chat, id } = await setup({
			workstream: 'persistent'
		});
		expect((await row(srv, id)).ticket_status).toBe('open');
		for (const status of ['pending', 'on-hold'] as const) {
			expect((await act(srv, ana.agent, id, 'status', { status })).status).toBe(200);
			expect(await row(srv, id)).toMatchObject({ ticket_status: status, status: 'waiting' });
			expect(await loadOf(srv, anaId)).toBe(0);
			// It stays in Ana's list while it waits on the customer.
			expect(ana.inbox.conversations.has(id)).toBe(true);
			// The customer's reply opens the ticket and it uses Ana's capacity again (A11): she
			// has it open already, so there is no offer to accept and no RONA to fall into.
			chat.send(`About ${status}`);
			await waitFor(async () => (await row(srv, id)).status === 'active', 'active again');
			expect((await row(srv, id)).ticket_status).toBe('open');
			expect(await loadOf(srv, anaId)).toBe(1);
			expect([...ana.inbox.offers.values()].some((o) => o.conversationId === id)).toBe(false);
			await waitFor(() => chat.meta.status === 'active', 'the customer sees it active');
		}
		// The agent can also take a waiting ticket back herself.
		expect((await act(srv, ana.agent, id, 'status', { status: 'pending' })).status).toBe(200);
		expect((await act(srv, ana.agent, id, 'status', { status: 'open' })).body).toMatchObject({
			ticketStatus: 'open',
			status: 'active'
		});
		// Refused changes are typed and say why.
		const bad = await act(srv, ana.agent, id, 'status', { status: 'closed' });
		expect(bad.status).toBe(400);
		const same = await act(srv, ana.agent, id, 'status', { status: 'open' });
		expect(same.status).toBe(409);
		expect(same.body.error?.message).toBe('the ticket is already Open');

		expect((await act(srv, ana.agent, id, 'status', { status: 'solved' })).status).toBe(200);
		expect(await loadOf(srv, anaId)).toBe(0);
		clock.advance(4 * DAY - 1);
		await fireTimers(srv);
		expect((await row(srv, id)).ticket_status).toBe('solved');
		clock.advance(1);
		await fireTimers(srv);
		expect(await row(srv, id)).toMatchObject({ ticket_status: 'closed', status: 'ended' });
		await replyMakesNewTicket(srv, 'persistent', customer, chat, 'After closed', clock.now());
	});

	it('social messaging: the Solved → Closed timer survives a restart and fires once', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'parley-test-'));
		const first = await setup({ workstream: 'persistent', solvedCloseMs: DAY, dir });
		expect(
			(await act(first.srv, first.ana.agent, first.id, 'status', { status: 'solved' })).status
		).toBe(200);
		first.chat.destroy();
		await first.srv.stop();
		const clock = new ManualClock(first.clock.now() + DAY);
		const srv = await startServer({ clock, dir, config: { timerPollMs: 3_600_000 } });
		cleanup.push(() => srv.dispose());
		await srv.parley.timers.poll();
		await srv.parley.timers.poll();
		const after = await srv.parley.repo.conversationById(first.id);
		expect(after).toMatchObject({ ticket_status: 'closed', status: 'ended' });
		const closes = await srv.parley.repo.db
			.selectFrom('conversation_events')
			.select('data')
			.where('conversation_id', '=', first.id)
			.where('type', '=', 'ticket_status')
			.execute();
		expect(closes.filter((e) => JSON.parse(e.data).to === 'closed')).toHaveLength(1);
	});
});

describe('choosing a style (admin)', () => {
	it('an admin sets a workstream style and its Solved → Closed delay; bad values are refused per field', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const { loginAgent } = await import('../helpers/server');
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const ana = await loginAgent(srv.base, 'ana@example.com');
		const set = (who: AgentLogin, body: unknown) =>
			api<Reply & { fields?: unknown }>(srv.base, '/api/admin/workstreams/persistent/style', {
				body,
				cookie: who.cookie
			});
		expect((await set(ana, { style: 'social' })).status).toBe(403);
		const tooLong = await set(admin, { style: 'social', solvedCloseMs: 29 * DAY });
		expect(tooLong.status).toBe(400);
		expect(tooLong.body.error).toMatchObject({
			fields: {
				solvedCloseMs: 'Social messaging: Solved → Closed must be between 1 day and 28 days.'
			}
		});
		expect((await set(admin, { style: 'email' })).status).toBe(400);
		const ok = await set(admin, { style: 'returning', solvedCloseMs: 2 * 60 * MIN });
		expect(ok.body).toEqual({
			style: 'returning',
			solvedCloseMs: 2 * 60 * MIN,
			effectiveSolvedCloseMs: 2 * 60 * MIN
		});
		const back = await set(admin, { style: 'social', solvedCloseMs: null });
		expect(back.body).toMatchObject({ effectiveSolvedCloseMs: 4 * DAY });
		const ws = await srv.parley.repo.workstreamBySlug('persistent');
		expect(ws).toMatchObject({ style: 'social', solved_close_ms: null });
	});
});

describe('triggers (SPEC M2) and CSAT (SPEC C8)', () => {
	it('the default trigger sends CSAT in the widget when no email is known; the answer is on the ticket', async () => {
		const { srv, ana, customer, chat, id } = await setup();
		expect((await act(srv, ana.agent, id, 'end-session')).status).toBe(200);
		expect(chat.meta.csat).toBeUndefined(); // triggers run from a durable timer
		await fireTimers(srv);
		await waitFor(() => chat.meta.csat, 'survey in the widget');
		const answer = (body: unknown, token = customer.sessionToken) =>
			fetch(`${srv.base}/api/widget/conversations/${id}/csat`, {
				method: 'POST',
				headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
				body: JSON.stringify(body)
			}).then(async (r) => ({ status: r.status, body: (await r.json()) as Reply }));
		const bad = await answer({ rating: 9 });
		expect(bad.status).toBe(400);
		expect(bad.body.error).toMatchObject({ fields: { rating: 'Choose a rating from 1 to 5.' } });
		const other = await customerSession(srv.base, 'live', { name: 'Eve' });
		expect((await answer({ rating: 1 }, other.sessionToken)).status).toBe(403);
		expect((await answer({ rating: 4, comment: 'Quick, thanks' })).status).toBe(200);
		await waitFor(() => chat.meta.csat?.answered?.rating === 4, 'answered in the document');
		expect((await answer({ rating: 5 })).status).toBe(409);
		const d = await details(srv, ana.agent, id);
		expect(d.ticket.csat).toMatchObject({ rating: 4, comment: 'Quick, thanks' });
		expect(d.events.map((e) => e.type)).toEqual(
			expect.arrayContaining(['session_ended', 'csat_sent', 'csat_received'])
		);
		expect(d.events.find((e) => e.type === 'csat_sent')?.data.via).toBe('widget');
		// Once per event: evaluating the same event again sends nothing more.
		const ended = d.events.find((e) => e.type === 'session_ended')!;
		await srv.parley.conversations.runTriggers(ended.id);
		expect(
			(await details(srv, ana.agent, id)).events.filter((e) => e.type === 'csat_sent')
		).toHaveLength(1);
	});

	it('a trigger whose event was stored before a restart is evaluated after it, once', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'parley-test-'));
		const first = await setup({ dir });
		expect((await act(first.srv, first.ana.agent, first.id, 'end-session')).status).toBe(200);
		// The instance dies before its timers ran: the evaluation is still owed, in the store.
		first.chat.destroy();
		await first.srv.stop();
		const srv = await startServer({
			clock: new ManualClock(first.clock.now()),
			dir,
			config: { timerPollMs: 3_600_000 }
		});
		cleanup.push(() => srv.dispose());
		await srv.parley.timers.poll();
		await srv.parley.timers.poll();
		const sent = await srv.parley.repo.db
			.selectFrom('conversation_events')
			.select('data')
			.where('conversation_id', '=', first.id)
			.where('type', '=', 'csat_sent')
			.execute();
		expect(sent.map((e) => JSON.parse(e.data).via)).toEqual(['widget']);
		expect(await srv.parley.repo.db.selectFrom('trigger_runs').selectAll().execute()).toEqual([
			expect.objectContaining({ trigger_id: 'tr_default_csat' })
		]);
	});

	it('CSAT by email through a real SMTP server when the session ended and the email is known; email replies go out too', async () => {
		const smtp = await startSmtp();
		cleanup.push(() => smtp.close());
		const { srv, ana, id, chat } = await setup({ email: 'dana@example.com', smtpUrl: smtp.url });
		expect((await act(srv, ana.agent, id, 'end-session')).status).toBe(200);
		await fireTimers(srv); // the trigger
		await fireTimers(srv); // the mail
		const survey = await waitFor(
			() => smtp.received.find((m) => /How did we do/.test(m.subject)),
			'CSAT mail'
		);
		expect(survey.to).toEqual(['dana@example.com']);
		expect(chat.meta.csat).toBeUndefined(); // by email, not in the widget
		const token = /\/csat#token=([\w.-]+)/.exec(survey.text)?.[1];
		expect(token).toBeTruthy();
		const lookup = await api<Reply>(srv.base, '/api/csat/lookup', { body: { token } });
		expect(lookup.body).toMatchObject({ title: 'Chat with us', answered: false });
		expect(
			(await api<Reply>(srv.base, '/api/csat', { body: { token: token + 'x', rating: 5 } })).status
		).toBe(401);
		expect((await api<Reply>(srv.base, '/api/csat', { body: { token, rating: 5 } })).status).toBe(
			200
		);
		expect((await api<Reply>(srv.base, '/api/csat', { body: { token, rating: 2 } })).status).toBe(
			409
		);
		expect((await details(srv, ana.agent, id)).ticket.csat.rating).toBe(5);

		// A public reply by email after the session ended (SPEC A9, P4).
		const r = await act(srv, ana.agent, id, 'email', { text: 'Your refund is on its way.' });
		expect(r.status).toBe(200);
		await fireTimers(srv);
		const reply = await waitFor(
			() => smtp.received.find((m) => m.subject.startsWith('Re:')),
			'reply mail'
		);
		expect(reply.to).toEqual(['dana@example.com']);
		expect(reply.text).toContain('Your refund is on its way.');
		const outbox = await srv.parley.mailer.list();
		expect(outbox.map((m) => `${m.kind}:${m.status}`).sort()).toEqual(['csat:sent', 'reply:sent']);
		const refused = await act(srv, ana.agent, id, 'email', { text: 'Use <customer.email>' });
		expect(refused.status).toBe(400);
	});

	it('mail is retried with backoff when the SMTP server refuses it for a while', async () => {
		const smtp = await startSmtp();
		cleanup.push(() => smtp.close());
		const { srv, clock, ana, id } = await setup({ email: 'dana@example.com', smtpUrl: smtp.url });
		smtp.refuseNext(2);
		expect((await act(srv, ana.agent, id, 'end-session')).status).toBe(200);
		await fireTimers(srv);
		await fireTimers(srv);
		let [mail] = await srv.parley.mailer.list();
		expect(mail).toMatchObject({ status: 'queued', attempts: 1 });
		expect(mail.error).toMatch(/451|busy/);
		clock.advance(10_000);
		await fireTimers(srv);
		[mail] = await srv.parley.mailer.list();
		expect(mail).toMatchObject({ status: 'queued', attempts: 2 });
		clock.advance(60_000);
		await fireTimers(srv);
		[mail] = await srv.parley.mailer.list();
		expect(mail).toMatchObject({ status: 'sent', attempts: 3 });
		expect(smtp.received).toHaveLength(1);
	});

	it('without SMTP, mail lands in the local outbox, which only admins can list', async () => {
		const { srv, ana, id } = await setup({ email: 'dana@example.com' });
		expect((await act(srv, ana.agent, id, 'end-session')).status).toBe(200);
		await fireTimers(srv);
		const asAgent = await fetch(`${srv.base}/api/admin/outbox`, {
			headers: { cookie: ana.agent.cookie }
		});
		expect(asAgent.status).toBe(403);
		const admin = await import('../helpers/server').then((h) =>
			h.loginAgent(srv.base, 'admin@example.com')
		);
		const r = await fetch(`${srv.base}/api/admin/outbox`, { headers: { cookie: admin.cookie } });
		const body = (await r.json()) as {
			smtp: boolean;
			mails: { kind: string; status: string; to: string }[];
		};
		expect(body.smtp).toBe(false);
		expect(body.mails).toEqual([
			expect.objectContaining({ kind: 'csat', status: 'local', to: 'dana@example.com' })
		]);
	});

	it('the offline "leave a message" confirmation is emailed', async () => {
		const smtp = await startSmtp();
		cleanup.push(() => smtp.close());
		const srv = await startServer({ config: { smtpUrl: smtp.url, timerPollMs: 20 } });
		cleanup.push(() => srv.dispose());
		await srv.parley.repo.db
			.updateTable('workstreams')
			.set({ hours: JSON.stringify({ timeZone: 'UTC', days: {} }) })
			.where('slug', '=', 'live')
			.execute();
		const r = await api<Reply>(srv.base, '/api/widget/offline-message', {
			body: {
				workstream: 'live',
				name: 'Fay',
				email: 'fay@example.com',
				message: 'Call me back\nplease'
			}
		});
		expect(r.status).toBe(200);
		const mail = await waitFor(() => smtp.received[0], 'confirmation received');
		expect(mail.to).toEqual(['fay@example.com']);
		expect(mail.subject).toMatch(/We received your message/);
		expect(mail.text).toContain('> Call me back\n> please');
	});

	it('triggers set a status, reassign and tag, once per event, never looping', async () => {
		const { srv, ana, id, db } = await setup({ workstream: 'persistent' });
		const queue = await db
			.selectFrom('queues')
			.select('id')
			.where('name', '=', 'General')
			.executeTakeFirstOrThrow();
		await db
			.insertInto('triggers')
			.values([
				{
					id: 'tr_a',
					name: 'Pending means on-hold',
					position: 1,
					active: 1,
					conditions: JSON.stringify([
						{ field: 'ticket_status', value: 'pending' },
						{ field: 'channel', value: 'messaging' }
					]),
					actions: JSON.stringify([
						{ type: 'add_tag', tag: 'waiting_on_customer' },
						{ type: 'set_status', status: 'on-hold' },
						{ type: 'reassign_queue', queueId: queue.id }
					]),
					created_at: 0
				},
				{
					id: 'tr_b',
					name: 'On-hold means pending',
					position: 2,
					active: 1,
					conditions: JSON.stringify([{ field: 'ticket_status', value: 'on-hold' }]),
					actions: JSON.stringify([{ type: 'set_status', status: 'pending' }]),
					created_at: 0
				}
			])
			.execute();
		expect((await act(srv, ana.agent, id, 'status', { status: 'pending' })).status).toBe(200);
		for (let i = 0; i < 5; i++) await fireTimers(srv);
		const d = await details(srv, ana.agent, id);
		expect(d.ticket.tags).toEqual(['waiting_on_customer']);
		expect(d.ticket.queue).toBe('General');
		// pending →(A) on-hold →(B) pending, and A does not run again on the change B made after its own.
		expect(
			d.events.filter((e) => e.type === 'ticket_status').map((e) => `${e.data.to}:${e.actorName}`)
		).toEqual([
			'open:Ana',
			'pending:Ana',
			'on-hold:Trigger: Pending means on-hold',
			'pending:Trigger: On-hold means pending'
		]);
		const runs = await db.selectFrom('trigger_runs').selectAll().execute();
		expect(runs.map((r) => r.trigger_id).sort()).toEqual(['tr_a', 'tr_b']);
	});
});
