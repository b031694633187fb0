/**
 * A messaging session (SPEC A9, C7; Zendesk's definition in seed 003): the real-time exchange
 * between the customer and agents inside one conversation. A conversation has one session.
 * It is active from the start; once ended it stays ended. The customer can no longer write
 * into that conversation: writing again starts a new conversation, with a new session and a
 * new ticket.
 *
 *   active ──end (by agent | by customer | by the system when the ticket closes)──▶ ended
 */
export const SESSION_STATES = ['active', 'ended'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

/** Who ended the session: an agent (End session, or End in live chat), the customer, or Parley. */
export const SESSION_ENDERS = ['agent', 'customer', 'system'] as const;
export type SessionEnder = (typeof SESSION_ENDERS)[number];

export class SessionTransitionError extends Error {
	readonly code = 'session_ended';
	constructor(readonly from: SessionState) {
		super('The messaging session has already ended.');
		this.name = 'SessionTransitionError';
	}
}

/** The state after ending, or a SessionTransitionError when it had already ended. */
export function endSession(from: SessionState): SessionState {
	if (from !== 'active') throw new SessionTransitionError(from);
	return 'ended';
}

export function isSessionState(s: unknown): s is SessionState {
	return typeof s === 'string' && (SESSION_STATES as readonly string[]).includes(s);
}

/** The session as the agent's ticket panel says it: "Active" or "Ended by agent (Ana)". */
export function describeSession(
	state: SessionState,
	endedBy: SessionEnder | null,
	name: string | null
): string {
	if (state === 'active') return 'Active';
	const by = endedBy === 'system' ? 'Parley' : (endedBy ?? 'unknown');
	return `Ended by ${by}${name && endedBy !== 'system' ? ` (${name})` : ''}`;
}
