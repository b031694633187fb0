/**
 * Test factories: a real Parley server (on a temp SQLite file, or on PostgreSQL plus Redis when
 * PARLEY_TEST_BACKEND=postgres), and stock y-websocket clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterEach } from 'vitest';
import pino from 'pino';
import { createParley, type Parley } from '../../server/app';
import { testConfig, type Config } from '../../server/config';
import type { Clock } from '../../server/clock';
import { signHostToken } from '../../server/auth/tokens';
import { ChatSession } from '../../src/lib/client/chat-session';
import {
	backend,
	dropPgSchema,
	pgSchemaUrl,
	schemaFor,
	testRedisUrl,
	uniquePrefix
} from './backend';

// Each stock y-websocket provider adds a process 'exit' listener in Node; tests open dozens.
process.setMaxListeners(0);

export interface TestServer {
	parley: Parley;
	/** The shared engines of this server's deployment (PostgreSQL backend only). */
	shared?: SharedEngines;
	base: string;
	wsUrl: string;
	dir: string;
	dbPath: string;
	config: Config;
	/** Stops the server (keeping its data directory). */
	stop(): Promise<void>;
	/** Stops the server and deletes its data. */
	dispose(): Promise<void>;
}

export interface SharedEngines {
	databaseUrl: string;
	redisUrl: string;
	redisPrefix: string;
}

export async function startServer(
	opts: {
		clock?: Clock;
		dir?: string;
		limits?: Partial<Config['limits']>;
		port?: number;
		/** Another instance of the same deployment: the same PostgreSQL schema and Redis prefix. */
		shared?: SharedEngines;
		/** Other settings (e.g. smtpUrl, timerPollMs). */
		config?: Partial<Omit<Config, 'limits'>>;
	} = {}
): Promise<TestServer> {
	const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
	const dbPath = join(dir, 'parley.db');
	const shared: Partial<SharedEngines> =
		opts.shared ??
		(backend === 'postgres'
			? {
					databaseUrl: await pgSchemaUrl(schemaFor(dir)),
					redisUrl: testRedisUrl,
					redisPrefix: uniquePrefix()
				}
			: {});
	const config = testConfig({
		databasePath: dbPath,
		...shared,
		logLevel: 'silent',
		sessionSecret: 'test-session-secret-test-session-secret',
		...opts.config,
		limits: opts.limits
	});
	const parley = await createParley({
		config,
		clock: opts.clock,
		log: pino({ level: process.env.TEST_LOG ?? 'silent' })
	});
	const port = await parley.listen(opts.port ?? 0, '127.0.0.1');
	let stopped = false;
	const stop = async () => {
		if (stopped) return;
		stopped = true;
		await parley.close();
	};
	return {
		parley,
		shared: config.databaseUrl
			? {
					databaseUrl: config.databaseUrl,
					redisUrl: config.redisUrl!,
					redisPrefix: config.redisPrefix
				}
			: undefined,
		base: `http://127.0.0.1:${port}`,
		wsUrl: `ws://127.0.0.1:${port}/sync`,
		dir,
		dbPath,
		config,
		stop,
		async dispose() {
			await stop();
			rmSync(dir, { recursive: true, force: true });
			if (backend === 'postgres' && !opts.shared) await dropPgSchema(schemaFor(dir));
		}
	};
}

export async function api<T = Record<string, unknown>>(
	base: string,
	path: string,
	opts: { body?: unknown; cookie?: string; method?: string } = {}
): Promise<{ status: number; body: T; cookie?: string }> {
	const res = await fetch(base + path, {
		method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
		headers: {
			...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
			...(opts.cookie ? { cookie: opts.cookie } : {})
		},
		body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined
	});
	const setCookie = res.headers.get('set-cookie');
	return { status: res.status, body: (await res.json()) as T, cookie: setCookie?.split(';')[0] };
}

export interface AgentLogin {
	id: string;
	principal: string;
	name: string;
	cookie: string;
}

