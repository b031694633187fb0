/**
 * `npm run bench`: the foundation's load against Parley and against the reference
 * (@y/websocket-server 0.1.1 with y-leveldb), each as its own process, one after the other.
 *
 * Load: N conversations, each with a customer and an agent as real y-websocket clients,
 * sending R messages/s in total for S seconds. Reports delivery latency p50/p99 (send →
 * the other participant sees it), lost and duplicated messages, server CPU and resident memory.
 *
 *   npm run bench -- [--conversations 1000] [--rate 500] [--seconds 20] [--rounds 3]
 *                    [--only parley|reference]
 *   npm run bench -- --instances 2 [--conversations …]
 *   npm run bench -- --case routing   (only the routing benchmark, bench/routing.ts; `--case chat`
 *   runs only the chat load; by default both run)
 *
 * With `--instances N` (N > 1) it runs Parley three ways, side by side: one instance on the
 * embedded store (the default deployment), one instance on PostgreSQL + Redis, and N instances
 * on PostgreSQL + Redis (PARLEY_TEST_DATABASE_URL, PARLEY_TEST_REDIS_URL, defaults on
 * 127.0.0.1). Clients are spread like a balancer would: the customer of pair i on instance
 * i mod N, the agent on instance ⌊i/N⌋ mod N, so half the conversations cross instances.
 *
 * `--rounds R` repeats the measurement R times (default 3) and reports each figure's median
 * and every round's p99 and CPU-per-message ratios: on this shared 2-core machine one run's
 * p99 moves by 2× from one run to the next, so one run cannot tell whether a target holds.
 * Each system's load in a round runs in a load-generating process of its own (a fresh heap,
 * as the first run of a single-process bench has), and the order alternates from round to
 * round (Parley first, then the reference first, …), so neither always gets the warmer machine.
 *
 * BENCH_NODE_ARGS adds Node flags to the Parley server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { ChatSession } from '../src/lib/client/chat-session';
import { messagesOf } from '../src/lib/domain/conversation-doc';
import { seedBench } from './setup';
import { startProcess, waitHttp } from './process';
import { dropPgSchema, pgSchemaUrl, testRedisUrl } from '../tests/helpers/backend';

process.setMaxListeners(0); // y-websocket adds an exit listener per provider in Node
const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
	args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1] ?? '');
const CONVERSATIONS = Number(args.get('conversations') ?? 1000);
const RATE = Number(args.get('rate') ?? 500);
const SECONDS = Number(args.get('seconds') ?? 20);
const ONLY = args.get('only');
const INSTANCES = Number(args.get('instances') ?? 1);
if (!Number.isInteger(INSTANCES) || INSTANCES < 1 || INSTANCES > 8) {
	console.error('--instances must be 1 to 8');
	process.exit(2);
}
const ROUNDS = Number(args.get('rounds') ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) {
	console.error('--rounds must be 1 to 20');
	process.exit(2);
}
/** Set on a load-generating child of a multi-round run: measure one system, write its Result here. */
const CHILD_OUT = args.get('child-out');
const root = join(import.meta.dirname, '..');

interface Result {
	name: string;
	sent: number;
	delivered: number;
	lost: number;
	duplicated: number;
	p50: number;
	p99: number;
	/**
	 * p99 of the messages sent after the first WARM_MS: without the start of the load, when
	 * every participant writes for the first time (first-message work, JIT warm-up).
	 */
	p99Steady: number;
	max: number;
	cpuPercent: number;
	/** Server event-loop delay p99 over the run (from /healthz), when the server reports it. */
	serverLoopP99: number;
	/** Parley's /metrics over the load: messages merged in the turn they arrived, % of all. */
	mergedImmediatePercent: number;
	/** Parley's /metrics over the load: store commits' p50 and p99, as histogram bucket bounds. */
	commitP50Ms: number;
	commitP99Ms: number;
	/** CPU of this load-generating process (all clients) during the load, % of one core. */
	clientCpuPercent: number;
	/** This process's own event-loop delay p99 during the load: latency it adds itself. */
	clientLoopP99: number;
	/** CPU of every PostgreSQL and Redis process during the load, % of one core. */
	engineCpuPercent: number;
	/** The whole machine's busy time during the load, % of all cores. */
	machineBusyPercent: number;
	cpuMsPerMessage: number;
	rssMb: number;
	rssPeakMb: number;
	connectSeconds: number;
}

