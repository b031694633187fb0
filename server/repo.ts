/** Relational data access (Kysely): agents, sessions, workstreams, customers, conversations, offers. */
import type { Kysely, Transaction } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { Database, WorkstreamTable, AgentTable, ConversationTable } from './db/schema';

export type Db = Kysely<Database> | Transaction<Database>;
export type Workstream = WorkstreamTable;
export type Agent = AgentTable;
export type Conversation = ConversationTable;

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

	queuedConversations() {
		return this.db
			.selectFrom('conversations')
			.selectAll()
			.where('status', '=', 'queued')
			.where('requested_at', 'is not', null)
			.orderBy('requested_at')
			.execute();
	}
}
