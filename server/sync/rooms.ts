/**
 * Rooms: one in-memory Y.Doc per stored document, loaded fully before anyone syncs,
 * persisted update by update, broadcast only once durable, and evicted when idle.
 *
 * With several instances, a room also applies what other instances store (through the fan-out)
 * and catches up from the store whenever it may have missed something: a version gap, a broken
 * fan-out link, before the server writes to it, and on a periodic check of the stored heads.
 */
import * as Y from 'yjs';
import {
	Awareness,
	applyAwarenessUpdate,
	encodeAwarenessUpdate,
	outdatedTimeout,
	removeAwarenessStates
} from 'y-protocols/awareness';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock';
import type { DocStore, StoredDoc } from '../db/doc-store';
import { awarenessEntries } from './awareness-guard';
import type { Fanout, FanoutMessage } from './fanout';
import type { Notice } from '../../src/lib/domain/protocol';
import { LocalLocks } from '../db/locks';

/** Transaction origin for writes made by the server itself. */
export const SERVER_ORIGIN = { kind: 'server' } as const;
/** Transaction origin for updates that arrived from another instance through the fan-out. */
export const FANOUT_ORIGIN = { kind: 'fanout' } as const;

export type RoomListener = (update: Uint8Array, origin: unknown) => void;

export class Room {
	// A guid of our own: Yjs would otherwise draw a random UUID per document (measurable when a
	// routing pass opens thousands).
	readonly doc: Y.Doc;
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
	/** Loaded and its load hook has run. */
	ready = false;
	logLength = 0;
	/**
	 * Client updates applied but not stored one by one. Outboxes are the participant's own
	 * documents: their devices keep them and re-send whatever the server lacks on every
	 * reconnect, so the server stores snapshots of them (when idle, on shutdown and every few
	 * dozen updates) instead of each update. Transcripts are stored update by update.
	 */
	unsaved = 0;
	/**
	 * Outboxes switch to storing each update while another instance owns (merges) them, so the
	 * owner can read what this instance's devices wrote (see `db/ownership.ts`).
	 */
	storesEachClientUpdate: boolean;
	/** Bytes appended since load: a cheap bound on growth for untrusted documents. */
	bytes = 0;
	evictTimer: TimerHandle | null = null;
	/** Highest stored version applied with no gap below it. */
	version = 0;
	/** Stored versions applied above `version` (a gap lies below them). */
	#ahead = new Set<number>();
	/** Awareness client ids of other instances' connections, with their principal. */
	readonly remoteClients = new Map<number, string>();
	/**
	 * Awareness client ids whose connection (here or on another instance) closed, with the
	 * principal that held them: that principal's device may come back with the same id.
	 */
	readonly formerOwners = new Map<number, string>();
	#lastWrite: Promise<unknown> = Promise.resolve();
	#pendingWrites = 0;
	#destroyed = false;

	constructor(
		readonly key: string,
		private readonly store: DocStore,
		private readonly fanout: Fanout,
		private readonly log: Logger
	) {
		this.doc = new Y.Doc({ gc: true, guid: key });
		this.awareness = key.startsWith('conv:') ? new Awareness(this.doc) : null;
		this.storesEachClientUpdate = !key.startsWith('outbox:');
		this.awareness?.setLocalState(null);
		// Each y-protocols Awareness runs its own 3 s interval (renew the local state, drop remote
		// states silent for 30 s). The server has no local state, so the only work is the drop,
		// which `RoomManager` does for all rooms from one timer: a thousand rooms made a thousand
		// timers firing 333 times a second on an idle server.
		if (this.awareness)
			clearInterval(
				(this.awareness as unknown as { _checkInterval: NodeJS.Timeout })._checkInterval
			);
		this.doc.on('update', (update: Uint8Array, origin: unknown) => this.#onUpdate(update, origin));
	}

	async load() {
		const stored = await this.store.read(this.key, null);
		this.#apply(stored, LOAD_ORIGIN);
		this.logLength = stored.log.length;
		this.bytes =
			(stored.snapshot?.data.byteLength ?? 0) +
			stored.log.reduce((n, u) => n + u.data.byteLength, 0);
	}

	/** Applies what the store returned (snapshot, then log) and records its versions. */
	#apply(stored: StoredDoc, origin: unknown) {
		Y.transact(
			this.doc,
			() => {
				if (stored.snapshot) Y.applyUpdate(this.doc, stored.snapshot.data);
				for (const u of stored.log) if (!this.has(u.version)) Y.applyUpdate(this.doc, u.data);
			},
			origin
		);
		if (stored.snapshot) this.#advanceTo(stored.snapshot.upto);
		for (const u of stored.log) this.noteVersion(u.version);
	}

