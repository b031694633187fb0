/**
 * Assembles a Parley server: store, rooms, services, HTTP API and sync server on one
 * http.Server. Used by server/main.ts and by the tests (which start it without the UI).
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import type { Config } from './config';
import { systemClock, type Clock } from './clock';
import type { Kysely } from 'kysely';
import { openDatabase, type DbHandle } from './db/open';
import type { Database } from './db/schema';
import type { DocStore } from './db/doc-store';
import { LocalFanout, type Fanout } from './sync/fanout';
import { RedisFanout } from './sync/redis-fanout';
import { RoomManager } from './sync/rooms';
import { Repo } from './repo';
import { Sessions } from './auth/sessions';
import { ConversationService } from './conversations';
import { SkillsRouter, type Router } from './routing';
import { SyncServer, SYNC_PATH_PREFIX } from './sync/server';
import { createApi } from './http/api';
import { seedDemo } from './seed';
import { Timers } from './timers';
import { Mailer } from './mail';
import { Webhooks } from './webhooks';
import { signCsatToken } from './auth/tokens';

/** How long an emailed CSAT link can be answered. */
const CSAT_LINK_TTL_MS = 30 * 24 * 3600_000;
import { AgentLiveness } from './presence';
import { WaitingNotices } from './waiting';
import { createMetrics } from './metrics';

export type UiHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export interface ParleyOptions {
	config: Config;
	clock?: Clock;
	log?: Logger;
	router?: Router;
	fanout?: Fanout;
	/** The SvelteKit handler (build/handler.js). Without it only the API and sync are served. */
	ui?: UiHandler;
}

export interface Parley {
	server: Server;
	/** API and health routes as middleware (calls `next` for anything else); for `vite dev`. */
	handle(req: IncomingMessage, res: ServerResponse, next: () => void): void;
	/** Takes `/sync/` websocket upgrades; returns false for others (e.g. Vite's HMR socket). */
	upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
	config: Config;
	clock: Clock;
	log: Logger;
	/** This process's id among the instances of a deployment (in logs and Redis client names). */
	instanceId: string;
	database: DbHandle;
	repo: Repo;
	rooms: RoomManager;
	conversations: ConversationService;
	timers: Timers;
	mailer: Mailer;
	liveness: AgentLiveness;
	waiting: WaitingNotices;
	sync: SyncServer;
	store: DocStore;
	listen(port?: number, host?: string): Promise<number>;
	/** Graceful stop: refuse new work, close sockets, flush and snapshot every document. */
	close(): Promise<void>;
}

