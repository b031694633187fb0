/**
 * The admin console's API (SPEC M1, M2): only admins, field-level refusals that write nothing,
 * workstreams with every setting (and what customers and agents then see), secret rotation,
 * queues and skills, agents (create, invite, reset, disable), templates and triggers.
 */
import { describe, expect, it } from 'vitest';
import {
	startServer,
	api,
	loginAgent,
	customerSession,
	cleanupAfterEach,
	type AgentLogin,
	type TestServer
} from '../helpers/server';
import { signHostToken } from '../../server/auth/tokens';
import { defaultSettings } from '../../src/lib/domain/workstream-settings';

const cleanup = cleanupAfterEach();

type Reply = {
	error?: { code: string; message: string; fields?: Record<string, string> };
} & Record<string, unknown>;

async function setup() {
	const srv = await startServer();
	cleanup.push(() => srv.dispose());
	const admin = await loginAgent(srv.base, 'admin@example.com');
	const ana = await loginAgent(srv.base, 'ana@example.com');
	return { srv, admin, ana };
}

const call = (
	srv: TestServer,
	who: AgentLogin | null,
	path: string,
	body?: unknown,
	method?: string
) => api<Reply>(srv.base, path, { body, cookie: who?.cookie, method });

async function queueId(srv: TestServer, name = 'General') {
	const q = await srv.parley.repo.db
		.selectFrom('queues')
		.select('id')
		.where('name', '=', name)
		.executeTakeFirstOrThrow();
	return q.id;
}

describe('admin API: who may use it', () => {
	it('refuses agents (403) and anonymous callers (401) on every admin route', async () => {
		const { srv, ana } = await setup();
		const routes: [string, string][] = [
			['GET', '/api/admin/workstreams'],
			['POST', '/api/admin/workstreams'],
			['GET', '/api/admin/workstreams/live'],
			['PUT', '/api/admin/workstreams/live'],
			['POST', '/api/admin/workstreams/live/rotate-secret'],
			['DELETE', '/api/admin/workstreams/live'],
			['GET', '/api/admin/queues'],
			['POST', '/api/admin/queues'],
			['DELETE', '/api/admin/queues/q_none'],
			['GET', '/api/admin/skills'],
			['POST', '/api/admin/skills'],
			['GET', '/api/admin/agents'],
			['POST', '/api/admin/agents'],
			['GET', '/api/admin/templates'],
			['POST', '/api/admin/templates'],
			['GET', '/api/admin/triggers'],
			['POST', '/api/admin/triggers'],
			['GET', '/api/admin/api-keys'],
			['POST', '/api/admin/api-keys'],
			['GET', '/api/admin/webhooks'],
			['POST', '/api/admin/webhooks'],
			['GET', '/api/admin/webhook-deliveries'],
			['GET', '/api/admin/reports?from=2026-01-01&to=2026-01-31'],
			['GET', '/api/admin/outbox']
		];
		for (const [method, path] of routes) {
			const body = method === 'GET' ? undefined : {};
			expect((await call(srv, ana, path, body, method)).status, `${method} ${path}`).toBe(403);
			expect((await call(srv, null, path, body, method)).status, `${method} ${path}`).toBe(401);
		}
	});
});