	/** True if stored version `v` is already applied here. */
	has(v: number): boolean {
		return v <= this.version || this.#ahead.has(v);
	}

	/** Records that stored version `v` is applied. */
	noteVersion(v: number) {
		if (this.has(v)) return;
		this.#ahead.add(v);
		while (this.#ahead.delete(this.version + 1)) this.version++;
	}

	#advanceTo(v: number) {
		if (v > this.version) this.version = v;
		for (const a of this.#ahead) if (a <= this.version) this.#ahead.delete(a);
		while (this.#ahead.delete(this.version + 1)) this.version++;
	}

	/** Some stored version below one already applied is missing here. */
	get hasGap(): boolean {
		return this.#ahead.size > 0;
	}

	/** Applies what the store has beyond `version` (another instance's writes we missed). */
	async catchUp(): Promise<void> {
		if (this.#destroyed) return;
		const stored = await this.store.read(this.key, this.version);
		if (this.#destroyed || (!stored.snapshot && stored.log.length === 0)) return;
		this.#apply(stored, FANOUT_ORIGIN);
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
			this.fanout.publish(this.key, { kind: 'update', version: 0, data: update });
			for (const l of this.durableListeners) l(update, origin);
			return;
		}
		this.logLength++;
		this.bytes += update.byteLength;
		const write = this.store.append(this.key, update);
		this.#lastWrite = write;
		this.#pendingWrites++;
		write.then(
			(version) => {
				this.#pendingWrites--;
				this.noteVersion(version);
				this.fanout.publish(this.key, { kind: 'update', version, data: update });
				for (const l of this.durableListeners) l(update, origin);
			},
			(err) => {
				this.#pendingWrites--;
				this.log.fatal({ err, doc: this.key }, 'could not store a document update');
			}
		);
	}

	/**
	 * Stores the whole current state as one update and publishes it (an outbox this instance
	 * starts storing for another instance, its owner, to merge).
	 */
	async storeState(): Promise<void> {
		const update = Y.encodeStateAsUpdate(this.doc);
		const version = await this.store.append(this.key, update);
		this.logLength++;
		this.noteVersion(version);
		this.fanout.publish(this.key, { kind: 'update', version, data: update });
	}

	/**
	 * Resolves when every update applied so far is durable. Loops because more may be applied
	 * while waiting; the caller continues synchronously once nothing is pending.
	 */
	async whenDurable(): Promise<void> {
		while (this.#pendingWrites > 0) await this.#lastWrite.catch(() => undefined);
	}

	/**
	 * Removes remote awareness states not renewed for y-protocols' 30 s (a client whose instance
	 * died, or one that stopped renewing), as each Awareness's own interval would.
	 */
	dropOutdatedAwareness(now: number) {
		const awareness = this.awareness;
		if (!awareness) return;
		const remove: number[] = [];
		for (const [id, meta] of awareness.meta)
			if (
				id !== awareness.clientID &&
				outdatedTimeout <= now - meta.lastUpdated &&
				awareness.states.has(id)
			)
				remove.push(id);
		if (remove.length > 0) removeAwarenessStates(awareness, remove, 'timeout');
	}

	/** Re-measures `bytes` as the encoded size of the current state (after GC of deleted content). */
	measure(): number {
		this.bytes = Y.encodeStateAsUpdate(this.doc).byteLength;
		return this.bytes;
	}

	destroy() {
		this.#destroyed = true;
		this.awareness?.destroy();
		this.doc.destroy();
	}
}

const LOAD_ORIGIN = { kind: 'load' } as const;

/** An outbox is snapshotted after this many client updates (besides when idle and on shutdown). */
const UNSAVED_SNAPSHOT_EVERY = 32;
/** How often outdated awareness states are looked for: y-protocols' own period (3 s). */
const AWARENESS_CHECK_MS = Math.floor(outdatedTimeout / 10);
/** How long a version gap may last (fan-out messages can arrive out of order) before reading the store. */
const GAP_GRACE_MS = 100;

export interface RoomManagerOptions {
	store: DocStore;
	fanout: Fanout;
	clock: Clock;
	log: Logger;
	idleMs: number;
	compactAfterUpdates: number;
	/** With a shared store: how often every held document is checked against the stored heads. */
	headsCheckMs: number;
	/** Runs once after a room is loaded and before anyone sees it (e.g. merges, meta fix-ups). */
	onLoad?: (room: Room) => Promise<void> | void;
	/** Runs when an idle room is evicted, after its snapshot is stored (e.g. releases ownership). */
	onEvict?: (room: Room) => Promise<void> | void;
}

export class RoomManager {
	#rooms = new Map<string, Promise<Room>>();
	#loaded = new Map<string, Room>();
	/** Rooms being loaded or loaded: fan-out messages apply to both. */
	#held = new Map<string, Room>();
	/** Catch-ups of one document run one after another (a failed one does not fail the next). */
	#catchUps = new LocalLocks();
	#gapTimers = new Map<Room, TimerHandle>();
	#headsTimer: ReturnType<typeof setInterval> | null = null;
	/** Drops outdated awareness states of every held room (instead of one timer per room). */
	#awarenessTimer: ReturnType<typeof setInterval>;
	#closing = false;

	constructor(private readonly opts: RoomManagerOptions) {
		opts.fanout.onMessage((key, message) => {
			const room = this.#held.get(key);
			if (room) this.#receive(room, message);
		});
		opts.fanout.onResync(() => {
			for (const room of this.#held.values()) this.#catchUpLogged(room);
		});
		if (opts.store.shared) {
			this.#headsTimer = setInterval(() => void this.#checkHeads(), opts.headsCheckMs);
			this.#headsTimer.unref();
		}
		// Real time, as y-protocols stamps `lastUpdated` with Date.now(); its own period.
		this.#awarenessTimer = setInterval(() => {
			const now = Date.now();
			for (const room of this.#held.values()) room.dropOutdatedAwareness(now);
		}, AWARENESS_CHECK_MS);
		this.#awarenessTimer.unref();
	}

	#receive(room: Room, message: FanoutMessage) {
		switch (message.kind) {
			case 'update': {
				if (message.version > 0 && room.has(message.version)) return;
				try {
					Y.applyUpdate(room.doc, message.data, FANOUT_ORIGIN);
				} catch (err) {
					this.opts.log.error({ err, doc: room.key }, 'could not apply a fan-out update');
					this.#catchUpLogged(room);
					return;
				}
				if (message.version > 0) {
					room.noteVersion(message.version);
					if (room.hasGap) this.#watchGap(room);
				}
				return;
			}
			case 'awareness': {
				if (!room.awareness) return;
				for (const e of awarenessEntries(message.data)) {
					if (e.principal === null) {
						const was = room.remoteClients.get(e.clientId);
						if (was !== undefined) room.formerOwners.set(e.clientId, was);
						room.remoteClients.delete(e.clientId);
					} else room.remoteClients.set(e.clientId, e.principal);
				}
				applyAwarenessUpdate(room.awareness, message.data, FANOUT_ORIGIN);
				return;
			}
			case 'awareness-query': {
				const local = this.#localClients(room);
				if (room.awareness && local.length > 0)
					this.opts.fanout.publish(room.key, {
						kind: 'awareness',
						data: encodeAwarenessUpdate(room.awareness, local)
					});
			}
		}
	}

	/** Awareness client ids of this instance's connections. */
	#localClients(room: Room): number[] {
		if (!room.awareness) return [];
		return [...room.awareness.getStates().keys()].filter(
			(id) => id !== room.awareness!.clientID && !room.remoteClients.has(id)
		);
	}

	/**
	 * Publishes what this instance's connections change in a room's awareness (not relays, not
	 * local timeouts), and asks the other instances for theirs.
	 */
	#relayAwareness(room: Room, awareness: Awareness) {
		type Change = { added: number[]; updated: number[]; removed: number[] };
		awareness.on('update', ({ added, updated, removed }: Change, origin: unknown) => {
			if (origin === FANOUT_ORIGIN || origin === 'timeout' || origin === 'local') return;
			const changed = [...added, ...updated, ...removed].filter(
				(id) => !room.remoteClients.has(id)
			);
			if (changed.length > 0)
				this.opts.fanout.publish(room.key, {
					kind: 'awareness',
					data: encodeAwarenessUpdate(awareness, changed)
				});
		});
		this.opts.fanout.publish(room.key, { kind: 'awareness-query' });
	}

	/** A gap may close by itself when a delayed message arrives; if not, read the store. */
	#watchGap(room: Room) {
		if (this.#gapTimers.has(room)) return;
		this.#gapTimers.set(
			room,
			this.opts.clock.setTimeout(() => {
				this.#gapTimers.delete(room);
				if (room.hasGap) this.#catchUpLogged(room);
			}, GAP_GRACE_MS)
		);
	}

