/**
 * The JSON HTTP API used by the workspace and the widget (`/api/...`) and `/healthz`.
 * Every handler authenticates for itself. Errors are `{ error: { code, message, fields? } }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { metricsAccess } from '../metrics';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Repo } from '../repo';
import type { Sessions } from '../auth/sessions';
import { SESSION_COOKIE, parseCookies } from '../auth/sessions';
import type { ConversationService } from '../conversations';
import { DomainError } from '../conversations';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { hashPassword, verifyPassword } from '../auth/passwords';
import { TokenError, signWidgetSession, verifyCsatToken, verifyHostToken } from '../auth/tokens';
import { PRESENCE_CHOICES } from '../../src/lib/domain/presence';
import { TransitionError } from '../../src/lib/domain/conversation-state';
import { RateLimiter } from './rate-limit';
import { isOpen, nextOpening, parseHours } from '../../src/lib/domain/hours';
import { offlineText } from '../../src/lib/domain/queue-wait';
import type { Principal } from '../principal';
import type { Mailer } from '../mail';
import { TICKET_STATUSES, TicketTransitionError } from '../../src/lib/domain/ticket-state';
import { SessionTransitionError } from '../../src/lib/domain/session-state';
import { CsatAnswerSchema } from '../../src/lib/domain/csat';
import { MESSAGE_LIMITS } from '../../src/lib/domain/message';
import { HttpError, PASSWORD, checkCsrf, parse, readJson, sendJson, type Route } from './common';
import { adminRoutes } from './admin';
import { v1Routes } from './v1';
import type { Webhooks } from '../webhooks';

/** How many ended conversations the widget session lists (newest first) for the history. */
const EARLIER_CONVERSATIONS = 50;
export { HttpError } from './common';

export interface ApiDeps {
	config: Config;
	clock: Clock;
	log: Logger;
	repo: Repo;
	sessions: Sessions;
	conversations: ConversationService;
	mailer: Mailer;
	webhooks: Webhooks;
	widgetKey: Uint8Array;
	/** This instance's Prometheus registry (`GET /metrics`). */
	metrics: Registry;
	health: () => Record<string, unknown>;
	/** Closes every socket of a principal (e.g. on sign-out). */
	disconnect: (principal: string, reason: string) => void;
}