describe('admin API: workstreams (SPEC M1)', () => {
	it('refuses invalid settings field by field and writes nothing', async () => {
		const { srv, admin } = await setup();
		const before = (await call(srv, admin, '/api/admin/workstreams')).body.workstreams as unknown[];
		const r = await call(srv, admin, '/api/admin/workstreams', {
			...defaultSettings(await queueId(srv)),
			slug: 'support',
			name: 'Support',
			style: 'social',
			solvedCloseMs: 30 * 24 * 3600_000,
			wrapUpReasons: [],
			hours: {
				timeZone: 'Europe/Rome',
				weekly: {
					mon: [
						['09:00', '13:00'],
						['12:30', '18:00']
					]
				}
			}
		});
		expect(r.status).toBe(400);
		expect(r.body.error).toMatchObject({
			code: 'invalid_input',
			fields: {
				solvedCloseMs: expect.stringMatching(/between 1 day and 28 days/),
				wrapUpReasons: 'Give agents at least one wrap-up reason.',
				'hours.weekly.mon.1': 'This interval overlaps another one on the same day.'
			}
		});
		const unknownQueue = await call(srv, admin, '/api/admin/workstreams', {
			...defaultSettings('q_missing'),
			slug: 'support',
			name: 'Support'
		});
		expect(unknownQueue.body.error?.fields).toEqual({ queueId: 'Choose one of the queues.' });
		const taken = await call(srv, admin, '/api/admin/workstreams', {
			...defaultSettings(await queueId(srv)),
			slug: 'live',
			name: 'Again'
		});
		expect(taken.body.error?.fields).toEqual({ slug: '"live" is taken: choose another.' });
		const after = (await call(srv, admin, '/api/admin/workstreams')).body.workstreams as unknown[];
		expect(after).toHaveLength(before.length);
	});

	it('creates a workstream whose look, texts, reasons and hours reach the widget and the agent', async () => {
		const { srv, admin } = await setup();
		const r = await call(srv, admin, '/api/admin/workstreams', {
			...defaultSettings(await queueId(srv)),
			slug: 'billing',
			name: 'Billing',
			title: 'Billing help',
			color: '#AA3300',
			greeting: 'Ask about invoices.',
			queuePositionText: 'Place in line: {position}.',
			wrapUpReasons: ['Refund issued', 'Invoice resent'],
			csatEnabled: false,
			hours: { timeZone: 'UTC', weekly: {} }
		});
		expect(r.status).toBe(200);
		expect(r.body.snippet).toBe(
			`<script src="${srv.base}/widget.js" data-workstream="billing" async></script>`
		);
		expect(r.body.secret).toMatch(/^wss_/);
		expect(r.body.workstream).toMatchObject({ color: '#aa3300', csatEnabled: false });

		const info = await api<{ workstream: Record<string, unknown> }>(
			srv.base,
			'/api/widget/workstreams/billing'
		);
		// Hours with no open day: closed now, so the live widget takes messages instead.
		expect(info.body.workstream).toMatchObject({
			title: 'Billing help',
			color: '#aa3300',
			greeting: 'Ask about invoices.',
			open: false
		});
		const stored = await srv.parley.repo.workstreamBySlug('billing');
		expect(JSON.parse(stored!.wrap_up_reasons)).toEqual(['Refund issued', 'Invoice resent']);
		expect(stored!.queue_position_text).toBe('Place in line: {position}.');

		// Editing keeps the secret, and the list shows the change.
		const put = await call(
			srv,
			admin,
			'/api/admin/workstreams/billing',
			{ ...(r.body.workstream as object), hours: null, title: 'Billing' },
			'PUT'
		);
		expect(put.status).toBe(200);
		expect(put.body.secret).toBe(r.body.secret);
		const open = await api<{ workstream: { open: boolean; title: string } }>(
			srv.base,
			'/api/widget/workstreams/billing'
		);
		expect(open.body.workstream).toMatchObject({ open: true, title: 'Billing' });
	});

	it('rotates the widget secret: old tokens are refused, the old secret is listed as revoked', async () => {
		const { srv, admin } = await setup();
		const before = await call(srv, admin, '/api/admin/workstreams/persistent');
		const oldSecret = before.body.secret as string;
		expect(before.body.revokedSecrets).toEqual([]);
		const r = await call(srv, admin, '/api/admin/workstreams/persistent/rotate-secret', {});
		expect(r.status).toBe(200);
		const newSecret = r.body.secret as string;
		expect(newSecret).not.toBe(oldSecret);
		expect(r.body.revokedSecrets).toEqual([
			{
				hint: `…${oldSecret.slice(-4)}`,
				createdAt: expect.any(Number),
				revokedAt: expect.any(Number)
			}
		]);
		const token = (secret: string) =>
			signHostToken(secret, { sub: 'x1', name: 'X' }, { now: Date.now() });
		const old = await api<Reply>(srv.base, '/api/widget/session', {
			body: { workstream: 'persistent', hostToken: await token(oldSecret) }
		});
		expect(old.status).toBe(401);
		expect(old.body.error?.code).toBe('token_invalid');
		const fresh = await customerSession(srv.base, 'persistent', { secret: newSecret });
		expect(fresh.conversationId).toMatch(/^cv_/);
	});
});

