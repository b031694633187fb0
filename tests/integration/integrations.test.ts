/**
 * Integrators (SPEC P3) and reports (M3): the /api/v1 endpoints with API keys (happy paths
 * and refusals, nothing half-written), the OpenAPI document matching the routes, signed
 * webhooks against a real local HTTP receiver with retries on a controlled clock, and report
 * numbers on a seeded history with known answers.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
	startServer,
	api,
	loginAgent,
	customerSession,
	customerChat,
	agentChat,
	agentOnline,
	waitFor,
	cleanupAfterEach,
	type AgentLogin,
	type TestServer
} from '../helpers/server';
import { ManualClock } from '../../server/clock';
import { verifyWebhookSignature } from '../../server/webhooks';
import { WEBHOOK_RETRY_DELAYS_MS } from '../../src/lib/domain/webhook-events';
import type { OfferView } from '../../src/lib/domain/inbox-doc';
import { newId } from '../../server/repo';

const cleanup = cleanupAfterEach();

type Reply = {
	error?: { code: string; message: string; fields?: Record<string, string> };
} & Record<string, unknown>;

async function v1(
	srv: TestServer,
	key: string | null,
	path: string,
	opts: { body?: unknown; method?: string; contentType?: string } = {}
) {
	const res = await fetch(`${srv.base}/api/v1${path}`, {
		method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
		headers: {
			...(key ? { authorization: `Bearer ${key}` } : {}),
			...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {})
		},
		body:
			opts.body === undefined
				? undefined
				: typeof opts.body === 'string'
					? opts.body
					: JSON.stringify(opts.body)
	});
	return { status: res.status, body: (await res.json()) as Reply };
}

async function newKey(srv: TestServer, admin: AgentLogin, name = 'CRM') {
	const r = await api<Reply>(srv.base, '/api/admin/api-keys', {
		body: { name },
		cookie: admin.cookie
	});
	expect(r.status).toBe(200);
	return { key: r.body.key as string, id: (r.body.apiKey as { id: string }).id };
}

/** A customer's chat accepted by Ana: a ticket with some history. */
async function chatWithAna(srv: TestServer, text = 'Where is my parcel?', clock?: ManualClock) {
	const ana = await agentOnline(srv, 'ana@example.com', cleanup, clock);
	const customer = await customerSession(srv.base, 'live', {
		name: 'Kim',
		email: 'kim@example.com'
	});
	const chat = customerChat(srv, customer);
	cleanup.push(() => chat.destroy());
	await chat.ready;
	chat.send(text);
	const offer = await waitFor(
		() =>
			[...ana.inbox.offers.values()].find((o) => o.conversationId === customer.conversationId) as
				OfferView | undefined,
		'offer'
	);
	const r = await api(srv.base, `/api/agent/offers/${offer.offerId}/accept`, {
		body: {},
		cookie: ana.agent.cookie
	});
	expect(r.status).toBe(200);
	await waitFor(() => chat.meta.status === 'active', 'active');
	return { ana, customer, chat, id: customer.conversationId };
}

describe('/api/v1 authentication', () => {
	it('needs a valid, unrevoked API key', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const admin = await loginAgent(srv.base, 'admin@example.com');
		expect((await v1(srv, null, '/tickets')).body.error?.code).toBe('api_key_missing');
		expect((await v1(srv, 'pk_notarealkey123456', '/tickets')).body.error?.code).toBe(
			'api_key_invalid'
		);
		const { key, id } = await newKey(srv, admin);
		expect((await v1(srv, key, '/tickets')).status).toBe(200);
		const keys = await api<Reply>(srv.base, '/api/admin/api-keys', { cookie: admin.cookie });
		expect(keys.body.apiKeys).toEqual([
			expect.objectContaining({ id, name: 'CRM', hint: `pk_…${key.slice(-4)}`, revokedAt: null })
		]);
		expect((keys.body.apiKeys as { lastUsedAt: number | null }[])[0].lastUsedAt).not.toBeNull();
		// Only a hash is stored.
		const row = await srv.parley.repo.db
			.selectFrom('api_keys')
			.selectAll()
			.executeTakeFirstOrThrow();
		expect(JSON.stringify(row)).not.toContain(key);
		await api(srv.base, `/api/admin/api-keys/${id}/revoke`, { body: {}, cookie: admin.cookie });
		const revoked = await v1(srv, key, '/tickets');
		expect(revoked.status).toBe(401);
		expect(revoked.body.error?.code).toBe('api_key_revoked');
	});
});

