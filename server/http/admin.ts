/**
 * The admin console's API (`/api/admin/...`, SPEC M1–M3, P3): workstreams with every setting,
 * queues, skills, agents, templates, triggers, API keys, webhooks and reports. Every route
 * checks the admin role itself. Invalid settings are refused with a message per field.
 */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { sql } from 'kysely';
import { stringify as csvStringify } from 'csv-stringify/sync';
import type { ApiDeps } from './api';
import { HttpError, PASSWORD, invalid, parse, queryOf, readJson, type Route } from './common';
import { newId, triggerOf, type Workstream } from '../repo';
import { hashPassword } from '../auth/passwords';
import { hashApiKey } from './v1';
import { checkWebhookTarget } from '../webhook-target';
import { parseHours } from '../../src/lib/domain/hours';
import {
	WorkstreamSettingsSchema,
	type WorkstreamSettings
} from '../../src/lib/domain/workstream-settings';
import { hasStrayBrackets, unknownParameters } from '../../src/lib/domain/template';
import { TriggerSchema } from '../../src/lib/domain/triggers';
import { WEBHOOK_EVENTS } from '../../src/lib/domain/webhook-events';
import {
	CONVERSATION_STYLES,
	isConversationStyle,
	solvedDelayProblem,
	solvedToClosedMs
} from '../../src/lib/domain/conversation-style';
import {
	ReportQuerySchema,
	computeReport,
	reportCsvRows,
	reportRange
} from '../../src/lib/domain/reports';

const ID = '([A-Za-z0-9_-]+)';
const SKILL = z
	.string()
	.trim()
	.min(1, 'A skill needs a name.')
	.max(40, 'Keep skill names under 40 characters.')
	.regex(/^[\p{L}\p{N}_-]+$/u, 'Skills use letters, digits, - and _ (no spaces).');