describe('admin API: deleting a workstream', () => {
	it('deletes one no customer used, with its secrets; refuses one with conversations or customers', async () => {
		const { srv, admin } = await setup();
		const created = await call(srv, admin, '/api/admin/workstreams', {
			...defaultSettings(await queueId(srv)),
			slug: 'typo',
			name: 'Typo'
		});
		expect(created.status).toBe(200);
		await call(srv, admin, '/api/admin/workstreams/typo/rotate-secret', {});
		const gone = await call(srv, admin, '/api/admin/workstreams/typo', undefined, 'DELETE');
		expect(gone.status).toBe(200);
		expect(gone.body).toEqual({ ok: true });
		expect((await call(srv, admin, '/api/admin/workstreams/typo')).status).toBe(404);
		const list = (await call(srv, admin, '/api/admin/workstreams')).body.workstreams as {
			slug: string;
		}[];
		expect(list.map((w) => w.slug)).not.toContain('typo');
		const secrets = await srv.parley.repo.db
			.selectFrom('workstream_secrets')
			.selectAll()
			.where('workstream_id', '=', (created.body.workstream as { id: string }).id)
			.execute();
		expect(secrets).toEqual([]);
		// The widget no longer knows it.
		const widget = await api<Reply>(srv.base, '/api/widget/session', {
			body: { workstream: 'typo' }
		});
		expect(widget.status).toBe(404);
		expect(
			(await call(srv, admin, '/api/admin/workstreams/typo', undefined, 'DELETE')).status
		).toBe(404);

		// A workstream a customer has opened a chat in stays.
		await customerSession(srv.base, 'live');
		const refused = await call(srv, admin, '/api/admin/workstreams/live', undefined, 'DELETE');
		expect(refused.status).toBe(409);
		expect(refused.body.error).toMatchObject({
			code: 'has_history',
			message: expect.stringMatching(/^1 conversation came through this workstream/)
		});
		expect((await call(srv, admin, '/api/admin/workstreams/live')).status).toBe(200);
	});
});

