/**
 * The websocket side of the server: upgrades on `/sync/<document>`, authentication and
 * authorization before anything syncs, one SyncConnection per socket, awareness fan-out,
 * keep-alive and orderly shutdown.
 */
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Clock, TimerHandle } from '../clock';
import type { Sessions } from '../auth/sessions';
import type { ConversationService } from '../conversations';
import type { Room, RoomManager } from './rooms';
import type { AwarenessOwner } from './awareness-guard';
import {
	SyncConnection,
	ConnectionError,
	closeWith,
	encodeAwareness,
	KEEPALIVE
} from './connection';
import { parseDocName, storedInboxKey } from '../../src/lib/domain/doc-names';
import { CloseCode } from '../../src/lib/domain/protocol';
import { sameOrigin } from '../http/common';

type AwarenessChange = { added: number[]; updated: number[]; removed: number[] };

export const SYNC_PATH_PREFIX = '/sync/';

/** Frames a client may send before its authentication finishes; more is flooding. */
const MAX_EARLY_FRAMES = 64;

export interface SyncServerDeps {
	config: Config;
	clock: Clock;
	log: Logger;
	sessions: Sessions;
	conversations: ConversationService;
	rooms: RoomManager;
	/** An agent's workspace (their inbox socket) opened or closed on this instance. */
	onAgentInbox?: (agentId: string, open: boolean) => void;
}

export class SyncServer {
	readonly #wss: WebSocketServer;
	readonly #byRoom = new Map<Room, Set<SyncConnection>>();
	readonly #sockets = new Set<WebSocket>();
	readonly #awarenessHandlers = new Map<Room, (change: AwarenessChange, origin: unknown) => void>();
	#sweep: TimerHandle | null = null;
	/**
	 * The keep-alive's slices: each tick checks one of them, so every connection is checked once
	 * per sweep period without touching all of them on every tick (with thousands of sockets, a
	 * full pass every tick was about a tenth of an idle server's CPU).
	 */
	readonly #slices: Set<SyncConnection>[];
	#nextSlice = 0;
	#attached = 0;
	#closing = false;