export async function createParley(opts: ParleyOptions): Promise<Parley> {
	const { config } = opts;
	const clock = opts.clock ?? systemClock;
	const instanceId = randomUUID().slice(0, 8);
	const log = (opts.log ?? pino({ level: config.logLevel })).child({ instance: instanceId });
	const database = await openDatabase(config, log);
	const repo = new Repo(database.db);
	const store = database.store;
	let fanout: Fanout;
	if (opts.fanout) fanout = opts.fanout;
	else if (config.redisUrl) {
		const redis = new RedisFanout(config.redisUrl, config.redisPrefix, instanceId, log);
		await redis.ready();
		fanout = redis;
	} else fanout = new LocalFanout();
	if (database.kind === 'postgres' && !config.redisUrl)
		log.warn(
			'DATABASE_URL without REDIS_URL: fine for one instance; several instances need Redis to see each other live'
		);
	const widgetKey = config.sessionSecret
		? new TextEncoder().encode(config.sessionSecret)
		: await loadOrCreateKey(database.db);

	// Event-loop delay over the last full 10 s window, for /healthz: the first thing to look at
	// when latency grows.
	const loopDelay = monitorEventLoopDelay({ resolution: 10 });
	loopDelay.enable();
	let lastWindow: { p50: number; p99: number; max: number } | null = null; // until the first 10 s pass
	const loopWindow = setInterval(() => {
		lastWindow = {
			p50: round(loopDelay.percentile(50) / 1e6),
			p99: round(loopDelay.percentile(99) / 1e6),
			max: round(loopDelay.max / 1e6)
		};
		loopDelay.reset();
	}, 10_000);
	loopWindow.unref();

	const timers = new Timers({
		db: database.db,
		postgres: database.kind === 'postgres',
		clock,
		log,
		pollMs: config.timerPollMs
	});
	const mailer = new Mailer({
		db: database.db,
		timers,
		clock,
		log,
		smtpUrl: config.smtpUrl,
		from: config.mailFrom
	});
	const webhooks = new Webhooks({
		db: database.db,
		timers,
		clock,
		log,
		targets: config.webhookTargets
	});
	let conversations: ConversationService | null = null;
	// Its sources are read at each scrape; `sync` exists by then.
	const metrics = createMetrics({
		connections: () => sync.connectionCount,
		documents: () => rooms.size
	});
	store.onCommit = metrics.committed;
	const rooms = new RoomManager({
		store,
		fanout,
		clock,
		log,
		idleMs: config.limits.docIdleMs,
		compactAfterUpdates: config.limits.compactAfterUpdates,
		headsCheckMs: config.limits.headsCheckMs,
		onLoad: (room) => conversations?.onRoomLoaded(room),
		onEvict: (room) => conversations?.onRoomEvicted(room)
	});
	const waiting = new WaitingNotices({
		repo,
		rooms,
		clock,
		log,
		debounceMs: config.limits.waitingNoticeDebounceMs
	});
	conversations = new ConversationService({
		repo,
		rooms,
		locks: database.locks,
		ownership: database.ownership,
		claimRetryMs: config.limits.claimRetryMs,
		timers,
		offerTimeoutMs: config.offerTimeoutMs,
		sharedStore: store.shared,
		router: opts.router ?? new SkillsRouter(),
		clock,
		log,
		onQueueChanged: () => waiting.schedule(),
		mailer,
		onEvent: (event) => webhooks.onEvent(event),
		withNextCommit: store.withNextCommit?.bind(store),
		onMerged: metrics.merged,
		csatLink: async (conversationId) => {
			const token = await signCsatToken(widgetKey, conversationId, {
				now: clock.now(),
				ttlMs: CSAT_LINK_TTL_MS
			});
			const base = config.publicUrl ?? `http://localhost:${config.port}`;
			return `${base.replace(/\/$/, '')}/csat#token=${token}`;
		},
		revoke: (principal, docs, reason) => {
			sync.revoke(principal, docs, reason);
			fanout.publishControl({ kind: 'revoke', principal, docs, reason });
		},
		participantsChanged: (conversationId) =>
			fanout.publishControl({ kind: 'participants', conversationId }),
		presenceChanged: (agentId) => fanout.publishControl({ kind: 'presence', agentId })
	});
	// A lost notice could leave a stale membership answer: after a broken link, forget them all.
	fanout.onResync(() => conversations!.forgetMembers());
	const liveness = new AgentLiveness({
		db: database.db,
		timers,
		clock,
		log,
		instanceId,
		graceMs: config.presenceGraceMs,
		heartbeatMs: config.limits.presenceHeartbeatMs,
		onGone: (agentId) => conversations!.wentAway(agentId)
	});
	const sessions = new Sessions(repo, clock, widgetKey, config.limits.agentSessionMs);
	const sync = new SyncServer({
		config,
		clock,
		log,
		sessions,
		conversations,
		rooms,
		onAgentInbox: (agentId, open) => liveness.track(agentId, open)
	});
	const api = createApi({
		config,
		clock,
		log,
		repo,
		sessions,
		conversations,
		mailer,
		webhooks,
		widgetKey,
		metrics: metrics.registry,
		health: () => ({
			connections: sync.connectionCount,
			documents: rooms.size,
			eventLoopDelayMs: lastWindow
		}),
		disconnect: (principal, reason) => {
			sync.disconnect(principal, reason);
			fanout.publishControl({ kind: 'disconnect', principal, reason });
		}
	});
	fanout.onControl((m) => {
		if (m.kind === 'disconnect') sync.disconnect(m.principal, m.reason);
		else if (m.kind === 'revoke') sync.revoke(m.principal, m.docs, m.reason);
		else if (m.kind === 'participants') conversations!.forgetMembers(m.conversationId);
		else if (m.kind === 'presence') conversations!.forgetCalm();
	});

	if (
		config.seedDemo &&
		(await database.locks.run('seed', () => seedDemo(repo, config, clock.now())))
	)
		log.info('demo data loaded');
	await conversations.drainQueue();
	timers.start();
	liveness.start();
	// Safety net: a request whose instance died between storing it and offering it is routed by
	// the next sweep of any instance (routing itself runs under the cross-instance lock).
	const queueSweep = setInterval(() => {
		conversations!.drainQueue().catch((err) => log.warn({ err }, 'queue sweep failed'));
		waiting.schedule();
	}, config.limits.queueSweepMs);
	queueSweep.unref();

	const handle: Parley['handle'] = (req, res, next) => {
		api(req, res)
			.then((handled) => {
				if (!handled) next();
			})
			.catch((err) => {
				log.error({ err }, 'unhandled request error');
				if (!res.headersSent) res.writeHead(500).end();
			});
	};
	const upgrade: Parley['upgrade'] = (req, socket, head) => {
		if (!(req.url ?? '').startsWith(SYNC_PATH_PREFIX)) return false;
		sync.handleUpgrade(req, socket, head);
		return true;
	};
	const server = createServer((req, res) =>
		handle(req, res, () => (opts.ui ? opts.ui(req, res, () => notFound(res)) : notFound(res)))
	);
	server.on('upgrade', (req, socket, head) => {
		if (!upgrade(req, socket, head)) socket.destroy();
	});

	let closing: Promise<void> | null = null;
	return {
		server,
		handle,
		upgrade,
		config,
		clock,
		log,
		instanceId,
		database,
		repo,
		rooms,
		conversations,
		timers,
		mailer,
		liveness,
		waiting,
		sync,
		store,
		listen(port = config.port, host = config.host) {
			return new Promise((resolve, reject) => {
				server.once('error', reject);
				server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
			});
		},
		close() {
			closing ??= (async () => {
				const stopped = new Promise<void>((r) => server.close(() => r()));
				await timers.stop();
				await webhooks.drain();
				liveness.stop();
				clearInterval(queueSweep);
				await waiting.stop();
				await sync.close();
				server.closeAllConnections();
				await liveness.settle();
				await stopped;
				await conversations.drain();
				await rooms.closeAll();
				await store.close();
				await fanout.close();
				mailer.close();
				await database.close();
				clearInterval(loopWindow);
				loopDelay.disable();
			})();
			return closing;
		}
	};
}

const round = (n: number) => Math.round(n * 10) / 10;

function notFound(res: ServerResponse) {
	res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
}

/**
 * The widget-session signing key, kept in the store so sessions survive restarts and every
 * instance signs with the same key (the first to start creates it).
 */
async function loadOrCreateKey(db: Kysely<Database>): Promise<Uint8Array> {
	await db
		.insertInto('server_keys')
		.values({ name: 'widget', value: randomBytes(32) })
		.onConflict((oc) => oc.column('name').doNothing())
		.execute();
	const row = await db
		.selectFrom('server_keys')
		.select('value')
		.where('name', '=', 'widget')
		.executeTakeFirstOrThrow();
	return new Uint8Array(row.value);
}
