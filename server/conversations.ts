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
import { newId, type Repo, type Conversation, type Workstream } from './repo';
import type { Router } from './routing';
import type { Principal } from './principal';
import type { Room, RoomManager } from './sync/rooms';
import { SERVER_ORIGIN, FANOUT_ORIGIN } from './sync/rooms';
import { mergeOutbox, type Author } from '../src/lib/domain/merge';
import type { Message } from '../src/lib/domain/message';
import {
	messagesOf,
	metaOf,
	readsOf,
	outboxEntriesOf,
	outboxCursorOf,
	outboxRejectionsOf,
	type ConversationMeta
} from '../src/lib/domain/conversation-doc';
import { offersOf, inboxConversationsOf, agentStateOf } from '../src/lib/domain/inbox-doc';
import { transition, type ConversationStatus } from '../src/lib/domain/conversation-state';
import type { DocRequest } from '../src/lib/domain/doc-names';
import {
	storedConversationKey,
	storedInboxKey,
	storedOutboxKey
} from '../src/lib/domain/doc-names';
import type { PresenceChoice } from '../src/lib/domain/presence';
import type { Locks } from './db/locks';
import type { Timers } from './timers';

export type DocAccess =
	| { ok: true; key: string; kind: DocRequest['kind']; writable: boolean; typing: boolean }
	| { ok: false; code: 'forbidden' | 'notFound'; reason: string };

const offerTimer = (offerId: string) => `offer:${offerId}`;

export class DomainError extends Error {
	constructor(
		readonly code: 'not_found' | 'conflict' | 'forbidden' | 'invalid',
		message: string
	) {
		super(message);
		this.name = 'DomainError';
	}
}

interface TranscriptIndex {
	authorsById: Map<string, string>;
	lastTimeByAuthor: Map<string, number>;
	/** The conversation is known to have its request time set. */
	requested: boolean;
}

interface OutboxState {
	conversationId: string;
	author: Author;
	/** Rejections of entries without a readable id already reported (they cannot be stored by id). */
	anonymousRejections: number;
	running: Promise<void> | null;
	again: boolean;
}

export interface ConversationServiceDeps {
	repo: Repo;
	rooms: RoomManager;
	router: Router;
	locks: Locks;
	timers: Timers;
	/** How long an agent has to accept an offer before it goes to the next agent (RONA). */
	offerTimeoutMs: number;
	/** Other instances write the same documents (merges must lock and catch up). */
	sharedStore: boolean;
	clock: Clock;
	log: Logger;
}

export class ConversationService {
	#indexes = new WeakMap<Y.Doc, TranscriptIndex>();
	#outboxes = new WeakMap<Room, OutboxState>();