export async function loginAgent(
	base: string,
	email: string,
	password = 'parley'
): Promise<AgentLogin> {
	const r = await api<{ agent: { id: string; principal: string; name: string } }>(
		base,
		'/api/auth/login',
		{
			body: { email, password }
		}
	);
	if (r.status !== 200 || !r.cookie)
		throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
	return { ...r.body.agent, cookie: r.cookie };
}

export async function setPresence(base: string, agent: AgentLogin, presence: string) {
	const r = await api(base, '/api/agent/presence', { body: { presence }, cookie: agent.cookie });
	if (r.status !== 200) throw new Error(`presence failed: ${JSON.stringify(r.body)}`);
}

export interface CustomerLogin {
	sessionToken: string;
	conversationId: string;
	customer: { id: string; principal: string; name: string };
}

export async function customerSession(
	base: string,
	workstream: 'live' | 'persistent',
	opts: {
		name?: string;
		/** Live chat's pre-chat email; for persistent chat it goes into the host token. */
		email?: string;
		externalId?: string;
		resumeToken?: string;
		secret?: string;
		now?: number;
	} = {}
): Promise<CustomerLogin> {
	let hostToken: string | undefined;
	if (workstream === 'persistent') {
		hostToken = await signHostToken(
			opts.secret ?? 'demo-widget-secret-change-me',
			{ sub: opts.externalId ?? 'carla', name: opts.name ?? 'Carla', email: opts.email },
			{ now: opts.now ?? Date.now() }
		);
	}
	const r = await api<CustomerLogin>(base, '/api/widget/session', {
		body: {
			workstream,
			hostToken,
			resumeToken: opts.resumeToken,
			name: workstream === 'live' ? opts.name : undefined,
			email: workstream === 'live' ? opts.email : undefined
		}
	});
	if (r.status !== 200)
		throw new Error(`widget session failed: ${r.status} ${JSON.stringify(r.body)}`);
	return r.body;
}

/** A `ws` WebSocket class that sends a cookie, as a browser does for same-origin sockets. */
export function wsWithCookie(cookie: string) {
	return class extends WebSocket {
		constructor(url: string, protocols?: string | string[]) {
			super(url, protocols, { headers: { cookie } });
		}
	};
}

let seq = 0;
export function customerChat(
	srv: Pick<TestServer, 'wsUrl'>,
	c: CustomerLogin,
	opts: { now?: () => number; WebSocketPolyfill?: unknown; internal?: boolean } = {}
) {
	return new ChatSession({
		serverUrl: srv.wsUrl,
		conversationId: c.conversationId,
		me: { principal: c.customer.principal, role: 'customer', name: c.customer.name },
		params: { token: c.sessionToken },
		WebSocketPolyfill: opts.WebSocketPolyfill ?? WebSocket,
		internal: opts.internal,
		now: opts.now,
		newId: () => `c${process.pid}x${++seq}x${Math.random().toString(36).slice(2, 10)}`
	});
}

export function agentChat(
	srv: Pick<TestServer, 'wsUrl'>,
	a: AgentLogin,
	conversationId: string,
	opts: { now?: () => number; internal?: boolean } = {}
) {
	return new ChatSession({
		serverUrl: srv.wsUrl,
		conversationId,
		me: { principal: a.principal, role: 'agent', name: a.name },
		WebSocketPolyfill: wsWithCookie(a.cookie),
		now: opts.now,
		internal: opts.internal,
		newId: () => `a${process.pid}x${++seq}x${Math.random().toString(36).slice(2, 10)}`
	});
}

/**
 * A list of clean-up steps run after each test, last added first (servers after their clients).
 * Call at the top level of a test file.
 */
export function cleanupAfterEach(): (() => unknown)[] {
	const steps: (() => unknown)[] = [];
	afterEach(async () => {
		for (const f of steps.splice(0).reverse()) await f();
	});
	return steps;
}

/** Polls until `check` returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
	check: () => T | Promise<T>,
	what: string,
	timeoutMs = 5000
): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const v = await check();
			if (v) return v as NonNullable<T>;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline)
			throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
		await new Promise((r) => setTimeout(r, 15));
	}
}

/**
 * Customer writes, agent gets the offer and accepts: the usual start of a test. With
 * `agentServer`, the agent works through another instance of the same deployment.
 */
