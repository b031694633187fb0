/**
 * A ticket's status (SPEC A11, Zendesk's statuses), as the server enforces it. A conversation
 * carries one ticket; its status is what agents work with, and reports read its history.
 *
 * Allowed changes:
 *   new      → open (an agent accepts), solved
 *   open     → pending, on-hold, solved
 *   pending  → open, on-hold, solved
 *   on-hold  → open, pending, solved
 *   solved   → open (reopened: the customer wrote again), closed
 *   closed   → nothing (a later message makes a new ticket)
 */
export const TICKET_STATUSES = ['new', 'open', 'pending', 'on-hold', 'solved', 'closed'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

export const TICKET_STATUS_LABELS: Record<TicketStatus, string> = {
	new: 'New',
	open: 'Open',
	pending: 'Pending',
	'on-hold': 'On-hold',
	solved: 'Solved',
	closed: 'Closed'
};

const ALLOWED: Record<TicketStatus, readonly TicketStatus[]> = {
	new: ['open', 'solved'],
	open: ['pending', 'on-hold', 'solved'],
	pending: ['open', 'on-hold', 'solved'],
	'on-hold': ['open', 'pending', 'solved'],
	solved: ['open', 'closed'],
	closed: []
};

export class TicketTransitionError extends Error {
	constructor(
		readonly from: TicketStatus,
		readonly to: TicketStatus
	) {
		super(
			from === to
				? `the ticket is already ${TICKET_STATUS_LABELS[to]}`
				: `a ${TICKET_STATUS_LABELS[from]} ticket cannot become ${TICKET_STATUS_LABELS[to]}`
		);
		this.name = 'TicketTransitionError';
	}
}

export const canChangeTicket = (from: TicketStatus, to: TicketStatus) => ALLOWED[from].includes(to);

/** The new status, or a TicketTransitionError when the change is not allowed. */
export function changeTicket(from: TicketStatus, to: TicketStatus): TicketStatus {
	if (!canChangeTicket(from, to)) throw new TicketTransitionError(from, to);
	return to;
}

export function isTicketStatus(s: unknown): s is TicketStatus {
	return typeof s === 'string' && (TICKET_STATUSES as readonly string[]).includes(s);
}
