/**
 * Assembles a Parley server: store, rooms, services, HTTP API and sync server on one
 * http.Server. Used by server/main.ts and by the tests (which start it without the UI).
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import type { Config } from './config';
import { systemClock, type Clock } from './clock';
import { openSqlite } from './db/sqlite';
import { SqliteDocStore, type DocStore } from './db/doc-store';
import { LocalFanout, type Fanout } from './sync/fanout';
import { RoomManager } from './sync/rooms';
import { Repo } from './repo';
import { Sessions } from './auth/sessions';
import { ConversationService } from './conversations';
import { FirstAvailableRouter, type Router } from './routing';
import { SyncServer, SYNC_PATH_PREFIX } from './sync/server';
import { createApi } from './http/api';
import { seedDemo } from './seed';

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
	repo: Repo;
	rooms: RoomManager;
	conversations: ConversationService;
	sync: SyncServer;
	store: DocStore;
	listen(port?: number, host?: string): Promise<number>;
	/** Graceful stop: refuse new work, close sockets, flush and snapshot every document. */
	close(): Promise<void>;
}

export async function createParley(opts: ParleyOptions): Promise<Parley> {
	const { config } = opts;
	const clock = opts.clock ?? systemClock;
	const log = opts.log ?? pino({ level: config.logLevel });
	const sqlite = await openSqlite(config.databasePath, config.sqliteSynchronous);
	const repo = new Repo(sqlite.db);
	const store = new SqliteDocStore(sqlite.raw);
	const fanout = opts.fanout ?? new LocalFanout();
	const widgetKey = config.sessionSecret
		? new TextEncoder().encode(config.sessionSecret)
		: await loadOrCreateKey(sqlite.raw);

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

	let conversations: ConversationService | null = null;
	const rooms = new RoomManager({
		store,
		fanout,
		clock,
		log,
		idleMs: config.limits.docIdleMs,
		compactAfterUpdates: config.limits.compactAfterUpdates,
		onLoad: (room) => conversations?.onRoomLoaded(room)
	});
	conversations = new ConversationService({
		repo,
		rooms,
		router: opts.router ?? new FirstAvailableRouter(),
		clock,
		log
	});
	const sessions = new Sessions(repo, clock, widgetKey, config.limits.agentSessionMs);
	const sync = new SyncServer({ config, clock, log, sessions, conversations, rooms });
	const api = createApi({
		config,
		clock,
		log,
		repo,
		sessions,
		conversations,
		widgetKey,
		health: () => ({
			connections: sync.connectionCount,
			documents: rooms.size,
			eventLoopDelayMs: lastWindow
		}),
		disconnect: (principal, reason) => sync.disconnect(principal, reason)
	});

	if (config.seedDemo && (await seedDemo(repo, config, clock.now()))) log.info('demo data loaded');
	await conversations.drainQueue();

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
		repo,
		rooms,
		conversations,
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
				await sync.close();
				server.closeAllConnections();
				await stopped;
				await rooms.closeAll();
				await store.close();
				await fanout.close();
				await sqlite.db.destroy();
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

/** The widget-session signing key, kept in the store so sessions survive restarts. */
async function loadOrCreateKey(raw: import('better-sqlite3').Database): Promise<Uint8Array> {
	raw.exec('create table if not exists server_keys (name text primary key, value blob not null)');
	const row = raw
		.prepare<[string], { value: Buffer }>('select value from server_keys where name = ?')
		.get('widget');
	if (row) return new Uint8Array(row.value);
	const key = randomBytes(32);
	raw.prepare('insert into server_keys (name, value) values (?, ?)').run('widget', key);
	return new Uint8Array(key);
}
