/**
 * The server's authority over conversations: who may open which document, merging outboxes
 * into transcripts, routing requests to agents, offers and presence.
 *
 * State changes (routing, offers, presence) run one at a time under the `routing` lock, which
 * spans every instance when the store is shared (a PostgreSQL advisory lock). Merging an outbox
 * takes that outbox's lock, so two instances holding it never merge an entry twice.
 */
import * as Y from 'yjs';
import type { Logger } from 'pino';
import type { Clock } from './clock';
import {
	newId,
	triggerOf,
	type Db,
	type Repo,
	type Conversation,
	type Offer,
	type Workstream
} from './repo';
import { availableAgents, type Router } from './routing';
import { hasSkills, parseSkills } from '../src/lib/domain/routing';
import type { Principal } from './principal';
import type { Room, RoomManager } from './sync/rooms';
import { SERVER_ORIGIN, FANOUT_ORIGIN } from './sync/rooms';
import { mergeOutbox, type Author, type MergeResult } from '../src/lib/domain/merge';
import type { Message, Rejection } from '../src/lib/domain/message';
import { changeTicket, canChangeTicket, type TicketStatus } from '../src/lib/domain/ticket-state';
import type { ConversationDetails, EventType } from '../src/lib/domain/events';
import {
	messagesOf,
	metaOf,
	readsOf,
	outboxEntriesOf,
	outboxCursorOf,
	outboxRejectionsOf,
	notesOf,
	type ConversationMeta
} from '../src/lib/domain/conversation-doc';
import {
	offersOf,
	inboxConversationsOf,
	agentStateOf,
	type InboxConversation
} from '../src/lib/domain/inbox-doc';
import { transition, type ConversationStatus } from '../src/lib/domain/conversation-state';
import type { DocRequest } from '../src/lib/domain/doc-names';
import {
	storedConversationKey,
	storedInboxKey,
	storedInternalKey,
	storedOutboxKey
} from '../src/lib/domain/doc-names';
import type { PresenceChoice } from '../src/lib/domain/presence';
import { LocalLocks, type Locks } from './db/locks';
import type { Ownership } from './db/ownership';
import type { DocStore } from './db/doc-store';
import type { Timers } from './timers';
import type { Mailer } from './mail';
import {
	holdsCapacity,
	isConversationStyle,
	defaultStyle,
	onCustomerMessage,
	solvedToClosedMs,
	type ConversationStyle
} from '../src/lib/domain/conversation-style';
import {
	endSession,
	SessionTransitionError,
	type SessionEnder
} from '../src/lib/domain/session-state';
import {
	firedTriggers,
	type Channel,
	type TicketEvent,
	type Trigger,
	type TriggerAction
} from '../src/lib/domain/triggers';
import type { CsatAnswer } from '../src/lib/domain/csat';
import { checkAgentText } from '../src/lib/domain/template';
import type { MergePath } from './metrics';

export type DocAccess =
	| { ok: true; key: string; kind: DocRequest['kind']; writable: boolean; typing: boolean }
	| { ok: false; code: 'forbidden' | 'notFound'; reason: string };

const offerTimer = (offerId: string) => `offer:${offerId}`;
const keepTimer = (conversationId: string) => `keep:${conversationId}`;
const closeTimer = (conversationId: string) => `close:${conversationId}`;
const triggerTimer = (eventId: string) => `trig:${eventId}`;

/** The workstream's conversation style (its mode's default if the column holds anything else). */
export function styleOf(ws: Pick<Workstream, 'style' | 'mode'> | undefined): ConversationStyle {
	if (!ws) return 'live';
	return isConversationStyle(ws.style) ? ws.style : defaultStyle(ws.mode);
}

export class DomainError extends Error {
	constructor(
		readonly code: 'not_found' | 'conflict' | 'forbidden' | 'invalid',
		message: string
	) {
		super(message);
		this.name = 'DomainError';
	}
}

export interface StoredEvent {
	id: string;
	conversationId: string;
	type: EventType;
	actor: string | null;
	data: Record<string, string | number | null>;
	at: number;
}

interface TranscriptIndex {
	authorsById: Map<string, string>;
	lastTimeByAuthor: Map<string, number>;
}

/**
 * What is known of a conversation's firsts. Both facts never become false again, so they are
 * kept (across reloads of its documents) once the database has said so.
 */
interface Firsts {
	/** Its request time is set. */
	requested: boolean;
	/** An agent's first reply is recorded (reports). */
	responded: boolean;
	/** An agent's first reply being recorded now. */
	recording: Promise<void> | null;
}

type MergeOutcome = 'request' | 'customer-wrote-active' | 'customer-wrote-waiting' | null;
/** A merge done synchronously: what it asks for next, and (several instances) its writes stored. */
interface MergeNow {
	outcome: MergeOutcome;
	durable: Promise<unknown> | null;
}

/** With several instances, how long a remembered membership answer is trusted (see `#isMember`). */
const MEMBER_TTL_MS = 10_000;

/** What a merge reads from an outbox. */
interface OutboxRead {
	entries: unknown[];
	seen: unknown;
	agentId: string | null;
	hasNotes: boolean;
}

/** An outbox's entries checked against the transcript, not yet written. */
interface CheckedMerge {
	index: TranscriptIndex;
	now: number;
	rejections: Y.Map<{ code: string; reason: string }>;
	result: MergeResult;
}

interface OutboxState {
	conversationId: string;
	author: Author;
	/** Rejections of entries without a readable id already reported (they cannot be stored by id). */
	anonymousRejections: number;
	running: Promise<void> | null;
	again: boolean;
	/** Several instances: a claim that failed is tried again later (the owner may let go). */
	retry: ReturnType<typeof setTimeout> | null;
	/** This instance stores its devices' updates for the owner (it tried to claim and could not). */
	relaying: boolean;
	evicted: boolean;
}

export interface ConversationServiceDeps {
	repo: Repo;
	rooms: RoomManager;
	router: Router;
	locks: Locks;
	/** Which instance merges an outbox. */
	ownership: Ownership;
	/** How often an instance that holds an outbox another instance owns tries to claim it. */
	claimRetryMs: number;
	timers: Timers;
	/** How long an agent has to accept an offer before it goes to the next agent (RONA). */
	offerTimeoutMs: number;
	/** Other instances write the same documents (merges need ownership, server writes catch up). */
	sharedStore: boolean;
	clock: Clock;
	log: Logger;
	/** Requests joined, moved or left a queue (waiting customers' positions may have changed). */
	onQueueChanged?: () => void;
	/**
	 * Closes a principal's sockets on documents they may no longer open (an agent removed from a
	 * conversation), on every instance. Their device keeps its copy.
	 */
	revoke?: (principal: string, docKeys: string[], reason: string) => void;
	/** Tells the other instances that a conversation's participants changed (several instances). */
	participantsChanged?: (conversationId: string) => void;
	/** Tells the other instances that an agent's presence changed (several instances). */
	presenceChanged?: (agentId: string) => void;
	/** Email (public replies, offline confirmations, CSAT). */
	mailer?: Mailer;
	/** A link the customer opens to answer the CSAT survey of a conversation (emails carry it). */
	csatLink?: (conversationId: string) => Promise<string>;
	/** Every history event once stored (webhooks). Its failures are logged, never thrown. */
	onEvent?: (event: StoredEvent) => Promise<void>;
	/** Embedded store: writes that join the documents' next group commit (`DocStore`). */
	withNextCommit?: DocStore['withNextCommit'];
	/** Each merge: messages and notes written, entries refused (metrics). */
	onMerged?: (path: MergePath, accepted: number, refused: number) => void;
}

/** A history event about to be stored. */
function newEvent(
	conversationId: string,
	type: EventType,
	actor: string | null,
	data: Record<string, string | number | null>,
	at: number
): StoredEvent {
	return { id: eventId(at), conversationId, type, actor, data, at };
}

/** An agent's first reply in a conversation, to record (reports' first-response time). */
interface FirstReply {
	conversationId: string;
	author: Author;
	at: number;
}

/** Sets the conversation's first-reply time, once, and only after its request. */
function firstReplyUpdate(db: Db, r: FirstReply) {
	return db
		.updateTable('conversations')
		.set({ first_response_at: r.at })
		.where('id', '=', r.conversationId)
		.where('first_response_at', 'is', null)
		.where('requested_at', 'is not', null);
}

function firstReplyEvent(r: FirstReply): StoredEvent {
	return newEvent(
		r.conversationId,
		'first_response',
		r.author.principal,
		{ by: r.author.name },
		r.at
	);
}

/** Keeps `promise` in `set` until it settles (for `allSettled`); returns it. */
function track<T>(set: Set<Promise<unknown>>, promise: Promise<T>): Promise<T> {
	set.add(promise);
	const forget = () => set.delete(promise);
	promise.then(forget, forget);
	return promise;
}

/** Resolves once every promise in `set`, including ones added meanwhile, has settled. */
async function allSettled(set: Set<Promise<unknown>>) {
	while (set.size > 0) await Promise.allSettled([...set]);
}

/** Its `conversation_events` row. */
function eventRow(e: StoredEvent) {
	return {
		id: e.id,
		conversation_id: e.conversationId,
		type: e.type,
		actor: e.actor,
		data: JSON.stringify(e.data),
		at: e.at
	};
}

type PendingOffer = Pick<Offer, 'id' | 'agent_id' | 'conversation_id' | 'kind'>;

/** What a removed agent's late messages are refused with (shown in their UI). */
const NOT_PARTICIPANT = 'You are no longer in this conversation; this message was not sent.';
const ENDED_REASON =
	'This conversation has ended; this message was not sent. Start a new one to write again.';

