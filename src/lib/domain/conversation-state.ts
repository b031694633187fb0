/**
 * Conversation lifecycle as the server enforces it. Routing (queued → offered → active) is
 * all the foundation needs; later states arrive with the routing and wrap-up features.
 */
export const CONVERSATION_STATUSES = ['queued', 'offered', 'active', 'ended'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

export type ConversationEvent =
	| { type: 'offer'; agentId: string }
	| { type: 'withdraw' }
	| { type: 'accept'; agentId: string }
	/** The customer wrote while no agent of an active conversation was working: route it again. */
	| { type: 'handoff' }
	/** An agent transfers it to a queue or another agent: it is routed again. */
	| { type: 'transfer' }
	| { type: 'end' };

export class TransitionError extends Error {
	constructor(
		readonly from: ConversationStatus,
		readonly event: ConversationEvent['type']
	) {
		super(`a conversation that is ${from} cannot take "${event}"`);
		this.name = 'TransitionError';
	}
}

export function transition(from: ConversationStatus, event: ConversationEvent): ConversationStatus {
	switch (event.type) {
		case 'offer':
			if (from === 'queued') return 'offered';
			break;
		case 'withdraw':
			if (from === 'offered') return 'queued';
			break;
		case 'accept':
			if (from === 'offered') return 'active';
			break;
		case 'handoff':
		case 'transfer':
			if (from === 'active') return 'queued';
			break;
		case 'end':
			if (from !== 'ended') return 'ended';
			break;
		default: {
			const never: never = event;
			throw new Error(`unknown event ${String(never)}`);
		}
	}
	throw new TransitionError(from, event.type);
}
