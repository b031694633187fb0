/**
 * One authenticated websocket bound to one room. Speaks the y-websocket protocol with the
 * rules of our security model: read-only rooms ignore client updates, outboxes accept only
 * well-formed updates within size limits, awareness is rewritten to the caller's identity,
 * and each connection has its own size and rate limits.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Room } from './rooms';
import type { Principal } from '../principal';
import { CloseCode, MessageType, type Notice } from '../../src/lib/domain/protocol';
import { sanitizeAwarenessUpdate, type AwarenessOwner } from './awareness-guard';
import type { Config } from '../config';

export interface ConnectionAccess {
	writable: boolean;
	/** May publish typing state (awareness) in this room. */
	typing: boolean;
}

/** Closes the socket with a code and reason; the reason is capped to the 123 bytes allowed. */
export function closeWith(ws: WebSocket, code: number, reason: string) {
	if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING)
		ws.close(code, reason.slice(0, 120));
}

export class ConnectionError extends Error {
	constructor(
		readonly closeCode: number,
		message: string
	) {
		super(message);
	}
}

export class SyncConnection {
	/** Awareness client ids this connection owns in its room. */
	readonly clientIds = new Set<number>();
	/** Awareness clock shifts of this connection's returning clients (see the guard). */
	readonly #clockOffsets = new Map<number, number>();
	lastSentAt: number;
	/** When the keep-alive last pinged this socket; starts at connect time to spread the pings. */
	lastPingAt = Date.now();
	/** When the peer last sent a message: proof of life, so the keep-alive needs no ping. */
	lastHeardAt = Date.now();
	alive = true;
	/** Which slice of the keep-alive sweep checks this connection (set by the server). */
	sweepSlice = 0;
	#tokens: number;
	#refillAt: number;
	#closed = false;
	#onDurable = (update: Uint8Array, origin: unknown) => {
		if (origin !== this) this.send(encodeSyncUpdate(update));
	};
	#onNotice = (notice: Notice) => this.notice(notice);

	constructor(
		readonly ws: WebSocket,
		readonly principal: Principal,
		readonly room: Room,
		readonly access: ConnectionAccess,
		private readonly limits: Config['limits'],
		private readonly log: Logger,
		private readonly owners: {
			ownerOf: (room: Room, clientId: number, conn: SyncConnection) => AwarenessOwner;
			takeOver: (room: Room, clientId: number, conn: SyncConnection) => void;
			/** Reads what the store has and this instance's copy of the room lacks. */
			catchUp: (room: Room) => Promise<void>;
		}
	) {
		this.#tokens = limits.messageBurst;
		this.#refillAt = Date.now();
		this.lastSentAt = Date.now();
		room.durableListeners.add(this.#onDurable);
		room.noticeListeners.add(this.#onNotice);
	}

	/** Sends our sync step 1 and the room's awareness, as y-websocket servers do on connect. */
	async start() {
		await this.room.whenDurable();
		const encoder = encoding.createEncoder();
		encoding.writeVarUint(encoder, MessageType.sync);
		syncProtocol.writeSyncStep1(encoder, this.room.doc);
		this.send(encoding.toUint8Array(encoder));
		const states = this.room.awareness?.getStates();
		if (states && states.size > 0) this.send(encodeAwareness(this.room, [...states.keys()]));
	}

	send(message: Uint8Array) {
		if (this.#closed || this.ws.readyState !== this.ws.OPEN) return;
		this.lastSentAt = Date.now();
		// No per-send callback: a failed send closes the socket, and 'close' cleans up.
		this.ws.send(message);
	}

	notice(notice: Notice) {
		const encoder = encoding.createEncoder();
		encoding.writeVarUint(encoder, MessageType.parley);
		encoding.writeVarString(encoder, JSON.stringify(notice));
		this.send(encoding.toUint8Array(encoder));
	}

	#takeToken(now: number): boolean {
		this.#tokens = Math.min(
			this.limits.messageBurst,
			this.#tokens + ((now - this.#refillAt) / 1000) * this.limits.messagesPerSecond
		);
		this.#refillAt = now;
		if (this.#tokens < 1) return false;
		this.#tokens -= 1;
		return true;
	}

	/** Handles one inbound frame. Throws ConnectionError to close the socket. */
	async receive(data: Uint8Array) {
		const now = Date.now(); // transport limits run on real time, not the domain clock
		this.lastHeardAt = now;
		if (data.byteLength > this.limits.maxMessageBytes)
			throw new ConnectionError(
				CloseCode.messageTooLarge,
				`message of ${data.byteLength} bytes exceeds ${this.limits.maxMessageBytes}`
			);
		if (!this.#takeToken(now))
			throw new ConnectionError(
				CloseCode.rateLimited,
				`more than ${this.limits.messagesPerSecond} messages/s`
			);
		let decoder: decoding.Decoder;
		let type: number;
		try {
			decoder = decoding.createDecoder(data);
			type = decoding.readVarUint(decoder);
		} catch {
			throw new ConnectionError(CloseCode.badRequest, 'malformed message');
		}
		switch (type) {
			case MessageType.sync:
				return this.#receiveSync(decoder);
			case MessageType.awareness:
				return this.#receiveAwareness(decoder);
			case MessageType.queryAwareness:
				this.send(encodeAwareness(this.room, [...(this.room.awareness?.getStates().keys() ?? [])]));
				return;
			case MessageType.auth:
				return; // authentication happens on upgrade; nothing to read here
			default:
				throw new ConnectionError(CloseCode.badRequest, `unknown message type ${type}`);
		}
	}

	async #receiveSync(decoder: decoding.Decoder) {
		let subtype: number;
		let payload: Uint8Array;
		try {
			subtype = decoding.readVarUint(decoder);
			payload = decoding.readVarUint8Array(decoder);
		} catch {
			throw new ConnectionError(CloseCode.badRequest, 'malformed sync message');
		}
		if (subtype === syncProtocol.messageYjsSyncStep1) {
			// Reply only with what is durable: nobody sees a message the server could still lose.
			await this.room.whenDurable();
			if (!this.access.writable && this.#aheadOfServer(payload)) {
				// Only the server writes here, so a device holding more than the server can only
				// hold what the server lost: the store was restored from a backup. Another instance
				// may simply be ahead of this one, so catch up from the store before saying so.
				await this.owners.catchUp(this.room);
				if (this.#aheadOfServer(payload))
					this.notice({
						type: 'diverged',
						reason:
							'this device holds changes the server no longer has (restored from a backup): discard the local copy and sync again'
					});
			}
			const encoder = encoding.createEncoder();
			encoding.writeVarUint(encoder, MessageType.sync);
			try {
				syncProtocol.writeSyncStep2(encoder, this.room.doc, payload);
			} catch {
				throw new ConnectionError(CloseCode.badRequest, 'malformed state vector');
			}
			this.send(encoding.toUint8Array(encoder));
			return;
		}
		if (subtype !== syncProtocol.messageYjsSyncStep2 && subtype !== syncProtocol.messageYjsUpdate)
			throw new ConnectionError(CloseCode.badRequest, `unknown sync message ${subtype}`);
		if (!this.access.writable) {
			// Clients answer our step 1 with a step 2 that holds at least the delete set; ignore it.
			// A deliberate update to a read-only document is refused and never applied or relayed.
			if (subtype === syncProtocol.messageYjsUpdate)
				this.notice({
					type: 'read_only',
					reason: 'this document is written by the server only; write to your outbox'
				});
			return;
		}
		if (
			this.room.bytes + payload.byteLength > this.limits.maxOutboxBytes &&
			this.room.measure() + payload.byteLength > this.limits.maxOutboxBytes
		)
			throw new ConnectionError(CloseCode.messageTooLarge, 'outbox is full');
		// No separate validation pass: a malformed update can at worst leave part of itself in the
		// sender's own outbox, and the merge validates every entry it reads from there.
		try {
			Y.applyUpdate(this.room.doc, payload, this);
		} catch {
			throw new ConnectionError(CloseCode.badRequest, 'malformed Yjs update');
		}
	}

	/** Whether a client's state vector names changes this room's document does not have. */
	#aheadOfServer(stateVector: Uint8Array): boolean {
		let theirs: Map<number, number>;
		try {
			theirs = Y.decodeStateVector(stateVector);
		} catch {
			throw new ConnectionError(CloseCode.badRequest, 'malformed state vector');
		}
		for (const [client, clock] of theirs)
			if (clock > Y.getState(this.room.doc.store, client)) return true;
		return false;
	}

	#receiveAwareness(decoder: decoding.Decoder) {
		let raw: Uint8Array;
		try {
			raw = decoding.readVarUint8Array(decoder);
		} catch {
			throw new ConnectionError(CloseCode.badRequest, 'malformed awareness message');
		}
		const awareness = this.room.awareness;
		if (!this.access.typing || !awareness) return;
		let sanitized;
		try {
			sanitized = sanitizeAwarenessUpdate(
				raw,
				{
					principal: this.principal.principal,
					name: this.principal.name,
					role: this.principal.kind
				},
				this.clientIds,
				(id) => this.owners.ownerOf(this.room, id, this),
				(id) => awareness.meta.get(id)?.clock,
				this.#clockOffsets
			);
		} catch {
			throw new ConnectionError(CloseCode.badRequest, 'malformed awareness update');
		}
		for (const id of sanitized.claimed) {
			this.owners.takeOver(this.room, id, this);
			this.clientIds.add(id);
		}
		if (sanitized.dropped > 0)
			this.notice({
				type: 'error',
				code: 'awareness_not_yours',
				reason: 'awareness may only describe your own client'
			});
		if (sanitized.update) awarenessProtocol.applyAwarenessUpdate(awareness, sanitized.update, this);
	}

	close(code: number, reason: string) {
		if (this.#closed) return;
		this.#closed = true;
		this.room.durableListeners.delete(this.#onDurable);
		this.room.noticeListeners.delete(this.#onNotice);
		for (const id of this.clientIds) this.room.formerOwners.set(id, this.principal.principal);
		if (this.clientIds.size > 0 && this.room.awareness)
			awarenessProtocol.removeAwarenessStates(this.room.awareness, [...this.clientIds], this);
		closeWith(this.ws, code, reason);
	}

	get closed() {
		return this.#closed;
	}
}

/**
 * The last update encoded: a room's listeners run one after another for each update, so every
 * connection after the first reuses its bytes (ws does not modify what it sends).
 */
let lastUpdate: Uint8Array | null = null;
let lastEncoded: Uint8Array | null = null;

export function encodeSyncUpdate(update: Uint8Array): Uint8Array {
	if (update === lastUpdate && lastEncoded) return lastEncoded;
	lastEncoded = encodeSyncUpdateOnce(update);
	lastUpdate = update;
	return lastEncoded;
}

function encodeSyncUpdateOnce(update: Uint8Array): Uint8Array {
	const encoder = encoding.createEncoder();
	encoding.writeVarUint(encoder, MessageType.sync);
	syncProtocol.writeUpdate(encoder, update);
	return encoding.toUint8Array(encoder);
}

export function encodeAwareness(room: Room, clients: number[]): Uint8Array {
	const encoder = encoding.createEncoder();
	encoding.writeVarUint(encoder, MessageType.awareness);
	encoding.writeVarUint8Array(
		encoder,
		room.awareness
			? awarenessProtocol.encodeAwarenessUpdate(room.awareness, clients)
			: new Uint8Array([0])
	);
	return encoding.toUint8Array(encoder);
}

/** An awareness message with no entries: harmless to every client, and keeps the socket alive. */
export const KEEPALIVE = (() => {
	const encoder = encoding.createEncoder();
	encoding.writeVarUint(encoder, MessageType.awareness);
	encoding.writeVarUint8Array(encoder, new Uint8Array([0]));
	return encoding.toUint8Array(encoder);
})();