const QueueSchema = z.object({
	name: z.string().trim().min(1, 'Give the queue a name.').max(80),
	skills: z.array(SKILL).max(20),
	/** Null: the server's default offer timeout. */
	offerTimeoutMs: z
		.number()
		.int()
		.min(5_000, 'Give agents at least 5 seconds to accept.')
		.max(30 * 60_000, 'Offer timeouts are at most 30 minutes.')
		.nullable()
});
const AgentSchema = z.object({
	name: z.string().trim().min(1, 'Enter the agent’s name.').max(80),
	role: z.enum(['agent', 'admin'], { error: 'Choose agent or admin.' }),
	capacity: z
		.number({ error: 'Enter a capacity.' })
		.int('Capacity is a whole number of conversations.')
		.min(1, 'Capacity is at least 1.')
		.max(50, 'Capacity is at most 50.'),
	skills: z.array(SKILL).max(20)
});
const NewAgentSchema = AgentSchema.extend({
	email: z.string().trim().toLowerCase().email('Enter a valid email address.').max(320),
	/** Omitted: an invitation with a temporary password is emailed. */
	password: PASSWORD.optional()
});
const TemplateSchema = z.object({
	name: z.string().trim().min(1, 'Give the template a name.').max(80),
	text: z
		.string()
		.trim()
		.min(1, 'Write the template text.')
		.max(2000, 'Keep templates under 2000 characters.')
});
const WebhookSchema = z.object({
	url: z
		.string()
		.trim()
		.url('Enter a full URL (https://…).')
		.max(2000)
		.refine((u) => /^https?:\/\//.test(u), 'Use an http:// or https:// URL.'),
	events: z.array(z.enum(WEBHOOK_EVENTS)).min(1, 'Choose at least one event.'),
	active: z.boolean().default(true)
});

export interface AdminAuth {
	requireAdmin(req: IncomingMessage): Promise<{ id: string; principal: string }>;
}

export function adminRoutes(deps: ApiDeps, auth: AdminAuth): Route[] {
	const { repo, clock, log } = deps;
	const db = repo.db;
	const { requireAdmin } = auth;

	async function workstream(slug: string) {
		const ws = await repo.workstreamBySlug(slug);
		if (!ws) throw new HttpError(404, 'not_found', `No workstream "${slug}".`);
		return ws;
	}

	async function checkSkills(skills: string[], field = 'skills') {
		if (skills.length === 0) return;
		const known = new Set(
			(await db.selectFrom('skills').select('name').where('name', 'in', skills).execute()).map(
				(s) => s.name
			)
		);
		const unknown = skills.filter((s) => !known.has(s));
		if (unknown.length)
			throw invalid({ [field]: `Unknown skill ${unknown.map((s) => `"${s}"`).join(', ')}.` });
	}

	/**
	 * Queue and template names are told apart without regard to case: two "General" queues, or
	 * three "Greeting" templates, confuse everyone. `id`: the row being edited.
	 */
	async function checkUniqueName(table: 'queues' | 'templates', name: string, id: string | null) {
		const same = await db
			.selectFrom(table)
			.select(['id', 'name'])
			.where(sql<string>`lower(name)`, '=', name.toLowerCase())
			.execute();
		const other = same.find((row) => row.id !== id);
		if (other)
			throw invalid({
				name: `There is already a ${table === 'queues' ? 'queue' : 'template'} named "${other.name}": choose another name.`
			});
	}

	async function checkWebhookUrl(url: string) {
		const refused = await checkWebhookTarget(url, deps.config.webhookTargets);
		if (refused) throw invalid({ url: refused });
	}

	async function checkQueue(queueId: string) {
		if (!(await repo.queueById(queueId))) throw invalid({ queueId: 'Choose one of the queues.' });
	}

	const snippet = (req: IncomingMessage, slug: string) =>
		`<script src="${publicBase(deps, req)}/widget.js" data-workstream="${slug}" async></script>`;

	async function workstreamDetails(req: IncomingMessage, ws: Workstream) {
		const revoked = await db
			.selectFrom('workstream_secrets')
			.select(['hint', 'created_at', 'revoked_at'])
			.where('workstream_id', '=', ws.id)
			.orderBy('revoked_at', 'desc')
			.execute();
		return {
			workstream: { id: ws.id, ...settingsOf(ws) },
			secret: ws.secret,
			revokedSecrets: revoked.map((r) => ({
				hint: r.hint,
				createdAt: Number(r.created_at),
				revokedAt: Number(r.revoked_at)
			})),
			snippet: snippet(req, ws.slug)
		};
	}

	async function agentRow(id: string) {
		const a = await repo.agentById(id);
		if (!a) throw new HttpError(404, 'not_found', 'No such agent.');
		return a;
	}

	/** Ends every sign-in of an agent and closes their sockets. */
	async function signOutEverywhere(agentId: string, reason: string) {
		await db.deleteFrom('auth_sessions').where('agent_id', '=', agentId).execute();
		deps.disconnect(`agent:${agentId}`, reason);
	}

	/** Every agent and queue with its skills (skills are JSON arrays on both). */
	async function skillHolders() {
		const [agents, queues] = await Promise.all([
			db.selectFrom('agents').select(['name', 'skills']).execute(),
			db.selectFrom('queues').select(['name', 'skills']).execute()
		]);
		return [
			...agents.map((a) => ({
				kind: 'agent' as const,
				name: a.name,
				skills: JSON.parse(a.skills) as string[]
			})),
			...queues.map((q) => ({
				kind: 'queue' as const,
				name: q.name,
				skills: JSON.parse(q.skills) as string[]
			}))
		];
	}

	const tempPassword = () => randomBytes(9).toString('base64url');

	return [
		// ---- workstreams (M1) -------------------------------------------------------------
		[
			'GET',
			/^\/api\/admin\/workstreams$/,
			async (req) => {
				await requireAdmin(req);
				const rows = await db.selectFrom('workstreams').selectAll().orderBy('name').execute();
				return { workstreams: rows.map((ws) => ({ id: ws.id, ...settingsOf(ws) })) };
			}
		],
		[
			'POST',
			/^\/api\/admin\/workstreams$/,
			async (req) => {
				const me = await requireAdmin(req);
				const s = parse(WorkstreamSettingsSchema, await readJson(req));
				await checkQueue(s.queueId);
				if (await repo.workstreamBySlug(s.slug))
					throw invalid({ slug: `"${s.slug}" is taken: choose another.` });
				const id = newId('ws');
				await db
					.insertInto('workstreams')
					.values({
						id,
						...columnsOf(s),
						secret: newSecret(),
						created_at: clock.now()
					})
					.execute();
				log.info({ workstream: id, slug: s.slug, by: me.principal }, 'workstream created');
				return workstreamDetails(req, (await repo.workstreamById(id))!);
			}
		],
		[
			'GET',
			new RegExp(`^/api/admin/workstreams/${ID}$`),
			async (req, _res, [slug]) => {
				await requireAdmin(req);
				return workstreamDetails(req, await workstream(slug));
			}
		],
		[
			'PUT',
			new RegExp(`^/api/admin/workstreams/${ID}$`),
			async (req, _res, [slug]) => {
				const me = await requireAdmin(req);
				const ws = await workstream(slug);
				const s = parse(WorkstreamSettingsSchema, await readJson(req));
				await checkQueue(s.queueId);
				if (s.slug !== ws.slug && (await repo.workstreamBySlug(s.slug)))
					throw invalid({ slug: `"${s.slug}" is taken: choose another.` });
				await db.updateTable('workstreams').set(columnsOf(s)).where('id', '=', ws.id).execute();
				log.info({ workstream: ws.id, by: me.principal }, 'workstream updated');
				return workstreamDetails(req, (await repo.workstreamById(ws.id))!);
			}
		],
		[
			'POST',
			new RegExp(`^/api/admin/workstreams/${ID}/rotate-secret$`),
			async (req, _res, [slug]) => {
				const me = await requireAdmin(req);
				const ws = await workstream(slug);
				const now = clock.now();
				await db.transaction().execute(async (trx) => {
					await trx
						.insertInto('workstream_secrets')
						.values({
							id: newId('wss'),
							workstream_id: ws.id,
							hint: secretHint(ws.secret),
							created_at: ws.created_at,
							revoked_at: now
						})
						.execute();
					await trx
						.updateTable('workstreams')
						.set({ secret: newSecret() })
						.where('id', '=', ws.id)
						.execute();
				});
				log.warn({ workstream: ws.id, by: me.principal }, 'widget secret rotated');
				return workstreamDetails(req, (await repo.workstreamById(ws.id))!);
			}
		],
		[
			'DELETE',
			new RegExp(`^/api/admin/workstreams/${ID}$`),
			async (req, _res, [slug]) => {
				const me = await requireAdmin(req);
				const ws = await workstream(slug);
				// Only a workstream no customer ever used: its conversations and customers stay for
				// their history and reports (to stop new chats, take its snippet off the host site).
				const [conversations, customers] = await Promise.all(
					(['conversations', 'customers'] as const).map((table) =>
						db
							.selectFrom(table)
							.select(db.fn.countAll<number>().as('n'))
							.where('workstream_id', '=', ws.id)
							.executeTakeFirstOrThrow()
							.then((r) => Number(r.n))
					)
				);
				if (conversations > 0 || customers > 0)
					throw new HttpError(
						409,
						'has_history',
						conversations > 0
							? `${conversations} conversation${conversations === 1 ? '' : 's'} came through this workstream and their history and reports keep it; take its snippet off host sites instead.`
							: `${customers} customer${customers === 1 ? '' : 's'} signed in through this workstream and keep it; take its snippet off host sites instead.`
					);
				await db.transaction().execute(async (trx) => {
					await trx.deleteFrom('workstream_secrets').where('workstream_id', '=', ws.id).execute();
					await trx.deleteFrom('workstreams').where('id', '=', ws.id).execute();
				});
				log.warn({ workstream: ws.id, slug: ws.slug, by: me.principal }, 'workstream deleted');
				return { ok: true };
			}
		],

		/** Kept from before the console: the style and its delay alone. */
		[
			'POST',
			/^\/api\/admin\/workstreams\/([A-Za-z0-9_-]+)\/style$/,
			async (req, _res, [slug]) => {
				await requireAdmin(req);
				const ws = await workstream(slug);
				const body = parse(
					z.object({
						style: z.enum(CONVERSATION_STYLES, { error: 'Choose a conversation style.' }),
						/** Solved → Closed in ms; null: the style's default. */
						solvedCloseMs: z.number().int().nonnegative().nullable().optional()
					}),
					await readJson(req)
				);
				const delay = body.solvedCloseMs ?? null;
				const problem = delay === null ? null : solvedDelayProblem(body.style, delay);
				if (problem) throw invalid({ solvedCloseMs: problem });
				await db
					.updateTable('workstreams')
					.set({ style: body.style, solved_close_ms: delay })
					.where('id', '=', ws.id)
					.execute();
				log.info({ workstream: ws.id, style: body.style, solvedCloseMs: delay }, 'style set');
				return {
					style: body.style,
					solvedCloseMs: delay,
					effectiveSolvedCloseMs: solvedToClosedMs(body.style, delay)
				};
			}
		],
		// ---- queues and skills (M2) -------------------------------------------------------
		[
			'GET',
			/^\/api\/admin\/queues$/,
			async (req) => {
				await requireAdmin(req);
				const queues = await db.selectFrom('queues').selectAll().orderBy('name').execute();
				const used = await db.selectFrom('workstreams').select(['queue_id', 'name']).execute();
				return {
					defaultOfferTimeoutMs: deps.config.offerTimeoutMs,
					queues: queues.map((q) => ({
						id: q.id,
						name: q.name,
						skills: JSON.parse(q.skills) as string[],
						offerTimeoutMs: q.offer_timeout_ms === null ? null : Number(q.offer_timeout_ms),
						workstreams: used.filter((w) => w.queue_id === q.id).map((w) => w.name)
					}))
				};
			}
		],
		[
			'POST',
			/^\/api\/admin\/queues$/,
			async (req) => {
				await requireAdmin(req);
				const q = parse(QueueSchema, await readJson(req));
				await checkUniqueName('queues', q.name, null);
				await checkSkills(q.skills);
				const id = newId('q');
				await db
					.insertInto('queues')
					.values({
						id,
						name: q.name,
						skills: JSON.stringify(q.skills),
						offer_timeout_ms: q.offerTimeoutMs,
						created_at: clock.now()
					})
					.execute();
				return { queue: { id, ...q } };
			}
		],
		[
			'PUT',
			new RegExp(`^/api/admin/queues/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const q = parse(QueueSchema, await readJson(req));
				await checkUniqueName('queues', q.name, id);
				await checkSkills(q.skills);
				const r = await db
					.updateTable('queues')
					.set({
						name: q.name,
						skills: JSON.stringify(q.skills),
						offer_timeout_ms: q.offerTimeoutMs
					})
					.where('id', '=', id)
					.executeTakeFirst();
				found(r.numUpdatedRows, 'No such queue.');
				deps.conversations.drainQueue().catch((err) => log.warn({ err }, 'routing after edit'));
				return { queue: { id, ...q } };
			}
		],
		[
			'DELETE',
			new RegExp(`^/api/admin/queues/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				// Only a queue nothing refers to: workstreams route into it, triggers move tickets to
				// it, and conversations keep it for reports (rename such a queue instead).
				const [workstreams, triggers, history] = await Promise.all([
					db.selectFrom('workstreams').select('name').where('queue_id', '=', id).execute(),
					db.selectFrom('triggers').selectAll().execute(),
					db
						.selectFrom('conversations')
						.select(db.fn.countAll<number>().as('n'))
						.where('queue_id', '=', id)
						.executeTakeFirstOrThrow()
				]);
				const usedBy = [
					...workstreams.map((w) => `workstream ${w.name}`),
					...triggers
						.map(triggerOf)
						.filter((t) => t.actions.some((a) => a.type === 'reassign_queue' && a.queueId === id))
						.map((t) => `trigger ${t.name}`)
				];
				if (usedBy.length)
					throw new HttpError(
						409,
						'in_use',
						`This queue is still used by ${usedBy.join(', ')}. Change those first.`
					);
				const n = Number(history.n);
				if (n > 0)
					throw new HttpError(
						409,
						'has_history',
						`${n} conversation${n === 1 ? '' : 's'} went through this queue and reports show it; rename it instead.`
					);
				const r = await db.deleteFrom('queues').where('id', '=', id).executeTakeFirst();
				found(r.numDeletedRows, 'No such queue.');
				return { ok: true };
			}
		],
		[
			'GET',
			/^\/api\/admin\/skills$/,
			async (req) => {
				await requireAdmin(req);
				const skills = await db.selectFrom('skills').select('name').orderBy('name').execute();
				const holders = await skillHolders();
				const count = (kind: 'agent' | 'queue', s: string) =>
					holders.filter((h) => h.kind === kind && h.skills.includes(s)).length;
				return {
					skills: skills.map(({ name }) => ({
						name,
						agents: count('agent', name),
						queues: count('queue', name)
					}))
				};
			}
		],
		[
			'POST',
			/^\/api\/admin\/skills$/,
			async (req) => {
				await requireAdmin(req);
				const { name } = parse(z.object({ name: SKILL }), await readJson(req));
				const same = await db
					.selectFrom('skills')
					.select('name')
					.where(sql<string>`lower(name)`, '=', name.toLowerCase())
					.where('name', '!=', name)
					.executeTakeFirst();
				if (same) throw invalid({ name: `"${name}" is the skill "${same.name}" already.` });
				const r = await db
					.insertInto('skills')
					.values({ name, created_at: clock.now() })
					.onConflict((oc) => oc.column('name').doNothing())
					.executeTakeFirst();
				if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0)
					throw invalid({ name: `"${name}" already exists.` });
				return { skill: { name, agents: 0, queues: 0 } };
			}
		],
		[
			'DELETE',
			/^\/api\/admin\/skills\/([^/]+)$/,
			async (req, _res, [encoded]) => {
				await requireAdmin(req);
				const name = decodeURIComponent(encoded);
				const inUse = (await skillHolders()).filter((h) => h.skills.includes(name));
				if (inUse.length)
					throw new HttpError(
						409,
						'in_use',
						`"${name}" is still used by ${inUse.map((r) => r.name).join(', ')}. Remove it there first.`
					);
				const r = await db.deleteFrom('skills').where('name', '=', name).executeTakeFirst();
				found(r.numDeletedRows, 'No such skill.');
				return { ok: true };
			}
		],

		// ---- agents (M2) ------------------------------------------------------------------
		[
			'GET',
			/^\/api\/admin\/agents$/,
			async (req) => {
				await requireAdmin(req);
				const agents = await db.selectFrom('agents').selectAll().orderBy('name').execute();
				return { agents: agents.map(adminAgentView) };
			}
		],
		[
			'POST',
			/^\/api\/admin\/agents$/,
			async (req) => {
				const me = await requireAdmin(req);
				const a = parse(NewAgentSchema, await readJson(req));
				await checkSkills(a.skills);
				if (await repo.agentByEmail(a.email))
					throw invalid({ email: 'An agent with this email already exists.' });
				const password = a.password ?? tempPassword();
				const now = clock.now();
				const id = newId('ag');
				await db
					.insertInto('agents')
					.values({
						id,
						email: a.email,
						name: a.name,
						password_hash: await hashPassword(password),
						// Set by an admin: the agent chooses their own at the first sign-in.
						password_temporary: 1,
						role: a.role,
						capacity: a.capacity,
						presence: 'Offline',
						presence_since: now,
						skills: JSON.stringify(a.skills),
						idle_since: now,
						created_at: now
					})
					.execute();
				if (!a.password)
					await deps.mailer.queue({
						kind: 'invitation',
						conversationId: null,
						to: a.email,
						subject: 'You are invited to Parley',
						body: `Hi ${a.name},\n\nYou can now sign in to the agent workspace at ${publicBase(deps, req)}/agent\nwith ${a.email} and this temporary password: ${password}\n\nPlease keep it private.`
					});
				log.info({ agent: id, by: me.principal, invited: !a.password }, 'agent created');
				return { agent: adminAgentView((await repo.agentById(id))!), invited: !a.password };
			}
		],
		[
			'PUT',
			new RegExp(`^/api/admin/agents/${ID}$`),
			async (req, _res, [id]) => {
				const me = await requireAdmin(req);
				const a = parse(AgentSchema, await readJson(req));
				await agentRow(id);
				await checkSkills(a.skills);
				if (id === me.id && a.role !== 'admin')
					throw invalid({ role: 'You cannot remove your own admin role.' });
				await db
					.updateTable('agents')
					.set({
						name: a.name,
						role: a.role,
						capacity: a.capacity,
						skills: JSON.stringify(a.skills)
					})
					.where('id', '=', id)
					.execute();
				deps.conversations.drainQueue().catch((err) => log.warn({ err }, 'routing after edit'));
				return { agent: adminAgentView(await agentRow(id)) };
			}
		],
		[
			'POST',
			new RegExp(`^/api/admin/agents/${ID}/password$`),
			async (req, _res, [id]) => {
				const me = await requireAdmin(req);
				const agent = await agentRow(id);
				const body = parse(z.object({ password: PASSWORD.optional() }), await readJson(req));
				const password = body.password ?? tempPassword();
				await db
					.updateTable('agents')
					.set({ password_hash: await hashPassword(password), password_temporary: 1 })
					.where('id', '=', id)
					.execute();
				if (id !== me.id) await signOutEverywhere(id, 'password reset');
				log.warn({ agent: id, by: me.principal }, 'password reset');
				// A generated password is shown once, to the admin who reset it.
				return {
					agent: adminAgentView(agent),
					temporaryPassword: body.password ? null : password
				};
			}
		],
		[
			'POST',
			new RegExp(`^/api/admin/agents/${ID}/(disable|enable)$`),
			async (req, _res, [id, action]) => {
				const me = await requireAdmin(req);
				await agentRow(id);
				if (action === 'disable') {
					if (id === me.id)
						throw new HttpError(409, 'conflict', 'You cannot disable your own account.');
					await deps.conversations.setPresence(id, 'Offline');
					await db
						.updateTable('agents')
						.set({ disabled_at: clock.now() })
						.where('id', '=', id)
						.execute();
					await signOutEverywhere(id, 'account disabled');
				} else
					await db.updateTable('agents').set({ disabled_at: null }).where('id', '=', id).execute();
				log.warn({ agent: id, by: me.principal }, `agent ${action}d`);
				return { agent: adminAgentView(await agentRow(id)) };
			}
		],

		// ---- templates and triggers (M2) --------------------------------------------------
		[
			'GET',
			/^\/api\/admin\/templates$/,
			async (req) => {
				await requireAdmin(req);
				return { templates: await repo.templates() };
			}
		],
		[
			'POST',
			/^\/api\/admin\/templates$/,
			async (req) => {
				await requireAdmin(req);
				const t = await templateInput(req, null);
				const id = newId('tp');
				await db
					.insertInto('templates')
					.values({ id, ...t, created_at: clock.now() })
					.execute();
				return { template: { id, ...t } };
			}
		],
		[
			'PUT',
			new RegExp(`^/api/admin/templates/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const t = await templateInput(req, id);
				const r = await db.updateTable('templates').set(t).where('id', '=', id).executeTakeFirst();
				found(r.numUpdatedRows, 'No such template.');
				return { template: { id, ...t } };
			}
		],
		[
			'DELETE',
			new RegExp(`^/api/admin/templates/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const r = await db.deleteFrom('templates').where('id', '=', id).executeTakeFirst();
				found(r.numDeletedRows, 'No such template.');
				return { ok: true };
			}
		],
		[
			'GET',
			/^\/api\/admin\/triggers$/,
			async (req) => {
				await requireAdmin(req);
				const rows = await db.selectFrom('triggers').selectAll().orderBy('position').execute();
				return { triggers: rows.map(triggerOf) };
			}
		],
		[
			'POST',
			/^\/api\/admin\/triggers$/,
			async (req) => {
				await requireAdmin(req);
				const t = await triggerInput(req);
				const last = await db
					.selectFrom('triggers')
					.select((eb) => eb.fn.max('position').as('p'))
					.executeTakeFirst();
				const id = newId('tr');
				const position = Number(last?.p ?? -1) + 1;
				await db
					.insertInto('triggers')
					.values({
						id,
						name: t.name,
						position,
						active: t.active ? 1 : 0,
						conditions: JSON.stringify(t.conditions),
						actions: JSON.stringify(t.actions),
						created_at: clock.now()
					})
					.execute();
				return { trigger: { id, position, ...t } };
			}
		],
		[
			'PUT',
			new RegExp(`^/api/admin/triggers/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const t = await triggerInput(req);
				const r = await db
					.updateTable('triggers')
					.set({
						name: t.name,
						active: t.active ? 1 : 0,
						conditions: JSON.stringify(t.conditions),
						actions: JSON.stringify(t.actions)
					})
					.where('id', '=', id)
					.executeTakeFirst();
				found(r.numUpdatedRows, 'No such trigger.');
				return { trigger: { id, ...t } };
			}
		],
		[
			'DELETE',
			new RegExp(`^/api/admin/triggers/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const r = await db.deleteFrom('triggers').where('id', '=', id).executeTakeFirst();
				found(r.numDeletedRows, 'No such trigger.');
				return { ok: true };
			}
		],

		// ---- integrations (P3) ------------------------------------------------------------
		[
			'GET',
			/^\/api\/admin\/api-keys$/,
			async (req) => {
				await requireAdmin(req);
				const keys = await db
					.selectFrom('api_keys')
					.selectAll()
					.orderBy('created_at', 'desc')
					.execute();
				return { apiKeys: keys.map(apiKeyView) };
			}
		],
		[
			'POST',
			/^\/api\/admin\/api-keys$/,
			async (req) => {
				const me = await requireAdmin(req);
				const { name } = parse(
					z.object({ name: z.string().trim().min(1, 'Name the key (who uses it).').max(80) }),
					await readJson(req)
				);
				const key = `pk_${randomBytes(24).toString('base64url')}`;
				const row = {
					id: newId('key'),
					name,
					hash: hashApiKey(key),
					hint: key.slice(-4),
					created_by: me.principal,
					created_at: clock.now(),
					last_used_at: null,
					revoked_at: null
				};
				await db.insertInto('api_keys').values(row).execute();
				log.info({ apiKey: row.id, by: me.principal }, 'API key created');
				// The key itself is returned once; only its hash is stored.
				return { apiKey: apiKeyView(row), key };
			}
		],
		[
			'POST',
			new RegExp(`^/api/admin/api-keys/${ID}/revoke$`),
			async (req, _res, [id]) => {
				const me = await requireAdmin(req);
				const r = await db
					.updateTable('api_keys')
					.set({ revoked_at: clock.now() })
					.where('id', '=', id)
					.where('revoked_at', 'is', null)
					.executeTakeFirst();
				const row = await db
					.selectFrom('api_keys')
					.selectAll()
					.where('id', '=', id)
					.executeTakeFirst();
				if (!row) throw new HttpError(404, 'not_found', 'No such API key.');
				if (Number(r.numUpdatedRows) > 0)
					log.warn({ apiKey: id, by: me.principal }, 'API key revoked');
				return { apiKey: apiKeyView(row) };
			}
		],
		[
			'GET',
			/^\/api\/admin\/webhooks$/,
			async (req) => {
				await requireAdmin(req);
				const hooks = await db.selectFrom('webhooks').selectAll().orderBy('created_at').execute();
				return { webhooks: hooks.map(webhookView), events: WEBHOOK_EVENTS };
			}
		],
		[
			'POST',
			/^\/api\/admin\/webhooks$/,
			async (req) => {
				await requireAdmin(req);
				const w = parse(WebhookSchema, await readJson(req));
				await checkWebhookUrl(w.url);
				const row = {
					id: newId('wh'),
					url: w.url,
					events: JSON.stringify(w.events),
					secret: `whsec_${randomBytes(24).toString('base64url')}`,
					active: w.active ? 1 : 0,
					created_at: clock.now()
				};
				await db.insertInto('webhooks').values(row).execute();
				return { webhook: webhookView(row) };
			}
		],
		[
			'PUT',
			new RegExp(`^/api/admin/webhooks/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const w = parse(WebhookSchema, await readJson(req));
				await checkWebhookUrl(w.url);
				const r = await db
					.updateTable('webhooks')
					.set({ url: w.url, events: JSON.stringify(w.events), active: w.active ? 1 : 0 })
					.where('id', '=', id)
					.executeTakeFirst();
				found(r.numUpdatedRows, 'No such webhook.');
				const row = await db
					.selectFrom('webhooks')
					.selectAll()
					.where('id', '=', id)
					.executeTakeFirstOrThrow();
				return { webhook: webhookView(row) };
			}
		],
		[
			'DELETE',
			new RegExp(`^/api/admin/webhooks/${ID}$`),
			async (req, _res, [id]) => {
				await requireAdmin(req);
				const r = await db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
				found(r.numDeletedRows, 'No such webhook.');
				return { ok: true };
			}
		],
		[
			'GET',
			/^\/api\/admin\/webhook-deliveries$/,
			async (req) => {
				await requireAdmin(req);
				const q = queryOf(req);
				let query = db
					.selectFrom('webhook_deliveries')
					// A deleted webhook's deliveries stay in the log (url null).
					.leftJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
					.select([
						'webhook_deliveries.id',
						'webhook_deliveries.webhook_id',
						'webhooks.url',
						'webhook_deliveries.event_id',
						'webhook_deliveries.event_type',
						'webhook_deliveries.status',
						'webhook_deliveries.attempts',
						'webhook_deliveries.response_status',
						'webhook_deliveries.error',
						'webhook_deliveries.next_attempt_at',
						'webhook_deliveries.created_at',
						'webhook_deliveries.delivered_at'
					])
					.orderBy('webhook_deliveries.created_at', 'desc')
					.limit(200);
				if (q.webhook) query = query.where('webhook_deliveries.webhook_id', '=', q.webhook);
				const rows = await query.execute();
				return {
					deliveries: rows.map((d) => ({
						id: d.id,
						webhookId: d.webhook_id,
						url: d.url,
						eventId: d.event_id,
						event: d.event_type,
						status: d.status,
						attempts: d.attempts,
						responseStatus: d.response_status,
						error: d.error,
						nextAttemptAt: d.next_attempt_at === null ? null : Number(d.next_attempt_at),
						createdAt: Number(d.created_at),
						deliveredAt: d.delivered_at === null ? null : Number(d.delivered_at)
					}))
				};
			}
		],

		// ---- reports (M3) -----------------------------------------------------------------
		[
			'GET',
			/^\/api\/admin\/reports(\.csv)?$/,
			async (req, res, [csv]) => {
				await requireAdmin(req);
				const q = parse(ReportQuerySchema, queryOf(req));
				const range = reportRange(q);
				const report = await buildReport(range.from, range.to, q.tz ?? 'UTC', q.queue, q.agent);
				if (!csv) return { report };
				const body = csvStringify(reportCsvRows(report));
				// The file's name says which filters made it.
				const slug = (name: string | undefined) =>
					name
						? `-${name
								.toLowerCase()
								.replace(/[^a-z0-9]+/g, '-')
								.replace(/^-|-$/g, '')}`
						: '';
				const filters =
					(q.queue ? slug((await repo.queueById(q.queue))?.name ?? 'queue') : '') +
					(q.agent ? slug((await repo.agentById(q.agent))?.name ?? 'agent') : '');
				res.writeHead(200, {
					'content-type': 'text/csv; charset=utf-8',
					'content-disposition': `attachment; filename="parley-report-${q.from}-to-${q.to}${filters}.csv"`,
					'cache-control': 'no-store'
				});
				res.end(body);
				return undefined;
			}
		],

		// ---- mail outbox (P4) and the older style endpoint --------------------------------
		[
			'GET',
			/^\/api\/admin\/outbox$/,
			async (req) => {
				await requireAdmin(req);
				const mails = await deps.mailer.list(200);
				return {
					smtp: deps.mailer.smtp,
					mails: mails.map((m) => ({
						id: m.id,
						kind: m.kind,
						conversationId: m.conversation_id,
						to: m.to_address,
						subject: m.subject,
						body: m.body,
						status: m.status,
						attempts: m.attempts,
						error: m.error,
						createdAt: Number(m.created_at),
						sentAt: m.sent_at === null ? null : Number(m.sent_at)
					}))
				};
			}
		]
	];

	/** A template to store (`id`: the one being edited): one name per template, whatever its case. */
	async function templateInput(req: IncomingMessage, id: string | null) {
		const t = parse(TemplateSchema, await readJson(req));
		const unknown = unknownParameters(t.text);
		if (unknown.length)
			throw invalid({
				text: `Unknown parameter ${unknown.map((u) => `<${u}>`).join(', ')}. Use one of the listed parameters.`
			});
		if (hasStrayBrackets(t.text))
			throw invalid({
				text: 'Agents cannot send < or > (they mark parameters such as <customer.name>): write the text without them.'
			});
		await checkUniqueName('templates', t.name, id);
		return t;
	}

	async function triggerInput(req: IncomingMessage) {
		const t = parse(TriggerSchema, await readJson(req));
		for (const [i, a] of t.actions.entries()) {
			if (a.type === 'reassign_queue' && !(await repo.queueById(a.queueId)))
				throw invalid({ [`actions.${i}.queueId`]: 'Choose one of the queues.' });
			if (a.type === 'reassign_agent' && !(await repo.agentById(a.agentId)))
				throw invalid({ [`actions.${i}.agentId`]: 'Choose one of the agents.' });
		}
		return t;
	}

	/** Reads what a report needs: conversations requested in the range and their events. */
	async function buildReport(
		from: number,
		to: number,
		timeZone: string,
		queueId?: string,
		agentId?: string
	) {
		const requested = db
			.selectFrom('conversation_events')
			.select('conversation_id')
			.where('type', '=', 'requested')
			.where('at', '>=', from)
			.where('at', '<', to);
		const conversations = await db
			.selectFrom('conversations')
			.select(['id', 'queue_id'])
			.where('id', 'in', requested)
			.execute();
		const events = await db
			.selectFrom('conversation_events')
			.select(['conversation_id', 'type', 'actor', 'data', 'at'])
			.where('conversation_id', 'in', requested)
			.where('type', 'in', [
				'requested',
				'accepted',
				'first_response',
				'ended',
				'session_ended',
				'csat_received'
			])
			.orderBy('at')
			.orderBy('id')
			.execute();
		const agents = await db.selectFrom('agents').select(['id', 'name']).execute();
		const queues = await db.selectFrom('queues').select(['id', 'name']).execute();
		return computeReport({
			conversations: conversations.map((c) => ({ id: c.id, queueId: c.queue_id })),
			events: events.map((e) => ({
				conversationId: e.conversation_id,
				type: e.type,
				actor: e.actor,
				data: JSON.parse(e.data) as Record<string, unknown>,
				at: Number(e.at)
			})),
			agentNames: Object.fromEntries(agents.map((a) => [a.id, a.name])),
			queueNames: Object.fromEntries(queues.map((q) => [q.id, q.name])),
			from,
			to,
			timeZone,
			queueId,
			agentId
		});
	}
}

function publicBase(deps: ApiDeps, req: IncomingMessage) {
	return (
		deps.config.publicUrl ??
		`${req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${req.headers.host}`
	).replace(/\/$/, '');
}

/** A write that touched no row means the thing is not there: 404. */
function found(rows: bigint | number, notFound: string) {
	if (Number(rows) === 0) throw new HttpError(404, 'not_found', notFound);
}

const newSecret = () => `wss_${randomBytes(24).toString('base64url')}`;
const secretHint = (secret: string) => `…${secret.slice(-4)}`;

function settingsOf(ws: Workstream): WorkstreamSettings {
	return {
		slug: ws.slug,
		name: ws.name,
		mode: ws.mode,
		queueId: ws.queue_id,
		keepSameAgent: ws.keep_same_agent === 1,
		keepWaitMs: Number(ws.keep_wait_ms),
		authRequired: ws.auth_required === 1,
		queuePositionText: ws.queue_position_text,
		waitTimeText: ws.wait_time_text,
		offlineText: ws.offline_text,
		style: isConversationStyle(ws.style) ? ws.style : 'live',
		solvedCloseMs: ws.solved_close_ms === null ? null : Number(ws.solved_close_ms),
		hours: parseHours(ws.hours),
		wrapUpReasons: JSON.parse(ws.wrap_up_reasons) as string[],
		csatEnabled: ws.csat_enabled === 1,
		title: ws.title,
		color: ws.color,
		greeting: ws.greeting
	};
}

function columnsOf(s: WorkstreamSettings) {
	return {
		slug: s.slug,
		name: s.name,
		mode: s.mode,
		queue_id: s.queueId,
		keep_same_agent: s.keepSameAgent ? 1 : 0,
		keep_wait_ms: s.keepWaitMs,
		auth_required: s.authRequired ? 1 : 0,
		queue_position_text: s.queuePositionText,
		wait_time_text: s.waitTimeText,
		offline_text: s.offlineText,
		style: s.style,
		solved_close_ms: s.solvedCloseMs,
		hours: s.hours ? JSON.stringify(s.hours) : null,
		wrap_up_reasons: JSON.stringify(s.wrapUpReasons),
		csat_enabled: s.csatEnabled ? 1 : 0,
		title: s.title,
		color: s.color,
		greeting: s.greeting
	};
}

function adminAgentView(a: {
	id: string;
	email: string;
	name: string;
	role: string;
	capacity: number;
	skills: string;
	presence: string;
	disabled_at: number | null;
}) {
	return {
		id: a.id,
		email: a.email,
		name: a.name,
		role: a.role,
		capacity: a.capacity,
		skills: JSON.parse(a.skills) as string[],
		presence: a.presence,
		disabled: a.disabled_at !== null
	};
}

function apiKeyView(k: {
	id: string;
	name: string;
	hint: string;
	created_at: number;
	last_used_at: number | null;
	revoked_at: number | null;
}) {
	return {
		id: k.id,
		name: k.name,
		hint: `pk_…${k.hint}`,
		createdAt: Number(k.created_at),
		lastUsedAt: k.last_used_at === null ? null : Number(k.last_used_at),
		revokedAt: k.revoked_at === null ? null : Number(k.revoked_at)
	};
}

function webhookView(w: {
	id: string;
	url: string;
	events: string;
	secret: string;
	active: number;
	created_at: number;
}) {
	return {
		id: w.id,
		url: w.url,
		events: JSON.parse(w.events) as string[],
		/** Shown to admins: the receiver needs it to check signatures. */
		secret: w.secret,
		active: w.active === 1,
		createdAt: Number(w.created_at)
	};
}
