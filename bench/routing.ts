/**
 * Routing benchmark (issue 4):
 *
 *   1. drain — 10,000 queued requests and 500 Available agents (capacity 20 each, so every
 *      request has a seat): the time one routing pass takes to offer them all, in process.
 *   2. latency — 500 agents with their inboxes open over websockets, against the server as a
 *      separate process; customers, already connected, send their first message at 50 new
 *      conversations per second. Measured: first message sent → the offer appears in the
 *      agent's inbox document (p50, p99, max).
 *
 *   npm run bench -- --case routing [--requests 10000] [--agents 500]
 *                   [--routing-rate 50] [--routing-seconds 20]
 *
 * Both use the embedded SQLite store, like `npm start`. Figures go to docs/performance.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { createParley, type Parley } from '../server/app';
import { testConfig } from '../server/config';
import { newId } from '../server/repo';
import { signWidgetSession } from '../server/auth/tokens';
import { ChatSession } from '../src/lib/client/chat-session';
import { offersOf } from '../src/lib/domain/inbox-doc';
import { startProcess, waitHttp } from './process';

process.setMaxListeners(0);
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
	args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1] ?? '');
const REQUESTS = Number(args.get('requests') ?? 10_000);
const AGENTS = Number(args.get('agents') ?? 500);
const RATE = Number(args.get('routing-rate') ?? 50);
const SECONDS = Number(args.get('routing-seconds') ?? 20);
const SECRET = 'bench-session-secret-bench-session-secret';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openStore(dir: string): Promise<Parley> {
	const config = testConfig({
		databasePath: join(dir, 'parley.db'),
		logLevel: 'silent',
		sessionSecret: SECRET,
		seedDemo: true,
		sqliteSynchronous: 'full'
	});
	return createParley({ config, log: pino({ level: 'silent' }) });
}

/** `count` Available agents with the live queue's skill; returns their session cookies. */
async function seedAgents(parley: Parley, count: number, capacity: number) {
	const { repo } = parley;
	const template = (await repo.agentByEmail('ana@example.com'))!;
	const now = Date.now();
	const cookies: string[] = [];
	const rows = [];
	const sessions = [];
	for (let i = 0; i < count; i++) {
		const id = newId('ag');
		rows.push({
			...template,
			id,
			email: `router${i}@example.com`,
			name: `Router ${i}`,
			capacity,
			presence: 'Available',
			skills: '["chat"]',
			idle_since: now - i
		});
		const token = randomBytes(32).toString('base64url');
		sessions.push({
			id_hash: createHash('sha256').update(token).digest('base64url'),
			agent_id: id,
			expires_at: now + 86400_000,
			created_at: now
		});
		cookies.push(`parley_session=${token}`);
	}
	// Nobody else takes offers.
	await repo.db.updateTable('agents').set({ presence: 'Offline' }).execute();
	for (let i = 0; i < rows.length; i += 200) {
		await repo.db
			.insertInto('agents')
			.values(rows.slice(i, i + 200))
			.execute();
		await repo.db
			.insertInto('auth_sessions')
			.values(sessions.slice(i, i + 200))
			.execute();
	}
	return cookies;
}

/** `count` live customers with a conversation each; `requested` makes them queued requests. */
async function seedCustomers(parley: Parley, count: number, requested: boolean) {
	const { repo } = parley;
	const ws = (await repo.workstreamBySlug('live'))!;
	const key = new TextEncoder().encode(SECRET);
	const now = Date.now();
	const out: { conversationId: string; principal: string; token: string }[] = [];
	for (let i = 0; i < count; i += 500) {
		const customers = [];
		const conversations = [];
		for (let j = i; j < Math.min(count, i + 500); j++) {
			const customerId = newId('cu');
			const conversationId = newId('cv');
			customers.push({
				id: customerId,
				workstream_id: ws.id,
				external_id: null,
				name: `Customer ${j}`,
				email: null,
				authenticated: 0,
				created_at: now
			});
			conversations.push({
				id: conversationId,
				workstream_id: ws.id,
				customer_id: customerId,
				status: 'queued',
				requested_at: requested ? now + j : null,
				queue_id: ws.queue_id,
				offline_message: 0,
				created_at: now,
				updated_at: now
			});
			out.push({
				conversationId,
				principal: `customer:${customerId}`,
				token: await signWidgetSession(
					key,
					{ customerId, workstreamId: ws.id },
					{ now, ttlMs: 86400_000 }
				)
			});
		}
		await repo.db.insertInto('customers').values(customers).execute();
		await repo.db.insertInto('conversations').values(conversations).execute();
	}
	return out;
}

