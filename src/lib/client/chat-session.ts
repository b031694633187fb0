/**
 * A participant's view of one conversation, framework-free so the browser UI and Node tests
 * share it. It opens two stock y-websocket providers:
 *  - `conversation/<id>` (read-only, server-written): the transcript, read marks, typing;
 *  - `conversation/<id>/outbox` (ours): what we write, kept on the device until merged;
 *  - agents only, `conversation/<id>/internal` (read-only, server-written): internal notes.
 * Optional local persistence (IndexedDB in the browser) keeps both across reloads and offline.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import { WebsocketProvider } from 'y-websocket';
import {
	OutboxEntrySchema,
	arrivedLate,
	byStoredTime,
	storedBefore,
	type Message,
	type Role
} from '../domain/message';
import {
	messagesOf,
	metaOf,
	outboxEntriesOf,
	outboxCursorOf,
	outboxRejectionsOf,
	readsOf,
	seenByOtherRole,
	notesOf,
	type ConversationMeta
} from '../domain/conversation-doc';
import { conversationDocName, internalDocName, outboxDocName } from '../domain/doc-names';
import { MessageType, type Notice } from '../domain/protocol';

/** Merged entries an outbox may hold before the client deletes them. */
export const PRUNE_AFTER_ENTRIES = 16;

export type DeliveryState = 'pending' | 'sent' | 'read' | 'rejected';

export interface TranscriptItem {
	id: string;
	kind: Message['kind'];
	role: Role;
	name: string;
	text: string;
	time: number;
	/** When it reached the server, if well after it was written (see `arrivedLate`). */
	arrived?: number;
	mine: boolean;
	/** A public reply sent by email: its recipient. */
	to?: string;
	/** Only for own messages. */
	state?: DeliveryState;
	rejection?: string;
}

export type ConnectionState = 'connecting' | 'connected' | 'offline' | 'closed';

/** Reads a Parley notice (message type 100) after its type; null if it is not one. */
export function readNotice(decoder: decoding.Decoder): Notice | null {
	try {
		return JSON.parse(decoding.readVarString(decoder)) as Notice;
	} catch {
		return null;
	}
}

export interface LocalPersistence {
	whenSynced: Promise<unknown>;
	destroy(): unknown;
	/** Deletes the local copy (y-indexeddb's `clearData`). */
	clearData?(): Promise<unknown>;
}

export interface ChatSessionOptions {
	/** e.g. `ws://localhost:3000/sync` */
	serverUrl: string;
	conversationId: string;
	me: { principal: string; role: Exclude<Role, 'system'>; name: string };
	/** URL parameters for the sockets, e.g. `{ token }` for a customer. */
	params?: Record<string, string>;
	WebSocketPolyfill?: unknown;
	persistence?: (name: string, doc: Y.Doc) => LocalPersistence;
	now?: () => number;
	newId?: () => string;
	connect?: boolean;
	/** Open only the transcript (e.g. an agent previewing an offer); nothing can be written. */
	readOnly?: boolean;
	/** Agents: also open the internal notes document (never offered to customers). */
	internal?: boolean;
}

export interface TypingUser {
	principal: string;
	name: string;
	role: string;
}

export class ChatSession {
	readonly conversation = new Y.Doc();
	readonly outbox = new Y.Doc();
	readonly conversationProvider: WebsocketProvider;
	readonly outboxProvider: WebsocketProvider;
	readonly internal = new Y.Doc();
	readonly internalProvider: WebsocketProvider | null = null;
	readonly ready: Promise<void>;
	closedReason: string | null = null;
	/**
	 * The server said this device's copy of the transcript (or notes) holds changes it no longer
	 * has: its store was restored from a backup. The copy then shows what the server lost, and
	 * messages merged again appear twice until it is discarded (`discardLocalCopy`).
	 */
	diverged = false;
	#listeners = new Set<() => void>();
	#persistences: LocalPersistence[] = [];
	/** The local copies of the documents only the server writes (not the outbox). */
	#serverWritten: LocalPersistence[] = [];
	#now: () => number;
	#newId: () => string;
	#readOnly: boolean;