describe('/api/v1 customer tokens', () => {
	it('signs a token the widget accepts, verifies it, and refuses bad input', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const { key } = await newKey(srv, admin);
		const signed = await v1(srv, key, '/customer-tokens', {
			body: {
				workstream: 'persistent',
				externalId: 'crm-42',
				name: 'Lea',
				email: 'lea@example.com'
			}
		});
		expect(signed.status).toBe(200);
		const token = signed.body.token as string;
		const session = await api<{ customer: { name: string; authenticated: boolean } }>(
			srv.base,
			'/api/widget/session',
			{ body: { workstream: 'persistent', hostToken: token } }
		);
		expect(session.status).toBe(200);
		expect(session.body.customer).toMatchObject({ name: 'Lea', authenticated: true });

		const ok = await v1(srv, key, '/customer-tokens/verify', {
			body: { workstream: 'persistent', token }
		});
		expect(ok.body).toMatchObject({
			valid: true,
			customer: { externalId: 'crm-42', name: 'Lea', email: 'lea@example.com' }
		});
		const tampered = await v1(srv, key, '/customer-tokens/verify', {
			body: { workstream: 'persistent', token: token.slice(0, -3) + 'abc' }
		});
		expect(tampered.body).toMatchObject({ valid: false, error: { code: 'token_invalid' } });
		// Signed for one workstream, it is not valid for another (another secret).
		const other = await v1(srv, key, '/customer-tokens/verify', {
			body: { workstream: 'live', token }
		});
		expect(other.body.valid).toBe(false);

		const bad = await v1(srv, key, '/customer-tokens', {
			body: { workstream: 'nope', externalId: '', expiresIn: 5 }
		});
		expect(bad.status).toBe(400);
		expect(bad.body.error?.fields).toMatchObject({
			externalId: 'Give the customer’s id on your site.',
			expiresIn: 'Tokens live at least 60 seconds.'
		});
		const unknown = await v1(srv, key, '/customer-tokens', {
			body: { workstream: 'nope', externalId: 'x' }
		});
		expect(unknown.body.error?.fields).toEqual({ workstream: 'No workstream "nope".' });
		const notJson = await v1(srv, key, '/customer-tokens', {
			body: 'x=1',
			contentType: 'text/plain'
		});
		expect(notJson.status).toBe(415);
		const broken = await v1(srv, key, '/customer-tokens', { body: '{"workstream":' });
		expect(broken.body.error?.code).toBe('invalid_json');
	});
});

