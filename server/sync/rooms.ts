/**
 * Rooms: one in-memory Y.Doc per stored document, loaded fully before anyone syncs,
 * persisted update by update, broadcast only once durable, and evicted when idle.
 */
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock';
import type { DocStore } from '../db/doc-store';
import type { Fanout } from './fanout';
import type { Notice } from '../../src/lib/domain/protocol';

/** Transaction origin for writes made by the server itself. */
export const SERVER_ORIGIN = { kind: 'server' } as const;
/** Transaction origin for updates that arrived from another instance through the fan-out. */
export const FANOUT_ORIGIN = { kind: 'fanout' } as const;

export type RoomListener = (update: Uint8Array, origin: unknown) => void;

export class Room {
	readonly doc = new Y.Doc({ gc: true });
	/**
	 * Typing and presence; only conversation rooms have one. Each y-protocols Awareness runs its
	 * own interval timer, so outbox and inbox rooms (no typing) do without.
	 */
	readonly awareness: Awareness | null;
	/** Called after an update is durable, in order; connections broadcast from here. */
	readonly durableListeners = new Set<RoomListener>();
	/** Called synchronously when the doc changes (e.g. to schedule a merge). */
	readonly changeListeners = new Set<(origin: unknown) => void>();
	/** Notices for the room's connections (e.g. a rejected outbox entry). */
	readonly noticeListeners = new Set<(notice: Notice) => void>();
	refs = 0;
	logLength = 0;
	/**
	 * Client updates applied but not stored one by one. Outboxes are the participant's own
	 * documents: their devices keep them and re-send whatever the server lacks on every
	 * reconnect, so the server stores snapshots of them (when idle, on shutdown and every few
	 * dozen updates) instead of each update. Transcripts are stored update by update.
	 */
	unsaved = 0;
	readonly storesEachClientUpdate: boolean;
	/** Bytes appended since load: a cheap bound on growth for untrusted documents. */
	bytes = 0;
	evictTimer: TimerHandle | null = null;
	#lastWrite: Promise<void> = Promise.resolve();
	#pendingWrites = 0;

	constructor(
		readonly key: string,
		private readonly store: DocStore,
		private readonly fanout: Fanout,
		private readonly log: Logger
	) {
		this.awareness = key.startsWith('conv:') ? new Awareness(this.doc) : null;
		this.storesEachClientUpdate = !key.startsWith('outbox:');
		this.awareness?.setLocalState(null);
		this.doc.on('update', (update: Uint8Array, origin: unknown) => this.#onUpdate(update, origin));
	}

	async load() {
		const stored = await this.store.load(this.key);
		Y.transact(
			this.doc,
			() => {
				for (const u of stored.updates) Y.applyUpdate(this.doc, u);
			},
			LOAD_ORIGIN
		);
		this.logLength = stored.logLength;
		this.bytes = stored.updates.reduce((n, u) => n + u.byteLength, 0);
	}

	#onUpdate(update: Uint8Array, origin: unknown) {
		if (origin === LOAD_ORIGIN) return;
		for (const l of this.changeListeners) l(origin);
		if (origin === FANOUT_ORIGIN) {
			// Already stored by the instance that accepted it.
			for (const l of this.durableListeners) l(update, origin);
			return;
		}
		if (!this.storesEachClientUpdate && origin !== SERVER_ORIGIN) {
			this.unsaved++;
			this.bytes += update.byteLength;
			this.fanout.publish(this.key, update);
			for (const l of this.durableListeners) l(update, origin);
			return;
		}
		this.logLength++;
		this.bytes += update.byteLength;
		const write = this.store.append(this.key, update);
		this.#lastWrite = write;
		this.#pendingWrites++;
		write.then(
			() => {
				this.#pendingWrites--;
				this.fanout.publish(this.key, update);
				for (const l of this.durableListeners) l(update, origin);
			},
			(err) => {
				this.#pendingWrites--;
				this.log.fatal({ err, doc: this.key }, 'could not store a document update');
			}
		);
	}

