/**
 * The integrator API (`/api/v1`, SPEC P3), authenticated with admin-issued API keys
 * (`Authorization: Bearer pk_…`). Reference: docs/openapi.json, served at
 * `/api/v1/openapi.json`. Errors have the same shape as the rest of the API.
 */
import type { IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ApiDeps } from './api';
import { HttpError, invalid, parse, queryOf, readJson, type Route } from './common';
import { TokenError, signHostToken, verifyHostToken } from '../auth/tokens';
import { listTickets, parseCursor, ticketById, ticketEvents } from '../tickets';
import { TICKET_STATUSES } from '../../src/lib/domain/ticket-state';
import { CHANNELS } from '../../src/lib/domain/triggers';
import { MESSAGE_LIMITS } from '../../src/lib/domain/message';

export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

const ID = '([A-Za-z0-9_-]+)';
/** A key's last use is written at most this often (not on every request). */
const LAST_USED_RESOLUTION_MS = 60_000;

const TokenRequestSchema = z.object({
	workstream: z.string().min(1, 'Name the workstream (its slug).').max(64),
	/** The host site's id for the customer (the token's `sub`). */
	externalId: z.string().trim().min(1, 'Give the customer’s id on your site.').max(200),
	name: z.string().trim().max(120).optional(),
	email: z.string().trim().email('Enter a valid email address.').max(320).optional(),
	/** Lifetime in seconds: 1 minute to 30 days; default 1 hour. */
	expiresIn: z
		.number()
		.int()
		.min(60, 'Tokens live at least 60 seconds.')
		.max(30 * 24 * 3600, 'Tokens live at most 30 days.')
		.default(3600)
});

const ListSchema = z.object({
	status: z
		.string()
		.optional()
		.transform((s) => (s ? s.split(',').map((x) => x.trim()) : undefined))
		.pipe(z.array(z.enum(TICKET_STATUSES, { error: 'Unknown status.' })).optional()),
	workstream: z.string().max(64).optional(),
	queue: z.string().max(64).optional(),
	agent: z.string().max(64).optional(),
	channel: z.enum(CHANNELS, { error: 'Use messaging or email.' }).optional(),
	updatedSince: z
		.string()
		.optional()
		.refine((v) => v === undefined || !Number.isNaN(Date.parse(v)), 'Use an ISO 8601 date-time.')
		.transform((v) => (v === undefined ? undefined : Date.parse(v))),
	limit: z.coerce
		.number()
		.int()
		.min(1, 'At least 1.')
		.max(200, 'At most 200 per page.')
		.default(50),
	cursor: z.string().max(500).optional()
});

let openApi: unknown = null;
function openApiDocument() {
	openApi ??= JSON.parse(
		readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')
	) as unknown;
	return openApi;
}

