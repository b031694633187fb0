/** Relational data access (Kysely): agents, sessions, workstreams, customers, conversations, offers. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Trigger } from '../src/lib/domain/triggers';
import type {
	TriggerTable,
	Database,
	WorkstreamTable,
	AgentTable,
	ConversationTable,
	OfferTable
} from './db/schema';

export type Db = Kysely<Database> | Transaction<Database>;
export type Workstream = Selectable<WorkstreamTable>;
export type Agent = Selectable<AgentTable>;
export type Conversation = Selectable<ConversationTable>;
export type Offer = Selectable<OfferTable>;

/** A stored trigger as the domain sees it (conditions and actions are JSON columns). */
export function triggerOf(t: Selectable<TriggerTable>): Trigger {
	return {
		id: t.id,
		name: t.name,
		position: t.position,
		active: t.active === 1,
		conditions: JSON.parse(t.conditions),
		actions: JSON.parse(t.actions)
	};
}

export const newId = (prefix: string) => `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 20)}`;

export class Repo {
	constructor(readonly db: Kysely<Database>) {}

	workstreamBySlug(slug: string) {
		return this.db
			.selectFrom('workstreams')
			.selectAll()
			.where('slug', '=', slug)
			.executeTakeFirst();
	}
	workstreamById(id: string) {
		return this.db.selectFrom('workstreams').selectAll().where('id', '=', id).executeTakeFirst();
	}
	agentByEmail(email: string) {
		return this.db
			.selectFrom('agents')
			.selectAll()
			.where('email', '=', email.toLowerCase())
			.executeTakeFirst();
	}
	agentById(id: string) {
		return this.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
	}

	/** Stores a new customer; an authenticated one has the host site's `externalId`. */
	async createCustomer(c: {
		workstreamId: string;
		externalId: string | null;
		/** A function gets the new id, e.g. for "Visitor XXXX". */
		name: string | ((id: string) => string);
		email: string | null;
		now: number;
	}): Promise<string> {
		const id = newId('cu');
		await this.db
			.insertInto('customers')
			.values({
				id,
				workstream_id: c.workstreamId,
				external_id: c.externalId,
				name: typeof c.name === 'function' ? c.name(id) : c.name,
				email: c.email,
				authenticated: c.externalId === null ? 0 : 1,
				created_at: c.now
			})
			.execute();
		return id;
	}

	customerById(id: string) {
		return this.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirst();
	}

	conversationById(id: string) {
		return this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
	}

	/** The customer's conversation that is not ended, newest first. */
	openConversationOf(customerId: string) {
		return this.db
			.selectFrom('conversations')
			.selectAll()
			.where('customer_id', '=', customerId)
			.where('status', '!=', 'ended')
			.orderBy('created_at', 'desc')
			.executeTakeFirst();
	}

	async isParticipant(conversationId: string, agentId: string) {
		const row = await this.db
			.selectFrom('participants')
			.select('agent_id')
			.where('conversation_id', '=', conversationId)
			.where('agent_id', '=', agentId)
			.executeTakeFirst();
		return row !== undefined;
	}

	/** The agent worked on this conversation before and was removed (transfer, End conference). */
	async wasParticipant(conversationId: string, agentId: string) {
		const row = await this.db
			.selectFrom('conversation_events')
			.select('id')
			.where('conversation_id', '=', conversationId)
			.where('actor', '=', `agent:${agentId}`)
			.where('type', 'in', ['accepted', 'conference_joined'])
			.executeTakeFirst();
		return row !== undefined;
	}

	async hasPendingOffer(conversationId: string, agentId: string) {
		const row = await this.db
			.selectFrom('offers')
			.select('id')
			.where('conversation_id', '=', conversationId)
			.where('agent_id', '=', agentId)
			.where('status', '=', 'pending')
			.executeTakeFirst();
		return row !== undefined;
	}

	/** Every template, by name: what agents pick from and admins manage. */
	templates() {
		return this.db.selectFrom('templates').select(['id', 'name', 'text']).orderBy('name').execute();
	}

	queueById(id: string) {
		return this.db.selectFrom('queues').selectAll().where('id', '=', id).executeTakeFirst();
	}

	/** The conversation's agents, first to join first (callers take `[0]` as the one who had it). */
	async participantsOf(conversationId: string): Promise<string[]> {
		const rows = await this.db
			.selectFrom('participants')
			.select('agent_id')
			.where('conversation_id', '=', conversationId)
			.orderBy('joined_at')
			.orderBy('agent_id')
			.execute();
		return rows.map((r) => r.agent_id);
	}

	/** The conversation's agents with their presence. */
	async participantPresence(conversationId: string) {
		const rows = await this.db
			.selectFrom('participants as p')
			.innerJoin('agents as a', 'a.id', 'p.agent_id')
			.select(['p.agent_id', 'a.presence', 'p.joined_at'])
			.where('p.conversation_id', '=', conversationId)
			.execute();
		return rows.map((r) => ({ agentId: r.agent_id, presence: r.presence, joinedAt: r.joined_at }));
	}

	/**
	 * A conversation's ticket status and its agents' presence, in one query (what a customer's
	 * message into an active conversation needs to know). Null for an unknown conversation.
	 */
	async ticketAndPresence(conversationId: string) {
		const rows = await this.db
			.selectFrom('conversations as c')
			.leftJoin('participants as p', 'p.conversation_id', 'c.id')
			.leftJoin('agents as a', 'a.id', 'p.agent_id')
			.select(['c.ticket_status', 'p.agent_id', 'a.presence'])
			.where('c.id', '=', conversationId)
			.execute();
		if (rows.length === 0) return null;
		return {
			ticketStatus: rows[0].ticket_status,
			agents: rows.flatMap((r) =>
				r.agent_id === null ? [] : [{ agentId: r.agent_id, presence: r.presence ?? '' }]
			)
		};
	}

	/** The agent who joined this customer's other conversations last, for *keep the same agent*. */
	async lastAgentOf(customerId: string, exceptConversation: string): Promise<string | null> {
		const row = await this.db
			.selectFrom('participants as p')
			.innerJoin('conversations as c', 'c.id', 'p.conversation_id')
			.select('p.agent_id')
			.where('c.customer_id', '=', customerId)
			.where('c.id', '!=', exceptConversation)
			.orderBy('p.joined_at', 'desc')
			.limit(1)
			.executeTakeFirst();
		return row?.agent_id ?? null;
	}

	offerById(id: string) {
		return this.db.selectFrom('offers').selectAll().where('id', '=', id).executeTakeFirst();
	}

	pendingOffersOf(agentId: string) {
		return this.db
			.selectFrom('offers')
			.selectAll()
			.where('agent_id', '=', agentId)
			.where('status', '=', 'pending')
			.execute();
	}
}