	/**
	 * Resolves when every update applied so far is durable. Loops because more may be applied
	 * while waiting; the caller continues synchronously once nothing is pending.
	 */
	async whenDurable(): Promise<void> {
		while (this.#pendingWrites > 0) await this.#lastWrite.catch(() => undefined);
	}

	/** Re-measures `bytes` as the encoded size of the current state (after GC of deleted content). */
	measure(): number {
		this.bytes = Y.encodeStateAsUpdate(this.doc).byteLength;
		return this.bytes;
	}

	destroy() {
		this.awareness?.destroy();
		this.doc.destroy();
	}
}

const LOAD_ORIGIN = { kind: 'load' } as const;

/** An outbox is snapshotted after this many client updates (besides when idle and on shutdown). */
const UNSAVED_SNAPSHOT_EVERY = 32;

export interface RoomManagerOptions {
	store: DocStore;
	fanout: Fanout;
	clock: Clock;
	log: Logger;
	idleMs: number;
	compactAfterUpdates: number;
	/** Runs once after a room is loaded and before anyone sees it (e.g. merges, meta fix-ups). */
	onLoad?: (room: Room) => Promise<void> | void;
}

export class RoomManager {
	#rooms = new Map<string, Promise<Room>>();
	#loaded = new Map<string, Room>();
	#closing = false;

	constructor(private readonly opts: RoomManagerOptions) {
		opts.fanout.onUpdate((key, update) => {
			const room = this.#loaded.get(key);
			if (room) Y.applyUpdate(room.doc, update, FANOUT_ORIGIN);
		});
	}

	get size() {
		return this.#loaded.size;
	}

	/** Gets a loaded room and holds it in memory until `release`. */
	async acquire(key: string): Promise<Room> {
		if (this.#closing) throw new Error('server is shutting down');
		let pending = this.#rooms.get(key);
		if (!pending) {
			pending = this.#load(key);
			this.#rooms.set(key, pending);
			pending.catch(() => this.#rooms.delete(key));
		}
		const room = await pending;
		room.refs++;
		room.evictTimer?.cancel();
		room.evictTimer = null;
		return room;
	}

	async #load(key: string): Promise<Room> {
		const room = new Room(key, this.opts.store, this.opts.fanout, this.opts.log);
		await room.load();
		await this.opts.fanout.subscribe(key);
		room.durableListeners.add(() => this.maybeCompact(room));
		this.#loaded.set(key, room);
		await this.opts.onLoad?.(room);
		return room;
	}

	release(room: Room) {
		room.refs = Math.max(0, room.refs - 1);
		if (room.refs === 0 && !room.evictTimer && !this.#closing) {
			room.evictTimer = this.opts.clock.setTimeout(() => void this.#evict(room), this.opts.idleMs);
		}
	}

	/** Runs `fn` with a loaded room, holding it for the duration. */
	async with<T>(key: string, fn: (room: Room) => T | Promise<T>): Promise<T> {
		const room = await this.acquire(key);
		try {
			return await fn(room);
		} finally {
			this.release(room);
		}
	}

	async #evict(room: Room) {
		room.evictTimer = null;
		if (room.refs > 0) return;
		await this.#persistSnapshot(room);
		if (room.refs > 0) return;
		this.#rooms.delete(room.key);
		this.#loaded.delete(room.key);
		await this.opts.fanout.unsubscribe(room.key);
		room.destroy();
	}

	async #persistSnapshot(room: Room) {
		await room.whenDurable();
		if (room.unsaved === 0 && room.logLength < 2) return;
		room.unsaved = 0;
		await this.opts.store.compact(room.key, Y.encodeStateAsUpdate(room.doc));
		room.logLength = 0;
	}

	/** Compacts a busy room once its log grows long, or saves an outbox's unsaved updates. */
	maybeCompact(room: Room) {
		if (room.logLength >= this.opts.compactAfterUpdates || room.unsaved >= UNSAVED_SNAPSHOT_EVERY) {
			room.logLength = 0;
			room.unsaved = 0;
			void room
				.whenDurable()
				.then(() => this.opts.store.compact(room.key, Y.encodeStateAsUpdate(room.doc)))
				.catch((err) => this.opts.log.error({ err, doc: room.key }, 'compaction failed'));
		}
	}

	/** Flushes and snapshots every room; used on shutdown. */
	async closeAll() {
		this.#closing = true;
		for (const room of this.#loaded.values()) {
			room.evictTimer?.cancel();
			await this.#persistSnapshot(room);
			room.destroy();
		}
		this.#loaded.clear();
		this.#rooms.clear();
		await this.opts.store.flush();
	}
}