describe('/api/v1 tickets', () => {
	it('lists, filters, pages and reads tickets and their events; notes and status changes', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const { key, id: keyId } = await newKey(srv, admin, 'Helpdesk sync');
		const { ana, id } = await chatWithAna(srv);
		const second = await customerSession(srv.base, 'live', { name: 'Lou' });

		const all = await v1(srv, key, '/tickets');
		const listed = all.body.tickets as { id: string; status: string }[];
		expect(listed.map((t) => t.id)).toEqual([second.conversationId, id]);
		const open = await v1(srv, key, '/tickets?status=open');
		expect((open.body.tickets as { id: string }[]).map((t) => t.id)).toEqual([id]);
		const byAgent = await v1(srv, key, `/tickets?agent=${ana.agent.id}`);
		expect((byAgent.body.tickets as { id: string }[]).map((t) => t.id)).toEqual([id]);
		const page1 = await v1(srv, key, '/tickets?limit=1');
		expect((page1.body.tickets as unknown[]).length).toBe(1);
		const page2 = await v1(srv, key, `/tickets?limit=1&cursor=${page1.body.nextCursor as string}`);
		expect((page2.body.tickets as { id: string }[]).map((t) => t.id)).toEqual([id]);
		expect(page2.body.nextCursor).toBeNull();
		const badFilter = await v1(srv, key, '/tickets?status=lost&limit=500');
		expect(badFilter.status).toBe(400);
		expect(Object.keys(badFilter.body.error!.fields!).sort()).toEqual(['limit', 'status.0']);
		expect((await v1(srv, key, '/tickets?cursor=garbage')).body.error?.fields).toEqual({
			cursor: 'This cursor is not one the API returned.'
		});

		const one = await v1(srv, key, `/tickets/${id}`);
		expect(one.body.ticket).toMatchObject({
			id,
			status: 'open',
			conversationStatus: 'active',
			session: { status: 'active', endedBy: null },
			channel: 'messaging',
			workstream: { slug: 'live', mode: 'live' },
			queue: { name: 'General' },
			customer: { name: 'Kim', email: 'kim@example.com' },
			agents: [{ id: ana.agent.id, name: 'Ana' }]
		});
		expect((await v1(srv, key, '/tickets/cv_missing')).status).toBe(404);
		const events = await v1(srv, key, `/tickets/${id}/events`);
		expect((events.body.events as { type: string }[]).map((e) => e.type)).toEqual(
			expect.arrayContaining(['requested', 'offered', 'accepted', 'ticket_status'])
		);

		// An internal note: in the agents' notes, never in the customer's document.
		const note = await v1(srv, key, `/tickets/${id}/notes`, {
			body: { text: 'Customer is a VIP (from the CRM).' }
		});
		expect(note.status).toBe(200);
		expect(note.body.note).toMatchObject({ author: 'Helpdesk sync (API)' });
		const notes = agentChat(srv, ana.agent, id, { internal: true });
		cleanup.push(() => notes.destroy());
		await waitFor(
			() =>
				notes.transcript.find(
					(t) => t.text === 'Customer is a VIP (from the CRM).' && t.name === 'Helpdesk sync (API)'
				),
			'the note reaches agents'
		);
		const emptyNote = await v1(srv, key, `/tickets/${id}/notes`, { body: { text: '  ' } });
		expect(emptyNote.body.error?.fields).toEqual({ text: 'Write the note.' });
		expect((await v1(srv, key, '/tickets/cv_missing/notes', { body: { text: 'x' } })).status).toBe(
			404
		);

		// Status: allowed transitions only; a refusal changes nothing.
		const pending = await v1(srv, key, `/tickets/${id}/status`, { body: { status: 'pending' } });
		expect(pending.status).toBe(200);
		expect(pending.body.ticket).toMatchObject({ status: 'pending' });
		const again = await v1(srv, key, `/tickets/${id}/status`, { body: { status: 'new' } });
		expect(again.status).toBe(400);
		const unknown = await v1(srv, key, `/tickets/${id}/status`, { body: { status: 'gone' } });
		expect(unknown.body.error?.code).toBe('invalid_input');
		expect((await v1(srv, key, `/tickets/${id}`)).body.ticket).toMatchObject({ status: 'pending' });
		const history = (await v1(srv, key, `/tickets/${id}/events`)).body.events as {
			type: string;
			actor: string | null;
			data: Record<string, unknown>;
		}[];
		expect(history).toContainEqual(
			expect.objectContaining({
				type: 'ticket_status',
				actor: `api:${keyId}`,
				data: expect.objectContaining({ to: 'pending', by: 'Helpdesk sync (API)' })
			})
		);
		expect(history.map((e) => e.type)).toContain('note_added');
	});

	it('serves an OpenAPI document that lists every /api/v1 route', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const r = await fetch(`${srv.base}/api/v1/openapi.json`);
		expect(r.status).toBe(200);
		const doc = (await r.json()) as {
			openapi: string;
			paths: Record<string, Record<string, unknown>>;
		};
		expect(doc.openapi).toMatch(/^3\./);
		const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
			Object.keys(ops)
				.filter((m) => ['get', 'post', 'put', 'delete'].includes(m))
				.map((m) => `${m.toUpperCase()} ${path.replace(/\{[^}]+\}/g, 'X')}`)
		);
		const { v1Routes } = await import('../../server/http/v1');
		const served = v1Routes({ repo: {} } as never).map(
			([method, re]) =>
				`${method} ${re.source
					.replace(/^\^\\\/api\\\/v1|\$$/g, '')
					.replace(/\(\[A-Za-z0-9_-\]\+\)/g, 'X')
					.replace(/\\/g, '')}`
		);
		expect(served.sort()).toEqual(documented.sort());
	});
});