export function createApi(deps: ApiDeps) {
	const { repo, sessions, conversations, clock, config } = deps;
	// Per-minute budgets: password guessing per address and account; anonymous customers per address.
	const loginLimiter = new RateLimiter(10, 60_000);
	const anonymousLimiter = new RateLimiter(config.limits.anonymousSessionsPerMinute, 60_000);

	const routes: Route[] = [
		['GET', /^\/healthz$/, async () => ({ ok: true, ...deps.health() })],
		[
			'GET',
			/^\/metrics$/,
			async (req, res) => {
				const refused = metricsAccess(req, config.metricsToken);
				if (refused === 'token') {
					res.setHeader('www-authenticate', 'Bearer');
					throw new HttpError(
						401,
						'unauthorized',
						'Send the metrics token: Authorization: Bearer ….'
					);
				}
				if (refused === 'remote')
					throw new HttpError(
						403,
						'forbidden',
						'Metrics are served to this machine only. Set PARLEY_METRICS_TOKEN to scrape them from elsewhere.'
					);
				const body = await deps.metrics.metrics();
				res.writeHead(200, { 'content-type': deps.metrics.contentType }).end(body);
			}
		],

		[
			'POST',
			/^\/api\/auth\/login$/,
			async (req, res) => {
				const body = parse(LoginSchema, await readJson(req));
				limit(
					loginLimiter,
					`${clientIp(req)}|${body.email.toLowerCase()}`,
					'Too many sign-in attempts. Wait a minute and try again.'
				);
				const agent = await repo.agentByEmail(body.email);
				// Same message and a password check either way, so emails cannot be probed.
				const ok = await verifyPassword(body.password, agent?.password_hash ?? DUMMY_HASH);
				if (!agent || !ok) throw new HttpError(401, 'bad_credentials', 'Wrong email or password.');
				if (agent.disabled_at !== null)
					throw new HttpError(
						403,
						'account_disabled',
						'This account is disabled. Ask an admin to enable it again.'
					);
				const { token, expiresAt } = await sessions.createAgentSession(agent.id);
				res.setHeader(
					'Set-Cookie',
					sessionCookie(token, Math.floor((expiresAt - clock.now()) / 1000), req)
				);
				return { agent: agentView(agent), now: clock.now() };
			}
		],
		[
			'POST',
			/^\/api\/auth\/logout$/,
			async (req, res) => {
				const token = parseCookies(req.headers.cookie)[SESSION_COOKIE];
				const who = await sessions.agentFromCookie(req.headers.cookie);
				// Signing out means not taking chats: go Offline so no offer waits on an empty seat.
				if (who.ok && who.principal.kind === 'agent')
					await conversations.setPresence(who.principal.id, 'Offline');
				if (token) await sessions.endAgentSession(token);
				if (who.ok) deps.disconnect(who.principal.principal, 'signed out');
				res.setHeader('Set-Cookie', sessionCookie('', 0, req));
				return { ok: true };
			}
		],
		[
			'POST',
			/^\/api\/agent\/password$/,
			async (req) => {
				const me = await requireAgent(req);
				const body = parse(PasswordChangeSchema, await readJson(req));
				limit(
					loginLimiter,
					`${clientIp(req)}|password|${me.id}`,
					'Too many attempts. Wait a minute and try again.'
				);
				const agent = await repo.agentById(me.id);
				if (!agent) throw new HttpError(401, 'unauthorized', 'Sign in again.');
				if (!(await verifyPassword(body.current, agent.password_hash)))
					throw new HttpError(400, 'invalid_input', 'Some fields are not valid.', {
						current: 'This is not your current password.'
					});
				if (body.next === body.current)
					throw new HttpError(400, 'invalid_input', 'Some fields are not valid.', {
						next: 'Choose a password other than the current one.'
					});
				await repo.db
					.updateTable('agents')
					.set({ password_hash: await hashPassword(body.next), password_temporary: 0 })
					.where('id', '=', me.id)
					.execute();
				// Every other device signs in again with the new password; this one stays.
				const token = parseCookies(req.headers.cookie)[SESSION_COOKIE];
				await sessions.endOtherAgentSessions(me.id, token);
				return { ok: true };
			}
		],
		[
			'GET',
			/^\/api\/agent\/me$/,
			async (req) => {
				const me = await requireAgent(req);
				const agent = await repo.agentById(me.id);
				if (!agent) throw new HttpError(401, 'unauthorized', 'Sign in again.');
				return { agent: agentView(agent), now: clock.now() };
			}
		],
		[
			'POST',
			/^\/api\/agent\/presence$/,
			async (req) => {
				const me = await requireAgent(req);
				const body = parse(z.object({ presence: z.enum(PRESENCE_CHOICES) }), await readJson(req));
				await conversations.setPresence(me.id, body.presence);
				return { presence: body.presence };
			}
		],
		[
			'POST',
			/^\/api\/agent\/offers\/([A-Za-z0-9_-]+)\/accept$/,
			async (req, _res, [offerId]) => {
				const me = await requireAgent(req);
				return conversations.acceptOffer(me.id, offerId);
			}
		],

		[
			'POST',
			/^\/api\/agent\/offers\/([A-Za-z0-9_-]+)\/decline$/,
			async (req, _res, [offerId]) => {
				const me = await requireAgent(req);
				return conversations.declineOffer(me.id, offerId);
			}
		],

		[
			'GET',
			/^\/api\/agent\/transfer-targets$/,
			async (req) => {
				const me = await requireAgent(req);
				return conversations.transferTargets(me.id);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/transfer$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				const body = parse(TransferSchema, await readJson(req));
				return conversations.transfer(me.id, conversationId, body);
			}
		],

		[
			'GET',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				return conversations.details(me.id, conversationId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/conference$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				const body = parse(z.object({ agentId: z.string().min(1).max(64) }), await readJson(req));
				return conversations.conference(me.id, conversationId, body.agentId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/end-conference$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				return conversations.endConference(me.id, conversationId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/take-back$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				return conversations.takeBack(me.id, conversationId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/wait$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				return conversations.wait(me.id, conversationId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/end$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				const body = parse(
					z.object({ reason: z.string().trim().min(1, 'Choose a wrap-up reason.').max(200) }),
					await readJson(req)
				);
				return conversations.endByAgent(me.id, conversationId, body.reason);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/dismiss$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				return conversations.dismiss(me.id, conversationId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/end-session$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				return conversations.endSessionByAgent(me.id, conversationId);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/status$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				const body = parse(
					z.object({ status: z.enum(TICKET_STATUSES, { error: 'Choose a ticket status.' }) }),
					await readJson(req)
				);
				return conversations.setTicketStatus(me.id, conversationId, body.status);
			}
		],
		[
			'POST',
			/^\/api\/agent\/conversations\/([A-Za-z0-9_-]+)\/email$/,
			async (req, _res, [conversationId]) => {
				const me = await requireAgent(req);
				const body = parse(
					z.object({
						text: z
							.string()
							.trim()
							.min(1, 'Write the reply first.')
							.max(MESSAGE_LIMITS.maxTextChars, 'The reply is too long.')
					}),
					await readJson(req)
				);
				return conversations.replyByEmail(me.id, conversationId, body.text);
			}
		],
		[
			'POST',
			/^\/api\/widget\/conversations\/([A-Za-z0-9_-]+)\/csat$/,
			async (req, _res, [conversationId]) => {
				const me = await requireCustomer(req);
				const body = parse(CsatAnswerSchema, await readJson(req));
				return conversations.answerCsat(conversationId, me.id, body);
			}
		],
		[
			'POST',
			/^\/api\/csat$/,
			async (req) => {
				const body = parse(
					CsatAnswerSchema.extend({ token: z.string().min(1).max(4096) }),
					await readJson(req)
				);
				const { conversationId } = await csatToken(body.token);
				return conversations.answerCsat(conversationId, null, body);
			}
		],
		[
			'POST',
			/^\/api\/csat\/lookup$/,
			async (req) => {
				const body = parse(z.object({ token: z.string().min(1).max(4096) }), await readJson(req));
				const { conversationId } = await csatToken(body.token);
				const conv = await repo.conversationById(conversationId);
				const ws = conv && (await repo.workstreamById(conv.workstream_id));
				if (!conv || !ws)
					throw new HttpError(404, 'not_found', 'This conversation no longer exists.');
				if (conv.csat_requested_at === null)
					throw new HttpError(409, 'conflict', 'There is no survey for this conversation.');
				return { title: ws.title, answered: conv.csat_rating !== null, rating: conv.csat_rating };
			}
		],
		[
			'GET',
			/^\/api\/agent\/templates$/,
			async (req) => {
				await requireAgent(req);
				return { templates: await repo.templates() };
			}
		],
		[
			'POST',
			/^\/api\/widget\/conversations\/([A-Za-z0-9_-]+)\/end$/,
			async (req, _res, [conversationId]) => {
				const me = await requireCustomer(req);
				return conversations.endByCustomer(me.id, conversationId);
			}
		],

		[
			'GET',
			/^\/api\/widget\/workstreams\/([A-Za-z0-9_-]+)$/,
			async (_req, _res, [slug]) => {
				const ws = await repo.workstreamBySlug(slug);
				if (!ws) throw new HttpError(404, 'not_found', `No workstream "${slug}".`);
				return { workstream: workstreamView(ws, clock.now()) };
			}
		],
		[
			'POST',
			/^\/api\/widget\/email$/,
			async (req) => {
				// A waiting customer leaves the address to reply to if they go (nobody is available).
				const me = await requireCustomer(req);
				const { email } = parse(ReplyEmailSchema, await readJson(req));
				await repo.db.updateTable('customers').set({ email }).where('id', '=', me.id).execute();
				return { ok: true, email };
			}
		],
		[
			'POST',
			/^\/api\/widget\/offline-message$/,
			async (req) => {
				const body = parse(OfflineMessageSchema, await readJson(req));
				const ws = await repo.workstreamBySlug(body.workstream);
				if (!ws) throw new HttpError(404, 'not_found', `No workstream "${body.workstream}".`);
				if (ws.mode !== 'live' || ws.auth_required)
					throw new HttpError(
						409,
						'not_offline_workstream',
						'This chat takes messages at any time: write in the chat itself.'
					);
				limit(
					anonymousLimiter,
					clientIp(req),
					'Too many messages from this address. Wait a minute and try again.'
				);
				const customerId = await repo.createCustomer({
					workstreamId: ws.id,
					externalId: null,
					name: body.name?.trim() || body.email,
					email: body.email,
					now: clock.now()
				});
				const conv = await conversations.leaveOfflineMessage(customerId, ws, body.message.trim());
				return { ok: true, conversationId: conv.id };
			}
		],
		[
			'POST',
			/^\/api\/widget\/session$/,
			async (req) => {
				const body = parse(WidgetSessionSchema, await readJson(req));
				const ws = await repo.workstreamBySlug(body.workstream);
				if (!ws) throw new HttpError(404, 'not_found', `No workstream "${body.workstream}".`);
				const now = clock.now();
				let customerId: string | null = null;
				if (body.hostToken || ws.auth_required) {
					let claims;
					try {
						claims = await verifyHostToken(body.hostToken ?? '', ws.secret, now);
					} catch (e) {
						if (e instanceof TokenError) throw new HttpError(401, e.code, e.message);
						throw e;
					}
					const existing = await repo.db
						.selectFrom('customers')
						.selectAll()
						.where('workstream_id', '=', ws.id)
						.where('external_id', '=', claims.sub)
						.executeTakeFirst();
					if (existing) {
						customerId = existing.id;
						if (
							(claims.name && claims.name !== existing.name) ||
							(claims.email && claims.email !== existing.email)
						)
							await repo.db
								.updateTable('customers')
								.set({ name: claims.name ?? existing.name, email: claims.email ?? existing.email })
								.where('id', '=', existing.id)
								.execute();
					} else {
						customerId = await repo.createCustomer({
							workstreamId: ws.id,
							externalId: claims.sub,
							name: claims.name ?? claims.sub,
							email: claims.email ?? null,
							now
						});
					}
				} else {
					if (body.resumeToken) {
						const resumed = await sessions.customerFromToken(body.resumeToken);
						if (
							resumed.ok &&
							resumed.principal.kind === 'customer' &&
							resumed.principal.workstreamId === ws.id
						)
							customerId = resumed.principal.id;
					}
					if (!customerId) {
						limit(
							anonymousLimiter,
							clientIp(req),
							'Too many new chats from this address. Wait a minute and try again.'
						);
						customerId = await repo.createCustomer({
							workstreamId: ws.id,
							externalId: null,
							name: (id) => body.name?.trim() || `Visitor ${id.slice(-4).toUpperCase()}`,
							email: body.email ?? null,
							now
						});
					}
				}
				const customer = await repo.customerById(customerId);
				if (!customer) throw new HttpError(500, 'internal', 'Customer could not be stored.');
				const conv = await conversations.openConversationFor(customer.id, ws);
				// The ones before, ended, newest first: the widget keeps the whole history readable
				// above the current one (SPEC C3), loading each when it is opened.
				const earlier = await repo.db
					.selectFrom('conversations')
					.select(['id', 'created_at', 'ended_at'])
					.where('customer_id', '=', customer.id)
					.where('id', '!=', conv.id)
					.where('status', '=', 'ended')
					.orderBy('created_at', 'desc')
					.orderBy('id', 'desc')
					.limit(EARLIER_CONVERSATIONS)
					.execute();
				const sessionToken = await signWidgetSession(
					deps.widgetKey,
					{ customerId: customer.id, workstreamId: ws.id },
					{ now, ttlMs: config.limits.customerSessionMs }
				);
				return {
					sessionToken,
					expiresAt: now + config.limits.customerSessionMs,
					customer: {
						id: customer.id,
						principal: `customer:${customer.id}`,
						name: customer.name,
						authenticated: customer.authenticated === 1,
						// Their own address to reply to, if they gave one (the widget shows it).
						email: customer.email
					},
					conversationId: conv.id,
					previousConversationId: earlier[0]?.id ?? null,
					earlierConversations: earlier.map((c) => ({
						id: c.id,
						startedAt: Number(c.created_at),
						endedAt: c.ended_at === null ? null : Number(c.ended_at)
					})),
					workstream: workstreamView(ws, now),
					// The server's clock, so that the widget stamps messages in it (server-clock.ts).
					now
				};
			}
		]
	];

	routes.push(...adminRoutes(deps, { requireAdmin }), ...v1Routes(deps));

	function limit(limiter: RateLimiter, key: string, message: string) {
		if (!limiter.take(key, clock.now())) throw new HttpError(429, 'rate_limited', message);
	}

	async function csatToken(token: string) {
		try {
			return await verifyCsatToken(token, deps.widgetKey, clock.now());
		} catch (e) {
			if (e instanceof TokenError) throw new HttpError(401, e.code, e.message);
			throw e;
		}
	}

	async function requireAdmin(req: IncomingMessage) {
		// The session lookup reads the role from the agent's row on every request.
		const me = await requireAgent(req);
		if (me.role !== 'admin') throw new HttpError(403, 'forbidden', 'Only admins can open this.');
		return me;
	}

	/** The widget's customer, from `Authorization: Bearer <sessionToken>`. */
	async function requireCustomer(req: IncomingMessage) {
		const who = await sessions.authenticate(req);
		if (!who.ok || who.principal.kind !== 'customer')
			throw new HttpError(401, 'unauthorized', 'Your chat session has expired. Reload the page.');
		return who.principal;
	}

	async function requireAgent(
		req: IncomingMessage
	): Promise<Extract<Principal, { kind: 'agent' }>> {
		const auth = await sessions.agentFromCookie(req.headers.cookie);
		if (!auth.ok || auth.principal.kind !== 'agent')
			throw new HttpError(401, 'unauthorized', 'Sign in to continue.');
		return auth.principal;
	}

	/** Returns false when the request is not an API route (the UI handles it). */
	return async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
		const path = (req.url ?? '/').split('?')[0];
		if (!path.startsWith('/api/') && path !== '/healthz' && path !== '/metrics') return false;
		const matches = routes.filter(([, re]) => re.test(path));
		try {
			if (matches.length === 0) throw new HttpError(404, 'not_found', 'No such endpoint.');
			const route = matches.find(([m]) => m === req.method);
			if (!route)
				throw new HttpError(
					405,
					'method_not_allowed',
					`Use ${matches.map(([m]) => m).join(', ')}.`
				);
			// /api/v1 is authenticated by API keys, never by cookies: no cross-site request to forge.
			if (req.method !== 'GET' && !path.startsWith('/api/v1/')) checkCsrf(req);
			const params = route[1].exec(path)?.slice(1) ?? [];
			const body = await route[2](req, res, params);
			// A handler that wrote its own response (a CSV download) returns nothing.
			if (!res.writableEnded) sendJson(res, 200, body);
		} catch (e) {
			if (e instanceof HttpError)
				sendJson(res, e.status, { error: { code: e.code, message: e.message, fields: e.fields } });
			else if (e instanceof TransitionError || e instanceof TicketTransitionError)
				sendJson(res, 409, { error: { code: 'conflict', message: e.message } });
			else if (e instanceof SessionTransitionError)
				sendJson(res, 409, { error: { code: e.code, message: e.message } });
			else if (e instanceof DomainError)
				sendJson(
					res,
					e.code === 'not_found'
						? 404
						: e.code === 'conflict'
							? 409
							: e.code === 'forbidden'
								? 403
								: 400,
					{
						error: { code: e.code, message: e.message }
					}
				);
			else {
				deps.log.error({ err: e, path }, 'request failed');
				sendJson(res, 500, {
					error: { code: 'internal', message: 'Something went wrong on the server.' }
				});
			}
		}
		return true;
	};
}

const LoginSchema = z.object({
	email: z.string().email().max(320),
	password: z.string().min(1).max(200)
});
const PasswordChangeSchema = z.object({
	current: z.string().min(1, 'Enter your current password.').max(200),
	next: PASSWORD
});
const TransferSchema = z.union(
	[
		z.object({ queueId: z.string().min(1).max(64) }).strict(),
		z.object({ agentId: z.string().min(1).max(64) }).strict()
	],
	{ error: 'Choose a queue or an agent.' }
);

/** The address a customer gives for replies (a message left, or while nobody is available). */
const REPLY_EMAIL = z.string().trim().email('Enter an email address so we can reply.').max(320);

const ReplyEmailSchema = z.object({ email: REPLY_EMAIL });

const OfflineMessageSchema = z.object({
	workstream: z.string().min(1).max(64),
	name: z.string().max(120).optional(),
	email: REPLY_EMAIL,
	message: z
		.string()
		.trim()
		.min(1, 'Write a message.')
		.max(4000, 'Keep the message under 4000 characters.')
});

const WidgetSessionSchema = z.object({
	workstream: z.string().min(1).max(64),
	hostToken: z.string().max(8192).optional(),
	resumeToken: z.string().max(8192).optional(),
	name: z.string().max(120).optional(),
	email: z.string().email().max(320).optional()
});

/** Hash of a random password: logins for unknown emails take as long as real ones. */
const DUMMY_HASH =
	'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function clientIp(req: IncomingMessage): string {
	return req.socket.remoteAddress ?? 'unknown';
}

function sessionCookie(token: string, maxAgeSeconds: number, req: IncomingMessage) {
	const secure = (req.headers['x-forwarded-proto'] ?? '') === 'https' ? '; Secure' : '';
	return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure}`;
}

function agentView(a: {
	id: string;
	email: string;
	name: string;
	role: string;
	capacity: number;
	presence: string;
	password_temporary: number;
}) {
	return {
		id: a.id,
		principal: `agent:${a.id}`,
		email: a.email,
		name: a.name,
		role: a.role,
		capacity: a.capacity,
		presence: a.presence,
		/** The password is one an admin set: the workspace asks for a new one first. */
		mustChangePassword: a.password_temporary === 1
	};
}

function workstreamView(
	ws: {
		slug: string;
		name: string;
		mode: string;
		title: string;
		greeting: string;
		auth_required: number;
		hours: string | null;
		offline_text: string | null;
		color: string;
	},
	now: number
) {
	const hours = parseHours(ws.hours);
	return {
		slug: ws.slug,
		name: ws.name,
		mode: ws.mode,
		title: ws.title,
		greeting: ws.greeting,
		color: ws.color,
		authRequired: ws.auth_required === 1,
		/** Inside operating hours now (always, without hours). */
		open: isOpen(hours, now),
		nextOpenAt: nextOpening(hours, now),
		offlineText: offlineText(ws.offline_text)
	};
}