	constructor(readonly opts: ChatSessionOptions) {
		this.#now = opts.now ?? Date.now;
		this.#newId = opts.newId ?? (() => crypto.randomUUID());
		const common = {
			connect: false,
			params: opts.params ?? {},
			disableBc: true,
			maxBackoffTime: 5000,
			...(opts.WebSocketPolyfill
				? { WebSocketPolyfill: opts.WebSocketPolyfill as typeof WebSocket }
				: {})
		};
		this.conversationProvider = new WebsocketProvider(
			opts.serverUrl,
			conversationDocName(opts.conversationId),
			this.conversation,
			common
		);
		this.outboxProvider = new WebsocketProvider(
			opts.serverUrl,
			outboxDocName(opts.conversationId),
			this.outbox,
			{
				...common
			}
		);
		this.#readOnly = opts.readOnly === true;
		if (opts.internal && !this.#readOnly) {
			this.internalProvider = new WebsocketProvider(
				opts.serverUrl,
				internalDocName(opts.conversationId),
				this.internal,
				common
			);
			this.internalProvider.awareness.setLocalState(null);
		}
		// The outbox carries no presence; only the conversation socket publishes typing.
		this.outboxProvider.awareness.setLocalState(null);
		this.conversationProvider.awareness.setLocalState({ typing: false });
		// Parley notices (e.g. a rejection) are informational: what the UI shows comes from the
		// documents (the outbox's `rejected` map), so a notice only prompts a re-render; except
		// `diverged`, which only the server can know.
		for (const p of this.#providers())
			p.messageHandlers[MessageType.parley] = (_encoder, decoder) => {
				if (readNotice(decoder)?.type === 'diverged') this.diverged = true;
				this.#emit();
			};

		const changed = () => this.#emit();
		this.conversation.on('update', () => this.#prune());
		this.conversation.on('update', changed);
		this.outbox.on('update', changed);
		this.internal.on('update', changed);
		this.conversationProvider.awareness.on('change', changed);
		for (const p of this.#providers()) {
			p.on('status', changed);
			p.on('sync', changed);
			p.on('closed', (event: { code: number; reason: string }) => {
				this.closedReason = event.reason || `closed (${event.code})`;
				this.#emit();
			});
		}
		if (opts.persistence) {
			const key = `${opts.me.principal}/${opts.conversationId}`;
			this.#serverWritten = [
				opts.persistence(`parley/${key}/conversation`, this.conversation),
				...(this.internalProvider
					? [opts.persistence(`parley/${key}/internal`, this.internal)]
					: [])
			];
			this.#persistences = [
				...this.#serverWritten,
				opts.persistence(`parley/${key}/outbox`, this.outbox)
			];
		}
		this.ready = Promise.all(this.#persistences.map((p) => p.whenSynced)).then(() => {
			this.#emit();
			if (opts.connect !== false) this.connect();
		});
	}

	/**
	 * Drops own entries from the outbox once the transcript holds them (they are durable there),
	 * so the outbox only carries what is still on its way.
	 */
	#prune() {
		const entries = outboxEntriesOf(this.outbox);
		// Batched: each prune is an update the server stores, so wait for a few merged entries.
		if (entries.length < PRUNE_AFTER_ENTRIES) return;
		const merged = new Set<string>();
		for (const m of messagesOf(this.conversation))
			if (m.author === this.opts.me.principal) merged.add(m.id);
		for (const m of notesOf(this.internal))
			if (m.author === this.opts.me.principal) merged.add(m.id);
		this.dropEntries(merged);
	}

	onChange(fn: () => void): () => void {
		this.#listeners.add(fn);
		return () => this.#listeners.delete(fn);
	}

	#emit() {
		for (const fn of this.#listeners) fn();
	}

	#providers(): WebsocketProvider[] {
		return [this.conversationProvider, this.outboxProvider, this.internalProvider].filter(
			(p): p is WebsocketProvider => p !== null
		);
	}

	/**
	 * Deletes this device's copies of the server-written documents (after `diverged`), keeping
	 * the outbox, so nothing written here is lost: the next load syncs them afresh from the
	 * server, and the outbox's entries the server lost are merged again.
	 */
	async discardLocalCopy() {
		this.disconnect();
		await Promise.all(this.#serverWritten.map((p) => p.clearData?.()));
	}

	connect() {
		this.closedReason = null;
		this.conversationProvider.connect();
		if (!this.#readOnly) this.outboxProvider.connect();
		this.internalProvider?.connect();
		this.#emit();
	}

	disconnect() {
		for (const p of this.#providers()) p.disconnect();
		// A provider that never connected emits no status when told to stop (opened offline).
		this.#emit();
	}

	get connection(): ConnectionState {
		if (this.closedReason) return 'closed';
		const a = this.conversationProvider;
		const b = this.outboxProvider;
		if (this.#readOnly)
			return a.wsconnected ? 'connected' : a.shouldConnect ? 'connecting' : 'offline';
		if (a.wsconnected && b.wsconnected) return 'connected';
		if (!a.shouldConnect && !b.shouldConnect) return 'offline';
		return a.wsconnecting || b.wsconnecting ? 'connecting' : 'offline';
	}

	/** The transcript has had its first sync with the server (or is open from this device's copy). */
	get transcriptLoaded(): boolean {
		return this.conversationProvider.synced || messagesOf(this.conversation).length > 0;
	}

	get meta(): Partial<ConversationMeta> {
		return metaOf(this.conversation).toJSON() as Partial<ConversationMeta>;
	}

	/**
	 * Writes a message (or, for agents, an internal note) into the outbox. It shows as pending
	 * until the server merges it.
	 */
	send(
		text: string,
		opts: { internal?: boolean } = {}
	): { ok: true; id: string } | { ok: false; error: string } {
		if (this.#readOnly) return { ok: false, error: 'read only' };
		const entry = {
			id: this.#newId().replace(/[^A-Za-z0-9_-]/g, ''),
			text,
			time: this.#now(),
			...(opts.internal ? { internal: true as const } : {})
		};
		const parsed = OutboxEntrySchema.safeParse(entry);
		if (!parsed.success)
			return { ok: false, error: parsed.error.issues[0]?.message ?? 'invalid message' };
		outboxEntriesOf(this.outbox).push([parsed.data]);
		return { ok: true, id: entry.id };
	}

	/** Tells the others we have seen the whole transcript (drives their *read* marks). */
	markSeen() {
		const seen = messagesOf(this.conversation).length;
		const cursor = outboxCursorOf(this.outbox);
		if (((cursor.get('seen') as number | undefined) ?? 0) < seen) cursor.set('seen', seen);
	}

	setTyping(typing: boolean) {
		const state = this.conversationProvider.awareness.getLocalState() as {
			typing?: boolean;
		} | null;
		if (state?.typing !== typing) this.conversationProvider.awareness.setLocalState({ typing });
	}

	/** Others currently typing, as the server vouches for them. */
	get typing(): TypingUser[] {
		const out: TypingUser[] = [];
		for (const [clientId, state] of this.conversationProvider.awareness.getStates()) {
			const s = state as { user?: TypingUser; typing?: boolean };
			if (clientId === this.conversation.clientID || !s.typing || !s.user) continue;
			if (s.user.principal === this.opts.me.principal) continue;
			out.push(s.user);
		}
		return out;
	}

	/** Transcript plus own pending entries, with delivery states. */
	get transcript(): TranscriptItem[] {
		const me = this.opts.me;
		const messages = messagesOf(this.conversation).toArray();
		const seenByOthers = seenByOtherRole(this.conversation, me.role);
		const rejected = outboxRejectionsOf(this.outbox);
		const merged = new Set<string>();
		const toItem = (m: Message, index: number): TranscriptItem => {
			const mine = m.author === me.principal;
			const arrived = arrivedLate(m);
			if (mine) merged.add(m.id);
			return {
				id: m.id,
				kind: m.kind,
				role: m.role,
				name: m.name,
				text: m.text,
				time: m.time,
				...(arrived !== null ? { arrived } : {}),
				mine,
				...(m.to ? { to: m.to } : {}),
				state: mine ? (index >= 0 && index < seenByOthers ? 'read' : 'sent') : undefined
			};
		};
		// Internal notes sit among the messages in the order the server stored them.
		const notes = notesOf(this.internal).toArray().sort(byStoredTime);
		const items: TranscriptItem[] = [];
		let n = 0;
		const addNote = (note: Message) => {
			if (note.author === me.principal) merged.add(note.id);
			items.push(toItem(note, -1));
		};
		// A message merged again after the server lost it (`diverged`) shows once.
		const shown = new Set<string>();
		messages.forEach((m, index) => {
			if (shown.has(m.id)) return;
			shown.add(m.id);
			while (n < notes.length && storedBefore(notes[n], m)) addNote(notes[n++]);
			items.push(toItem(m, index));
		});
		while (n < notes.length) addNote(notes[n++]);
		for (const raw of outboxEntriesOf(this.outbox).toArray()) {
			const e = raw as { id?: string; text?: string; time?: number; internal?: boolean };
			if (typeof e.id !== 'string' || merged.has(e.id)) continue;
			const rejection = rejected.get(e.id)?.reason;
			items.push({
				id: e.id,
				kind: e.internal ? 'note' : 'text',
				role: me.role,
				name: me.name,
				text: String(e.text ?? ''),
				time: Number(e.time ?? 0),
				mine: true,
				state: rejection ? 'rejected' : 'pending',
				rejection
			});
		}
		return items;
	}

	/**
	 * Own messages the server refused because the conversation had ended (written offline, or
	 * before this device heard of the end), oldest first: they belong in a new conversation.
	 */
	get refusedAsEnded(): { id: string; text: string; time: number }[] {
		const rejected = outboxRejectionsOf(this.outbox);
		const out: { id: string; text: string; time: number }[] = [];
		for (const raw of outboxEntriesOf(this.outbox).toArray()) {
			const e = raw as { id?: string; text?: string; time?: number; internal?: boolean };
			if (typeof e.id !== 'string' || e.internal) continue;
			if (rejected.get(e.id)?.code === 'conversation_ended')
				out.push({ id: e.id, text: String(e.text ?? ''), time: Number(e.time ?? 0) });
		}
		return out.sort((a, b) => a.time - b.time);
	}

	/** Removes own entries from the outbox (e.g. refused ones, once rewritten elsewhere). */
	dropEntries(ids: ReadonlySet<string>) {
		const entries = outboxEntriesOf(this.outbox);
		const drop: number[] = [];
		entries.forEach((e, i) => {
			if (ids.has((e as { id?: string }).id ?? '')) drop.push(i);
		});
		if (drop.length === 0) return;
		this.outbox.transact(() => {
			for (let i = drop.length - 1; i >= 0; i--) entries.delete(drop[i], 1);
		});
	}

	get pendingCount() {
		return this.transcript.filter((t) => t.state === 'pending').length;
	}

	/** Messages by others (not system notes) after the last one this participant has seen. */
	get unread(): number {
		const messages = messagesOf(this.conversation);
		const seen = Math.max(
			(outboxCursorOf(this.outbox).get('seen') as number | undefined) ?? 0,
			readsOf(this.conversation).get(this.opts.me.principal)?.seen ?? 0
		);
		let n = 0;
		for (let i = seen; i < messages.length; i++) {
			const m = messages.get(i);
			if (m.author !== this.opts.me.principal && m.kind !== 'system') n++;
		}
		return n;
	}

	/** When the newest message was stored (0 for an empty transcript). */
	get lastActivity(): number {
		const messages = messagesOf(this.conversation);
		return messages.length > 0 ? messages.get(messages.length - 1).at : 0;
	}

	destroy() {
		this.conversationProvider.destroy();
		this.outboxProvider.destroy();
		for (const p of this.#persistences) p.destroy();
		this.conversation.destroy();
		this.outbox.destroy();
		this.#listeners.clear();
	}
}