	constructor(private readonly deps: ConversationServiceDeps) {
		deps.timers.on('offer-timeout', (payload) =>
			this.offerTimedOut((payload as { offerId: string }).offerId)
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
			canRead = canWrite = conv.customer_id === who.id;
		} else if (await repo.isParticipant(conv.id, who.id)) {
			canRead = canWrite = true;
		} else if (req.kind === 'conversation' && (await repo.hasPendingOffer(conv.id, who.id))) {
			canRead = true; // the offer shows the thread so far
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
			const now = this.deps.clock.now();
			const conv: Conversation = {
				id: newId('cv'),
				workstream_id: ws.id,
				customer_id: customerId,
				status: 'queued',
				requested_at: null,
				created_at: now,
				updated_at: now
			};
			await this.deps.repo.db.insertInto('conversations').values(conv).execute();
			const customer = await this.deps.repo.customerById(customerId);
			await this.deps.rooms.with(storedConversationKey(conv.id), (room) => {
				const meta: ConversationMeta = {
					id: conv.id,
					mode: ws.mode,
					workstream: ws.name,
					status: 'queued',
					customerName: customer?.name ?? 'Customer',
					agents: []
				};
				room.doc.transact(() => {
					for (const [k, v] of Object.entries(meta)) metaOf(room.doc).set(k, v);
				}, SERVER_ORIGIN);
				return room.whenDurable();
			});
			return conv;
		});
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
			again: false
		};
		this.#outboxes.set(room, state);
		room.changeListeners.add((origin) => {
			// Relayed outbox updates are merged by the instance their device is connected to.
			if (origin !== SERVER_ORIGIN && origin !== FANOUT_ORIGIN) this.#scheduleMerge(room, state);
		});
		this.#scheduleMerge(room, state);
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
		state.running = (async () => {
			do {
				state.again = false;
				await Promise.resolve(); // let a burst of updates land first
				try {
					const becameRequest = this.deps.sharedStore
						? await this.deps.locks.run(`merge:${room.key}`, () => this.#merge(room, state))
						: await this.#merge(room, state);
					// Routed after the merge lock is released: a lock is never taken while holding
					// another (each holds a database connection while it waits).
					if (becameRequest) await this.#exclusive(() => this.#route(state.conversationId));
				} catch (err) {
					this.deps.log.error({ err, doc: room.key }, 'merge failed');
				}
			} while (state.again);
			state.running = null;
		})();
	}

	#indexOf(doc: Y.Doc): TranscriptIndex {
		let index = this.#indexes.get(doc);
		if (!index) {
			const built: TranscriptIndex = {
				authorsById: new Map(),
				lastTimeByAuthor: new Map(),
				requested: false
			};
			const add = (m: Message) => {
				built.authorsById.set(m.id, m.author);
				built.lastTimeByAuthor.set(
					m.author,
					Math.max(built.lastTimeByAuthor.get(m.author) ?? 0, m.time)
				);
			};
			messagesOf(doc).forEach(add);
			messagesOf(doc).observe((e) => {
				for (const item of e.changes.added)
					for (const m of item.content.getContent() as Message[]) add(m);
			});
			this.#indexes.set(doc, built);
			index = built;
		}
		return index;
	}

	/** Merges new outbox entries; returns true if this made the conversation a request to route. */
	async #merge(outbox: Room, state: OutboxState): Promise<boolean> {
		const entries = outboxEntriesOf(outbox.doc).toJSON() as unknown[];
		const seen = outboxCursorOf(outbox.doc).get('seen');
		const { rooms, clock, repo } = this.deps;
		let becameRequest = false;
		await rooms.with(storedConversationKey(state.conversationId), async (conv) => {
			const index = this.#indexOf(conv.doc);
			const now = clock.now();
			const rejections = outboxRejectionsOf(outbox.doc);
			const result = mergeOutbox({
				author: state.author,
				entries,
				authorsById: index.authorsById,
				rejectedIds: new Set(rejections.keys()),
				lastTimeOfAuthor: index.lastTimeByAuthor.get(state.author.principal) ?? 0,
				now
			});
			// Rejections are stored in the author's outbox (durable, seen by all their devices);
			// entries without a readable id are reported once per connection lifetime.
			const anonymous = result.rejected.filter((r) => r.id === null);
			const fresh = [
				...result.rejected.filter((r) => r.id !== null),
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
			const messages = messagesOf(conv.doc);
			const reads = readsOf(conv.doc);
			const prevSeen = reads.get(state.author.principal)?.seen ?? 0;
			const newSeen =
				typeof seen === 'number' && Number.isInteger(seen)
					? Math.min(seen, messages.length + result.accepted.length)
					: prevSeen;
			if (result.accepted.length === 0 && newSeen <= prevSeen) return;
			conv.doc.transact(() => {
				if (result.accepted.length > 0) messages.push(result.accepted);
				if (newSeen > prevSeen)
					reads.set(state.author.principal, { role: state.author.role, seen: newSeen });
			}, SERVER_ORIGIN);
			// Another instance merging this outbox next must find these in the store.
			if (this.deps.sharedStore) await conv.whenDurable();
			// The first customer message makes the conversation a request to route. Checked once per
			// loaded room, so the hot path does no database work beyond the document log.
			if (result.accepted.length > 0 && state.author.role === 'customer' && !index.requested) {
				const row = await repo.conversationById(state.conversationId);
				if (row && row.requested_at === null) {
					await repo.db
						.updateTable('conversations')
						.set({ requested_at: now, updated_at: now })
						.where('id', '=', row.id)
						.execute();
					becameRequest = true;
				}
				index.requested = true;
			}
		});
		return becameRequest;
	}

	// ---- routing and offers ---------------------------------------------------------------

	async #setStatus(conv: Conversation, status: ConversationStatus) {
		await this.deps.repo.db
			.updateTable('conversations')
			.set({ status, updated_at: this.deps.clock.now() })
			.where('id', '=', conv.id)
			.execute();
		await this.deps.rooms.with(storedConversationKey(conv.id), (room) => {
			room.doc.transact(() => metaOf(room.doc).set('status', status), SERVER_ORIGIN);
		});
	}

	/** Offers a queued conversation to an agent, if one has room. Call inside `#exclusive`. */
	async #route(conversationId: string) {
		const { repo, router, clock, rooms } = this.deps;
		const conv = await repo.conversationById(conversationId);
		if (!conv || conv.status !== 'queued' || conv.requested_at === null) return;
		const agentId = await router.pickAgent(repo.db, conv);
		if (!agentId) return;
		const next = transition(conv.status as ConversationStatus, { type: 'offer', agentId });
		const offerId = newId('of');
		const now = clock.now();
		// The timer first: an instance dying between the two leaves a timer that finds no offer
		// (harmless), never an offer that cannot time out.
		await this.deps.timers.set(
			offerTimer(offerId),
			'offer-timeout',
			now + this.deps.offerTimeoutMs,
			{
				offerId
			}
		);
		await repo.db
			.insertInto('offers')
			.values({
				id: offerId,
				conversation_id: conv.id,
				agent_id: agentId,
				status: 'pending',
				created_at: now
			})
			.execute();
		await this.#setStatus(conv, next);
		const [customer, ws] = await Promise.all([
			repo.customerById(conv.customer_id),
			repo.workstreamById(conv.workstream_id)
		]);
		await rooms.with(storedInboxKey(agentId), (inbox) => {
			inbox.doc.transact(
				() =>
					offersOf(inbox.doc).set(offerId, {
						offerId,
						conversationId: conv.id,
						customerName: customer?.name ?? 'Customer',
						queue: ws?.queue_name ?? '',
						workstream: ws?.name ?? '',
						requestedAt: conv.requested_at ?? now,
						offeredAt: now
					}),
				SERVER_ORIGIN
			);
		});
		this.deps.log.info({ conversation: conv.id, agent: agentId, offer: offerId }, 'offered');
	}

	/** Routes every queued request that can be placed, oldest first. Call inside `#exclusive`. */
	async #drain() {
		for (const conv of await this.deps.repo.queuedConversations()) await this.#route(conv.id);
	}

	/** Routes waiting requests (e.g. after start-up). */
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
			const next = transition(conv.status as ConversationStatus, { type: 'accept', agentId });
			const now = clock.now();
			await repo.db.transaction().execute(async (trx) => {
				await trx
					.updateTable('offers')
					.set({ status: 'accepted' })
					.where('id', '=', offerId)
					.execute();
				await trx
					.insertInto('participants')
					.values({ conversation_id: conv.id, agent_id: agentId, joined_at: now })
					.onConflict((oc) => oc.doNothing())
					.execute();
			});
			await this.#setStatus(conv, next);
			await this.deps.timers.cancel(offerTimer(offerId));
			const [customer, ws] = await Promise.all([
				repo.customerById(conv.customer_id),
				repo.workstreamById(conv.workstream_id)
			]);
			await rooms.with(storedConversationKey(conv.id), (room) => {
				const meta = metaOf(room.doc);
				const agents = (meta.get('agents') as ConversationMeta['agents'] | undefined) ?? [];
				room.doc.transact(() => {
					meta.set('agents', [...agents, { principal: `agent:${agentId}`, name: agent.name }]);
					messagesOf(room.doc).push([
						{
							id: newId('sys'),
							kind: 'system',
							role: 'system',
							author: 'system',
							name: 'Parley',
							text: `${agent.name} joined the chat`,
							time: now,
							at: now
						}
					]);
				}, SERVER_ORIGIN);
				return room.whenDurable();
			});
			await rooms.with(storedInboxKey(agentId), (inbox) => {
				inbox.doc.transact(() => {
					offersOf(inbox.doc).delete(offerId);
					inboxConversationsOf(inbox.doc).set(conv.id, {
						conversationId: conv.id,
						customerName: customer?.name ?? 'Customer',
						workstream: ws?.name ?? '',
						mode: ws?.mode ?? 'live',
						acceptedAt: now
					});
				}, SERVER_ORIGIN);
				return inbox.whenDurable();
			});
			this.deps.log.info({ conversation: conv.id, agent: agentId }, 'accepted');
			return { conversationId: conv.id };
		});
	}

	/** Sets an agent's presence; withdraws their pending offers when they stop being Available. */
	async setPresence(agentId: string, presence: PresenceChoice) {
		return this.#exclusive(async () => {
			const { repo, clock, rooms } = this.deps;
			const now = clock.now();
			await repo.db
				.updateTable('agents')
				.set({ presence, presence_since: now })
				.where('id', '=', agentId)
				.execute();
			await rooms.with(storedInboxKey(agentId), (inbox) => {
				inbox.doc.transact(() => agentStateOf(inbox.doc).set('presence', presence), SERVER_ORIGIN);
			});
			if (presence !== 'Available')
				for (const offer of await repo.pendingOffersOf(agentId))
					await this.#withdrawOffer(offer.id, agentId, offer.conversation_id, 'withdrawn');
			await this.#drain();
		});
	}

	/** Takes a pending offer back from its agent; the request is queued again. Inside the lock. */
	async #withdrawOffer(
		offerId: string,
		agentId: string,
		conversationId: string,
		status: 'withdrawn' | 'expired'
	) {
		const { repo, rooms, timers } = this.deps;
		await repo.db.updateTable('offers').set({ status }).where('id', '=', offerId).execute();
		await timers.cancel(offerTimer(offerId));
		const conv = await repo.conversationById(conversationId);
		if (conv && conv.status === 'offered')
			await this.#setStatus(conv, transition('offered', { type: 'withdraw' }));
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
			const { repo, clock, rooms } = this.deps;
			const offer = await repo.offerById(offerId);
			if (!offer || offer.status !== 'pending') return;
			await this.#withdrawOffer(offer.id, offer.agent_id, offer.conversation_id, 'expired');
			await repo.db
				.updateTable('agents')
				.set({ presence: 'RONA', presence_since: clock.now() })
				.where('id', '=', offer.agent_id)
				.execute();
			await rooms.with(storedInboxKey(offer.agent_id), (inbox) => {
				inbox.doc.transact(() => agentStateOf(inbox.doc).set('presence', 'RONA'), SERVER_ORIGIN);
				return inbox.whenDurable();
			});
			this.deps.log.info(
				{ offer: offer.id, agent: offer.agent_id, conversation: offer.conversation_id },
				'offer timed out; agent is in RONA'
			);
			await this.#drain();
		});
	}
}