export class ConversationService {
	#indexes = new WeakMap<Y.Doc, TranscriptIndex>();
	#outboxes = new WeakMap<Room, OutboxState>();
	#mergeQueue = new LocalLocks();
	/** Outboxes changed in this turn, merged together on the next microtask. */
	#dirtyOutboxes = new Set<Room>();
	/** What is known of each conversation's firsts (see `#firstsOf`). */
	#firsts = new Map<string, Firsts>();
	/** PostgreSQL: first replies waiting for their batch (see `#recordFirstReply`). */
	#firstReplies: (FirstReply & {
		resolve: (event: StoredEvent | null) => void;
		reject: (err: unknown) => void;
	})[] = [];
	/** First replies being recorded, for `drain`. */
	#recordingReplies = new Set<Promise<boolean>>();
	/** Remembered membership answers by conversation, then agent; see `#isMember`. */
	#members = new Map<string, Map<string, { member: boolean; at: number }>>();
	#membersGeneration = 0;
	/**
	 * Active conversations where a customer's message last needed nothing (ticket open, an agent
	 * Available or Busy), and when that was found: the next customer message skips the check and
	 * its database read. Forgotten when the ticket, the participants or any agent's presence
	 * changes (here, or on another instance: a control message); with several instances, also
	 * after MEMBER_TTL_MS, as membership answers are.
	 */
	#calm = new Map<string, number>();
	#calmGeneration = 0;
	/** Merge loops running now (`settled`). */
	#mergeLoops = new Set<Promise<void>>();
	/** Opening times already scheduled per workstream, so sweeps do not rewrite the same timer. */
	#openingTimers = new Map<string, number>();

	constructor(private readonly deps: ConversationServiceDeps) {
		deps.timers.on('offer-timeout', (payload) =>
			this.offerTimedOut((payload as { offerId: string }).offerId)
		);
		// Both only need the queue looked at again: the router sees the wait is over, or hours open.
		deps.timers.on('keep-wait', () => this.drainQueue());
		deps.timers.on('hours-open', (payload) => {
			this.#openingTimers.delete((payload as { workstreamId: string }).workstreamId);
			return this.drainQueue();
		});
		deps.timers.on('ticket-close', (payload) =>
			this.#exclusive(() =>
				this.#closeTicket((payload as { conversationId: string }).conversationId, deps.clock.now())
			)
		);
		deps.timers.on('triggers', (payload) =>
			this.runTriggers((payload as { eventId: string }).eventId)
		);
	}

	/** Runs state changes one after another, across instances (routing, offers, presence). */
	#exclusive<T>(fn: () => Promise<T>): Promise<T> {
		return this.deps.locks.run('routing', fn);
	}

	// ---- authorization ------------------------------------------------------------------

	async authorize(who: Principal, req: DocRequest): Promise<DocAccess> {
		const { repo } = this.deps;
		if (req.kind === 'inbox') {
			if (who.kind !== 'agent')
				return { ok: false, code: 'forbidden', reason: 'only agents have an inbox' };
			return {
				ok: true,
				key: storedInboxKey(who.id),
				kind: 'inbox',
				writable: false,
				typing: false
			};
		}
		const conv = await repo.conversationById(req.conversationId);
		// The same answer for "no such conversation" and "not yours", so ids cannot be probed.
		if (!conv)
			return {
				ok: false,
				code: 'forbidden',
				reason: 'you are not a participant of this conversation'
			};
		let canRead = false;
		let canWrite = false;
		if (who.kind === 'customer') {
			// Internal notes never reach a customer's device (SPEC A10, P5).
			canRead = canWrite = conv.customer_id === who.id && req.kind !== 'internal';
		} else if (await repo.isParticipant(conv.id, who.id)) {
			canRead = canWrite = true;
		} else if (req.kind === 'conversation' && (await repo.hasPendingOffer(conv.id, who.id))) {
			canRead = true; // the offer shows the thread so far
		} else if (req.kind === 'outbox' && (await repo.wasParticipant(conv.id, who.id))) {
			// A removed agent's device may still hold messages written offline: it syncs them so
			// that the merge refuses them with a notice, instead of leaving them pending forever.
			canRead = canWrite = true;
		}
		if (!canRead || (req.kind === 'outbox' && !canWrite))
			return {
				ok: false,
				code: 'forbidden',
				reason: 'you are not a participant of this conversation'
			};
		if (req.kind === 'conversation')
			return {
				ok: true,
				key: storedConversationKey(conv.id),
				kind: 'conversation',
				writable: false,
				typing: canWrite
			};
		if (req.kind === 'internal')
			return {
				ok: true,
				key: storedInternalKey(conv.id),
				kind: 'internal',
				writable: false,
				typing: false
			};
		return {
			ok: true,
			key: storedOutboxKey(conv.id, who.principal),
			kind: 'outbox',
			writable: true,
			typing: false
		};
	}

	// ---- customers ----------------------------------------------------------------------

	/** The customer's open conversation in their workstream, created (empty, not routed) if none. */
	async openConversationFor(customerId: string, ws: Workstream): Promise<Conversation> {
		return this.#exclusive(async () => {
			const existing = await this.deps.repo.openConversationOf(customerId);
			if (existing) return existing;
			const customer = await this.deps.repo.customerById(customerId);
			return this.#createConversation(ws, customerId, customer?.name ?? 'Customer', null);
		});
	}

	/**
	 * A message left through the live widget outside operating hours (SPEC C6): a conversation
	 * holding it, queued as a request that waits for an agent when hours open. The server writes
	 * the customer's text itself (validated by the API); the customer has no session to go on.
	 */
	async leaveOfflineMessage(customerId: string, ws: Workstream, text: string) {
		return this.#exclusive(async () => {
			const customer = await this.deps.repo.customerById(customerId);
			if (!customer) throw new DomainError('not_found', 'No such customer.');
			const conv = await this.#createConversation(ws, customerId, customer.name, {
				text,
				email: customer.email
			});
			this.deps.log.info({ conversation: conv.id, workstream: ws.id }, 'offline message left');
			// The "leave a message" confirmation (SPEC P4): what we received and where we will reply.
			if (customer.email && this.deps.mailer)
				await this.deps.mailer.queue({
					kind: 'offline_confirmation',
					conversationId: conv.id,
					to: customer.email,
					subject: `We received your message — ${ws.title}`,
					body: [
						`Hello ${customer.name},`,
						'',
						`Thank you for writing to ${ws.title}. Our agents are not available right now; one of them will reply to this address as soon as they are back.`,
						'',
						'Your message:',
						...text.split('\n').map((l) => `> ${l}`),
						'',
						'— Parley'
					].join('\n')
				});
			await this.#drain();
			return conv;
		});
	}

	/**
	 * Stores a new `queued` conversation and its document's meta. Empty (routed after the first
	 * customer message), or holding an offline message, which makes it a request at once.
	 */
	async #createConversation(
		ws: Workstream,
		customerId: string,
		customerName: string,
		offline: { text: string; email: string | null } | null
	): Promise<Conversation> {
		const now = this.deps.clock.now();
		const conv: Conversation = {
			id: newId('cv'),
			workstream_id: ws.id,
			customer_id: customerId,
			status: 'queued',
			requested_at: offline ? now : null,
			queue_id: ws.queue_id,
			preferred_agent_id: null,
			preferred_until: null,
			offline_message: offline ? 1 : 0,
			transfer_from: null,
			ticket_status: 'new',
			wrap_up_reason: null,
			ended_at: null,
			ended_by: null,
			session_status: 'active',
			session_ended_by: null,
			channel: offline ? 'email' : 'messaging',
			solved_at: null,
			first_response_at: null,
			closed_at: null,
			csat_requested_at: null,
			csat_rating: null,
			csat_comment: null,
			csat_at: null,
			tags: '[]',
			created_at: now,
			updated_at: now
		};
		if (offline)
			// A message left is a request from the start: its `requested` event (history, reports,
			// the `conversation.started` webhook) is written with it, as a first message's is.
			await this.#withEvent(async (trx) => {
				await trx.insertInto('conversations').values(conv).execute();
				return this.#storeEvent(trx, conv.id, 'requested', null, { channel: 'email' }, now);
			});
		else await this.deps.repo.db.insertInto('conversations').values(conv).execute();
		await this.deps.rooms.with(storedConversationKey(conv.id), (room) => {
			const meta: ConversationMeta = {
				id: conv.id,
				mode: ws.mode,
				workstream: ws.name,
				status: 'queued',
				customerName,
				agents: [],
				...(offline ? { offlineMessage: { email: offline.email } } : {})
			};
			room.doc.transact(() => {
				for (const [k, v] of Object.entries(meta)) metaOf(room.doc).set(k, v);
				if (offline)
					messagesOf(room.doc).push([
						{
							id: newId('m'),
							kind: 'text',
							role: 'customer',
							author: `customer:${customerId}`,
							name: customerName,
							text: offline.text,
							time: now,
							at: now
						}
					]);
			}, SERVER_ORIGIN);
			return room.whenDurable();
		});
		return conv;
	}

	// ---- outbox merge -------------------------------------------------------------------

	/** Called by the room manager when any room loads: outboxes start merging. */
	async onRoomLoaded(room: Room) {
		const parts = room.key.split(':');
		if (parts[0] !== 'outbox' || parts.length !== 4) return;
		const [, conversationId, kind, id] = parts;
		const author = await this.#authorOf(kind, id);
		if (!author) return;
		const state: OutboxState = {
			conversationId,
			author,
			anonymousRejections: 0,
			running: null,
			again: false,
			retry: null,
			relaying: false,
			evicted: false
		};
		this.#outboxes.set(room, state);
		room.changeListeners.add((origin) => {
			if (origin === SERVER_ORIGIN) return;
			// What other instances' devices wrote (relayed, or read back from the store) is merged
			// here only if this instance owns the outbox.
			if (origin === FANOUT_ORIGIN && !this.#owns(room)) return;
			this.#scheduleMerge(room, state);
		});
		this.#scheduleMerge(room, state);
		void this.#prefetch(state).catch((err) =>
			this.deps.log.warn({ err, doc: room.key }, 'could not read ahead for an outbox')
		);
	}

	/**
	 * Reads now what the outbox's first merge would otherwise stop to ask the database: whether
	 * the conversation's request and first reply are recorded and, for an agent, whether they are
	 * a participant. A participant opens their outbox when they open the chat, usually well
	 * before they write, so their first message takes the synchronous path like every later one
	 * (under the chat benchmark's load, first messages made up most of the slowest 1 %).
	 */
	async #prefetch(state: OutboxState) {
		const { conversationId, author } = state;
		const firsts = this.#firstsOf(conversationId);
		if (!firsts.requested || !firsts.responded) {
			const row = await this.deps.repo.conversationById(conversationId);
			firsts.requested ||= row?.requested_at != null;
			firsts.responded ||= row?.first_response_at != null;
		}
		if (author.role === 'agent') await this.#isMember(conversationId, author.principal.slice(6));
	}

	#firstsOf(conversationId: string): Firsts {
		let firsts = this.#firsts.get(conversationId);
		if (!firsts) {
			if (this.#firsts.size >= 100_000) this.#firsts.clear();
			firsts = { requested: false, responded: false, recording: null };
			this.#firsts.set(conversationId, firsts);
		}
		return firsts;
	}

	/** Called by the room manager when a room is evicted: an outbox's owner lets it go. */
	async onRoomEvicted(room: Room) {
		const state = this.#outboxes.get(room);
		if (!state) return;
		state.evicted = true;
		if (state.retry) clearTimeout(state.retry);
		state.retry = null;
		await state.running;
		// A device that came back meanwhile loaded the outbox again: the claim stays with it.
		if (!this.deps.rooms.holds(room.key)) await this.deps.ownership.release(room.key);
	}

	/** One instance (embedded store) owns every outbox; with several, see `db/ownership.ts`. */
	#owns(room: Room): boolean {
		return this.deps.ownership.owns(room.key);
	}

	/**
	 * Claims an outbox for this instance (several instances). The new owner first reads what the
	 * previous owner merged and what other instances stored. An instance that cannot claim it
	 * stores its devices' updates for the owner instead, and tries again later.
	 */
	async #claim(room: Room, state: OutboxState): Promise<boolean> {
		if (this.deps.rooms.closing) return false;
		const owned = await this.deps.ownership.claim(room.key);
		if (state.evicted || this.deps.rooms.closing) return false;
		if (owned || !state.relaying) this.deps.log.debug({ doc: room.key, owned }, 'outbox claim');
		room.storesEachClientUpdate = !owned;
		if (owned) {
			state.relaying = false;
			await this.deps.rooms.catchUp(room);
			return true;
		}
		if (!state.relaying) {
			// What this instance's devices wrote so far, stored once for the owner.
			await room.storeState();
			state.relaying = true;
		}
		this.#retryClaim(room, state);
		return false;
	}

	#retryClaim(room: Room, state: OutboxState) {
		if (state.retry || state.evicted) return;
		state.retry = setTimeout(() => {
			state.retry = null;
			if (!state.evicted && !this.deps.rooms.closing) this.#scheduleMerge(room, state);
		}, this.deps.claimRetryMs);
		state.retry.unref();
	}

	async #authorOf(kind: string, id: string): Promise<Author | null> {
		if (kind === 'customer') {
			const c = await this.deps.repo.customerById(id);
			return c ? { principal: `customer:${id}`, role: 'customer', name: c.name } : null;
		}
		if (kind === 'agent') {
			const a = await this.deps.repo.agentById(id);
			return a ? { principal: `agent:${id}`, role: 'agent', name: a.name } : null;
		}
		return null;
	}

	#scheduleMerge(room: Room, state: OutboxState) {
		if (state.running) {
			state.again = true;
			return;
		}
		// Merged together after the current turn's updates have landed (a burst merges once).
		this.#dirtyOutboxes.add(room);
		if (this.#dirtyOutboxes.size === 1) queueMicrotask(() => this.#mergeDirty());
	}

	/**
	 * Merges every outbox that changed in this turn. The common case (this instance owns the
	 * outbox, the transcript is in use here, nothing needs the database) merges synchronously:
	 * no promise chain per message, which the chat benchmark showed as a large share of what the
	 * server allocates. Anything else goes through the asynchronous loop.
	 */
	#mergeDirty() {
		const dirty = [...this.#dirtyOutboxes];
		this.#dirtyOutboxes.clear();
		for (const room of dirty) {
			const state = this.#outboxes.get(room);
			if (!state || state.evicted) continue;
			if (state.running) {
				state.again = true;
				continue;
			}
			let done: MergeNow | undefined;
			try {
				done = this.#mergeNow(room, state);
			} catch (err) {
				this.deps.log.error({ err, doc: room.key }, 'merge failed');
			}
			if (done && done.outcome === null && !done.durable) continue;
			state.running = track(this.#mergeLoops, this.#mergeLoop(room, state, done));
		}
	}

	/** Merges an outbox until nothing new arrived meanwhile, then routes or reacts as needed. */
	async #mergeLoop(room: Room, state: OutboxState, done?: MergeNow) {
		let first = done;
		do {
			state.again = false;
			try {
				let outcome: MergeOutcome | 'relayed';
				if (first !== undefined) {
					if (first.durable) await first.durable;
					outcome = first.outcome;
					first = undefined;
				} else
					// Several instances: only the outbox's owner merges it, so no entry is merged
					// twice. It reads the store once when it takes ownership, not at every merge.
					// One merge of an outbox at a time in this instance, even across two rooms of the
					// same key (one being evicted while the device comes back).
					outcome = await this.#mergeQueue.run(room.key, async () => {
						let claimed = false;
						if (!this.#owns(room)) {
							// A relaying instance claims on its retry timer, not on every device update.
							if (state.relaying && state.retry) return 'relayed';
							if (!(await this.#claim(room, state))) return 'relayed';
							claimed = true;
						}
						return this.#merge(room, state, claimed);
					});
				if (outcome === 'relayed') continue;
				await this.#afterMerge(state, outcome);
			} catch (err) {
				this.deps.log.error({ err, doc: room.key }, 'merge failed');
				if (this.deps.sharedStore) this.#retryClaim(room, state);
			}
		} while (state.again);
		state.running = null;
	}

	/** What a merge that made a change asks for next. Run outside the merge lock. */
	async #afterMerge(state: OutboxState, outcome: MergeOutcome) {
		// Routed after the merge lock is released: a lock is never taken while holding
		// another (each holds a database connection while it waits).
		if (outcome === 'request')
			await this.#exclusive(async () => {
				await this.#prepareRequest(state.conversationId);
				await this.#drain();
				this.deps.onQueueChanged?.();
			});
		else if (outcome === 'customer-wrote-active')
			await this.#customerWroteActive(state.conversationId);
		else if (outcome === 'customer-wrote-waiting') await this.#resume(state.conversationId);
	}

	#indexOf(doc: Y.Doc, list: (doc: Y.Doc) => Y.Array<Message> = messagesOf): TranscriptIndex {
		let index = this.#indexes.get(doc);
		if (!index) {
			const built: TranscriptIndex = {
				authorsById: new Map(),
				lastTimeByAuthor: new Map()
			};
			const add = (m: Message) => {
				built.authorsById.set(m.id, m.author);
				built.lastTimeByAuthor.set(
					m.author,
					Math.max(built.lastTimeByAuthor.get(m.author) ?? 0, m.time)
				);
			};
			list(doc).forEach(add);
			list(doc).observe((e) => {
				for (const item of e.changes.added)
					for (const m of item.content.getContent() as Message[]) add(m);
			});
			this.#indexes.set(doc, built);
			index = built;
		}
		return index;
	}

	/**
	 * Merges new outbox entries. Says whether this made the conversation a request to route, or
	 * the customer wrote into an active conversation (whose agents may have left: a handoff).
	 */
	async #merge(outbox: Room, state: OutboxState, catchUp: boolean): Promise<MergeOutcome> {
		const read = this.#readOutbox(outbox, state);
		const { rooms } = this.deps;
		let outcome: MergeOutcome = null;
		// The owner's own merges are all in its view of the transcript already; what others write
		// there concurrently (other participants, status) arrives through the fan-out.
		const withConversation = <T>(fn: (conv: Room) => Promise<T>) =>
			rooms.with(storedConversationKey(state.conversationId), fn, { catchUp });
		await withConversation(async (conv) => {
			// Agents' notes go to the internal document, which a customer can never open.
			const withInternal = <T>(fn: (internal: Room | null) => Promise<T>) =>
				!read.hasNotes
					? fn(null)
					: rooms.with(storedInternalKey(state.conversationId), (r) => fn(r));
			await withInternal(async (internal) => {
				const checked = this.#check(outbox, state, read, conv, internal);
				// Agents removed from the conversation (End conference, a completed transfer) may
				// still sync what they wrote offline: it is refused, with a notice, never merged.
				const agentId = this.#memberToCheck(read, checked);
				const member = agentId === null || (await this.#isMember(state.conversationId, agentId));
				// Ownership lost meanwhile (its connection dropped): merge nothing; the loop claims
				// again, or hands the entries to the new owner.
				if (!this.#owns(outbox)) {
					state.again = true;
					return;
				}
				const texts = this.#apply(outbox, state, read, checked, conv, internal, member, 'deferred');
				// Another instance merging this outbox next must find these in the store.
				if (this.deps.sharedStore) {
					if (internal) await internal.whenDurable();
					await conv.whenDurable();
				}
				outcome = await this.#noteFirsts(state, texts, checked.now);
				outcome ??= this.#customerOutcome(state, conv, texts);
			});
		});
		return outcome;
	}

	/**
	 * The same merge, synchronously, when nothing in it needs to wait: one instance, the outbox
	 * and the transcript in memory, membership known, the conversation's request already recorded
	 * (an agent's first reply is recorded afterwards). Returns undefined when it cannot (the
	 * caller takes the async path).
	 */
	#mergeNow(outbox: Room, state: OutboxState): MergeNow | undefined {
		const { rooms, sharedStore } = this.deps;
		// Several instances: only the owner merges, and only once it has claimed (and caught up).
		if (!this.#owns(outbox) || state.relaying || this.#mergeQueue.busy(outbox.key))
			return undefined;
		const conv = rooms.inUse(storedConversationKey(state.conversationId));
		if (!conv) return undefined;
		const read = this.#readOutbox(outbox, state);
		const internal = read.hasNotes ? rooms.inUse(storedInternalKey(state.conversationId)) : null;
		if (internal === undefined) return undefined;
		const checked = this.#check(outbox, state, read, conv, internal);
		const hasTexts = checked.result.accepted.some((m) => m.kind !== 'note');
		const firsts = this.#firstsOf(state.conversationId);
		if (hasTexts && state.author.role === 'customer' && !firsts.requested) return undefined;
		const agentId = this.#memberToCheck(read, checked);
		const member = agentId === null || this.#knownMember(state.conversationId, agentId);
		if (member === undefined) return undefined;
		const texts = this.#apply(outbox, state, read, checked, conv, internal, member, 'immediate');
		// An agent's first reply is recorded after the merge; the message does not wait for it.
		if (texts.length > 0 && state.author.role === 'agent' && !firsts.responded)
			this.#noteFirstReply(state, firsts, checked.now).catch((err) =>
				this.deps.log.error({ err, doc: outbox.key }, 'could not record a first reply')
			);
		return {
			outcome: this.#customerOutcome(state, conv, texts),
			// Another instance merging this outbox next must find these in the store: the outbox is
			// not released (nor merged again here) before they are durable.
			durable: sharedStore ? Promise.all([conv.whenDurable(), internal?.whenDurable()]) : null
		};
	}

	/** What a merge reads from the outbox itself. */
	#readOutbox(outbox: Room, state: OutboxState): OutboxRead {
		const entries = outboxEntriesOf(outbox.doc).toJSON() as unknown[];
		const agentId = state.author.role === 'agent' ? state.author.principal.slice(6) : null;
		return {
			entries,
			seen: outboxCursorOf(outbox.doc).get('seen'),
			agentId,
			// Notes are rare: the internal document is only opened for an outbox that holds one.
			hasNotes:
				agentId !== null &&
				entries.some((e) => (e as { internal?: unknown } | null)?.internal === true)
		};
	}

	/** Validates the outbox's entries against the transcript (and notes): the pure merge. */
	#check(
		outbox: Room,
		state: OutboxState,
		read: OutboxRead,
		conv: Room,
		internal: Room | null
	): CheckedMerge {
		const index = this.#indexOf(conv.doc);
		const notesIndex = internal ? this.#indexOf(internal.doc, notesOf) : null;
		const now = this.deps.clock.now();
		const rejections = outboxRejectionsOf(outbox.doc);
		const result = mergeOutbox({
			author: state.author,
			entries: read.entries,
			authorsById: {
				get: (id) => index.authorsById.get(id) ?? notesIndex?.authorsById.get(id)
			},
			// The outbox's own map: no copy of its keys per merge.
			rejectedIds: rejections,
			lastTimeOfAuthor: Math.max(
				index.lastTimeByAuthor.get(state.author.principal) ?? 0,
				notesIndex?.lastTimeByAuthor.get(state.author.principal) ?? 0
			),
			now
		});
		return { index, now, rejections, result };
	}

	/**
	 * Writes a checked merge: rejections into the author's outbox, notes into the internal
	 * document, messages and the author's read mark into the transcript. Synchronous. Returns the
	 * messages (not notes) it appended.
	 */
	#apply(
		outbox: Room,
		state: OutboxState,
		read: OutboxRead,
		checked: CheckedMerge,
		conv: Room,
		internal: Room | null,
		member: boolean,
		path: MergePath
	): Message[] {
		const { rejections } = checked;
		let accepted = checked.result.accepted;
		let refused: Rejection[] = checked.result.rejected;
		// An ended conversation takes no more messages (a new one starts); notes stay allowed.
		if (member && metaOf(conv.doc).get('status') === 'ended') {
			const late = accepted.filter((m) => m.kind !== 'note' && !rejections.has(m.id));
			refused = [
				...refused,
				...late.map((m) => ({
					id: m.id,
					code: 'conversation_ended' as const,
					reason: ENDED_REASON
				}))
			];
			accepted = accepted.filter((m) => m.kind === 'note');
		}
		if (!member) {
			refused = [
				...refused,
				...accepted
					.filter((m) => !rejections.has(m.id))
					.map((m) => ({
						id: m.id,
						code: 'not_participant' as const,
						reason: NOT_PARTICIPANT
					}))
			];
			accepted = [];
		}
		// Rejections are stored in the author's outbox (durable, seen by all their devices);
		// entries without a readable id are reported once per connection lifetime.
		const anonymous = refused.filter((r) => r.id === null);
		const fresh = [
			...refused.filter((r) => r.id !== null),
			...anonymous.slice(state.anonymousRejections)
		];
		state.anonymousRejections = Math.max(state.anonymousRejections, anonymous.length);
		if (fresh.some((r) => r.id !== null))
			outbox.doc.transact(() => {
				for (const r of fresh) if (r.id) rejections.set(r.id, { code: r.code, reason: r.reason });
			}, SERVER_ORIGIN);
		for (const r of fresh) {
			this.deps.log.warn({ doc: outbox.key, rejection: r }, 'outbox entry rejected');
			for (const l of outbox.noticeListeners) l({ type: 'rejected', ...r });
		}
		this.deps.onMerged?.(path, accepted.length, fresh.length);
		const texts = accepted.filter((m) => m.kind !== 'note');
		const notes = accepted.filter((m) => m.kind === 'note');
		const messages = messagesOf(conv.doc);
		const reads = readsOf(conv.doc);
		const prevSeen = reads.get(state.author.principal)?.seen ?? 0;
		const seen = read.seen;
		const newSeen =
			member && typeof seen === 'number' && Number.isInteger(seen)
				? Math.min(seen, messages.length + texts.length)
				: prevSeen;
		if (notes.length > 0 && internal)
			internal.doc.transact(() => notesOf(internal.doc).push(notes), SERVER_ORIGIN);
		if (texts.length > 0 || newSeen > prevSeen)
			conv.doc.transact(() => {
				if (texts.length > 0) messages.push(texts);
				if (newSeen > prevSeen)
					reads.set(state.author.principal, { role: state.author.role, seen: newSeen });
			}, SERVER_ORIGIN);
		return texts;
	}

	/**
	 * Records, once per conversation, its first customer message (which makes it a request to
	 * route) and its first agent reply (reports' first-response time). Asked of the database
	 * until it says so, so the hot path does no database work beyond the document log.
	 */
	async #noteFirsts(state: OutboxState, texts: Message[], now: number): Promise<MergeOutcome> {
		const { repo } = this.deps;
		if (texts.length === 0) return null;
		const firsts = this.#firstsOf(state.conversationId);
		let outcome: MergeOutcome = null;
		if (state.author.role === 'customer' && !firsts.requested) {
			const row = await repo.conversationById(state.conversationId);
			if (row && row.requested_at === null) {
				await this.#withEvent(async (trx) => {
					await trx
						.updateTable('conversations')
						.set({ requested_at: now, updated_at: now })
						.where('id', '=', row.id)
						.execute();
					return this.#storeEvent(trx, row.id, 'requested', null, {}, now);
				});
				outcome = 'request';
			}
			firsts.requested = true;
		}
		if (state.author.role === 'agent' && !firsts.responded)
			await this.#noteFirstReply(state, firsts, now);
		return outcome;
	}

	/**
	 * Records an agent's first reply in a conversation (reports' first-response time), once: the
	 * conversation row's time and a `first_response` event. While one is being recorded, later
	 * messages do not ask again.
	 */
	async #noteFirstReply(state: OutboxState, firsts: Firsts, at: number) {
		if (firsts.recording) return firsts.recording;
		firsts.recording = this.#recordFirstReply(state.conversationId, state.author, at)
			.then((recorded) => {
				firsts.responded = recorded;
			})
			.finally(() => {
				firsts.recording = null;
			});
		return firsts.recording;
	}

	/**
	 * Records a first reply. On the embedded store it is written in the same group commit as the
	 * message itself (its append is already queued when this runs), so the two are on disk
	 * together or not at all, with no fsync of its own. On PostgreSQL the first replies of one
	 * event-loop turn are one transaction. When a chat load starts, every conversation's agent
	 * replies for the first time within a few seconds, and a commit each held up everyone's
	 * messages. Resolves whether the conversation now has its first reply recorded (false while it
	 * has no request yet: an agent writing first).
	 */
	#recordFirstReply(conversationId: string, author: Author, at: number): Promise<boolean> {
		const reply = { conversationId, author, at };
		const { withNextCommit, repo } = this.deps;
		const written = withNextCommit
			? withNextCommit((exec) => {
					if (exec(firstReplyUpdate(repo.db, reply).compile()) === 0) return null;
					const event = firstReplyEvent(reply);
					exec(repo.db.insertInto('conversation_events').values(eventRow(event)).compile());
					return event;
				})
			: new Promise<StoredEvent | null>((resolve, reject) => {
					this.#firstReplies.push({ ...reply, resolve, reject });
					if (this.#firstReplies.length === 1) setImmediate(() => void this.#writeFirstReplies());
				});
		const recorded = written.then(async (event) => {
			if (event) {
				await this.#announce(event);
				return true;
			}
			return (await repo.conversationById(conversationId))?.first_response_at != null;
		});
		return track(this.#recordingReplies, recorded);
	}

	/** PostgreSQL: writes the queued first replies in one transaction. */
	async #writeFirstReplies() {
		const batch = this.#firstReplies;
		this.#firstReplies = [];
		try {
			const events = await this.deps.repo.db.transaction().execute(async (trx) => {
				const stored: (StoredEvent | null)[] = [];
				for (const r of batch) {
					const u = await firstReplyUpdate(trx, r).executeTakeFirst();
					if (Number(u.numUpdatedRows) === 0) stored.push(null);
					else {
						const event = firstReplyEvent(r);
						await trx.insertInto('conversation_events').values(eventRow(event)).execute();
						stored.push(event);
					}
				}
				return stored;
			});
			batch.forEach((r, i) => r.resolve(events[i]));
		} catch (err) {
			for (const r of batch) r.reject(err);
		}
	}

	/** Waits for the first replies being recorded (shutdown: before the store closes). */
	drain() {
		return allSettled(this.#recordingReplies);
	}

	/** Resolves once no outbox merge (or what follows one: routing, checks) is running. */
	settled() {
		return allSettled(this.#mergeLoops);
	}

	/** A customer's message into an active or waiting conversation asks for a reaction. */
	#customerOutcome(state: OutboxState, conv: Room, texts: Message[]): MergeOutcome {
		if (texts.length === 0 || state.author.role !== 'customer') return null;
		const status = metaOf(conv.doc).get('status');
		if (status === 'active')
			return this.#isCalm(state.conversationId) ? null : 'customer-wrote-active';
		if (status === 'waiting') return 'customer-wrote-waiting';
		return null;
	}

	/**
	 * Whether an agent is still a participant, remembered until the participants change. Every
	 * change clears the answers here and, with several instances, on the others too (a control
	 * message; after a broken fan-out link all are forgotten). With several instances an answer
	 * is also kept at most MEMBER_TTL_MS, which bounds what an unnoticed lost notice could cost.
	 */
	async #isMember(conversationId: string, agentId: string): Promise<boolean> {
		const known = this.#knownMember(conversationId, agentId);
		if (known !== undefined) return known;
		return this.#askMember(conversationId, agentId);
	}

	/** Asks the database, and remembers the answer unless the participants changed meanwhile. */
	async #askMember(conversationId: string, agentId: string): Promise<boolean> {
		const generation = this.#membersGeneration;
		const member = await this.deps.repo.isParticipant(conversationId, agentId);
		// A change made while asking makes the answer stale: not remembered.
		if (generation === this.#membersGeneration) {
			let agents = this.#members.get(conversationId);
			if (!agents) {
				if (this.#members.size >= 100_000) this.#members.clear();
				this.#members.set(conversationId, (agents = new Map()));
			}
			agents.set(agentId, { member, at: this.deps.clock.now() });
		}
		return member;
	}

	#knownMember(conversationId: string, agentId: string): boolean | undefined {
		const known = this.#members.get(conversationId)?.get(agentId);
		if (!known) return undefined;
		const age = this.#rememberedFor(known.at);
		if (age === null) return undefined;
		// Used in the second half of its life: asked again in the background, so an agent who
		// keeps writing keeps a fresh answer and their messages the synchronous merge (an
		// expired answer sent every third message of the chat benchmark's agents through two
		// database round trips). Each answer is still trusted at most MEMBER_TTL_MS.
		if (this.deps.sharedStore && age > MEMBER_TTL_MS / 2)
			this.#refreshMember(conversationId, agentId);
		return known.member;
	}

	/**
	 * How long ago something remembered at `at` was learnt, or null once it may no longer be
	 * trusted: with several instances after MEMBER_TTL_MS (a lost notice costs at most that), or
	 * if the clock went back. One instance hears of every change itself: no limit.
	 */
	#rememberedFor(at: number): number | null {
		const age = this.deps.clock.now() - at;
		return this.deps.sharedStore && (age > MEMBER_TTL_MS || age < 0) ? null : age;
	}

	/** Membership answers being asked again in the background, as `conversation agent`. */
	#refreshingMembers = new Set<string>();

	#refreshMember(conversationId: string, agentId: string) {
		const key = `${conversationId} ${agentId}`;
		if (this.#refreshingMembers.has(key)) return;
		this.#refreshingMembers.add(key);
		this.#askMember(conversationId, agentId)
			.catch((err) =>
				this.deps.log.warn({ err, conversation: conversationId }, 'could not check membership')
			)
			.finally(() => this.#refreshingMembers.delete(key));
	}

	/** The agent whose membership a checked merge depends on: none for customers or no news. */
	#memberToCheck(read: OutboxRead, checked: CheckedMerge): string | null {
		return checked.result.accepted.length > 0 ? read.agentId : null;
	}

	/** Call after every change to the participants table. */
	#participantsChanged(conversationId: string) {
		this.forgetMembers(conversationId);
		if (this.deps.sharedStore) this.deps.participantsChanged?.(conversationId);
	}

	/**
	 * Call after a change to what a customer's message checks (the ticket's status). Other
	 * instances hear it as a participants change, which forgets the same and a little more.
	 */
	#conversationChanged(conversationId: string) {
		this.forgetCalm(conversationId);
		if (this.deps.sharedStore) this.deps.participantsChanged?.(conversationId);
	}

	/** Forgets what is remembered about a conversation's participants (one conversation, or all). */
	forgetMembers(conversationId?: string) {
		this.#membersGeneration++;
		if (conversationId === undefined) this.#members.clear();
		else this.#members.delete(conversationId);
		this.forgetCalm(conversationId);
	}

	/** Forgets that customers' messages needed nothing (one conversation, or all). */
	forgetCalm(conversationId?: string) {
		this.#calmGeneration++;
		if (conversationId === undefined) this.#calm.clear();
		else this.#calm.delete(conversationId);
	}

	#isCalm(conversationId: string): boolean {
		const at = this.#calm.get(conversationId);
		if (at === undefined) return false;
		if (this.#rememberedFor(at) !== null) return true;
		this.#calm.delete(conversationId);
		return false;
	}

	// ---- routing and offers ---------------------------------------------------------------

	async #setStatus(conv: Conversation, status: ConversationStatus) {
		await this.deps.repo.db
			.updateTable('conversations')
			.set({ status, updated_at: this.deps.clock.now() })
			.where('id', '=', conv.id)
			.execute();
		await this.#showStatus(conv.id, status);
	}

	/** The status in the conversation's document, which both sides render. */
	async #showStatus(conversationId: string, status: ConversationStatus) {
		await this.deps.rooms.with(storedConversationKey(conversationId), (room) => {
			room.doc.transact(() => metaOf(room.doc).set('status', status), SERVER_ORIGIN);
		});
	}

	/**
	 * A conversation became a request (its first customer message). With *keep the same agent*,
	 * it waits for the agent this customer had last, until the workstream's wait ends.
	 */
	async #prepareRequest(conversationId: string) {
		const { repo, clock } = this.deps;
		const conv = await repo.conversationById(conversationId);
		const ws = conv && (await repo.workstreamById(conv.workstream_id));
		if (!conv || !ws || !ws.keep_same_agent) return;
		const last = await repo.lastAgentOf(conv.customer_id, conv.id);
		if (last) await this.#preferAgent(conv.id, last, clock.now() + ws.keep_wait_ms);
	}

	async #preferAgent(conversationId: string, agentId: string, until: number) {
		await this.deps.repo.db
			.updateTable('conversations')
			.set({ preferred_agent_id: agentId, preferred_until: until })
			.where('id', '=', conversationId)
			.execute();
		// When the wait ends the request is routed to anyone (exactly once, on any instance).
		await this.deps.timers.set(keepTimer(conversationId), 'keep-wait', until, { conversationId });
	}

	/** Routes every queued request that can be placed, oldest first. Call inside `#exclusive`. */
	async #drain() {
		const { router, repo, clock } = this.deps;
		const now = clock.now();
		const plan = await router.plan(repo.db, now);
		for (const { workstreamId, opensAt } of plan.closed)
			await this.#wakeAtOpening(workstreamId, opensAt);
		// One pass offers many requests of few workstreams and queues: read each of those once.
		const lookups = new Map<string, Promise<unknown>>();
		for (const a of plan.assignments) await this.#offer(a.conversationId, a.agentId, now, lookups);
		if (plan.assignments.length > 0) this.deps.onQueueChanged?.();
	}

	/** A durable timer routes a closed workstream's requests the moment its hours open. */
	async #wakeAtOpening(workstreamId: string, at: number | null) {
		if (at === null || this.#openingTimers.get(workstreamId) === at) return;
		await this.deps.timers.set(`hours:${workstreamId}`, 'hours-open', at, { workstreamId });
		this.#openingTimers.set(workstreamId, at);
	}

	/** Offers a queued request to an agent the router chose. Call inside `#exclusive`. */
	async #offer(
		conversationId: string,
		agentId: string,
		now: number,
		lookups = new Map<string, Promise<unknown>>()
	) {
		const conv = await this.deps.repo.conversationById(conversationId);
		if (!conv || conv.status !== 'queued' || conv.requested_at === null) return;
		const next = transition(conv.status as ConversationStatus, { type: 'offer', agentId });
		await this.#createOffer(conv, agentId, 'route', now, lookups, undefined, next);
		await this.#showStatus(conv.id, next);
	}

	/**
	 * Stores an offer with its timeout and shows it in the agent's inbox. `route`: the agent
	 * takes the request; `conference`: the agent joins those already in it (SPEC A6).
	 */
	async #createOffer(
		conv: Conversation,
		agentId: string,
		kind: 'route' | 'conference',
		now: number,
		lookups = new Map<string, Promise<unknown>>(),
		invitedBy?: string,
		/** A routed request's next status, written with the offer. */
		status?: ConversationStatus
	) {
		const { repo, rooms } = this.deps;
		const once = <T>(key: string, load: () => Promise<T>) => {
			if (!lookups.has(key)) lookups.set(key, load());
			return lookups.get(key) as Promise<T>;
		};
		const [customer, ws, queue, transferrer] = await Promise.all([
			repo.customerById(conv.customer_id),
			once(`ws:${conv.workstream_id}`, () => repo.workstreamById(conv.workstream_id)),
			conv.queue_id ? once(`q:${conv.queue_id}`, () => repo.queueById(conv.queue_id!)) : undefined,
			kind === 'route' && conv.transfer_from ? repo.agentById(conv.transfer_from) : undefined
		]);
		const offerId = newId('of');
		const expiresAt = now + (queue?.offer_timeout_ms ?? this.deps.offerTimeoutMs);
		// One transaction (one commit, so one fsync instead of five): the offer, its timeout, the
		// agent's idle time and, for a routed request, its status and history event.
		await this.#withEvent(async (trx) => {
			await this.deps.timers.set(offerTimer(offerId), 'offer-timeout', expiresAt, { offerId }, trx);
			await trx
				.insertInto('offers')
				.values({
					id: offerId,
					conversation_id: conv.id,
					agent_id: agentId,
					status: 'pending',
					kind,
					created_at: now
				})
				.execute();
			await trx.updateTable('agents').set({ idle_since: now }).where('id', '=', agentId).execute();
			if (!status) return null;
			await trx
				.updateTable('conversations')
				.set({ status, updated_at: now })
				.where('id', '=', conv.id)
				.execute();
			// Routing writes many offers at once: the agent's name is looked up when history is read.
			return this.#storeEvent(trx, conv.id, 'offered', null, { agentId }, now);
		});
		await rooms.with(storedInboxKey(agentId), (inbox) => {
			inbox.doc.transact(
				() =>
					offersOf(inbox.doc).set(offerId, {
						offerId,
						conversationId: conv.id,
						customerName: customer?.name ?? 'Customer',
						queue: queue?.name ?? '',
						workstream: ws?.name ?? '',
						requestedAt: conv.requested_at ?? now,
						offeredAt: now,
						expiresAt,
						kind,
						...(invitedBy ? { invitedBy } : {}),
						...(transferrer ? { transferredBy: transferrer.name } : {}),
						// Its ticket was opened by an agent before: the customer is back, not new.
						...(kind === 'route' && !transferrer && conv.ticket_status !== 'new'
							? { returning: true }
							: {})
					}),
				SERVER_ORIGIN
			);
		});
		// The agent transferring it follows where it is (the status line of their copy).
		if (transferrer) {
			const to = (await repo.agentById(agentId))?.name ?? 'an agent';
			// "Ben declined. Offered to Cleo.": the last answer stays, the queue wait does not.
			await this.#noteTransfer(conv.id, transferrer.id, (before) => {
				const answer = (before ?? '').replace(/(^| )(It waits in|Offered to) .*$/, '');
				return `${answer ? `${answer} ` : ''}Offered to ${to}.`;
			});
		}
		this.deps.log.info({ conversation: conv.id, agent: agentId, offer: offerId, kind }, 'offered');
	}

	/** Routes waiting requests (e.g. after start-up, or when a timer says hours opened). */
	drainQueue() {
		return this.#exclusive(() => this.#drain());
	}

	async acceptOffer(agentId: string, offerId: string): Promise<{ conversationId: string }> {
		return this.#exclusive(async () => {
			const { repo, clock, rooms } = this.deps;
			const offer = await repo.offerById(offerId);
			if (!offer || offer.agent_id !== agentId)
				throw new DomainError('not_found', 'This offer does not exist.');
			if (offer.status !== 'pending')
				throw new DomainError('conflict', 'This offer is no longer available.');
			const conv = await repo.conversationById(offer.conversation_id);
			const agent = await repo.agentById(agentId);
			if (!conv || !agent) throw new DomainError('not_found', 'The conversation no longer exists.');
			const conference = offer.kind === 'conference';
			if (conference && conv.status !== 'active')
				throw new DomainError('conflict', 'This conversation is no longer active.');
			const next = conference
				? (conv.status as ConversationStatus)
				: transition(conv.status as ConversationStatus, { type: 'accept', agentId });
			const now = clock.now();
			// A handed-off conversation: the agents who had it leave it when someone else accepts.
			// A conference adds an agent to those already there.
			const had = await repo.participantsOf(conv.id);
			const previous = conference ? [] : had.filter((p) => p !== agentId);
			const returning = had.includes(agentId);
			await repo.db.transaction().execute(async (trx) => {
				await trx
					.updateTable('offers')
					.set({ status: 'accepted' })
					.where('id', '=', offerId)
					.execute();
				if (previous.length > 0)
					await trx
						.deleteFrom('participants')
						.where('conversation_id', '=', conv.id)
						.where('agent_id', 'in', previous)
						.execute();
				await trx
					.insertInto('participants')
					.values({ conversation_id: conv.id, agent_id: agentId, joined_at: now })
					.onConflict((oc) => oc.doNothing())
					.execute();
				if (!conference)
					await trx
						.updateTable('conversations')
						.set({ preferred_agent_id: null, preferred_until: null, transfer_from: null })
						.where('id', '=', conv.id)
						.execute();
			});
			this.#participantsChanged(conv.id);
			if (!conference) await this.#setStatus(conv, next);
			await this.#event(
				conv.id,
				conference ? 'conference_joined' : 'accepted',
				`agent:${agentId}`,
				{ by: agent.name },
				now
			);
			if (!conference) await this.#setTicket(conv, 'open', `agent:${agentId}`, agent.name, now);
			for (const other of previous)
				this.deps.revoke?.(
					`agent:${other}`,
					[storedConversationKey(conv.id), storedInternalKey(conv.id)],
					'The conversation was transferred to another agent.'
				);
			await this.deps.timers.cancel(offerTimer(offerId));
			await this.deps.timers.cancel(keepTimer(conv.id));
			const [customer, ws] = await Promise.all([
				repo.customerById(conv.customer_id),
				repo.workstreamById(conv.workstream_id)
			]);
			await rooms.with(storedConversationKey(conv.id), (room) => {
				const meta = metaOf(room.doc);
				const agents = (
					(meta.get('agents') as ConversationMeta['agents'] | undefined) ?? []
				).filter((a) => conference || a.principal === `agent:${agentId}`);
				room.doc.transact(() => {
					if (!returning) agents.push({ principal: `agent:${agentId}`, name: agent.name });
					meta.set('agents', agents);
					meta.delete('waiting');
					if (conference) meta.delete('conference');
					if (!returning)
						messagesOf(room.doc).push([systemMessage(`${agent.name} joined the chat`, now)]);
				}, SERVER_ORIGIN);
				return room.whenDurable();
			});
			await this.#closeInInboxes(conv.id, previous);
			await rooms.with(storedInboxKey(agentId), (inbox) => {
				inbox.doc.transact(() => {
					offersOf(inbox.doc).delete(offerId);
					inboxConversationsOf(inbox.doc).set(conv.id, inboxEntry(conv, customer, ws, now));
				}, SERVER_ORIGIN);
				return inbox.whenDurable();
			});
			this.deps.log.info({ conversation: conv.id, agent: agentId }, 'accepted');
			this.deps.onQueueChanged?.();
			return { conversationId: conv.id };
		});
	}

	/** The agent says no: the request goes to the next agent at once (not back to this one soon). */
	async declineOffer(agentId: string, offerId: string) {
		return this.#exclusive(async () => {
			const offer = await this.deps.repo.offerById(offerId);
			if (!offer || offer.agent_id !== agentId)
				throw new DomainError('not_found', 'This offer does not exist.');
			if (offer.status !== 'pending')
				throw new DomainError('conflict', 'This offer is no longer available.');
			await this.#withdrawOffer(offer, 'declined');
			this.deps.log.info({ offer: offer.id, agent: agentId }, 'offer declined');
			await this.#drain();
			return { ok: true };
		});
	}

	/** Sets an agent's presence; withdraws their pending offers when they stop being Available. */
	async setPresence(agentId: string, presence: PresenceChoice) {
		return this.#exclusive(() => this.#setPresence(agentId, presence));
	}

	/** Offline after the grace period, if they are not Offline already. */
	async wentAway(agentId: string) {
		return this.#exclusive(async () => {
			const agent = await this.deps.repo.agentById(agentId);
			if (!agent || agent.presence === 'Offline') return;
			this.deps.log.info({ agent: agentId, was: agent.presence }, 'agent gone: Offline');
			await this.#setPresence(agentId, 'Offline', 'disconnected');
		});
	}

	/**
	 * `reason`, when the server set it rather than the agent: `disconnected` (no workspace tab
	 * connected for the presence grace). The workspace says so; RONA explains itself.
	 */
	async #setPresence(agentId: string, presence: PresenceChoice | 'RONA', reason?: 'disconnected') {
		const { repo, clock, rooms } = this.deps;
		const now = clock.now();
		const before = await repo.agentById(agentId);
		await repo.db
			.updateTable('agents')
			.set({
				presence,
				presence_since: now,
				...(presence === 'Available' && before?.presence !== 'Available' ? { idle_since: now } : {})
			})
			.where('id', '=', agentId)
			.execute();
		// Any conversation of theirs may now need a handoff when its customer writes.
		this.forgetCalm();
		if (this.deps.sharedStore) this.deps.presenceChanged?.(agentId);
		await rooms.with(storedInboxKey(agentId), (inbox) => {
			inbox.doc.transact(() => {
				const state = agentStateOf(inbox.doc);
				state.set('presence', presence);
				if (reason) state.set('presenceReason', reason);
				else if (state.has('presenceReason')) state.delete('presenceReason');
			}, SERVER_ORIGIN);
			return inbox.whenDurable();
		});
		if (presence !== 'Available')
			for (const offer of await repo.pendingOffersOf(agentId))
				await this.#withdrawOffer(offer, presence === 'RONA' ? 'expired' : 'withdrawn');
		await this.#drain();
	}

	/**
	 * Takes a pending offer back from its agent: a routed request is queued again, a conference
	 * invitation is dropped. Inside the lock.
	 */
	async #withdrawOffer(offer: PendingOffer, status: 'withdrawn' | 'expired' | 'declined') {
		const { repo, rooms, timers, clock } = this.deps;
		const { id: offerId, agent_id: agentId, conversation_id: conversationId } = offer;
		await repo.db.updateTable('offers').set({ status }).where('id', '=', offerId).execute();
		await timers.cancel(offerTimer(offerId));
		const conv = await repo.conversationById(conversationId);
		if (offer.kind === 'conference')
			await rooms.with(storedConversationKey(conversationId), (room) => {
				room.doc.transact(() => metaOf(room.doc).delete('conference'), SERVER_ORIGIN);
			});
		else if (conv && conv.status === 'offered')
			await this.#setStatus(conv, transition('offered', { type: 'withdraw' }));
		if (status !== 'withdrawn') {
			const agent = await repo.agentById(agentId);
			await this.#event(
				conversationId,
				status === 'declined' ? 'declined' : 'timed_out',
				null,
				{
					agent: agent?.name ?? agentId,
					...(offer.kind === 'conference' ? { conference: 1 } : {})
				},
				clock.now()
			);
			// The agent transferring it is told, where they follow it (the status line).
			if (offer.kind !== 'conference' && conv?.transfer_from) {
				const queue = conv.queue_id ? await repo.queueById(conv.queue_id) : undefined;
				const what = status === 'declined' ? 'declined' : 'did not answer in time';
				await this.#noteTransfer(
					conversationId,
					conv.transfer_from,
					() =>
						`${agent?.name ?? 'The agent'} ${what}. It waits in ${queue ? `the ${queue.name} queue` : 'the queue'}.`
				);
			}
		}
		await rooms.with(storedInboxKey(agentId), (inbox) => {
			inbox.doc.transact(() => offersOf(inbox.doc).delete(offerId), SERVER_ORIGIN);
			return inbox.whenDurable();
		});
	}

	/**
	 * An offer was not accepted in time: it is withdrawn, the agent goes to RONA (no more offers
	 * until they choose Available again) and the request goes to the next agent at once.
	 * Idempotent: a timer retried after a crash finds the offer no longer pending.
	 */
	async offerTimedOut(offerId: string) {
		return this.#exclusive(async () => {
			const offer = await this.deps.repo.offerById(offerId);
			if (!offer || offer.status !== 'pending') return;
			await this.#withdrawOffer(offer, 'expired');
			this.deps.log.info(
				{ offer: offer.id, agent: offer.agent_id, conversation: offer.conversation_id },
				'offer timed out; agent is in RONA'
			);
			await this.#setPresence(offer.agent_id, 'RONA');
		});
	}

	/** What an agent may transfer to: every queue, and the other Available agents with room. */
	async transferTargets(agentId: string) {
		const { repo } = this.deps;
		const rows = await repo.db
			.selectFrom('queues')
			.select(['id', 'name', 'skills'])
			.orderBy('name')
			.execute();
		const free = (await availableAgents(repo.db)).filter((a) => a.id !== agentId);
		// How many Available agents with room could take it from each queue now (its skills): a
		// queue nobody can serve at the moment is still a valid target, but the agent should know.
		const queues = rows.map((q) => {
			const skills = parseSkills(q.skills);
			return {
				id: q.id,
				name: q.name,
				available: free.filter((a) => hasSkills(a, skills)).length
			};
		});
		const agents = free
			.map((a) => ({ id: a.id, name: a.name, load: a.load, capacity: a.capacity }))
			.sort((a, b) => a.name.localeCompare(b.name));
		return { queues, agents };
	}

	/**
	 * Transfers an accepted conversation (SPEC A5). The agent keeps it, and its capacity, until
	 * someone accepts; then they leave it. To an agent: that agent gets an offer at once; if
	 * they decline or let it time out, the request goes back to routing in its queue. To a
	 * queue: it is routed there. Never lost: it stays queued until an agent takes it.
	 */
	async transfer(
		agentId: string,
		conversationId: string,
		target: { queueId: string } | { agentId: string }
	) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await this.#ownConversation(
				agentId,
				conversationId,
				'transferring it',
				'transfer it'
			);
			if (conv.status !== 'active')
				throw new DomainError(
					'conflict',
					conv.status === 'ended'
						? 'This conversation has ended.'
						: 'Only a conversation you have accepted can be transferred.'
				);
			const now = clock.now();
			let queueId = conv.queue_id;
			let toAgent: string | null = null;
			let transferTo = '';
			if ('queueId' in target) {
				const queue = await repo.queueById(target.queueId);
				if (!queue) throw new DomainError('not_found', 'That queue no longer exists.');
				queueId = queue.id;
				transferTo = `queue ${queue.name}`;
			} else {
				if (target.agentId === agentId)
					throw new DomainError('invalid', 'You cannot transfer a conversation to yourself.');
				const free = (await availableAgents(repo.db)).find((a) => a.id === target.agentId);
				if (!free)
					throw new DomainError(
						'conflict',
						'That agent is no longer Available or has no free capacity. Refresh the list.'
					);
				toAgent = free.id;
				transferTo = free.name;
			}
			await this.#routeAgain(
				conv,
				{
					queue_id: queueId,
					transfer_from: agentId,
					preferred_agent_id: null,
					preferred_until: null
				},
				now
			);
			const from = await repo.agentById(agentId);
			await this.#event(
				conv.id,
				'transferred',
				`agent:${agentId}`,
				// The queue it was in, for a take-back to return it there.
				{ by: from?.name ?? agentId, to: transferTo, fromQueueId: conv.queue_id },
				now
			);
			this.deps.log.info(
				{ conversation: conv.id, from: agentId, to: toAgent ?? `queue:${queueId}` },
				'transfer'
			);
			if (toAgent) await this.#offer(conv.id, toAgent, now);
			else await this.#drain();
			this.deps.onQueueChanged?.();
			return { status: toAgent ? 'offered' : 'queued' };
		});
	}

	/**
	 * The agent who transferred a conversation takes it back while nobody has accepted it yet
	 * (say the agent it went to declined): its offers are withdrawn and it is theirs again, as
	 * before the transfer.
	 */
	async takeBack(agentId: string, conversationId: string) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await repo.conversationById(conversationId);
			if (!conv || !(await repo.isParticipant(conversationId, agentId)))
				throw new DomainError('forbidden', 'You are not a participant of this conversation.');
			if (conv.transfer_from !== agentId || (conv.status !== 'queued' && conv.status !== 'offered'))
				throw new DomainError(
					'conflict',
					conv.transfer_from === agentId
						? 'This conversation is no longer being transferred.'
						: 'Another agent accepted it already, or it was not transferred by you.'
				);
			const now = clock.now();
			// From queued or offered alike: withdrawing the offers first is fine.
			const next = transition(conv.status as ConversationStatus, { type: 'take-back' });
			const queueId = await this.#queueBeforeTransfer(conv);
			await this.#withdrawPendingOffers(conv.id, 'route');
			await repo.db
				.updateTable('conversations')
				.set({ status: next, transfer_from: null, queue_id: queueId, updated_at: now })
				.where('id', '=', conv.id)
				.execute();
			await this.#showStatus(conv.id, next);
			await this.#noteTransfer(conv.id, agentId, () => undefined);
			const me = await repo.agentById(agentId);
			await this.#event(
				conv.id,
				'transfer_cancelled',
				`agent:${agentId}`,
				{ by: me?.name ?? agentId },
				now
			);
			this.deps.log.info({ conversation: conv.id, agent: agentId }, 'transfer taken back');
			this.deps.onQueueChanged?.();
			return { status: next };
		});
	}

	/**
	 * The queue a conversation was in before its last transfer (kept in the `transferred`
	 * event), if that queue still exists; else the one it is in now. A transfer taken back
	 * leaves no trace in the queue's reports.
	 */
	async #queueBeforeTransfer(conv: Conversation): Promise<string | null> {
		const { repo } = this.deps;
		const last = await repo.db
			.selectFrom('conversation_events')
			.select('data')
			.where('conversation_id', '=', conv.id)
			.where('type', '=', 'transferred')
			.orderBy('id', 'desc')
			.limit(1)
			.executeTakeFirst();
		const before = last ? (safeJson(last.data).fromQueueId ?? null) : null;
		if (typeof before !== 'string' || before === conv.queue_id) return conv.queue_id;
		return (await repo.queueById(before)) ? before : conv.queue_id;
	}

	/**
	 * An active conversation goes back to routing (a transfer, or a trigger's reassignment) with
	 * these changes; `transfer_from` keeps holding it, and its capacity, until someone accepts.
	 */
	async #routeAgain(
		conv: Conversation,
		set: Partial<
			Pick<Conversation, 'queue_id' | 'transfer_from' | 'preferred_agent_id' | 'preferred_until'>
		>,
		now: number
	) {
		await this.deps.repo.db
			.updateTable('conversations')
			.set({ ...set, requested_at: conv.requested_at ?? now })
			.where('id', '=', conv.id)
			.execute();
		await this.#setStatus(conv, transition('active', { type: 'transfer' }));
	}

	// ---- working a conversation (SPEC A5–A8) ---------------------------------------------

	/** Appends to the conversation's event history (the side panel's list; reports read it). */
	async #event(
		conversationId: string,
		type: EventType,
		actor: string | null,
		data: Record<string, string | number | null>,
		at: number
	): Promise<string> {
		const event = await this.#storeEvent(this.deps.repo.db, conversationId, type, actor, data, at);
		await this.#announce(event);
		return event.id;
	}

	/** The history row alone; `db` may be a transaction. Announce it after the commit. */
	async #storeEvent(
		db: Db,
		conversationId: string,
		type: EventType,
		actor: string | null,
		data: Record<string, string | number | null>,
		at: number
	): Promise<StoredEvent> {
		const event = newEvent(conversationId, type, actor, data, at);
		await db.insertInto('conversation_events').values(eventRow(event)).execute();
		return event;
	}

	/**
	 * Runs `write` as one transaction (one commit, so one fsync) and announces the event it
	 * stored, if any, once committed. `write` must use only the transaction it is given.
	 */
	async #withEvent(write: (trx: Db) => Promise<StoredEvent | null>): Promise<StoredEvent | null> {
		const event = await this.deps.repo.db.transaction().execute(write);
		if (event) await this.#announce(event);
		return event;
	}

	/** Tells the listener (webhooks) about a stored event; its failure is logged, not raised. */
	async #announce(event: StoredEvent) {
		if (this.deps.onEvent)
			await this.deps
				.onEvent(event)
				.catch((err) => this.deps.log.error({ err, event: event.id }, 'event listener failed'));
	}

	/**
	 * Triggers look at this event once, on whichever instance claims it: a durable timer due
	 * now, so an instance dying before or during the evaluation leaves it to another.
	 */
	async #evaluateLater(eventId: string, at: number) {
		await this.deps.timers.set(triggerTimer(eventId), 'triggers', at, { eventId });
	}

	/**
	 * Moves the ticket to `to` if its state machine allows it; records the change, which
	 * triggers then look at. `cause`: the triggers whose actions led here. Updates `conv`.
	 */
	async #setTicket(
		conv: Conversation,
		to: TicketStatus,
		actor: string | null,
		actorName: string | null,
		at: number,
		cause: string[] = []
	): Promise<boolean> {
		const from = conv.ticket_status as TicketStatus;
		if (from === to || !canChangeTicket(from, to)) return false;
		const times =
			to === 'solved'
				? { solved_at: at }
				: to === 'closed'
					? { closed_at: at }
					: from === 'solved'
						? { solved_at: null }
						: {};
		await this.deps.repo.db
			.updateTable('conversations')
			.set({ ticket_status: changeTicket(from, to), ...times })
			.where('id', '=', conv.id)
			.execute();
		conv.ticket_status = to;
		this.#conversationChanged(conv.id);
		const id = await this.#event(
			conv.id,
			'ticket_status',
			actor,
			{ by: actorName, from, to, ...(cause.length > 0 ? { cause: cause.join(',') } : {}) },
			at
		);
		await this.#evaluateLater(id, at);
		return true;
	}

	/**
	 * A ticket status change with what the workstream's conversation style makes of it
	 * (SPEC A11): Solved schedules Closed (at once in live chat); statuses that release capacity
	 * park the conversation; leaving Solved cancels the close. Call inside `#exclusive`.
	 * `takeBack`: the acting agent holds the ticket and takes its capacity again (Open).
	 */
	async #applyTicketStatus(
		conv: Conversation,
		to: TicketStatus,
		actor: string | null,
		actorName: string | null,
		now: number,
		opts: { cause?: string[]; takeBack?: boolean } = {}
	): Promise<'unchanged' | 'changed' | 'closed'> {
		const { repo, timers } = this.deps;
		if (!(await this.#setTicket(conv, to, actor, actorName, now, opts.cause))) return 'unchanged';
		const ws = await repo.workstreamById(conv.workstream_id);
		const style = styleOf(ws);
		if (to === 'closed') {
			await this.#closeTicket(conv.id, now);
			return 'closed';
		}
		if (to === 'solved') {
			const delay = solvedToClosedMs(style, ws?.solved_close_ms ?? null);
			if (delay === 0) {
				await this.#closeTicket(conv.id, now);
				return 'closed';
			}
			await timers.set(closeTimer(conv.id), 'ticket-close', now + delay, {
				conversationId: conv.id
			});
		} else await timers.cancel(closeTimer(conv.id));
		const fresh = (await repo.conversationById(conv.id))!;
		if (fresh.status === 'active' && !holdsCapacity(style, to)) {
			await this.#withdrawPendingOffers(conv.id, 'conference');
			await this.#setStatus(fresh, transition('active', { type: 'wait' }));
			await this.#drain(); // capacity was freed
		} else if (fresh.status === 'waiting' && holdsCapacity(style, to) && opts.takeBack)
			await this.#setStatus(fresh, transition('waiting', { type: 'reopen' }));
		return 'changed';
	}

	/**
	 * Solved → Closed (the style's timer, or at once): the conversation is over. Its session
	 * ends if it had not (the customer's next message starts a new conversation and ticket) and
	 * it leaves the agents' lists. Idempotent. Call inside `#exclusive`.
	 */
	async #closeTicket(conversationId: string, now: number) {
		const { repo, timers } = this.deps;
		const conv = await repo.conversationById(conversationId);
		if (!conv) return;
		await timers.cancel(closeTimer(conversationId));
		if (conv.ticket_status === 'solved') await this.#setTicket(conv, 'closed', null, null, now);
		if (conv.ticket_status !== 'closed') return;
		if (conv.status !== 'ended') {
			await this.#withdrawPendingOffers(conv.id);
			await this.#endSession(conv, 'system', null, 'Parley', now, { silent: true });
		}
		await this.#closeInInboxes(conv.id, await repo.participantsOf(conv.id));
		this.deps.log.info({ conversation: conv.id }, 'ticket closed');
		await this.#drain();
	}

	/**
	 * Ends the messaging session: the conversation takes no more customer messages (a new one
	 * starts) and no longer uses capacity. `silent`: nothing is said to the customer (End
	 * session, SPEC C7; a closed ticket); otherwise the transcript says who ended the chat.
	 */
	async #endSession(
		conv: Conversation,
		role: SessionEnder,
		actor: string | null,
		name: string,
		now: number,
		opts: { silent: boolean }
	) {
		const { repo, rooms } = this.deps;
		const session = endSession(conv.session_status === 'ended' ? 'ended' : 'active');
		const next = transition(conv.status as ConversationStatus, { type: 'end' });
		await repo.db
			.updateTable('conversations')
			// A transfer under way ends with it: its sender no longer holds the capacity.
			.set({
				ended_at: now,
				ended_by: actor,
				transfer_from: null,
				session_status: session,
				session_ended_by: role
			})
			.where('id', '=', conv.id)
			.execute();
		conv.session_status = session;
		await this.#setStatus(conv, next);
		conv.status = next;
		await rooms.with(storedConversationKey(conv.id), (room) => {
			room.doc.transact(() => {
				const meta = metaOf(room.doc);
				meta.set('ended', { by: role, name, at: now, ...(opts.silent ? { silent: true } : {}) });
				meta.delete('waiting');
				meta.delete('conference');
				if (!opts.silent) messagesOf(room.doc).push([systemMessage(`${name} ended the chat`, now)]);
			}, SERVER_ORIGIN);
			return room.whenDurable();
		});
		const id = await this.#event(
			conv.id,
			'session_ended',
			actor,
			{ by: role === 'system' ? null : name, role },
			now
		);
		await this.#evaluateLater(id, now);
	}

	/** The conversation, checked to be one this agent works on now (accepted, not just offered). */
	async #ownConversation(
		agentId: string,
		conversationId: string,
		action: string,
		/** For what only its primary agent may do: the action, as in "Only Ana can …". */
		primaryOnly?: string
	) {
		const { repo } = this.deps;
		const conv = await repo.conversationById(conversationId);
		if (conv && (await repo.hasPendingOffer(conversationId, agentId)))
			throw new DomainError('conflict', `Accept the chat before ${action}.`);
		// For a primary-only action the participant list answers both questions in one read.
		const participants = conv && primaryOnly ? await repo.participantsOf(conversationId) : null;
		const member = participants
			? participants.includes(agentId)
			: !!conv && (await repo.isParticipant(conversationId, agentId));
		if (!conv || !member)
			throw new DomainError('forbidden', 'You are not a participant of this conversation.');
		// The primary agent is the first participant: the one who accepted it. Agents invited to a
		// conference write with them (SPEC A6), but who has the conversation and whether it goes
		// on is the primary's call: transfer, invite, Waiting, End, End session, status. An
		// invitee leaves through End conference instead.
		if (participants && participants[0] !== agentId) {
			const name = (await repo.agentById(participants[0]))?.name ?? 'the agent who has it';
			throw new DomainError(
				'forbidden',
				`Only ${name} can ${primaryOnly}: you were invited to this conversation. Leave the conference instead.`
			);
		}
		return conv;
	}

	/**
	 * Invites another Available agent to join (SPEC A6). They get an offer; until they accept
	 * the conversation shows *Conference requested*. One invitation at a time.
	 */
	async conference(agentId: string, conversationId: string, targetId: string) {
		return this.#exclusive(async () => {
			const { repo, rooms, clock } = this.deps;
			const conv = await this.#ownConversation(
				agentId,
				conversationId,
				'starting a conference',
				'invite another agent'
			);
			if (conv.status !== 'active')
				throw new DomainError('conflict', 'Only an active conversation can have a conference.');
			if (targetId === agentId)
				throw new DomainError('invalid', 'You are already in this conversation.');
			if (await repo.isParticipant(conversationId, targetId))
				throw new DomainError('conflict', 'That agent is already in this conversation.');
			const pending = await repo.db
				.selectFrom('offers')
				.select('id')
				.where('conversation_id', '=', conversationId)
				.where('status', '=', 'pending')
				.executeTakeFirst();
			if (pending)
				throw new DomainError(
					'conflict',
					'A conference invitation is already waiting for an answer.'
				);
			const target = (await availableAgents(repo.db)).find((a) => a.id === targetId);
			if (!target)
				throw new DomainError(
					'conflict',
					'That agent is no longer Available or has no free capacity. Refresh the list.'
				);
			const me = await repo.agentById(agentId);
			const now = clock.now();
			await this.#createOffer(conv, targetId, 'conference', now, undefined, me?.name);
			await rooms.with(storedConversationKey(conv.id), (room) => {
				room.doc.transact(
					() => metaOf(room.doc).set('conference', { invited: target.name }),
					SERVER_ORIGIN
				);
				return room.whenDurable();
			});
			await this.#event(
				conv.id,
				'conference_requested',
				`agent:${agentId}`,
				{ by: me?.name ?? agentId, agent: target.name },
				now
			);
			return { status: 'requested' as const };
		});
	}

	/**
	 * Ends a conference (SPEC A6): every other agent leaves, and a pending invitation is
	 * withdrawn. The removed agents keep their copies but can no longer write or receive.
	 */
	async endConference(agentId: string, conversationId: string) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await this.#ownConversation(agentId, conversationId, 'ending a conference');
			const participants = await repo.participantsOf(conversationId);
			if (participants[0] !== agentId) {
				// An invited agent ends their part in it: the others stay.
				await this.#removeAgents(conv.id, [agentId], clock.now(), 'You left the conference.');
				return { removed: 1, left: true };
			}
			const others = participants.filter((a) => a !== agentId);
			const invites = await this.#pendingOffers(conversationId, 'conference');
			if (others.length === 0 && invites.length === 0)
				throw new DomainError('conflict', 'There is no conference to end.');
			for (const o of invites) await this.#withdrawOffer(o, 'withdrawn');
			const me = await repo.agentById(agentId);
			const now = clock.now();
			await this.#event(
				conv.id,
				'conference_ended',
				`agent:${agentId}`,
				{ by: me?.name ?? agentId },
				now
			);
			await this.#removeAgents(
				conv.id,
				others,
				now,
				'The conference was ended; you left the chat.'
			);
			return { removed: others.length };
		});
	}

	/**
	 * Agents leave a conversation: out of its participants and agent list, the conversation marked
	 * as left in their inbox (their copy stays readable there), sockets to it closed.
	 */
	async #removeAgents(conversationId: string, agentIds: string[], now: number, reason: string) {
		if (agentIds.length === 0) return;
		const { repo, rooms } = this.deps;
		const names = new Map<string, string>();
		for (const id of agentIds) names.set(id, (await repo.agentById(id))?.name ?? id);
		await repo.db
			.deleteFrom('participants')
			.where('conversation_id', '=', conversationId)
			.where('agent_id', 'in', agentIds)
			.execute();
		this.#participantsChanged(conversationId);
		await rooms.with(storedConversationKey(conversationId), (room) => {
			const meta = metaOf(room.doc);
			const gone = new Set(agentIds.map((a) => `agent:${a}`));
			room.doc.transact(() => {
				meta.set(
					'agents',
					((meta.get('agents') as ConversationMeta['agents'] | undefined) ?? []).filter(
						(a) => !gone.has(a.principal)
					)
				);
				messagesOf(room.doc).push(
					agentIds.map((id) => systemMessage(`${names.get(id)} left the chat`, now))
				);
			}, SERVER_ORIGIN);
			return room.whenDurable();
		});
		for (const id of agentIds) {
			await this.#event(
				conversationId,
				'conference_left',
				`agent:${id}`,
				{ agent: names.get(id) ?? id },
				now
			);
			await this.#markInInboxes(conversationId, [id], { left: true });
			this.deps.revoke?.(
				`agent:${id}`,
				[storedConversationKey(conversationId), storedInternalKey(conversationId)],
				reason
			);
		}
	}

	/**
	 * Waiting (SPEC A8, persistent chat): the conversation leaves the agent's active list and
	 * frees their capacity; when the customer writes again it is routed back (to the same agent
	 * under *keep the same agent*).
	 */
	async wait(agentId: string, conversationId: string) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await this.#ownConversation(
				agentId,
				conversationId,
				'setting it to Waiting',
				'set it to Waiting'
			);
			const ws = await repo.workstreamById(conv.workstream_id);
			if (ws?.mode !== 'persistent')
				throw new DomainError(
					'invalid',
					'Waiting is for persistent chat. End a live chat when it is done.'
				);
			if (conv.status !== 'active')
				throw new DomainError('conflict', 'Only an active conversation can be set to Waiting.');
			const next = transition('active', { type: 'wait' });
			const now = clock.now();
			await this.#withdrawPendingOffers(conv.id, 'conference');
			await this.#setStatus(conv, next);
			const me = await repo.agentById(agentId);
			await this.#event(conv.id, 'waiting', `agent:${agentId}`, { by: me?.name ?? agentId }, now);
			await this.#closeInInboxes(conv.id, await repo.participantsOf(conv.id));
			this.deps.log.info({ conversation: conv.id, agent: agentId }, 'waiting');
			await this.#drain(); // capacity was freed
			return { status: next };
		});
	}

	/** Marks the conversation's entry in these agents' lists (left, or its session ended). */
	async #markInInboxes(
		conversationId: string,
		agentIds: string[],
		mark: Pick<InboxConversation, 'left' | 'sessionEnded'>
	) {
		for (const a of agentIds)
			await this.deps.rooms.with(storedInboxKey(a), (inbox) => {
				const list = inboxConversationsOf(inbox.doc);
				const entry = list.get(conversationId);
				if (entry)
					inbox.doc.transact(() => list.set(conversationId, { ...entry, ...mark }), SERVER_ORIGIN);
				return inbox.whenDurable();
			});
	}

	/**
	 * What became of a transfer, on the transferring agent's copy (`transferNote`); `update`
	 * gets the note so far, and returns the new one or undefined to remove it.
	 */
	async #noteTransfer(
		conversationId: string,
		agentId: string,
		update: (before: string | undefined) => string | undefined
	) {
		await this.deps.rooms.with(storedInboxKey(agentId), (inbox) => {
			const list = inboxConversationsOf(inbox.doc);
			const entry = list.get(conversationId);
			if (!entry) return;
			const { transferNote, ...rest } = entry;
			const note = update(transferNote);
			if (note === transferNote) return;
			inbox.doc.transact(
				() => list.set(conversationId, note ? { ...rest, transferNote: note } : rest),
				SERVER_ORIGIN
			);
			return inbox.whenDurable();
		});
	}

	/** Takes the conversation off these agents' lists (it left their hands). */
	async #closeInInboxes(conversationId: string, agentIds: string[]) {
		for (const a of agentIds)
			await this.deps.rooms.with(storedInboxKey(a), (inbox) => {
				inbox.doc.transact(
					() => inboxConversationsOf(inbox.doc).delete(conversationId),
					SERVER_ORIGIN
				);
				return inbox.whenDurable();
			});
	}

	/** The conversation's pending offers (of one kind, if given). */
	#pendingOffers(conversationId: string, kind?: 'route' | 'conference') {
		let q = this.deps.repo.db
			.selectFrom('offers')
			.selectAll()
			.where('conversation_id', '=', conversationId)
			.where('status', '=', 'pending');
		if (kind) q = q.where('kind', '=', kind);
		return q.execute();
	}

	/** Withdraws every pending offer of the conversation (of one kind, if given). */
	async #withdrawPendingOffers(conversationId: string, kind?: 'route' | 'conference') {
		for (const o of await this.#pendingOffers(conversationId, kind))
			await this.#withdrawOffer(o, 'withdrawn');
	}

	/** The customer wrote into a parked conversation: it is a request again. */
	async #resume(conversationId: string) {
		await this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await repo.conversationById(conversationId);
			if (!conv || conv.status !== 'waiting') return;
			const ws = await repo.workstreamById(conv.workstream_id);
			const now = clock.now();
			await repo.db
				.updateTable('conversations')
				.set({ requested_at: now })
				.where('id', '=', conv.id)
				.execute();
			const had = await repo.participantPresence(conv.id);
			const last = had.sort((a, b) => b.joinedAt - a.joinedAt)[0];
			// A reply reopens a Pending, On-hold or Solved ticket (SPEC A11); Closed never gets here.
			const reopens = onCustomerMessage(conv.ticket_status as TicketStatus) === 'reopen';
			const reopen = async () =>
				this.#applyTicketStatus(
					conv,
					'open',
					`customer:${conv.customer_id}`,
					(await repo.customerById(conv.customer_id))?.name ?? null,
					now
				);
			// The ticket's status parked it, not the agent's ✖: "a customer reply makes the ticket
			// Open again and uses capacity" (A11). If its agent is Available with room, it goes
			// straight back to them, with no offer to accept for a conversation they already have.
			if (
				reopens &&
				last &&
				(await this.#inAgentsList(last.agentId, conv.id)) &&
				(await availableAgents(repo.db)).some((a) => a.id === last.agentId)
			) {
				// The ticket first: a conversation seen active again has an Open ticket.
				await reopen();
				await this.#setStatus(conv, transition('waiting', { type: 'reopen' }));
				await this.#event(conv.id, 'resumed', null, {}, now);
				this.deps.log.info(
					{ conversation: conv.id, agent: last.agentId },
					'reopened: the customer wrote again, back to their agent'
				);
				return;
			}
			if (ws?.keep_same_agent && last)
				await this.#preferAgent(conv.id, last.agentId, now + ws.keep_wait_ms);
			await this.#setStatus(conv, transition('waiting', { type: 'resume' }));
			await this.#event(conv.id, 'resumed', null, {}, now);
			if (reopens) await reopen();
			this.deps.log.info({ conversation: conv.id }, 'resumed: the customer wrote again');
			await this.#drain();
			this.deps.onQueueChanged?.();
		});
	}

	/**
	 * End with wrap-up (SPEC A7): records the reason, solves the ticket, frees capacity and
	 * closes the interaction. In the live chat style the chat ends for everyone (if the customer
	 * has not ended it already) and the ticket closes; with returning customers and social
	 * messaging the conversation stays open to the customer until the Solved → Closed window
	 * ends, and a message in it reopens the ticket (SPEC A11).
	 */
	async endByAgent(agentId: string, conversationId: string, reason: string) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await this.#ownConversation(agentId, conversationId, 'ending it', 'end it');
			if (conv.wrap_up_reason !== null)
				throw new DomainError('conflict', 'This conversation is already wrapped up.');
			if (conv.status !== 'active' && conv.status !== 'waiting' && conv.status !== 'ended')
				throw new DomainError('conflict', 'Only a conversation you have accepted can be ended.');
			const ws = await repo.workstreamById(conv.workstream_id);
			const reasons = ws ? parseStringList(ws.wrap_up_reasons) : [];
			if (!reasons.includes(reason))
				throw new DomainError('invalid', "Choose one of this workstream's wrap-up reasons.");
			const me = await repo.agentById(agentId);
			const name = me?.name ?? 'Agent';
			const now = clock.now();
			await this.#withdrawPendingOffers(conv.id, 'conference');
			if (conv.status !== 'ended' && styleOf(ws) === 'live')
				await this.#endSession(conv, 'agent', `agent:${agentId}`, name, now, { silent: false });
			await repo.db
				.updateTable('conversations')
				.set({ wrap_up_reason: reason })
				.where('id', '=', conv.id)
				.execute();
			await this.#event(conv.id, 'wrap_up', `agent:${agentId}`, { by: name, reason }, now);
			const ticket = await this.#applyTicketStatus(conv, 'solved', `agent:${agentId}`, name, now);
			this.deps.log.info({ conversation: conv.id, agent: agentId, reason }, 'wrapped up');
			// A ticket that closed at once (live chat) has left the inboxes and freed its capacity.
			if (ticket !== 'closed') {
				await this.#closeInInboxes(conv.id, await repo.participantsOf(conv.id));
				await this.#drain(); // capacity was freed
			}
			return { status: 'ended' as const, reason };
		});
	}

	/**
	 * A live-chat customer ends the chat from the widget (SPEC C5). The agents still wrap it up.
	 * In persistent chat the customer has no such control; an agent ends it.
	 */
	async endByCustomer(customerId: string, conversationId: string) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await repo.conversationById(conversationId);
			if (!conv || conv.customer_id !== customerId)
				throw new DomainError('forbidden', 'You are not a participant of this conversation.');
			const ws = await repo.workstreamById(conv.workstream_id);
			if (ws?.mode !== 'live')
				throw new DomainError(
					'forbidden',
					'This conversation stays open; write any time and an agent will answer.'
				);
			if (conv.status === 'ended')
				throw new DomainError('conflict', 'This chat has already ended.');
			const customer = await repo.customerById(customerId);
			const now = clock.now();
			await this.#withdrawPendingOffers(conv.id);
			const fresh = (await repo.conversationById(conv.id))!;
			await this.#endSession(
				fresh,
				'customer',
				`customer:${customerId}`,
				customer?.name ?? 'Customer',
				now,
				{ silent: false }
			);
			// Nobody accepted it: there is nothing for an agent to wrap up.
			if ((await repo.participantsOf(conv.id)).length === 0)
				await this.#applyTicketStatus(fresh, 'solved', null, null, now);
			await this.deps.timers.cancel(keepTimer(conv.id));
			this.deps.log.info({ conversation: conv.id }, 'ended by the customer');
			await this.#drain();
			this.deps.onQueueChanged?.();
			return { status: 'ended' as const };
		});
	}

	/**
	 * End session (SPEC A9, C7): the messaging session ends, silently for the customer, whose
	 * next message starts a new conversation with a new ticket. The ticket keeps its status
	 * and stays with its agents, who go on by email or internal notes; capacity is released.
	 */
	async endSessionByAgent(agentId: string, conversationId: string) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await this.#ownConversation(
				agentId,
				conversationId,
				'ending the session',
				'end the session'
			);
			if (conv.session_status === 'ended') throw new SessionTransitionError('ended');
			if (conv.status !== 'active' && conv.status !== 'waiting')
				throw new DomainError('conflict', 'Only a conversation you have accepted can be ended.');
			const me = await repo.agentById(agentId);
			const now = clock.now();
			await this.#withdrawPendingOffers(conv.id);
			await this.#endSession(conv, 'agent', `agent:${agentId}`, me?.name ?? 'Agent', now, {
				silent: true
			});
			await this.#markInInboxes(conv.id, await repo.participantsOf(conv.id), {
				sessionEnded: true
			});
			this.deps.log.info({ conversation: conv.id, agent: agentId }, 'session ended by agent');
			await this.#drain(); // messaging capacity was freed
			this.deps.onQueueChanged?.();
			return { session: 'ended' as const, ticketStatus: conv.ticket_status };
		});
	}

	/**
	 * An agent of the ticket sets its status (SPEC A11): Open, Pending, On-hold or Solved. What
	 * it does to capacity and closing follows the workstream's conversation style.
	 */
	async setTicketStatus(agentId: string, conversationId: string, to: TicketStatus) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await this.#ownConversation(
				agentId,
				conversationId,
				'changing its status',
				'change its status'
			);
			if (to === 'new' || to === 'closed')
				throw new DomainError(
					'invalid',
					to === 'new'
						? 'A ticket cannot become New again.'
						: "Tickets close by themselves after Solved, on the workstream's schedule."
				);
			changeTicket(conv.ticket_status as TicketStatus, to); // a TicketTransitionError if not allowed
			const me = await repo.agentById(agentId);
			await this.#applyTicketStatus(conv, to, `agent:${agentId}`, me?.name ?? null, clock.now(), {
				takeBack: true
			});
			const after = (await repo.conversationById(conv.id))!;
			return { ticketStatus: after.ticket_status, status: after.status };
		});
	}

	/**
	 * An integrator's status change (SPEC P3, `/api/v1`): the same ticket rules as an agent's,
	 * by someone who is not a participant. Capacity is not taken back by anyone.
	 */
	async setTicketStatusBy(
		actor: string,
		actorName: string,
		conversationId: string,
		to: TicketStatus
	) {
		return this.#exclusive(async () => {
			const { repo, clock } = this.deps;
			const conv = await repo.conversationById(conversationId);
			if (!conv) throw new DomainError('not_found', 'No such ticket.');
			if (to === 'new') throw new DomainError('invalid', 'A ticket cannot become New again.');
			changeTicket(conv.ticket_status as TicketStatus, to); // a TicketTransitionError if not allowed
			await this.#applyTicketStatus(conv, to, actor, actorName, clock.now());
			const after = (await repo.conversationById(conv.id))!;
			return { ticketStatus: after.ticket_status, status: after.status };
		});
	}

	/** An internal note written by someone outside the chat (an integrator): agents only. */
	async addNoteBy(actor: string, actorName: string, conversationId: string, text: string) {
		const { repo, clock, rooms } = this.deps;
		const conv = await repo.conversationById(conversationId);
		if (!conv) throw new DomainError('not_found', 'No such ticket.');
		const now = clock.now();
		const id = newId('nt');
		await rooms.with(storedInternalKey(conversationId), (room) => {
			room.doc.transact(
				() =>
					notesOf(room.doc).push([
						{
							id,
							kind: 'note',
							role: 'agent',
							author: actor,
							name: actorName,
							text,
							time: now,
							at: now
						}
					]),
				SERVER_ORIGIN
			);
			return room.whenDurable();
		});
		await this.#event(conversationId, 'note_added', actor, { by: actorName }, now);
		return { id, at: now };
	}

	/**
	 * A public reply by email (SPEC A9, P4), once the messaging session has ended. Kept in the
	 * agents' internal document as the ticket's record of it; the customer gets the email.
	 */
	async replyByEmail(agentId: string, conversationId: string, text: string) {
		const { repo, clock, rooms, mailer } = this.deps;
		const conv = await this.#ownConversation(agentId, conversationId, 'replying');
		// A message left outside hours (channel `email`) has no chat to answer in.
		if (conv.session_status !== 'ended' && conv.channel !== 'email')
			throw new DomainError('conflict', 'The messaging session is active: reply in the chat.');
		const check = checkAgentText(text);
		if (!check.ok) throw new DomainError('invalid', check.message);
		const [customer, ws, me] = await Promise.all([
			repo.customerById(conv.customer_id),
			repo.workstreamById(conv.workstream_id),
			repo.agentById(agentId)
		]);
		if (!customer?.email)
			throw new DomainError(
				'invalid',
				'This customer has no email address: add an internal note instead.'
			);
		if (!mailer) throw new DomainError('conflict', 'Email is not set up on this server.');
		const now = clock.now();
		const name = me?.name ?? 'Agent';
		const mailId = await mailer.queue({
			kind: 'reply',
			conversationId,
			to: customer.email,
			subject: `Re: your conversation with ${ws?.title ?? 'us'}`,
			body: `${text}\n\n— ${name}, ${ws?.title ?? 'Parley'}`
		});
		await rooms.with(storedInternalKey(conversationId), (room) => {
			room.doc.transact(
				() =>
					notesOf(room.doc).push([
						{
							id: newId('em'),
							kind: 'email',
							role: 'agent',
							author: `agent:${agentId}`,
							name,
							text,
							time: now,
							at: now,
							to: customer.email!
						}
					]),
				SERVER_ORIGIN
			);
			return room.whenDurable();
		});
		await this.#event(
			conversationId,
			'email_sent',
			`agent:${agentId}`,
			{ by: name, to: customer.email },
			now
		);
		// The ticket's first response, when nobody answered in the chat (a message left).
		if (conv.first_response_at === null)
			await this.#recordFirstReply(
				conversationId,
				{ principal: `agent:${agentId}`, role: 'agent', name },
				now
			);
		return { ok: true, mailId, to: customer.email };
	}

	// ---- triggers and CSAT (SPEC M2, C8) ----------------------------------------------------

	/**
	 * Evaluates the triggers for one ticket event (a durable timer calls this). Each trigger
	 * that fires runs its actions, then is recorded against the event; actions are idempotent,
	 * so an evaluation cut short and run again has each effect once.
	 */
	async runTriggers(eventId: string) {
		const { repo, log } = this.deps;
		const ev = await repo.db
			.selectFrom('conversation_events')
			.selectAll()
			.where('id', '=', eventId)
			.executeTakeFirst();
		if (!ev) return;
		const data = safeJson(ev.data);
		let event: TicketEvent;
		if (ev.type === 'session_ended')
			event = { type: 'session_ended', by: data.role as SessionEnder };
		else if (ev.type === 'ticket_status')
			event = {
				type: 'ticket_status',
				from: data.from as TicketStatus,
				to: data.to as TicketStatus
			};
		else return;
		const conv = await repo.conversationById(ev.conversation_id);
		if (!conv) return;
		const cause = typeof data.cause === 'string' ? data.cause.split(',') : [];
		const triggers: Trigger[] = (
			await repo.db.selectFrom('triggers').selectAll().where('active', '=', 1).execute()
		).map(triggerOf);
		const done = new Set(
			(
				await repo.db
					.selectFrom('trigger_runs')
					.select('trigger_id')
					.where('event_id', '=', eventId)
					.execute()
			).map((r) => r.trigger_id)
		);
		const fired = firedTriggers(
			triggers,
			event,
			{ channel: conv.channel as Channel },
			new Set([...cause, ...done])
		);
		for (const t of fired) {
			for (const action of t.actions)
				try {
					await this.#exclusive(() => this.#runAction(conv.id, action, t, [...cause, t.id]));
				} catch (err) {
					log.warn(
						{ err, trigger: t.id, action: action.type, event: eventId },
						'trigger action failed'
					);
				}
			await repo.db
				.insertInto('trigger_runs')
				.values({ event_id: eventId, trigger_id: t.id, at: this.deps.clock.now() })
				.onConflict((oc) => oc.doNothing())
				.execute();
			log.info({ trigger: t.id, event: eventId, conversation: conv.id }, 'trigger fired');
		}
	}

	async #runAction(conversationId: string, action: TriggerAction, t: Trigger, cause: string[]) {
		const { repo, clock, rooms } = this.deps;
		const conv = await repo.conversationById(conversationId);
		if (!conv) return;
		const now = clock.now();
		const by = `Trigger: ${t.name}`;
		const actor = `trigger:${t.id}`;
		switch (action.type) {
			case 'send_csat':
				return this.#sendCsat(conv, now);
			case 'set_status':
				await this.#applyTicketStatus(conv, action.status, actor, by, now, { cause });
				return;
			case 'add_tag': {
				const tags = parseStringList(conv.tags);
				if (tags.includes(action.tag)) return;
				await repo.db
					.updateTable('conversations')
					.set({ tags: JSON.stringify([...tags, action.tag]) })
					.where('id', '=', conv.id)
					.execute();
				await this.#event(conv.id, 'tag_added', actor, { by, tag: action.tag }, now);
				return;
			}
			case 'reassign_queue': {
				const queue = await repo.queueById(action.queueId);
				if (!queue || conv.queue_id === queue.id) return;
				await this.#event(conv.id, 'reassigned', actor, { by, to: `queue ${queue.name}` }, now);
				// An active chat is routed again in its new queue; its agent holds it until then.
				if (conv.status === 'active')
					await this.#routeAgain(
						conv,
						{
							queue_id: queue.id,
							transfer_from: (await repo.participantsOf(conv.id))[0] ?? null
						},
						now
					);
				else
					await repo.db
						.updateTable('conversations')
						.set({ queue_id: queue.id })
						.where('id', '=', conv.id)
						.execute();
				await this.#drain();
				return;
			}
			case 'reassign_agent': {
				const agent = await repo.agentById(action.agentId);
				const had = await repo.participantsOf(conv.id);
				if (!agent || (had.length === 1 && had[0] === agent.id)) return;
				await this.#event(conv.id, 'reassigned', actor, { by, to: agent.name }, now);
				if (conv.status === 'active' || conv.status === 'queued') {
					// A live chat goes to that agent through an offer (they must accept it).
					await this.#preferAgent(conv.id, agent.id, now + 10 * 60_000);
					if (conv.status === 'active')
						await this.#routeAgain(conv, { transfer_from: had[0] ?? null }, now);
					await this.#drain();
					return;
				}
				// A ticket off the messaging channel simply changes hands.
				await repo.db.transaction().execute(async (trx) => {
					await trx.deleteFrom('participants').where('conversation_id', '=', conv.id).execute();
					await trx
						.insertInto('participants')
						.values({ conversation_id: conv.id, agent_id: agent.id, joined_at: now })
						.execute();
				});
				this.#participantsChanged(conv.id);
				await this.#closeInInboxes(
					conv.id,
					had.filter((a) => a !== agent.id)
				);
				const [customer, ws] = await Promise.all([
					repo.customerById(conv.customer_id),
					repo.workstreamById(conv.workstream_id)
				]);
				await rooms.with(storedInboxKey(agent.id), (inbox) => {
					inbox.doc.transact(
						() =>
							inboxConversationsOf(inbox.doc).set(conv.id, {
								...inboxEntry(conv, customer, ws, now),
								...(conv.session_status === 'ended' ? { sessionEnded: true } : {})
							}),
						SERVER_ORIGIN
					);
					return inbox.whenDurable();
				});
				return;
			}
		}
	}

	/**
	 * Sends the CSAT survey once per ticket (SPEC C8): by email when the session has ended and
	 * the customer's address is known, otherwise in the widget (the conversation document).
	 */
	async #sendCsat(conv: Conversation, now: number) {
		const { repo, rooms, mailer, csatLink } = this.deps;
		if (conv.csat_requested_at !== null) return;
		const [customer, ws] = await Promise.all([
			repo.customerById(conv.customer_id),
			repo.workstreamById(conv.workstream_id)
		]);
		// The workstream's admin turned CSAT off (SPEC M1): triggers send no survey there.
		if (ws && ws.csat_enabled !== 1) return;
		const byEmail = conv.session_status === 'ended' && !!customer?.email && !!mailer && !!csatLink;
		if (byEmail) {
			const link = await csatLink!(conv.id);
			await mailer!.queue({
				kind: 'csat',
				conversationId: conv.id,
				to: customer!.email!,
				subject: `How did we do? — ${ws?.title ?? 'Parley'}`,
				body: [
					`Hello ${customer!.name},`,
					'',
					`How would you rate the help you got from ${ws?.title ?? 'us'}? It takes a few seconds:`,
					'',
					link,
					'',
					'Thank you!'
				].join('\n')
			});
		} else
			await rooms.with(storedConversationKey(conv.id), (room) => {
				room.doc.transact(() => metaOf(room.doc).set('csat', { requestedAt: now }), SERVER_ORIGIN);
				return room.whenDurable();
			});
		await repo.db
			.updateTable('conversations')
			.set({ csat_requested_at: now })
			.where('id', '=', conv.id)
			.execute();
		conv.csat_requested_at = now;
		await this.#event(
			conv.id,
			'csat_sent',
			null,
			byEmail ? { via: 'email', to: customer!.email! } : { via: 'widget' },
			now
		);
	}

	/** The customer's CSAT answer, from the widget or the emailed link; once per ticket. */
	async answerCsat(conversationId: string, customerId: string | null, answer: CsatAnswer) {
		return this.#exclusive(async () => {
			const { repo, rooms, clock } = this.deps;
			const conv = await repo.conversationById(conversationId);
			if (!conv || (customerId !== null && conv.customer_id !== customerId))
				throw new DomainError('forbidden', 'You are not a participant of this conversation.');
			if (conv.csat_requested_at === null)
				throw new DomainError('conflict', 'There is no survey for this conversation.');
			if (conv.csat_rating !== null)
				throw new DomainError('conflict', 'This conversation has already been rated. Thank you!');
			const now = clock.now();
			await repo.db
				.updateTable('conversations')
				.set({ csat_rating: answer.rating, csat_comment: answer.comment ?? null, csat_at: now })
				.where('id', '=', conv.id)
				.execute();
			await rooms.with(storedConversationKey(conv.id), (room) => {
				room.doc.transact(
					() =>
						metaOf(room.doc).set('csat', {
							requestedAt: conv.csat_requested_at!,
							answered: { rating: answer.rating, at: now }
						}),
					SERVER_ORIGIN
				);
				return room.whenDurable();
			});
			const customer = await repo.customerById(conv.customer_id);
			await this.#event(
				conv.id,
				'csat_received',
				`customer:${conv.customer_id}`,
				{ by: customer?.name ?? null, rating: answer.rating, comment: answer.comment ?? null },
				now
			);
			return { ok: true, rating: answer.rating };
		});
	}

	/**
	 * The customer wrote into an active conversation: a Pending or On-hold ticket opens again
	 * (SPEC A11), and if all of its agents are Offline the conversation is handed off (A12).
	 * Every customer message comes here, so what decides both is read in one query.
	 */
	async #customerWroteActive(conversationId: string) {
		const generation = this.#calmGeneration;
		const seen = await this.deps.repo.ticketAndPresence(conversationId);
		if (!seen) return;
		const ticket = onCustomerMessage(seen.ticketStatus as TicketStatus);
		const away = seen.agents.length > 0 && !seen.agents.some((a) => holdsChats(a.presence));
		if (ticket === 'reopen') await this.#reopenOnReply(conversationId);
		if (away) await this.#handoff(conversationId);
		// Nothing to do, and nothing changed while reading: the next message need not ask.
		if (ticket === 'continue' && !away && generation === this.#calmGeneration)
			this.#calm.set(conversationId, this.deps.clock.now());
	}

	async #reopenOnReply(conversationId: string) {
		await this.#exclusive(async () => {
			const fresh = await this.deps.repo.conversationById(conversationId);
			if (!fresh || fresh.status !== 'active') return;
			const customer = await this.deps.repo.customerById(fresh.customer_id);
			await this.#applyTicketStatus(
				fresh,
				'open',
				`customer:${fresh.customer_id}`,
				customer?.name ?? null,
				this.deps.clock.now()
			);
		});
	}

	/** Whether the conversation is in the agent's list (Pending and On-hold keep it there). */
	#inAgentsList(agentId: string, conversationId: string): Promise<boolean> {
		return this.deps.rooms.with(storedInboxKey(agentId), (inbox) => {
			const entry = inboxConversationsOf(inbox.doc).get(conversationId);
			return entry !== undefined && !entry.left && !entry.sessionEnded;
		});
	}

	/** Takes a conversation the agent left (e.g. after End conference) off their list. */
	async dismiss(agentId: string, conversationId: string) {
		await this.deps.rooms.with(storedInboxKey(agentId), (inbox) => {
			const list = inboxConversationsOf(inbox.doc);
			const entry = list.get(conversationId);
			if (!entry) throw new DomainError('not_found', 'This conversation is not in your list.');
			if (!entry.left && !entry.sessionEnded)
				throw new DomainError('conflict', 'You are still in this conversation; end it instead.');
			inbox.doc.transact(() => list.delete(conversationId), SERVER_ORIGIN);
			return inbox.whenDurable();
		});
		return { ok: true };
	}

	/**
	 * The side panel (SPEC A3): the customer, the ticket and the event history. For the
	 * conversation's agents and an agent it is offered to; never for customers.
	 */
	async details(agentId: string, conversationId: string): Promise<ConversationDetails> {
		const { repo } = this.deps;
		const conv = await repo.conversationById(conversationId);
		if (
			!conv ||
			!(
				(await repo.isParticipant(conversationId, agentId)) ||
				(await repo.hasPendingOffer(conversationId, agentId)) ||
				(await repo.wasParticipant(conversationId, agentId))
			)
		)
			throw new DomainError('forbidden', 'You are not a participant of this conversation.');
		const [customer, ws, queue, participants, events, past] = await Promise.all([
			repo.customerById(conv.customer_id),
			repo.workstreamById(conv.workstream_id),
			conv.queue_id ? repo.queueById(conv.queue_id) : undefined,
			repo.db
				.selectFrom('participants as p')
				.innerJoin('agents as a', 'a.id', 'p.agent_id')
				.select(['a.id', 'a.name', 'p.joined_at'])
				.where('p.conversation_id', '=', conversationId)
				.orderBy('p.joined_at')
				.execute(),
			repo.db
				.selectFrom('conversation_events')
				.selectAll()
				.where('conversation_id', '=', conversationId)
				.orderBy('at')
				.orderBy('id')
				.execute(),
			repo.db
				.selectFrom('conversations')
				.select(['id', 'status', 'created_at', 'wrap_up_reason', 'ticket_status'])
				.where('customer_id', '=', conv.customer_id)
				.where('id', '!=', conversationId)
				.orderBy('created_at', 'desc')
				.limit(20)
				.execute()
		]);
		// Offers store the agent's id (routing writes many); their names are read here, at once.
		const parsed = events.map((e) => ({ e, data: safeJson(e.data) }));
		const ids = [
			...new Set(
				parsed.flatMap(({ data }) => (typeof data.agentId === 'string' ? [data.agentId] : []))
			)
		];
		const names = new Map(
			ids.length === 0
				? []
				: (
						await repo.db
							.selectFrom('agents')
							.select(['id', 'name'])
							.where('id', 'in', ids)
							.execute()
					).map((a) => [a.id, a.name])
		);
		return {
			customer: {
				name: customer?.name ?? 'Customer',
				email: customer?.email ?? null,
				authenticated: customer?.authenticated === 1,
				past: past.map((p) => ({
					id: p.id,
					status: p.status,
					ticketStatus: p.ticket_status,
					createdAt: Number(p.created_at),
					wrapUp: p.wrap_up_reason
				}))
			},
			ticket: {
				id: conv.id,
				status: conv.ticket_status,
				conversationStatus: conv.status,
				mode: ws?.mode ?? ('live' as const),
				workstream: ws?.name ?? '',
				queue: queue?.name ?? '',
				assignee: participants[0]?.name ?? null,
				participants: participants.map((p) => p.name),
				wrapUp: conv.wrap_up_reason,
				wrapUpReasons: ws ? parseStringList(ws.wrap_up_reasons) : [],
				channel: conv.channel === 'email' ? 'email' : 'messaging',
				style: styleOf(ws),
				tags: parseStringList(conv.tags),
				solvedAt: conv.solved_at === null ? null : Number(conv.solved_at),
				closedAt: conv.closed_at === null ? null : Number(conv.closed_at),
				csat: {
					requestedAt: conv.csat_requested_at === null ? null : Number(conv.csat_requested_at),
					rating: conv.csat_rating,
					comment: conv.csat_comment,
					at: conv.csat_at === null ? null : Number(conv.csat_at)
				}
			},
			session: {
				state: conv.session_status === 'ended' ? 'ended' : 'active',
				endedBy: (conv.session_ended_by as SessionEnder | null) ?? null,
				endedByName: conv.ended_by === null ? null : await this.#principalName(conv.ended_by),
				endedAt: conv.ended_at === null ? null : Number(conv.ended_at)
			},
			events: parsed.map(({ e, data }) => ({
				id: e.id,
				type: e.type as EventType,
				actorName: typeof data.by === 'string' ? data.by : null,
				data:
					typeof data.agentId === 'string'
						? { ...data, agent: names.get(data.agentId) ?? data.agentId }
						: data,
				at: Number(e.at)
			}))
		};
	}

	async #principalName(principal: string): Promise<string | null> {
		const [kind, id] = principal.split(':');
		if (kind === 'agent') return (await this.deps.repo.agentById(id))?.name ?? null;
		if (kind === 'customer') return (await this.deps.repo.customerById(id))?.name ?? null;
		return null;
	}

	/**
	 * All of an active conversation's agents are Offline when the customer writes: it is routed
	 * again, to the same agent under *keep the same agent* (waiting for them for the
	 * workstream's time), otherwise to whoever is Available (SPEC A12). Checked again under the
	 * lock.
	 */
	async #handoff(conversationId: string) {
		const { repo } = this.deps;
		await this.#exclusive(async () => {
			const conv = await repo.conversationById(conversationId);
			if (!conv || conv.status !== 'active') return;
			const again = await repo.participantPresence(conversationId);
			if (again.some((a) => holdsChats(a.presence))) return;
			const ws = await repo.workstreamById(conv.workstream_id);
			const now = this.deps.clock.now();
			await repo.db
				.updateTable('conversations')
				.set({ requested_at: now })
				.where('id', '=', conv.id)
				.execute();
			const last = again.sort((a, b) => b.joinedAt - a.joinedAt)[0];
			if (ws?.keep_same_agent)
				await this.#preferAgent(conv.id, last.agentId, now + ws.keep_wait_ms);
			await this.#setStatus(conv, transition('active', { type: 'handoff' }));
			this.deps.log.info(
				{ conversation: conv.id, from: last.agentId, keep: Boolean(ws?.keep_same_agent) },
				'handoff: the customer wrote while their agent was away'
			);
			await this.#drain();
		});
	}
}