/** One side of a conversation as the load sees it: send a text, hear the other side's texts. */
interface Participant {
	send(text: string): void;
	onText(fn: (text: string) => void): void;
	synced(): boolean;
	destroy(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The start of the load that `p99Steady` leaves out. */
const WARM_MS = 5000;

function cpuTicks(pid: number): number {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}
/** CPU ticks of every PostgreSQL and Redis process on the machine (the shared engines). */
function engineTicks(): number {
	let total = 0;
	for (const pid of readdirSync('/proc')) {
		if (!/^\d+$/.test(pid)) continue;
		try {
			const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
			if (comm === 'postgres' || comm.startsWith('redis-server')) total += cpuTicks(Number(pid));
		} catch {
			/* gone */
		}
	}
	return total;
}
/** Busy and total CPU ticks of the whole machine (all cores). */
function machineTicks(): { busy: number; total: number } {
	const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
	const idle = f[3] + f[4];
	const total = f.reduce((a, b) => a + b, 0);
	return { busy: total - idle, total };
}
function rssMb(pid: number): number {
	const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) / 1024 : 0;
}

function percentile(sorted: number[], p: number) {
	if (sorted.length === 0) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runLoad(
	name: string,
	pids: number[],
	healthUrls: string[],
	pairs: { customer: Participant; agent: Participant }[],
	connectSeconds: number
): Promise<Result> {
	const sentAt = new Map<string, number>();
	const deliveries = new Map<string, number>();
	const latencies: number[] = [];
	/** Latencies of messages sent after the first WARM_MS of the load. */
	const steady: number[] = [];
	let loadStart = Infinity;
	let duplicated = 0;
	const hear = (text: string) => {
		if (!text.startsWith('b:')) return;
		const id = text.slice(2, text.indexOf(':', 2));
		const n = (deliveries.get(id) ?? 0) + 1;
		deliveries.set(id, n);
		if (n > 1) duplicated++;
		else {
			const sent = sentAt.get(id);
			if (sent !== undefined) {
				const latency = performance.now() - sent;
				latencies.push(latency);
				if (sent - loadStart >= WARM_MS) steady.push(latency);
			}
		}
	};
	for (const p of pairs) {
		p.customer.onText(hear);
		p.agent.onText(hear);
	}
	await sleep(1000);
	const metricsUrls = healthUrls.map((u) => u.replace(/\/healthz$/, '/metrics'));
	const metrics0 = await scrapeAll(metricsUrls);
	const cpuAll = () => pids.reduce((n, pid) => n + cpuTicks(pid), 0);
	const rssAll = () => pids.reduce((n, pid) => n + rssMb(pid), 0);
	const cpu0 = cpuAll();
	const engine0 = engineTicks();
	const machine0 = machineTicks();
	const client0 = process.cpuUsage();
	const clientLoop = monitorEventLoopDelay({ resolution: 10 });
	clientLoop.enable();
	const t0 = performance.now();
	loadStart = t0;
	let rssPeak = 0;
	let seq = 0;
	const tickMs = 10;
	const perTick = (RATE * tickMs) / 1000;
	let owed = 0;
	while (performance.now() - t0 < SECONDS * 1000) {
		owed += perTick;
		while (owed >= 1) {
			owed--;
			const pair = pairs[seq % pairs.length];
			const from = (seq >> 1) % 2 === 0 ? pair.customer : pair.agent;
			const id = `m${seq++}`;
			sentAt.set(id, performance.now());
			from.send(`b:${id}:x`);
		}
		if (seq % 500 === 0) rssPeak = Math.max(rssPeak, rssAll());
		const next = t0 + (seq / RATE) * 1000;
		await sleep(Math.max(0, next - performance.now()));
	}
	const loadSeconds = (performance.now() - t0) / 1000;
	const cpu1 = cpuAll();
	const engine1 = engineTicks();
	const machine1 = machineTicks();
	const client = process.cpuUsage(client0);
	clientLoop.disable();
	const rss = rssAll();
	rssPeak = Math.max(rssPeak, rss);
	// drain: wait until everything arrived, or 15 s
	const drainDeadline = performance.now() + 15_000;
	while (deliveries.size < seq && performance.now() < drainDeadline) await sleep(50);
	const sorted = latencies.sort((a, b) => a - b);
	steady.sort((a, b) => a - b);
	const loops = await Promise.all(
		healthUrls.map(
			async (u) =>
				((await (await fetch(u)).json()) as { eventLoopDelayMs?: { p99: number } | null })
					.eventLoopDelayMs?.p99 ?? NaN
		)
	);
	const cpuSeconds = (cpu1 - cpu0) / 100;
	const metrics = diffSamples(await scrapeAll(metricsUrls), metrics0);
	const immediate = metrics.get('parley_messages_merged_total{path="immediate"}') ?? NaN;
	const deferred = metrics.get('parley_messages_merged_total{path="deferred"}') ?? NaN;
	return {
		name,
		sent: seq,
		delivered: deliveries.size,
		lost: seq - deliveries.size,
		duplicated,
		p50: percentile(sorted, 50),
		p99: percentile(sorted, 99),
		p99Steady: percentile(steady, 99),
		max: sorted[sorted.length - 1] ?? NaN,
		cpuPercent: (cpuSeconds / loadSeconds) * 100,
		serverLoopP99: loops.length ? Math.max(...loops) : NaN,
		mergedImmediatePercent: (immediate / (immediate + deferred)) * 100,
		commitP50Ms: histogramQuantile(metrics, 'parley_store_commit_seconds', 0.5) * 1000,
		commitP99Ms: histogramQuantile(metrics, 'parley_store_commit_seconds', 0.99) * 1000,
		clientCpuPercent: ((client.user + client.system) / 1e6 / loadSeconds) * 100,
		clientLoopP99: clientLoop.percentile(99) / 1e6,
		engineCpuPercent: ((engine1 - engine0) / 100 / loadSeconds) * 100,
		machineBusyPercent:
			((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * 100,
		cpuMsPerMessage: (cpuSeconds * 1000) / Math.max(1, seq),
		rssMb: rss,
		rssPeakMb: rssPeak,
		connectSeconds
	};
}

/** Every instance's /metrics samples (`series → value`), summed over the instances. */
async function scrapeAll(urls: string[]): Promise<Map<string, number>> {
	const sum = new Map<string, number>();
	for (const url of urls) {
		const text = await (await fetch(url)).text();
		for (const line of text.split('\n')) {
			if (!line.startsWith('parley_')) continue;
			const at = line.lastIndexOf(' ');
			const series = line.slice(0, at);
			sum.set(series, (sum.get(series) ?? 0) + Number(line.slice(at + 1)));
		}
	}
	return sum;
}

const diffSamples = (after: Map<string, number>, before: Map<string, number>) =>
	new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));

/** The upper bound of the bucket holding quantile `q` of a (differenced) histogram; NaN if empty. */
function histogramQuantile(samples: Map<string, number>, name: string, q: number): number {
	const buckets = [...samples]
		.map(([k, v]) => [/^[^{]+_bucket\{le="([^"]+)"\}$/.exec(k), v, k] as const)
		.filter(([m, , k]) => m && k.startsWith(`${name}_bucket`))
		.map(([m, v]) => [m![1] === '+Inf' ? Infinity : Number(m![1]), v] as const)
		.sort((a, b) => a[0] - b[0]);
	const total = buckets.at(-1)?.[1] ?? 0;
	if (total === 0) return NaN;
	return buckets.find(([, count]) => count >= q * total)![0];
}

async function connectAll<T extends { synced(): boolean }>(
	make: (i: number) => T,
	count: number
): Promise<T[]> {
	const out: T[] = [];
	for (let i = 0; i < count; i += 50) {
		const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) => make(i + j));
		out.push(...batch);
		const deadline = Date.now() + 30_000;
		while (!batch.every((b) => b.synced())) {
			if (Date.now() > deadline) throw new Error('clients did not sync within 30 s');
			await sleep(20);
		}
	}
	return out;
}

/** Connects every pair, runs the load, and closes the clients. */
async function measure(
	name: string,
	socketsPerPair: number,
	pids: number[],
	healthUrls: string[],
	makePair: (i: number) => { customer: Participant; agent: Participant; synced(): boolean }
): Promise<Result> {
	const t0 = performance.now();
	const pairs = await connectAll(makePair, CONVERSATIONS);
	const connectSeconds = (performance.now() - t0) / 1000;
	console.log(
		`${name}: ${CONVERSATIONS * socketsPerPair} sockets connected in ${connectSeconds.toFixed(1)} s; loading…`
	);
	const result = await runLoad(name, pids, healthUrls, pairs, connectSeconds);
	for (const p of pairs) {
		p.customer.destroy();
		p.agent.destroy();
	}
	return result;
}

async function stopServer(child: ChildProcess, dir: string) {
	if (child.exitCode === null) {
		child.kill('SIGTERM');
		await new Promise((r) => child.once('exit', r));
	}
	rmSync(dir, { recursive: true, force: true });
}

async function benchParley(
	opts: { name: string; instances: number; shared: boolean } = {
		name: 'parley',
		instances: 1,
		shared: false
	}
): Promise<Result> {
	const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
	const secret = 'bench-session-secret-bench-session-secret';
	const dbPath = join(dir, 'parley.db');
	const schema = `bench_${process.pid}`;
	const engines: Record<string, string> = opts.shared
		? {
				// A fresh schema each run (drop first: a run killed midway leaves its own).
				DATABASE_URL: await dropPgSchema(schema).then(() => pgSchemaUrl(schema)),
				REDIS_URL: testRedisUrl,
				PARLEY_REDIS_PREFIX: `parley-bench-${process.pid}`
			}
		: {};
	console.log(`${opts.name}: seeding ${CONVERSATIONS} conversations…`);
	const seeded = await seedBench(
		{ databasePath: dbPath, databaseUrl: engines.DATABASE_URL },
		CONVERSATIONS,
		secret
	);
	const ports = Array.from({ length: opts.instances }, (_, i) => 3901 + 10 + i);
	const children = ports.map((port) =>
		startProcess(
			[
				// As `npm start` (embedded store) and `npm run cluster` (PostgreSQL) run it. On the
				// embedded store a 4 MB young generation keeps each scavenge short (p99 10–12 ms
				// against 14–17 ms with 16 MB); on PostgreSQL + Redis it is worse (two instances:
				// p99 41–63 ms against 20–23 ms), as more objects outlive a scavenge while they
				// wait for a round trip. docs/performance.md, docs/configuration.md.
				`--max-semi-space-size=${opts.shared ? 16 : 4}`,
				...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
				'--import',
				'tsx',
				'server/main.ts'
			],
			{
				PORT: String(port),
				HOST: '127.0.0.1',
				PARLEY_DB: dbPath,
				...engines,
				PARLEY_SESSION_SECRET: secret,
				PARLEY_SEED_DEMO: 'false',
				PARLEY_SQLITE_SYNCHRONOUS: process.env.PARLEY_SQLITE_SYNCHRONOUS ?? 'full',
				LOG_LEVEL: 'warn',
				PARLEY_MESSAGES_PER_SECOND: '1000',
				PARLEY_MESSAGE_BURST: '1000'
			}
		)
	);
	try {
		for (const [i, { child, logs }] of children.entries())
			await waitHttp(`http://127.0.0.1:${ports[i]}/healthz`, child, logs);
		const urls = ports.map((port) => `ws://127.0.0.1:${port}/sync`);
		const N = opts.instances;
		const participant = (session: ChatSession): Participant => {
			let seen = 0;
			const listeners: ((t: string) => void)[] = [];
			messagesOf(session.conversation).observe(() => {
				const arr = messagesOf(session.conversation);
				for (; seen < arr.length; seen++) {
					const m = arr.get(seen);
					if (m.author !== session.opts.me.principal) for (const l of listeners) l(m.text);
				}
			});
			return {
				send: (t) => void session.send(t),
				onText: (fn) => listeners.push(fn),
				synced: () => session.conversationProvider.synced && session.outboxProvider.synced,
				destroy: () => session.destroy()
			};
		};
		return await measure(
			opts.name,
			4,
			children.map((c) => c.child.pid!),
			ports.map((port) => `http://127.0.0.1:${port}/healthz`),
			(i) => {
				const s = seeded[i];
				const customer = new ChatSession({
					serverUrl: urls[i % N],
					conversationId: s.conversationId,
					me: { principal: s.customer.principal, role: 'customer', name: s.customer.name },
					params: { token: s.customer.token },
					WebSocketPolyfill: WebSocket
				});
				const Cookie = class extends WebSocket {
					constructor(url: string, protocols?: string | string[]) {
						super(url, protocols, { headers: { cookie: s.agent.cookie } });
					}
				};
				const agent = new ChatSession({
					serverUrl: urls[Math.floor(i / N) % N],
					conversationId: s.conversationId,
					me: { principal: s.agent.principal, role: 'agent', name: s.agent.name },
					WebSocketPolyfill: Cookie
				});
				const c = participant(customer);
				const a = participant(agent);
				return { customer: c, agent: a, synced: () => c.synced() && a.synced() };
			}
		);
	} finally {
		for (const { child } of children) await stopServer(child, dir);
		if (opts.shared) await dropPgSchema(schema);
	}
}

async function benchReference(): Promise<Result> {
	const dir = mkdtempSync(join(tmpdir(), 'ref-bench-'));
	const port = 3902;
	const { child, logs } = startProcess(['node_modules/@y/websocket-server/src/server.js'], {
		PORT: String(port),
		HOST: '127.0.0.1',
		YPERSISTENCE: join(dir, 'leveldb')
	});
	try {
		await waitHttp(`http://127.0.0.1:${port}/`, child, logs);
		const serverUrl = `ws://127.0.0.1:${port}`;
		const participant = (room: string): Participant => {
			const doc = new Y.Doc();
			const provider = new WebsocketProvider(serverUrl, room, doc, {
				WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
				disableBc: true
			});
			const listeners: ((t: string) => void)[] = [];
			const messages = doc.getArray<{ text: string }>('messages');
			messages.observe((e) => {
				if (e.transaction.local) return;
				for (const item of e.changes.added)
					for (const m of item.content.getContent() as { text: string }[])
						for (const l of listeners) l(m.text);
			});
			return {
				send: (text) => messages.push([{ text }]),
				onText: (fn) => listeners.push(fn),
				synced: () => provider.synced,
				destroy: () => {
					provider.destroy();
					doc.destroy();
				}
			};
		};
		return await measure('reference', 2, [child.pid!], [], (i) => {
			const c = participant(`conv-${i}`);
			const a = participant(`conv-${i}`);
			return { customer: c, agent: a, synced: () => c.synced() && a.synced() };
		});
	} finally {
		await stopServer(child, dir);
	}
}

// `--case routing` runs only the routing benchmark, `--case chat` only the chat load; both by default.
const CASE = args.get('case') ?? 'all';
if (!['all', 'chat', 'routing'].includes(CASE)) {
	console.error('--case is chat, routing or all');
	process.exit(2);
}
if (CASE === 'routing') {
	const { benchRouting } = await import('./routing');
	const report = await benchRouting();
	mkdirSync(join(root, 'bench', 'out'), { recursive: true });
	writeFileSync(join(root, 'bench', 'out', 'routing.json'), JSON.stringify(report, null, 2));
	process.exit(0);
}

/** The systems measured, in the order of the first round. */
const SYSTEMS: string[] =
	INSTANCES > 1
		? // --only pg skips the embedded-store run (its column then shows —).
			['parley', 'parley-pg', `parley-pg×${INSTANCES}`].filter(
				(n) => n !== 'parley' || ONLY !== 'pg'
			)
		: ['parley', 'reference'].filter((n) => !ONLY || n === ONLY);

/** Measures one system in this process. */
function measureSystem(name: string): Promise<Result> {
	if (name === 'reference') return benchReference();
	if (name === 'parley') return benchParley();
	return benchParley({ name, instances: name === 'parley-pg' ? 1 : INSTANCES, shared: true });
}

/** Measures one system in a load-generating process of its own (this script, one system). */
async function measureInChild(name: string, dir: string): Promise<Result> {
	const out = join(dir, `${name.replace(/[^a-z0-9-]/gi, '_')}.json`);
	const passOn = [...args].filter(([k]) => !['rounds', 'only', 'case'].includes(k)).flat();
	const child = spawn(
		process.execPath,
		[
			...process.execArgv,
			process.argv[1],
			...passOn.map((a, i) => (i % 2 === 0 ? `--${a}` : a)),
			'--case',
			'chat',
			'--system',
			name,
			'--child-out',
			out
		],
		{ cwd: root, stdio: ['ignore', 'inherit', 'inherit'] }
	);
	const code = await new Promise<number | null>((r) => child.once('exit', r));
	if (code !== 0) throw new Error(`the ${name} measurement exited with ${code}`);
	return JSON.parse(readFileSync(out, 'utf8')) as Result;
}

if (CHILD_OUT) {
	writeFileSync(CHILD_OUT, JSON.stringify(await measureSystem(args.get('system') ?? 'parley')));
	process.exit(0);
}

/** rounds[i] holds round i's results, one per system. */
const rounds: Result[][] = [];
// One round measures in this process; several give each system's load a process of its own.
const dir = mkdtempSync(join(tmpdir(), 'parley-bench-rounds-'));
try {
	for (let r = 0; r < ROUNDS; r++) {
		const order = r % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
		if (ROUNDS > 1) console.log(`\nround ${r + 1} of ${ROUNDS}: ${order.join(', then ')}`);
		const round: Result[] = [];
		for (const [i, name] of order.entries()) {
			if (ROUNDS > 1 || i > 0) await sleep(1000);
			round.push(await (ROUNDS === 1 ? measureSystem(name) : measureInChild(name, dir)));
		}
		rounds.push(round);
	}
} finally {
	rmSync(dir, { recursive: true, force: true });
}

const median = (xs: number[]) => {
	const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
	if (s.length === 0) return NaN;
	const m = Math.floor(s.length / 2);
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Each system's figures: its one run's, or with several rounds each figure's median. */
const results: Result[] = SYSTEMS.map((name) => {
	const runs = rounds.map((round) => round.find((r) => r.name === name)!);
	if (runs.length === 1) return runs[0];
	const med = Object.fromEntries(
		Object.keys(runs[0])
			.filter((k) => k !== 'name')
			.map((k) => [k, median(runs.map((r) => r[k as keyof Result] as number))])
	);
	return { ...med, name } as Result;
});
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const rows: [string, (r: Result) => number, number][] = [
	['messages sent', (r) => r.sent, 0],
	['delivered', (r) => r.delivered, 0],
	['lost', (r) => r.lost, 0],
	['duplicated', (r) => r.duplicated, 0],
	['latency p50 (ms)', (r) => r.p50, 1],
	['latency p99 (ms)', (r) => r.p99, 1],
	[`latency p99 after the first ${WARM_MS / 1000} s (ms)`, (r) => r.p99Steady, 1],
	['latency max (ms)', (r) => r.max, 1],
	['server CPU (% of one core)', (r) => r.cpuPercent, 1],
	['server CPU per message (ms)', (r) => r.cpuMsPerMessage, 3],
	['server event-loop delay p99 (ms)', (r) => r.serverLoopP99, 1],
	['messages merged in the turn they arrived (%)', (r) => r.mergedImmediatePercent, 1],
	['store commit p50 (ms, its histogram bucket bound)', (r) => r.commitP50Ms, 1],
	['store commit p99 (ms, its histogram bucket bound)', (r) => r.commitP99Ms, 1],
	['load generator CPU, all clients (% of one core)', (r) => r.clientCpuPercent, 1],
	['load generator event-loop delay p99 (ms, 10 ms timer)', (r) => r.clientLoopP99, 1],
	['PostgreSQL + Redis CPU (% of one core)', (r) => r.engineCpuPercent, 1],
	[`whole machine busy (% of ${cpus().length} cores)`, (r) => r.machineBusyPercent, 1],
	['server RSS at end (MB)', (r) => r.rssMb, 0],
	['server RSS peak (MB)', (r) => r.rssPeakMb, 0],
	['connect + first sync (s)', (r) => r.connectSeconds, 1]
];
console.log(
	`\nLoad: ${CONVERSATIONS} conversations × (customer + agent), ${RATE} messages/s for ${SECONDS} s` +
		(ROUNDS > 1 ? `; each figure the median of ${ROUNDS} rounds (rounds below)` : '') +
		'\n'
);
if (INSTANCES > 1) {
	// Several instances: CPU and memory are summed over the instances (not PostgreSQL/Redis).
	const byName = (n: string) => results.find((r) => r.name === n);
	const [single, pg1, pgN] = ['parley', 'parley-pg', `parley-pg×${INSTANCES}`].map(byName);
	console.log(
		`| figure | 1 instance, SQLite | 1 instance, PG + Redis | ${INSTANCES} instances, PG + Redis | ${INSTANCES} inst. / 1 SQLite | ${INSTANCES} inst. / 1 PG |`
	);
	console.log('|---|---:|---:|---:|---:|---:|');
	for (const [label, get, d] of rows) {
		const [a, b, c] = [single, pg1, pgN].map((r) => (r ? get(r) : NaN));
		console.log(
			`| ${label} | ${fmt(a, d)} | ${fmt(b, d)} | ${fmt(c, d)} | ${a ? fmt(c / a, 2) : '—'} | ${b ? fmt(c / b, 2) : '—'} |`
		);
	}
} else {
	const [parley, reference] = [
		results.find((r) => r.name === 'parley'),
		results.find((r) => r.name === 'reference')
	];
	console.log('| figure | Parley | reference | Parley / reference |');
	console.log('|---|---:|---:|---:|');
	for (const [label, get, d] of rows) {
		const p = parley ? get(parley) : NaN;
		const r = reference ? get(reference) : NaN;
		console.log(
			`| ${label} | ${fmt(p, d)} | ${fmt(r, d)} | ${parley && reference && r ? fmt(p / r, 2) : '—'} |`
		);
	}
}

/**
 * Every round's p99 and CPU per message, and how many rounds met the issues' targets: the
 * foundation's (Parley's p99 and CPU per message no higher than the reference's) or, with
 * several instances, scale-out's (their p99 under 2× the single instance's).
 */
const pick = (round: Result[], name: string) => round.find((r) => r.name === name);
// (A child's NaN comes back through JSON as null: no ratio then, rather than 0.)
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
	Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a as number) / (b as number) : NaN;
const many = `parley-pg×${INSTANCES}`;
/** The columns of the per-round table, and their labels. */
const [columns, labels] =
	INSTANCES > 1
		? [
				['parley', 'parley-pg', many],
				['SQLite', '1 PG', `${INSTANCES} PG`]
			]
		: [
				['parley', 'reference'],
				['Parley', 'reference']
			];
console.log(
	`\n| round | order | p99 ms: ${labels.join(' / ')} | CPU per message ms: ${labels.join(' / ')} | lost + duplicated |`
);
console.log('|---:|---|---|---|---:|');
for (const [i, round] of rounds.entries()) {
	const by = columns.map((n) => pick(round, n));
	console.log(
		`| ${i + 1} | ${round.map((r) => r.name).join(', ')} | ${by.map((r) => fmt(r?.p99 ?? NaN)).join(' / ')} | ${by.map((r) => fmt(r?.cpuMsPerMessage ?? NaN, 3)).join(' / ')} | ${round.reduce((n, r) => n + r.lost + r.duplicated, 0)} |`
	);
}
/** Each target: a figure of one system over another's, per round, at most `limit`. */
const targets: {
	label: string;
	figure: (r: Result) => number;
	of: string;
	over: string;
	limit: number;
}[] =
	INSTANCES > 1
		? [
				{
					label: `${INSTANCES} instances' p99 / 1 SQLite instance's`,
					figure: (r) => r.p99,
					of: many,
					over: 'parley',
					limit: 2
				},
				{
					label: `${INSTANCES} instances' p99 / 1 PostgreSQL instance's`,
					figure: (r) => r.p99,
					of: many,
					over: 'parley-pg',
					limit: 2
				}
			]
		: [
				{
					label: 'p99, Parley / reference',
					figure: (r) => r.p99,
					of: 'parley',
					over: 'reference',
					limit: 1
				},
				{
					label: 'CPU per message, Parley / reference',
					figure: (r) => r.cpuMsPerMessage,
					of: 'parley',
					over: 'reference',
					limit: 1
				}
			];
console.log('');
for (const t of targets) {
	const values = rounds.map((round) => {
		const [a, b] = [pick(round, t.of), pick(round, t.over)];
		return ratio(a && t.figure(a), b && t.figure(b));
	});
	const known = values.filter(Number.isFinite);
	if (known.length === 0) continue;
	const met = known.filter((v) => v <= t.limit).length;
	console.log(
		`target ${t.label} ≤ ${t.limit}: met in ${met} of ${known.length} round(s); per round ${known.map((v) => fmt(v, 2)).join(', ')}; median ${fmt(median(known), 2)}`
	);
}
const lostOrDuplicated = rounds.flat().reduce((n, r) => n + r.lost + r.duplicated, 0);
console.log(
	`target no loss and no duplicates: ${lostOrDuplicated === 0 ? 'met' : 'NOT met'} (${lostOrDuplicated} lost or duplicated over every run)`
);

mkdirSync(join(root, 'bench', 'out'), { recursive: true });
writeFileSync(
	join(root, 'bench', 'out', 'report.json'),
	JSON.stringify(
		{
			conversations: CONVERSATIONS,
			rate: RATE,
			seconds: SECONDS,
			instances: INSTANCES,
			results,
			rounds
		},
		null,
		2
	)
);
if (CASE === 'all') {
	await sleep(1000);
	const { benchRouting } = await import('./routing');
	const report = await benchRouting();
	writeFileSync(join(root, 'bench', 'out', 'routing.json'), JSON.stringify(report, null, 2));
}
process.exit(0);