describe('admin API: queues, skills, agents (SPEC M2)', () => {
	it('manages skills and queues, refusing unknown skills and deleting only unused ones', async () => {
		const { srv, admin } = await setup();
		expect((await call(srv, admin, '/api/admin/skills', { name: 'spanish' })).status).toBe(200);
		const dup = await call(srv, admin, '/api/admin/skills', { name: 'spanish' });
		expect(dup.body.error?.fields).toEqual({ name: '"spanish" already exists.' });
		const cased = await call(srv, admin, '/api/admin/skills', { name: 'SPANISH' });
		expect(cased.body.error?.fields).toEqual({ name: '"SPANISH" is the skill "spanish" already.' });
		const spaces = await call(srv, admin, '/api/admin/skills', { name: 'two words' });
		expect(spaces.status).toBe(400);

		const bad = await call(srv, admin, '/api/admin/queues', {
			name: 'Spanish',
			skills: ['spanish', 'klingon'],
			offerTimeoutMs: null
		});
		expect(bad.body.error?.fields).toEqual({ skills: 'Unknown skill "klingon".' });
		const q = await call(srv, admin, '/api/admin/queues', {
			name: 'Spanish',
			skills: ['spanish'],
			offerTimeoutMs: 20_000
		});
		expect(q.status).toBe(200);
		const short = await call(
			srv,
			admin,
			`/api/admin/queues/${(q.body.queue as { id: string }).id}`,
			{ name: 'Spanish', skills: ['spanish'], offerTimeoutMs: 1000 },
			'PUT'
		);
		expect(short.body.error?.fields).toEqual({
			offerTimeoutMs: 'Give agents at least 5 seconds to accept.'
		});
		// One name per queue, whatever its case; a queue keeps its own name when edited.
		const twin = await call(srv, admin, '/api/admin/queues', {
			name: 'general',
			skills: [],
			offerTimeoutMs: null
		});
		expect(twin.body.error?.fields).toEqual({
			name: 'There is already a queue named "General": choose another name.'
		});
		const renamed = await call(
			srv,
			admin,
			`/api/admin/queues/${(q.body.queue as { id: string }).id}`,
			{ name: 'Spanish', skills: ['spanish'], offerTimeoutMs: 20_000 },
			'PUT'
		);
		expect(renamed.status).toBe(200);
		const inUse = await call(srv, admin, '/api/admin/skills/spanish', undefined, 'DELETE');
		expect(inUse.status).toBe(409);
		expect(inUse.body.error?.message).toMatch(/Spanish/);
		const skills = (await call(srv, admin, '/api/admin/skills')).body.skills;
		expect(skills).toContainEqual({ name: 'spanish', agents: 0, queues: 1 });
		expect(skills).toContainEqual({ name: 'chat', agents: 4, queues: 1 });
	});

	it('deletes a queue only when nothing uses it', async () => {
		const { srv, admin } = await setup();
		const del = (id: string) => call(srv, admin, `/api/admin/queues/${id}`, undefined, 'DELETE');
		// The demo queue: workstreams route into it.
		const general = await del(await queueId(srv));
		expect(general.status).toBe(409);
		expect(general.body.error).toMatchObject({ code: 'in_use' });
		expect(general.body.error?.message).toMatch(/workstream/);

		const made = async (name: string) =>
			(
				(await call(srv, admin, '/api/admin/queues', { name, skills: [], offerTimeoutMs: null }))
					.body.queue as { id: string }
			).id;
		// A trigger moves tickets into it.
		const target = await made('Escalations');
		const trigger = await call(srv, admin, '/api/admin/triggers', {
			name: 'Escalate reopened',
			conditions: [{ field: 'ticket_status', value: 'open' }],
			actions: [{ type: 'reassign_queue', queueId: target }]
		});
		expect(trigger.status).toBe(200);
		const byTrigger = await del(target);
		expect(byTrigger.status).toBe(409);
		expect(byTrigger.body.error?.message).toMatch(/trigger Escalate reopened/);

		// A conversation went through it: reports name it, so it stays.
		const past = await made('Old queue');
		const { conversationId } = await customerSession(srv.base, 'live', { name: 'Pat' });
		await srv.parley.repo.db
			.updateTable('conversations')
			.set({ queue_id: past })
			.where('id', '=', conversationId)
			.execute();
		const withHistory = await del(past);
		expect(withHistory.status).toBe(409);
		expect(withHistory.body.error).toMatchObject({ code: 'has_history' });
		expect(withHistory.body.error?.message).toMatch(/^1 conversation went through this queue/);

		const unused = await made('Mistake');
		expect((await del(unused)).status).toBe(200);
		expect((await del(unused)).status).toBe(404);
		const names = (
			(await call(srv, admin, '/api/admin/queues')).body.queues as { name: string }[]
		).map((q) => q.name);
		expect(names).not.toContain('Mistake');
		expect(names).toContain('Escalations');
	});

	it('creates, invites, resets and disables agents without losing their history', async () => {
		const { srv, admin } = await setup();
		const made = await call(srv, admin, '/api/admin/agents', {
			email: 'Dee@Example.com',
			name: 'Dee',
			role: 'agent',
			capacity: 2,
			skills: ['chat'],
			password: 'correct horse'
		});
		expect(made.status).toBe(200);
		const dee = made.body.agent as { id: string; email: string };
		expect(dee.email).toBe('dee@example.com');
		const deeLogin = await loginAgent(srv.base, 'dee@example.com', 'correct horse');

		const again = await call(srv, admin, '/api/admin/agents', {
			email: 'dee@example.com',
			name: 'Dee 2',
			role: 'agent',
			capacity: 2,
			skills: []
		});
		expect(again.body.error?.fields).toEqual({ email: 'An agent with this email already exists.' });
		const badCap = await call(srv, admin, '/api/admin/agents', {
			email: 'eve@example.com',
			name: 'Eve',
			role: 'agent',
			capacity: 0,
			skills: []
		});
		expect(badCap.body.error?.fields).toEqual({ capacity: 'Capacity is at least 1.' });
		const halfCap = await call(srv, admin, '/api/admin/agents', {
			email: 'eve@example.com',
			name: 'Eve',
			role: 'agent',
			capacity: 2.5,
			skills: []
		});
		expect(halfCap.body.error?.fields).toEqual({
			capacity: 'Capacity is a whole number of conversations.'
		});

		// An invitation: a temporary password by email (the local outbox without SMTP).
		const invited = await call(srv, admin, '/api/admin/agents', {
			email: 'fay@example.com',
			name: 'Fay',
			role: 'agent',
			capacity: 3,
			skills: ['chat']
		});
		expect(invited.body.invited).toBe(true);
		const outbox = await call(srv, admin, '/api/admin/outbox');
		const mail = (outbox.body.mails as { kind: string; to: string; body: string }[]).find(
			(m) => m.kind === 'invitation'
		);
		expect(mail?.to).toBe('fay@example.com');
		const temp = /temporary password: (\S+)/.exec(mail!.body)![1];
		const fay = await loginAgent(srv.base, 'fay@example.com', temp);
		const fayPhone = await loginAgent(srv.base, 'fay@example.com', temp);
		type MeReply = { agent: { mustChangePassword: boolean } };
		const meOf = (cookie: string) => api<MeReply>(srv.base, '/api/agent/me', { cookie });
		expect((await meOf(fay.cookie)).body.agent.mustChangePassword).toBe(true);

		// Fay chooses her own password: checked, then the other device signs in again.
		const change = (body: unknown) =>
			api<Reply>(srv.base, '/api/agent/password', { body, cookie: fay.cookie });
		expect(
			(await change({ current: 'wrong one', next: 'my own secret' })).body.error?.fields
		).toEqual({ current: 'This is not your current password.' });
		expect((await change({ current: temp, next: temp })).body.error?.fields).toEqual({
			next: 'Choose a password other than the current one.'
		});
		expect((await change({ current: temp, next: 'short' })).body.error?.fields).toEqual({
			next: 'Use at least 8 characters.'
		});
		expect((await change({ current: temp, next: 'my own secret' })).status).toBe(200);
		expect((await meOf(fay.cookie)).body.agent.mustChangePassword).toBe(false);
		expect((await meOf(fayPhone.cookie)).status).toBe(401);
		expect(
			(
				await api(srv.base, '/api/auth/login', {
					body: { email: 'fay@example.com', password: temp }
				})
			).status
		).toBe(401);
		await loginAgent(srv.base, 'fay@example.com', 'my own secret');
		// A password an admin typed is the admin's too: Dee is asked for her own as well.
		expect((await meOf(deeLogin.cookie)).body.agent.mustChangePassword).toBe(true);

		// Reset: a generated password shown once; the agent's sessions end.
		const reset = await call(srv, admin, `/api/admin/agents/${dee.id}/password`, {});
		const generated = reset.body.temporaryPassword as string;
		expect(generated.length).toBeGreaterThanOrEqual(12);
		expect((await api(srv.base, '/api/agent/me', { cookie: deeLogin.cookie })).status).toBe(401);
		const deeAgain = await loginAgent(srv.base, 'dee@example.com', generated);

		// Disable: no sign-in, sessions end; enabling again restores access.
		const self = await call(srv, admin, `/api/admin/agents/${admin.id}/disable`, {});
		expect(self.status).toBe(409);
		const off = await call(srv, admin, `/api/admin/agents/${dee.id}/disable`, {});
		expect(off.body.agent).toMatchObject({ disabled: true, presence: 'Offline' });
		expect((await api(srv.base, '/api/agent/me', { cookie: deeAgain.cookie })).status).toBe(401);
		const refused = await api<Reply>(srv.base, '/api/auth/login', {
			body: { email: 'dee@example.com', password: generated }
		});
		expect(refused.status).toBe(403);
		expect(refused.body.error?.code).toBe('account_disabled');
		const list = (await call(srv, admin, '/api/admin/agents')).body.agents as { id: string }[];
		expect(list.some((a) => a.id === dee.id)).toBe(true);
		await call(srv, admin, `/api/admin/agents/${dee.id}/enable`, {});
		await loginAgent(srv.base, 'dee@example.com', generated);
	});
});