/**
 * Whether an agent in this presence still holds their conversations: every state but Offline
 * (SPEC A12: handoff is for an agent who is offline). Busy, Away and RONA stop new offers only;
 * an agent who missed one offer (RONA) or stepped away keeps the chats they are in, and one who
 * really left (signed out, set Offline, or no tab connected for the presence grace) is Offline.
 */
const holdsChats = (presence: string) => presence !== 'Offline';

function systemMessage(text: string, now: number): Message {
	return {
		id: newId('sys'),
		kind: 'system',
		role: 'system',
		author: 'system',
		name: 'Parley',
		text,
		time: now,
		at: now
	};
}

/** A conversation as an agent's inbox lists it, from the time they took it. */
function inboxEntry(
	conv: Pick<Conversation, 'id'>,
	customer: { name: string } | undefined,
	ws: Pick<Workstream, 'name' | 'mode'> | undefined,
	acceptedAt: number
): InboxConversation {
	return {
		conversationId: conv.id,
		customerName: customer?.name ?? 'Customer',
		workstream: ws?.name ?? '',
		mode: ws?.mode ?? 'live',
		acceptedAt
	};
}

function parseStringList(json: string): string[] {
	try {
		const v = JSON.parse(json);
		return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
	} catch {
		return [];
	}
}

function safeJson(json: string): Record<string, string | number | null> {
	try {
		const v = JSON.parse(json);
		return v && typeof v === 'object' ? v : {};
	} catch {
		return {};
	}
}

let eventSeq = 0;
/**
 * Event ids sort in the order events were written: time, then a per-process counter (several
 * events share a millisecond), then randomness so instances never collide.
 */
function eventId(at: number): string {
	eventSeq = (eventSeq + 1) % 1_000_000;
	return `ev_${Math.max(0, at).toString(36).padStart(9, '0')}${eventSeq
		.toString()
		.padStart(6, '0')}${newId('').slice(1, 9)}`;
}