export function v1Routes(deps: ApiDeps): Route[] {
	const { repo, clock, conversations, log } = deps;
	const db = repo.db;

	/** The API key of the request, checked; its principal acts in history (`api:<id>`). */
	async function requireKey(req: IncomingMessage) {
		const header = req.headers.authorization ?? '';
		const m = /^Bearer\s+(pk_[A-Za-z0-9_-]{10,200})$/.exec(header);
		if (!m)
			throw new HttpError(
				401,
				'api_key_missing',
				'Send an API key: Authorization: Bearer pk_… (an admin creates one in the console).'
			);
		const key = await db
			.selectFrom('api_keys')
			.selectAll()
			.where('hash', '=', hashApiKey(m[1]))
			.executeTakeFirst();
		if (!key) throw new HttpError(401, 'api_key_invalid', 'This API key is not known.');
		if (key.revoked_at !== null)
			throw new HttpError(401, 'api_key_revoked', 'This API key was revoked.');
		const now = clock.now();
		if (key.last_used_at === null || now - Number(key.last_used_at) > LAST_USED_RESOLUTION_MS)
			await db
				.updateTable('api_keys')
				.set({ last_used_at: now })
				.where('id', '=', key.id)
				.execute();
		return { id: key.id, principal: `api:${key.id}`, name: `${key.name} (API)` };
	}

	async function workstreamOf(slug: string) {
		const ws = await repo.workstreamBySlug(slug);
		if (!ws) throw invalid({ workstream: `No workstream "${slug}".` });
		return ws;
	}

	async function ticket(id: string) {
		const t = await ticketById(db, id);
		if (!t) throw new HttpError(404, 'not_found', 'No such ticket.');
		return t;
	}

	return [
		['GET', /^\/api\/v1\/openapi\.json$/, async () => openApiDocument()],
		[
			'POST',
			/^\/api\/v1\/customer-tokens$/,
			async (req) => {
				await requireKey(req);
				const body = parse(TokenRequestSchema, await readJson(req));
				const ws = await workstreamOf(body.workstream);
				const now = clock.now();
				const token = await signHostToken(
					ws.secret,
					{ sub: body.externalId, name: body.name, email: body.email },
					{ now, ttlSeconds: body.expiresIn }
				);
				const expiresAt = new Date((Math.floor(now / 1000) + body.expiresIn) * 1000);
				return { token, expiresAt: expiresAt.toISOString() };
			}
		],
		[
			'POST',
			/^\/api\/v1\/customer-tokens\/verify$/,
			async (req) => {
				await requireKey(req);
				const body = parse(
					z.object({
						workstream: z.string().min(1, 'Name the workstream (its slug).').max(64),
						token: z.string().min(1, 'Give the token to check.').max(8192)
					}),
					await readJson(req)
				);
				const ws = await workstreamOf(body.workstream);
				try {
					const claims = await verifyHostToken(body.token, ws.secret, clock.now());
					return {
						valid: true,
						customer: {
							externalId: claims.sub,
							name: claims.name ?? null,
							email: claims.email ?? null
						},
						expiresAt: new Date(claims.exp * 1000).toISOString()
					};
				} catch (e) {
					if (e instanceof TokenError)
						return { valid: false, error: { code: e.code, message: e.message } };
					throw e;
				}
			}
		],
		[
			'GET',
			/^\/api\/v1\/tickets$/,
			async (req) => {
				await requireKey(req);
				const q = parse(ListSchema, queryOf(req));
				let before;
				if (q.cursor) {
					before = parseCursor(q.cursor);
					if (!before) throw invalid({ cursor: 'This cursor is not one the API returned.' });
				}
				const page = await listTickets(db, {
					status: q.status,
					workstream: q.workstream,
					queue: q.queue,
					agent: q.agent,
					channel: q.channel,
					updatedSince: q.updatedSince,
					before,
					limit: q.limit
				});
				return { tickets: page.tickets, nextCursor: page.next };
			}
		],
		[
			'GET',
			new RegExp(`^/api/v1/tickets/${ID}$`),
			async (req, _res, [id]) => {
				await requireKey(req);
				return { ticket: await ticket(id) };
			}
		],
		[
			'GET',
			new RegExp(`^/api/v1/tickets/${ID}/events$`),
			async (req, _res, [id]) => {
				await requireKey(req);
				if (!(await repo.conversationById(id)))
					throw new HttpError(404, 'not_found', 'No such ticket.');
				return { events: await ticketEvents(db, id) };
			}
		],
		[
			'POST',
			new RegExp(`^/api/v1/tickets/${ID}/notes$`),
			async (req, _res, [id]) => {
				const key = await requireKey(req);
				const body = parse(
					z.object({
						text: z
							.string()
							.trim()
							.min(1, 'Write the note.')
							.max(MESSAGE_LIMITS.maxTextChars, 'The note is too long.')
					}),
					await readJson(req)
				);
				// addNoteBy answers 404 "No such ticket." itself.
				const note = await conversations.addNoteBy(key.principal, key.name, id, body.text);
				log.info({ ticket: id, apiKey: key.id }, 'note added by API');
				return {
					note: {
						id: note.id,
						text: body.text,
						author: key.name,
						at: new Date(note.at).toISOString()
					}
				};
			}
		],
		[
			'POST',
			new RegExp(`^/api/v1/tickets/${ID}/status$`),
			async (req, _res, [id]) => {
				const key = await requireKey(req);
				const body = parse(
					z.object({
						status: z.enum(TICKET_STATUSES, {
							error: 'Use one of: ' + TICKET_STATUSES.join(', ') + '.'
						})
					}),
					await readJson(req)
				);
				await conversations.setTicketStatusBy(key.principal, key.name, id, body.status);
				return { ticket: await ticket(id) };
			}
		]
	];
}
