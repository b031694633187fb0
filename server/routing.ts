/**
 * Routing: which agent gets the next offer. The foundation ships the simplest rule
 * ("first Available agent with room, idle longest first"); the full engine (skills, lowest
 * load, RONA) replaces `FirstAvailableRouter` behind the same interface.
 */
import { sql } from 'kysely';
import type { Conversation, Db } from './repo';

export interface Router {
	/** The agent to offer `conversation` to, or null to leave it queued. Runs inside the routing lock. */
	pickAgent(db: Db, conversation: Conversation): Promise<string | null>;
}

/** Load counts active conversations plus pending offers (an offer reserves a unit of capacity). */
export class FirstAvailableRouter implements Router {
	async pickAgent(db: Db, conversation: Conversation): Promise<string | null> {
		const row = await db
			.selectFrom('agents')
			.select('agents.id')
			.where('agents.presence', '=', 'Available')
			.where((eb) =>
				eb(
					sql<number>`(select count(*) from participants p join conversations c on c.id = p.conversation_id where p.agent_id = agents.id and c.status = 'active')
						 + (select count(*) from offers o where o.agent_id = agents.id and o.status = 'pending')`,
					'<',
					eb.ref('agents.capacity')
				)
			)
			.where((eb) =>
				eb.not(
					eb.exists(
						eb
							.selectFrom('offers')
							.select('offers.id')
							.whereRef('offers.agent_id', '=', 'agents.id')
							.where('offers.conversation_id', '=', conversation.id)
							.where('offers.status', '=', 'pending')
					)
				)
			)
			.orderBy('agents.presence_since')
			.orderBy('agents.id')
			.executeTakeFirst();
		return row?.id ?? null;
	}
}