describe('admin API: templates and triggers (SPEC M2)', () => {
	it('refuses unknown template parameters and manages templates', async () => {
		const { srv, admin, ana } = await setup();
		const bad = await call(srv, admin, '/api/admin/templates', {
			name: 'Bad',
			text: 'Hi <customer.nickname>'
		});
		expect(bad.body.error?.fields).toEqual({
			text: 'Unknown parameter <customer.nickname>. Use one of the listed parameters.'
		});
		const t = await call(srv, admin, '/api/admin/templates', {
			name: 'Refund',
			text: 'Hi <customer.name>, the refund is on its way.'
		});
		const id = (t.body.template as { id: string }).id;
		await call(
			srv,
			admin,
			`/api/admin/templates/${id}`,
			{ name: 'Refund sent', text: 'Done.' },
			'PUT'
		);
		const seen = await call(srv, ana, '/api/agent/templates');
		expect(seen.body.templates).toContainEqual({ id, name: 'Refund sent', text: 'Done.' });
		// Text agents could never send, and a second template of the same name, are refused.
		for (const text of ['Thanks <3', 'a -> b'])
			expect(
				(await call(srv, admin, '/api/admin/templates', { name: 'Other', text })).body.error?.fields
			).toEqual({
				text: 'Agents cannot send < or > (they mark parameters such as <customer.name>): write the text without them.'
			});
		const twin = await call(srv, admin, '/api/admin/templates', { name: 'refund SENT', text: 'x' });
		expect(twin.status).toBe(400);
		expect(twin.body.error?.fields).toEqual({
			name: 'There is already a template named "Refund sent": choose another name.'
		});
		// Saving a template under its own name (another case) is fine.
		expect(
			(
				await call(
					srv,
					admin,
					`/api/admin/templates/${id}`,
					{ name: 'Refund Sent', text: 'Done.' },
					'PUT'
				)
			).status
		).toBe(200);
		expect((await call(srv, admin, `/api/admin/templates/${id}`, undefined, 'DELETE')).status).toBe(
			200
		);
		expect((await call(srv, admin, `/api/admin/templates/${id}`, undefined, 'DELETE')).status).toBe(
			404
		);
	});

	it('validates triggers and keeps their order', async () => {
		const { srv, admin } = await setup();
		const none = await call(srv, admin, '/api/admin/triggers', {
			name: 'Empty',
			conditions: [],
			actions: []
		});
		expect(none.body.error?.fields).toEqual({
			conditions: 'Add at least one condition.',
			actions: 'Add at least one action.'
		});
		const badQueue = await call(srv, admin, '/api/admin/triggers', {
			name: 'Move',
			conditions: [{ field: 'ticket_status', value: 'pending' }],
			actions: [{ type: 'reassign_queue', queueId: 'q_nope' }]
		});
		expect(badQueue.body.error?.fields).toEqual({
			'actions.0.queueId': 'Choose one of the queues.'
		});
		const ok = await call(srv, admin, '/api/admin/triggers', {
			name: 'Tag solved email',
			conditions: [
				{ field: 'ticket_status', value: 'solved' },
				{ field: 'channel', value: 'email' }
			],
			actions: [{ type: 'add_tag', tag: 'email-solved' }]
		});
		expect(ok.status).toBe(200);
		const list = (await call(srv, admin, '/api/admin/triggers')).body.triggers as {
			name: string;
			position: number;
		}[];
		expect(list.map((t) => t.name)).toEqual([
			'Send CSAT when a messaging session is ended by an agent',
			'Tag solved email'
		]);
		expect(list[1].position).toBeGreaterThan(list[0].position);
	});
});