export async function startConversation(
	srv: TestServer,
	opts: {
		agentEmail?: string;
		customer?: CustomerLogin;
		agentServer?: Pick<TestServer, 'base' | 'wsUrl'>;
		firstMessage?: string;
	} = {}
) {
	const agentSrv = opts.agentServer ?? srv;
	const agent = await loginAgent(agentSrv.base, opts.agentEmail ?? 'ana@example.com');
	await setPresence(agentSrv.base, agent, 'Available');
	const customer = opts.customer ?? (await customerSession(srv.base, 'live', { name: 'Dana' }));
	const customerSide = customerChat(srv, customer);
	await customerSide.ready;
	customerSide.send(opts.firstMessage ?? 'Hello, I need help');
	const inbox = await openInbox(agentSrv, agent);
	const offerId = await waitFor(() => [...inbox.offers.keys()][0], 'an offer');
	const accepted = await api<{ conversationId: string }>(
		agentSrv.base,
		`/api/agent/offers/${offerId}/accept`,
		{
			body: {},
			cookie: agent.cookie
		}
	);
	if (accepted.status !== 200) throw new Error(`accept failed ${JSON.stringify(accepted.body)}`);
	const agentSide = agentChat(agentSrv, agent, customer.conversationId);
	await agentSide.ready;
	return { agent, customer, customerSide, agentSide, inbox };
}

import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { offersOf, inboxConversationsOf } from '../../src/lib/domain/inbox-doc';

export async function openInbox(srv: Pick<TestServer, 'wsUrl'>, agent: AgentLogin) {
	const doc = new Y.Doc();
	const provider = new WebsocketProvider(srv.wsUrl, 'inbox', doc, {
		WebSocketPolyfill: wsWithCookie(agent.cookie) as unknown as typeof globalThis.WebSocket,
		disableBc: true
	});
	return {
		doc,
		provider,
		get offers() {
			return offersOf(doc);
		},
		get conversations() {
			return inboxConversationsOf(doc);
		},
		destroy() {
			provider.destroy();
			doc.destroy();
		}
	};
}

/**
 * An agent signed in, with their inbox open (destroyed by `cleanup`), set Available. With a
 * `clock`, it then moves 1 s, so agents brought online one after another are idle longest first.
 */
export async function agentOnline(
	srv: TestServer,
	email: string,
	cleanup: (() => unknown)[],
	clock?: { advance(ms: number): void }
) {
	const agent = await loginAgent(srv.base, email);
	const inbox = await openInbox(srv, agent);
	cleanup.push(() => inbox.destroy());
	await setPresence(srv.base, agent, 'Available');
	clock?.advance(1000);
	return { agent, inbox };
}

/**
 * A bad network: `dropping`'s conversation socket dies without a closing handshake, and its
 * provider reconnects by itself with the same awareness client id. Resolves once `watching` has
 * seen that client's state removed and `dropping` is connected again.
 */
export async function dropTranscriptSocket(
	dropping: ChatSession,
	watching: ChatSession,
	/** Reconnect to this sync URL instead (another instance), as after a balancer's failover. */
	moveTo?: string
) {
	const clientId = dropping.conversation.clientID;
	let removed = false;
	const onChange = ({ removed: gone }: { removed: number[] }) => {
		if (gone.includes(clientId)) removed = true;
	};
	watching.conversationProvider.awareness.on('change', onChange);
	let down = false;
	const onStatus = ({ status }: { status: string }) => {
		if (status === 'disconnected') down = true;
	};
	dropping.conversationProvider.on('status', onStatus);
	if (moveTo) dropping.conversationProvider.serverUrl = moveTo;
	(dropping.conversationProvider.ws as unknown as WebSocket).terminate();
	try {
		await waitFor(
			() => removed && down && dropping.conversationProvider.wsconnected,
			'removal seen by the other side, then reconnected'
		);
	} finally {
		watching.conversationProvider.awareness.off('change', onChange);
		dropping.conversationProvider.off('status', onStatus);
	}
}
