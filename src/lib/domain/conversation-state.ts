/**
 * Conversation lifecycle as the server enforces it (the routing side of a ticket):
 *
 *   queued ──offer──▶ offered ──accept──▶ active ──end──▶ ended
 *     ▲                 │                  │  │
 *     └────withdraw─────┘                  │  └─wait──▶ waiting (persistent chat, parked)
 *     ▲                                    │              │
 *     └──────── handoff / transfer ────────┘              │
 *     (take-back: the agent who transferred it takes it back, queued/offered ──▶ active)
 *     └──────────────────── resume (the customer wrote) ──┘
 *                                          ▲              │
 *                                          └── reopen ────┘ (its agent takes it back)
 *
 * `wait` parks a conversation without using capacity: A8's Waiting, and a ticket set to a
 * status that releases capacity in its conversation style (Solved; Pending and On-hold in
 * social messaging). `ended` means the messaging session is over: the customer can no longer
 * write into this conversation (a new message starts a new one).
 *
 * `end` is allowed from every state but `ended`: a live-chat customer may leave while queued.
 */
export const CONVERSATION_STATUSES = ['queued', 'offered', 'active', 'waiting', 'ended'] as const;
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

/** What agents read for each status (the header and the details panel). */
export const CONVERSATION_STATUS_LABELS: Record<ConversationStatus, string> = {
	queued: 'in the queue',
	offered: 'being offered',
	active: 'active',
	waiting: 'waiting for the customer',
	ended: 'session ended'
};

/** The label of a status, or the value itself if it is not one (an older document). */
export const conversationStatusLabel = (status: string | undefined) =>
	status !== undefined && status in CONVERSATION_STATUS_LABELS
		? CONVERSATION_STATUS_LABELS[status as ConversationStatus]
		: (status ?? '');

export type ConversationEvent =
	| { type: 'offer'; agentId: string }
	| { type: 'withdraw' }
	| { type: 'accept'; agentId: string }
	/** The customer wrote while no agent of an active conversation was working: route it again. */
	| { type: 'handoff' }
	/** An agent transfers it to a queue or another agent: it is routed again. */
	| { type: 'transfer' }
	/** The agent who transferred it takes it back before anyone accepted (the transfer is off). */
	| { type: 'take-back' }
	/** An agent parks a persistent conversation until the customer writes (SPEC A8). */
	| { type: 'wait' }
	/** The customer wrote into a parked conversation: it is routed again. */
	| { type: 'resume' }
	/** The agent who holds a parked conversation takes it back (sets its ticket Open). */
	| { type: 'reopen' }
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
		case 'take-back':
			if (from === 'queued' || from === 'offered') return 'active';
			break;
		case 'wait':
			if (from === 'active') return 'waiting';
			break;
		case 'resume':
			if (from === 'waiting') return 'queued';
			break;
		case 'reopen':
			if (from === 'waiting') return 'active';
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