/** A local HTTP receiver that records deliveries and answers with the statuses given. */
async function receiver(statuses: number[] = []) {
	const got: { headers: IncomingMessage['headers']; body: string }[] = [];
	const server: Server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
			res.writeHead(statuses.shift() ?? 200).end('ok');
		});
	});
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
	cleanup.push(() => new Promise((r) => server.close(r)));
	return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

describe('webhooks', () => {
	it('delivers signed events for a conversation: started, status changed, session ended, CSAT', async () => {
		const clock = new ManualClock(Date.now());
		// The receivers listen on loopback, which webhooks reach only with `any`.
		const srv = await startServer({
			clock,
			config: { timerPollMs: 3_600_000, webhookTargets: 'any' }
		});
		cleanup.push(() => srv.dispose());
		const fire = () => srv.parley.timers.poll();
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const hook = await receiver();
		const made = await api<Reply>(srv.base, '/api/admin/webhooks', {
			body: {
				url: hook.url,
				events: ['conversation.started', 'session.ended', 'ticket.status_changed', 'csat.received']
			},
			cookie: admin.cookie
		});
		expect(made.status).toBe(200);
		const secret = (made.body.webhook as { secret: string }).secret;
		const bad = await api<Reply>(srv.base, '/api/admin/webhooks', {
			body: { url: 'ftp://x', events: [] },
			cookie: admin.cookie
		});
		expect(Object.keys(bad.body.error!.fields!).sort()).toEqual(['events', 'url']);

		const { ana, id } = await chatWithAna(srv, 'Hello', clock);
		await fire();
		const types = () => hook.got.map((g) => JSON.parse(g.body).type as string);
		await waitFor(
			() => types().includes('conversation.started') && types().includes('ticket.status_changed'),
			'started and status deliveries'
		);
		for (const g of hook.got) {
			expect(g.headers['content-type']).toBe('application/json');
			expect(
				verifyWebhookSignature(
					secret,
					g.body,
					g.headers['parley-signature'] as string,
					Math.floor(clock.now() / 1000)
				)
			).toBe(true);
			// Any change to the body breaks the signature.
			expect(
				verifyWebhookSignature(
					secret,
					g.body.replace('"', ' "'),
					g.headers['parley-signature'] as string,
					Math.floor(clock.now() / 1000)
				)
			).toBe(false);
			expect(g.headers['parley-delivery']).toMatch(/^whd_/);
		}
		const started = JSON.parse(hook.got.find((g) => g.body.includes('conversation.started'))!.body);
		expect(started).toMatchObject({
			type: 'conversation.started',
			data: { ticket: { id, customer: { name: 'Kim' } }, event: { type: 'requested' } }
		});

		await api(srv.base, `/api/agent/conversations/${id}/end-session`, {
			body: {},
			cookie: ana.agent.cookie
		});
		await fire(); // the session_ended delivery, and the default trigger (CSAT)
		await waitFor(() => types().includes('session.ended'), 'session ended delivery');
		const ended = JSON.parse(hook.got.find((g) => g.body.includes('"session.ended"'))!.body);
		expect(ended.data.event.data).toMatchObject({ role: 'agent', by: 'Ana' });
		// The customer answers the survey (as through the emailed link).
		await srv.parley.conversations.answerCsat(id, null, { rating: 4, comment: 'Quick' });
		await fire();
		await waitFor(() => types().includes('csat.received'), 'csat delivery');
		const csat = JSON.parse(hook.got.find((g) => g.body.includes('"csat.received"'))!.body);
		expect(csat.data.ticket.csat).toMatchObject({ rating: 4, comment: 'Quick' });

		// The receiver has the last request before the server has recorded its answer.
		type Delivery = { status: string; attempts: number; event: string };
		const deliveries = await waitFor(async () => {
			const log = await api<Reply>(srv.base, '/api/admin/webhook-deliveries', {
				cookie: admin.cookie
			});
			const list = log.body.deliveries as Delivery[];
			return list.every((d) => d.status !== 'pending') ? list : undefined;
		}, 'every delivery recorded');
		expect(deliveries.length).toBe(hook.got.length);
		expect(deliveries.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
	});

	it('retries with backoff until the receiver accepts, and gives up after the last retry', async () => {
		const clock = new ManualClock(Date.now());
		// The receivers listen on loopback, which webhooks reach only with `any`.
		const srv = await startServer({
			clock,
			config: { timerPollMs: 3_600_000, webhookTargets: 'any' }
		});
		cleanup.push(() => srv.dispose());
		const fire = () => srv.parley.timers.poll();
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const flaky = await receiver([500, 503]);
		await api(srv.base, '/api/admin/webhooks', {
			body: { url: flaky.url, events: ['conversation.started'] },
			cookie: admin.cookie
		});
		// Nothing listens on this one: every attempt fails.
		const dead = await receiver();
		const deadUrl = dead.url.replace(/:\d+\//, ':1/');
		await api(srv.base, '/api/admin/webhooks', {
			body: { url: deadUrl, events: ['conversation.started'] },
			cookie: admin.cookie
		});
		const deliveries = async () =>
			(await api<Reply>(srv.base, '/api/admin/webhook-deliveries', { cookie: admin.cookie })).body
				.deliveries as {
				id: string;
				url: string;
				status: string;
				attempts: number;
				responseStatus: number | null;
				error: string | null;
				nextAttemptAt: number | null;
			}[];
		const of = async (url: string) => (await deliveries()).find((d) => d.url === url)!;
		// An attempt is recorded, then its retry timer set: wait for both before moving the clock.
		const attempted = async (url: string, n: number) => {
			const d = await of(url);
			if (d.attempts !== n) return false;
			const timer = await srv.parley.database.db
				.selectFrom('timers')
				.select('due_at')
				.where('id', '=', `webhook:${d.id}`)
				.executeTakeFirst();
			return Number(timer?.due_at) === d.nextAttemptAt;
		};

		const customer = await customerSession(srv.base, 'live', { name: 'Rae' });
		const chat = customerChat(srv, customer);
		cleanup.push(() => chat.destroy());
		await chat.ready;
		chat.send('Anyone there?');
		await waitFor(async () => (await deliveries()).length === 2, 'two deliveries queued');

		await fire();
		await waitFor(() => attempted(flaky.url, 1), 'first attempt');
		expect(await of(flaky.url)).toMatchObject({
			status: 'pending',
			responseStatus: 500,
			error: 'The receiver answered 500.',
			nextAttemptAt: clock.now() + WEBHOOK_RETRY_DELAYS_MS[0]
		});
		// Not before the backoff.
		clock.advance(WEBHOOK_RETRY_DELAYS_MS[0] - 1000);
		await fire();
		expect((await of(flaky.url)).attempts).toBe(1);
		clock.advance(1000);
		await fire();
		await waitFor(() => attempted(flaky.url, 2), 'second attempt');
		clock.advance(WEBHOOK_RETRY_DELAYS_MS[1]);
		await fire();
		await waitFor(async () => (await of(flaky.url)).status === 'delivered', 'delivered');
		expect(await of(flaky.url)).toMatchObject({ attempts: 3, responseStatus: 200, error: null });
		expect(flaky.got).toHaveLength(3);
		// Every attempt carries the same body and delivery id.
		expect(new Set(flaky.got.map((g) => g.body)).size).toBe(1);
		expect(new Set(flaky.got.map((g) => g.headers['parley-delivery'])).size).toBe(1);

		// The dead receiver: one attempt per backoff step, then the delivery is marked failed.
		for (let i = 0; i < 10 && (await of(deadUrl)).status === 'pending'; i++) {
			const before = await of(deadUrl);
			clock.advance(Math.max(0, before.nextAttemptAt! - clock.now()));
			await fire();
			await waitFor(
				async () => (await of(deadUrl)).attempts === before.attempts + 1,
				'next attempt'
			);
		}
		expect((await of(deadUrl)).status).toBe('failed');
		expect((await of(deadUrl)).nextAttemptAt).toBeNull();
		expect((await of(deadUrl)).attempts).toBe(WEBHOOK_RETRY_DELAYS_MS.length + 1);
		expect((await of(deadUrl)).error).toMatch(/fetch failed|ECONNREFUSED|TypeError/);
	});
});

describe('webhooks removed', () => {
	it('a deleted webhook’s pending delivery fails instead of waiting for ever, and stays in the log', async () => {
		const clock = new ManualClock(Date.now());
		// The receivers listen on loopback, which webhooks reach only with `any`.
		const srv = await startServer({
			clock,
			config: { timerPollMs: 3_600_000, webhookTargets: 'any' }
		});
		cleanup.push(() => srv.dispose());
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const flaky = await receiver([500]);
		const made = await api<Reply>(srv.base, '/api/admin/webhooks', {
			body: { url: flaky.url, events: ['conversation.started'] },
			cookie: admin.cookie
		});
		const hookId = (made.body.webhook as { id: string }).id;
		const log = async () =>
			(await api<Reply>(srv.base, '/api/admin/webhook-deliveries', { cookie: admin.cookie })).body
				.deliveries as { url: string | null; status: string; attempts: number; error: string }[];
		const customer = await customerSession(srv.base, 'live', { name: 'Sam' });
		const chat = customerChat(srv, customer);
		cleanup.push(() => chat.destroy());
		await chat.ready;
		chat.send('Hi');
		await waitFor(async () => (await log()).length === 1, 'queued');
		await srv.parley.timers.poll();
		await waitFor(async () => (await log())[0].attempts === 1, 'first attempt failed');
		expect(
			(
				await api(srv.base, `/api/admin/webhooks/${hookId}`, {
					method: 'DELETE',
					cookie: admin.cookie
				})
			).status
		).toBe(200);
		clock.advance(WEBHOOK_RETRY_DELAYS_MS[0]);
		await srv.parley.timers.poll();
		await waitFor(async () => (await log())[0].status === 'failed', 'failed');
		expect((await log())[0]).toMatchObject({ url: null, error: 'The webhook was deleted.' });
		expect(flaky.got).toHaveLength(1);
	});
});

describe('webhook targets', () => {
	it('refuses loopback, private and link-local addresses by default, when saved and when delivering', async () => {
		const clock = new ManualClock(Date.now());
		const srv = await startServer({ clock, config: { timerPollMs: 3_600_000 } });
		cleanup.push(() => srv.dispose());
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const hook = await receiver();
		const save = (url: string) =>
			api<Reply>(srv.base, '/api/admin/webhooks', {
				body: { url, events: ['conversation.started'] },
				cookie: admin.cookie
			});
		const refusals: [string, RegExp][] = [
			[
				hook.url,
				/^127\.0\.0\.1 is a loopback \(this machine\) address\. .*PARLEY_WEBHOOK_TARGETS=any/
			],
			[
				hook.url.replace('127.0.0.1', 'localhost'),
				/^localhost resolves to (127\.0\.0\.1|::1) is a loopback/
			],
			['http://10.1.2.3/hook', /^10\.1\.2\.3 is a private network address/],
			['http://[::ffff:192.168.0.9]/hook', /^192\.168\.0\.9 is a private network address/],
			['http://169.254.169.254/latest/meta-data', /^169\.254\.169\.254 is a link-local address/],
			['http://[::1]:8080/', /^::1 is a loopback/]
		];
		for (const [url, message] of refusals) {
			const r = await save(url);
			expect(r.status, url).toBe(400);
			expect(r.body.error!.fields!.url, url).toMatch(message);
		}
		expect(
			(
				(await api<Reply>(srv.base, '/api/admin/webhooks', { cookie: admin.cookie })).body
					.webhooks as unknown[]
			).length
		).toBe(0);

		// A public address is accepted. Later its name resolves to this machine (DNS changed, or
		// rebinding): the delivery checks the address it connects to and never reaches the receiver.
		const made = await save('http://93.184.216.34/hook');
		expect(made.status).toBe(200);
		const hookId = (made.body.webhook as { id: string }).id;
		await srv.parley.repo.db
			.updateTable('webhooks')
			.set({ url: hook.url.replace('127.0.0.1', 'localhost') })
			.where('id', '=', hookId)
			.execute();
		const customer = await customerSession(srv.base, 'live', { name: 'Sam' });
		const chat = customerChat(srv, customer);
		cleanup.push(() => chat.destroy());
		await chat.ready;
		chat.send('Hi');
		const log = async () =>
			(await api<Reply>(srv.base, '/api/admin/webhook-deliveries', { cookie: admin.cookie })).body
				.deliveries as { status: string; attempts: number; error: string | null }[];
		await waitFor(async () => (await log()).length === 1, 'queued');
		await srv.parley.timers.poll();
		await waitFor(async () => (await log())[0].attempts === 1, 'attempted');
		expect((await log())[0]).toMatchObject({ status: 'pending' });
		expect((await log())[0].error).toMatch(
			/^localhost resolves to (127\.0\.0\.1|::1) is a loopback/
		);
		expect(hook.got).toHaveLength(0);
	});
});

describe('reports (SPEC M3)', () => {
	/** Events of one conversation, `at` in minutes after 2026-03-02 09:00 UTC. */
	async function seed(
		srv: TestServer,
		conv: { queue: string },
		events: [type: string, minute: number, actor?: string | null, data?: Record<string, unknown>][]
	) {
		const db = srv.parley.repo.db;
		const ws = await srv.parley.repo.workstreamBySlug('live');
		const base = Date.UTC(2026, 2, 2, 9, 0, 0);
		const customerId = await srv.parley.repo.createCustomer({
			workstreamId: ws!.id,
			externalId: null,
			name: 'Seeded',
			email: null,
			now: base
		});
		const id = newId('cv');
		await db
			.insertInto('conversations')
			.values({
				id,
				workstream_id: ws!.id,
				customer_id: customerId,
				status: 'ended',
				requested_at: base,
				queue_id: conv.queue,
				preferred_agent_id: null,
				preferred_until: null,
				offline_message: 0,
				transfer_from: null,
				created_at: base,
				updated_at: base
			})
			.execute();
		let n = 0;
		for (const [type, minute, actor, data] of events)
			await db
				.insertInto('conversation_events')
				.values({
					id: `ev_${id}_${n++}`,
					conversation_id: id,
					type,
					actor: actor ?? null,
					data: JSON.stringify(data ?? {}),
					at: base + minute * 60_000
				})
				.execute();
		return id;
	}

	it('computes first response, wait, handle, counts and CSAT by agent and queue, and as CSV', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const admin = await loginAgent(srv.base, 'admin@example.com');
		const db = srv.parley.repo.db;
		const agents = Object.fromEntries(
			(await db.selectFrom('agents').select(['id', 'name']).execute()).map((a) => [a.name, a.id])
		);
		const queues = Object.fromEntries(
			(await db.selectFrom('queues').select(['id', 'name']).execute()).map((q) => [q.name, q.id])
		);
		const ana = `agent:${agents.Ana}`;
		const ben = `agent:${agents.Ben}`;
		// Ana: wait 2 min, first reply 3 min, handle 10 min, CSAT 5.
		await seed(srv, { queue: queues.General }, [
			['requested', 0],
			['accepted', 2, ana],
			['first_response', 3, ana],
			['ended', 12, ana],
			['csat_received', 20, null, { rating: 5 }]
		]);
		// Ben: wait 4 min, first reply 6 min, handle 20 min (session ended), CSAT 2.
		await seed(srv, { queue: queues.General }, [
			['requested', 60],
			['accepted', 64, ben],
			['first_response', 66, ben],
			['session_ended', 84, ben],
			['csat_received', 90, null, { rating: 2 }]
		]);
		// Account care, Ana, next day: wait 6 min, no first response, not ended.
		await seed(srv, { queue: queues['Account care'] }, [
			['requested', 24 * 60],
			['accepted', 24 * 60 + 6, ana]
		]);
		// Never answered.
		await seed(srv, { queue: queues.General }, [['requested', 120]]);
		// Outside the range (a week later).
		await seed(srv, { queue: queues.General }, [
			['requested', 8 * 24 * 60],
			['accepted', 8 * 24 * 60 + 1, ana]
		]);

		const r = await api<Reply>(
			srv.base,
			'/api/admin/reports?from=2026-03-02&to=2026-03-04&tz=UTC',
			{ cookie: admin.cookie }
		);
		expect(r.status).toBe(200);
		const report = r.body.report as {
			total: Record<string, unknown>;
			byAgent: Record<string, unknown>[];
			byQueue: Record<string, unknown>[];
			byDay: { date: string; conversations: number }[];
		};
		expect(report.total).toMatchObject({
			conversations: 4,
			answered: 3,
			avgWaitMs: 4 * 60_000,
			medianWaitMs: 4 * 60_000,
			avgFirstResponseMs: 4.5 * 60_000,
			avgHandleMs: 15 * 60_000,
			csatCount: 2,
			csatAverage: 3.5,
			csatSatisfiedPct: 50
		});
		expect(report.byAgent).toEqual([
			expect.objectContaining({
				label: 'Ana',
				conversations: 2,
				avgWaitMs: 4 * 60_000,
				avgFirstResponseMs: 3 * 60_000,
				avgHandleMs: 10 * 60_000,
				csatAverage: 5
			}),
			expect.objectContaining({
				label: 'Ben',
				conversations: 1,
				avgWaitMs: 4 * 60_000,
				avgHandleMs: 20 * 60_000,
				csatAverage: 2
			})
		]);
		expect(report.byQueue.map((q) => [q.label, q.conversations, q.answered])).toEqual([
			['Account care', 1, 1],
			['General', 3, 2]
		]);
		expect(report.byDay.map((d) => [d.date, d.conversations])).toEqual([
			['2026-03-02', 3],
			['2026-03-03', 1],
			['2026-03-04', 0]
		]);

		const csv = await fetch(`${srv.base}/api/admin/reports.csv?from=2026-03-02&to=2026-03-04`, {
			headers: { cookie: admin.cookie }
		});
		expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
		expect(csv.headers.get('content-disposition')).toContain(
			'parley-report-2026-03-02-to-2026-03-04.csv'
		);
		const lines = (await csv.text()).trim().split('\n');
		expect(lines[0]).toBe(
			'group,name,conversations,answered,avg_wait_seconds,median_wait_seconds,avg_first_response_seconds,avg_handle_seconds,csat_count,csat_average,csat_satisfied_pct'
		);
		expect(lines[1]).toBe('total,All,4,3,240.0,240.0,270.0,900.0,2,3.50,50.0');
		expect(lines).toContain('agent,Ana,2,2,240.0,240.0,180.0,600.0,1,5.00,100.0');

		const bad = await api<Reply>(srv.base, '/api/admin/reports?from=2026-03-09&to=2026-03-02', {
			cookie: admin.cookie
		});
		expect(bad.status).toBe(400);
		expect(bad.body.error?.fields?.to).toBe('The last date cannot be before the first date.');
	});

	it('records the agent’s first reply as the history event reports read', async () => {
		const srv = await startServer();
		cleanup.push(() => srv.dispose());
		const { ana, id } = await chatWithAna(srv);
		const agentSide = agentChat(srv, ana.agent, id);
		cleanup.push(() => agentSide.destroy());
		await agentSide.ready;
		agentSide.send('Hi Kim, looking into it.');
		agentSide.send('Found it.');
		const events = async () =>
			srv.parley.repo.db
				.selectFrom('conversation_events')
				.select(['type', 'actor'])
				.where('conversation_id', '=', id)
				.where('type', '=', 'first_response')
				.execute();
		await waitFor(async () => (await events()).length === 1, 'first response event');
		await waitFor(
			() =>
				agentSide.transcript.filter((t) => t.state === 'sent' || t.state === 'read').length >= 2,
			'both sent'
		);
		expect(await events()).toEqual([{ type: 'first_response', actor: `agent:${ana.agent.id}` }]);
	});
});