	constructor(private readonly deps: SyncServerDeps) {
		// ws enforces a hard cap above ours, so our own check (with a clear close code) runs first.
		this.#wss = new WebSocketServer({
			noServer: true,
			maxPayload: deps.config.limits.maxMessageBytes * 2
		});
		const { tickMs, slices } = sweepPlan(deps.config.limits);
		this.#slices = Array.from({ length: slices }, () => new Set<SyncConnection>());
		this.#scheduleSweep(tickMs);
	}

	get connectionCount() {
		return this.#sockets.size;
	}

	handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
		if (this.#closing) {
			socket.destroy();
			return;
		}
		this.#wss.handleUpgrade(req, socket, head, (ws) => this.#opened(ws, req));
	}

	/**
	 * A method of its own so that no closure living as long as the socket shares a scope with
	 * `req`: the 'close' listener would otherwise keep each connection's upgrade request and its
	 * headers in memory (a few KB per socket).
	 */
	#opened(ws: WebSocket, req: IncomingMessage) {
		this.#sockets.add(ws);
		ws.once('close', () => this.#sockets.delete(ws));
		void this.#accept(ws, req);
	}

	async #accept(ws: WebSocket, req: IncomingMessage) {
		const { log, sessions, conversations, rooms, config } = this.deps;
		const early: Uint8Array[] = [];
		let earlyBytes = 0;
		let conn: SyncConnection | null = null;
		let chain: Promise<void> = Promise.resolve();
		let closedEarly = false;
		const handle = (data: Uint8Array) => {
			const c = conn;
			if (!c) return;
			chain = chain
				.then(() => (c.closed ? undefined : c.receive(data)))
				.catch((err) => {
					if (err instanceof ConnectionError) {
						log.warn(
							{
								principal: c.principal.principal,
								doc: c.room.key,
								code: err.closeCode,
								reason: err.message
							},
							'closing connection'
						);
						c.close(err.closeCode, err.message);
					} else {
						log.error({ err, doc: c.room.key }, 'connection handler failed');
						c.close(1011, 'internal error');
					}
				});
		};
		ws.on('message', (raw: RawData) => {
			const data = toUint8(raw);
			if (conn) return handle(data);
			earlyBytes += data.byteLength;
			if (early.length < MAX_EARLY_FRAMES && earlyBytes <= config.limits.maxEarlyBytes)
				early.push(data);
			else closeWith(ws, CloseCode.rateLimited, 'too much data before authentication');
		});
		ws.on('pong', () => {
			if (conn) conn.alive = true;
		});
		ws.on('close', () => {
			closedEarly = true;
			if (conn) this.#detach(conn);
		});
		ws.on('error', (err) => log.debug({ err }, 'socket error'));

		try {
			const url = new URL(req.url ?? '/', 'http://x');
			let docName: string;
			try {
				docName = decodeURIComponent(url.pathname.slice(SYNC_PATH_PREFIX.length));
			} catch {
				return closeWith(ws, CloseCode.badRequest, 'malformed document name');
			}
			const request = parseDocName(docName);
			if (!request)
				return closeWith(ws, CloseCode.notFound, `no document named "${docName.slice(0, 60)}"`);
			const auth = await sessions.authenticate(req);
			if (!auth.ok) return closeWith(ws, CloseCode.unauthorized, auth.reason);
			// Cookies ride along on cross-site sockets: agent (cookie) sockets must come from our pages.
			if (auth.principal.kind === 'agent' && !sameOrigin(req))
				return closeWith(ws, CloseCode.forbidden, 'cross-origin socket refused');
			const access = await conversations.authorize(auth.principal, request);
			if (!access.ok) return closeWith(ws, CloseCode[access.code], access.reason);
			const room = await rooms.acquire(access.key);
			if (closedEarly) {
				rooms.release(room);
				return;
			}
			const c = new SyncConnection(ws, auth.principal, room, access, config.limits, log, {
				ownerOf: (r, id, self) => this.#ownerOf(r, id, self),
				takeOver: (r, id, self) => this.#takeOver(r, id, self),
				catchUp: (r) => rooms.catchUp(r)
			});
			this.#attach(c);
			conn = c;
			await c.start();
			for (const data of early.splice(0)) handle(data);
			log.debug({ principal: auth.principal.principal, doc: access.key }, 'connected');
		} catch (err) {
			log.error({ err }, 'could not open connection');
			closeWith(ws, 1011, 'internal error');
		}
	}

	#attach(conn: SyncConnection) {
		let set = this.#byRoom.get(conn.room);
		if (!set) {
			const room = conn.room;
			const members = new Set<SyncConnection>();
			const onAwareness = ({ added, updated, removed }: AwarenessChange, origin: unknown) => {
				const changed = [...added, ...updated, ...removed];
				if (changed.length === 0) return;
				const message = encodeAwareness(room, changed);
				// Not back to the socket it came from: its provider already holds that clock and
				// would ignore it (the sender's other devices are other sockets and still get it).
				for (const c of members) if (c !== origin) c.send(message);
			};
			if (room.awareness) {
				room.awareness.on('update', onAwareness);
				this.#awarenessHandlers.set(room, onAwareness);
			}
			this.#byRoom.set(room, members);
			set = members;
		}
		set.add(conn);
		// Round robin: connections opened together (a restart's reconnects) spread over slices.
		conn.sweepSlice = this.#attached++ % this.#slices.length;
		this.#slices[conn.sweepSlice].add(conn);
		if (conn.principal.kind === 'agent' && conn.room.key === storedInboxKey(conn.principal.id))
			this.deps.onAgentInbox?.(conn.principal.id, true);
	}

	#detach(conn: SyncConnection) {
		conn.close(1000, 'closed');
		if (conn.principal.kind === 'agent' && conn.room.key === storedInboxKey(conn.principal.id))
			this.deps.onAgentInbox?.(conn.principal.id, false);
		this.#slices[conn.sweepSlice].delete(conn);
		const set = this.#byRoom.get(conn.room);
		set?.delete(conn);
		if (set && set.size === 0) {
			this.#byRoom.delete(conn.room);
			const handler = this.#awarenessHandlers.get(conn.room);
			if (handler) conn.room.awareness?.off('update', handler);
			this.#awarenessHandlers.delete(conn.room);
		}
		this.deps.rooms.release(conn.room);
	}

	/**
	 * Who holds an awareness client id in a room: this connection, another principal's (here or
	 * on another instance), another socket of the same principal (`sibling`: a reconnect that
	 * raced the old socket's close, or a device that moved here after its instance died), or
	 * nobody, perhaps after this principal (`former`). Only looks: `#takeOver` moves it.
	 */
	#ownerOf(room: Room, clientId: number, self: SyncConnection): AwarenessOwner {
		if (self.clientIds.has(clientId)) return 'self';
		const me = self.principal.principal;
		const remote = room.remoteClients.get(clientId);
		if (remote !== undefined) return remote === me ? 'sibling' : 'other';
		for (const c of this.#byRoom.get(room) ?? [])
			if (c !== self && c.clientIds.has(clientId))
				return c.principal.principal === me ? 'sibling' : 'other';
		return room.formerOwners.get(clientId) === me ? 'former' : 'none';
	}

	/** Makes `self` the only holder of a client id it claimed (see `#ownerOf`). */
	#takeOver(room: Room, clientId: number, self: SyncConnection) {
		room.remoteClients.delete(clientId);
		room.formerOwners.delete(clientId);
		for (const c of this.#byRoom.get(room) ?? []) if (c !== self) c.clientIds.delete(clientId);
	}

	/** Closes every socket of one principal, e.g. when they sign out. */
	disconnect(principal: string, reason: string) {
		for (const set of this.#byRoom.values())
			for (const c of set)
				if (c.principal.principal === principal) c.close(CloseCode.unauthorized, reason);
	}

	/** Closes one principal's sockets on these documents (they may no longer open them). */
	revoke(principal: string, docKeys: string[], reason: string) {
		for (const [room, set] of this.#byRoom)
			if (docKeys.includes(room.key))
				for (const c of set)
					if (c.principal.principal === principal) c.close(CloseCode.forbidden, reason);
	}

	/**
	 * Keeps quiet sockets alive for y-websocket's 30 s watchdog (a message after keepAliveMs of
	 * silence) and drops dead TCP peers (a ping every `pingMs`, 30 s as y-websocket servers do, to
	 * a socket that sent nothing in that time; unanswered by the next check, it is terminated).
	 * Transport liveness runs on real time, not the domain clock: it is about the network.
	 */
	#scheduleSweep(tickMs: number) {
		const { keepAliveMs, pingMs: pingEveryMs } = this.deps.config.limits;
		// Each tick handles one slice, and within it only the sockets that are due, so thousands
		// of sockets that connected together are not all pinged in one burst (a burst stalls the
		// event loop). A socket is checked once per sweep period: a keep-alive or a ping is at most
		// that late (a tenth of its interval).
		const timer = setInterval(() => {
			const now = Date.now();
			const slice = this.#slices[this.#nextSlice];
			this.#nextSlice = (this.#nextSlice + 1) % this.#slices.length;
			for (const c of slice) {
				if (now - c.lastSentAt >= keepAliveMs) c.send(KEEPALIVE);
				if (now - c.lastPingAt < pingEveryMs) continue;
				if (now - c.lastHeardAt < pingEveryMs) {
					// It spoke since the last check (stock providers renew awareness every 15 s): as
					// good as a pong, so no ping.
					c.alive = true;
					c.lastPingAt = now;
					continue;
				}
				if (!c.alive) {
					c.ws.terminate();
					continue;
				}
				c.alive = false;
				c.lastPingAt = now;
				c.ws.ping();
			}
		}, tickMs);
		timer.unref();
		this.#sweep = { cancel: () => clearInterval(timer) };
	}

	/** Stops accepting, tells clients to come back later, and waits for their sockets to close. */
	async close() {
		this.#closing = true;
		this.#sweep?.cancel();
		for (const set of this.#byRoom.values())
			for (const c of set) c.close(1012, 'server restarting');
		for (const ws of this.#sockets) closeWith(ws, 1012, 'server restarting');
		await new Promise<void>((resolve) => {
			const t = setTimeout(resolve, 1000);
			if (this.#sockets.size === 0) {
				clearTimeout(t);
				resolve();
			}
			for (const ws of this.#sockets)
				ws.once('close', () => {
					if (this.#sockets.size === 0) {
						clearTimeout(t);
						resolve();
					}
				});
		});
		for (const ws of this.#sockets) ws.terminate();
		this.#wss.close();
	}
}

/**
 * How the keep-alive walks the connections: every connection is checked once per period (a
 * tenth of the shorter of the keep-alive and ping intervals, at most 1 s), one slice per tick.
 */
export function sweepPlan(limits: { keepAliveMs: number; pingMs: number }): {
	tickMs: number;
	slices: number;
} {
	const periodMs = Math.max(10, Math.min(1000, limits.keepAliveMs / 10, limits.pingMs / 10));
	const tickMs = Math.min(100, periodMs);
	return { tickMs, slices: Math.max(1, Math.floor(periodMs / tickMs)) };
}

function toUint8(raw: RawData): Uint8Array {
	if (Array.isArray(raw)) return new Uint8Array(Buffer.concat(raw));
	if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
	return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}