async function drainCase() {
	const dir = mkdtempSync(join(tmpdir(), 'parley-route-'));
	try {
		const parley = await openStore(dir);
		await seedAgents(parley, AGENTS, Math.ceil(REQUESTS / AGENTS));
		await seedCustomers(parley, REQUESTS, true);
		const t0 = performance.now();
		await parley.conversations.drainQueue();
		const ms = performance.now() - t0;
		const offers = await parley.repo.db
			.selectFrom('offers')
			.select((eb) => eb.fn.countAll<number>().as('n'))
			.where('status', '=', 'pending')
			.executeTakeFirstOrThrow();
		const perAgent = await parley.repo.db
			.selectFrom('offers')
			.select(['agent_id', (eb) => eb.fn.countAll<number>().as('n')])
			.where('status', '=', 'pending')
			.groupBy('agent_id')
			.execute();
		const maxLoad = Math.max(...perAgent.map((r) => Number(r.n)));
		await parley.close();
		return { ms, offered: Number(offers.n), maxLoad };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

function percentile(sorted: number[], p: number) {
	return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

async function latencyCase() {
	const dir = mkdtempSync(join(tmpdir(), 'parley-route-'));
	const total = RATE * SECONDS;
	const parley = await openStore(dir);
	const cookies = await seedAgents(parley, AGENTS, 20);
	const customers = await seedCustomers(parley, total, false);
	await parley.close();
	const port = 3950;
	const { child, logs } = startProcess(
		['--max-semi-space-size=4', '--import', 'tsx', 'server/main.ts'],
		{
			PORT: String(port),
			HOST: '127.0.0.1',
			PARLEY_DB: join(dir, 'parley.db'),
			PARLEY_SESSION_SECRET: SECRET,
			LOG_LEVEL: 'warn'
		}
	);
	const providers: WebsocketProvider[] = [];
	const sessions: ChatSession[] = [];
	try {
		await waitHttp(`http://127.0.0.1:${port}/healthz`, child, logs);
		const sentAt = new Map<string, number>();
		const latencies: number[] = [];
		const url = `ws://127.0.0.1:${port}/sync`;
		console.log(`latency: connecting ${AGENTS} agent inboxes and ${total} customers…`);
		for (const cookie of cookies) {
			const doc = new Y.Doc();
			const provider = new WebsocketProvider(url, 'inbox', doc, {
				WebSocketPolyfill: class extends WebSocket {
					constructor(u: string, p?: string | string[]) {
						super(u, p, { headers: { cookie } });
					}
				} as unknown as typeof globalThis.WebSocket,
				disableBc: true
			});
			offersOf(doc).observe((e) => {
				const now = performance.now();
				for (const key of e.keysChanged) {
					const offer = offersOf(doc).get(key);
					const t0 = offer && sentAt.get(offer.conversationId);
					if (offer && t0 !== undefined) {
						latencies.push(now - t0);
						sentAt.delete(offer.conversationId);
					}
				}
			});
			providers.push(provider);
		}
		for (const c of customers)
			sessions.push(
				new ChatSession({
					serverUrl: url,
					conversationId: c.conversationId,
					me: { principal: c.principal, role: 'customer', name: 'Customer' },
					params: { token: c.token },
					WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket
				})
			);
		const deadline = Date.now() + 120_000;
		while (
			!providers.every((p) => p.synced) ||
			!sessions.every((s) => s.connection === 'connected')
		) {
			if (Date.now() > deadline) throw new Error('clients did not connect in 120 s');
			await sleep(200);
		}
		console.log(`latency: ${total} first messages at ${RATE}/s…`);
		const start = performance.now();
		for (let i = 0; i < total; i++) {
			const due = start + (i * 1000) / RATE;
			const wait = due - performance.now();
			if (wait > 0) await sleep(wait);
			sentAt.set(customers[i].conversationId, performance.now());
			sessions[i].send('Hello, I need help');
		}
		const end = Date.now() + 15_000;
		while (sentAt.size > 0 && Date.now() < end) await sleep(100);
		const sorted = [...latencies].sort((a, b) => a - b);
		return {
			offered: latencies.length,
			missing: sentAt.size,
			p50: percentile(sorted, 0.5),
			p99: percentile(sorted, 0.99),
			max: sorted.at(-1) ?? NaN
		};
	} finally {
		for (const s of sessions) s.destroy();
		for (const p of providers) p.destroy();
		child.kill('SIGTERM');
		await new Promise((r) => child.once('exit', r));
		rmSync(dir, { recursive: true, force: true });
	}
}

export async function benchRouting() {
	console.log(`drain: ${REQUESTS} queued requests, ${AGENTS} agents…`);
	const drain = await drainCase();
	const latency = await latencyCase();
	const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
	console.log(`\nRouting (embedded store)\n`);
	console.log('| figure | value |');
	console.log('|---|---:|');
	console.log(
		`| ${REQUESTS} queued requests, ${AGENTS} agents: time to offer all (s) | ${fmt(drain.ms / 1000, 2)} |`
	);
	console.log(`| requests offered | ${drain.offered} |`);
	console.log(
		`| most offers held by one agent (capacity ${Math.ceil(REQUESTS / AGENTS)}) | ${drain.maxLoad} |`
	);
	console.log(
		`| first message → offer at ${RATE} new conversations/s: p50 (ms) | ${fmt(latency.p50)} |`
	);
	console.log(`| … p99 (ms) | ${fmt(latency.p99)} |`);
	console.log(`| … max (ms) | ${fmt(latency.max)} |`);
	console.log(`| offers seen / never seen | ${latency.offered} / ${latency.missing} |`);
	return { drain, latency };
}