	/**
	 * Brings a held room up to date with the store. Catch-ups of one room run one after another,
	 * so each reflects everything stored before it began.
	 */
	catchUp(room: Room): Promise<void> {
		return this.#catchUps.run(room.key, () => room.catchUp());
	}

	#catchUpLogged(room: Room) {
		this.catchUp(room).catch((err) =>
			this.opts.log.error({ err, doc: room.key }, 'could not catch up from the store')
		);
	}

	/** Compares every held document with the stored heads; covers fan-out messages lost unnoticed. */
	async #checkHeads() {
		const store = this.opts.store;
		if (!store.heads || this.#loaded.size === 0) return;
		try {
			const heads = await store.heads([...this.#loaded.keys()]);
			for (const [key, v] of heads) {
				const room = this.#loaded.get(key);
				if (room && v > room.version) this.#catchUpLogged(room);
			}
		} catch (err) {
			this.opts.log.warn({ err }, 'could not read document heads');
		}
	}

	get size() {
		return this.#loaded.size;
	}

	/** Shutting down: no more rooms are loaded. */
	get closing(): boolean {
		return this.#closing;
	}

	/** True while the document is in memory here. */
	holds(key: string): boolean {
		return this.#loaded.has(key);
	}

	/**
	 * The room of `key` if it is loaded, ready (its load hook done) and held by someone, so it
	 * stays in memory for a synchronous use; otherwise undefined (use `with`).
	 */
	inUse(key: string): Room | undefined {
		const room = this.#loaded.get(key);
		return room && room.ready && room.refs > 0 ? room : undefined;
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
		// Subscribe before reading, so nothing stored after the read goes unseen; messages that
		// arrive meanwhile apply on top (Yjs orders them) and their versions are kept.
		this.#held.set(key, room);
		try {
			await this.opts.fanout.subscribe(key);
			await room.load();
		} catch (e) {
			this.#held.delete(key);
			await this.opts.fanout.unsubscribe(key);
			room.destroy();
			throw e;
		}
		room.durableListeners.add(() => this.maybeCompact(room));
		if (room.awareness && this.opts.fanout.relays) this.#relayAwareness(room, room.awareness);
		this.#loaded.set(key, room);
		await this.opts.onLoad?.(room);
		room.ready = true;
		return room;
	}

	release(room: Room) {
		room.refs = Math.max(0, room.refs - 1);
		if (room.refs === 0 && !room.evictTimer && !this.#closing) {
			room.evictTimer = this.opts.clock.setTimeout(() => void this.#evict(room), this.opts.idleMs);
		}
	}

	/**
	 * Runs `fn` with a loaded room, holding it for the duration. With a shared store the room
	 * first catches up, so a server write never builds on a stale view (unless the caller knows
	 * its view is complete enough: `catchUp: false`).
	 */
	async with<T>(
		key: string,
		fn: (room: Room) => T | Promise<T>,
		opts: { catchUp?: boolean } = {}
	): Promise<T> {
		const room = await this.acquire(key);
		try {
			if (this.opts.store.shared && opts.catchUp !== false) await this.catchUp(room);
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
		this.#held.delete(room.key);
		this.#gapTimers.get(room)?.cancel();
		this.#gapTimers.delete(room);
		await this.opts.fanout.unsubscribe(room.key);
		room.destroy();
		try {
			await this.opts.onEvict?.(room);
		} catch (err) {
			this.opts.log.error({ err, doc: room.key }, 'eviction hook failed');
		}
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
		if (this.#headsTimer) clearInterval(this.#headsTimer);
		clearInterval(this.#awarenessTimer);
		for (const t of this.#gapTimers.values()) t.cancel();
		this.#gapTimers.clear();
		for (const room of this.#loaded.values()) {
			room.evictTimer?.cancel();
			await this.#persistSnapshot(room);
			room.destroy();
		}
		this.#loaded.clear();
		this.#held.clear();
		this.#rooms.clear();
		await this.opts.store.flush();
	}
}
