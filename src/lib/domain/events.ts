import { TICKET_STATUS_LABELS, isTicketStatus } from './ticket-state';
import type { SessionEnder, SessionState } from './session-state';
import type { Channel } from './triggers';
import type { ConversationStyle } from './conversation-style';

/**
 * A conversation's event history (SPEC A3): what the agent's side panel lists and what
 * reports are computed from. Written by the server only; `describeEvent` is how the UI says it.
 */
export const EVENT_TYPES = [
	'requested',
	'offered',
	'declined',
	'timed_out',
	'accepted',
	'transferred',
	'transfer_cancelled',
	'conference_requested',
	'conference_joined',
	'conference_left',
	'conference_ended',
	'waiting',
	'resumed',
	'ended',
	'wrap_up',
	'ticket_status',
	'session_ended',
	'email_sent',
	'csat_sent',
	'csat_received',
	'tag_added',
	'reassigned',
	'first_response',
	'note_added'
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface ConversationEventView {
	id: string;
	type: EventType;
	/** Display name of whoever caused it (agent or customer), if anyone. */
	actorName: string | null;
	data: Record<string, string | number | null>;
	at: number;
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
const label = (v: unknown) => (isTicketStatus(v) ? TICKET_STATUS_LABELS[v] : str(v));

/** One line of history, in words. */
export function describeEvent(e: ConversationEventView): string {
	const who = e.actorName ?? 'Parley';
	const d = e.data;
	switch (e.type) {
		case 'requested':
			return `Requested in ${str(d.queue) || 'the queue'}`;
		case 'offered':
			return `Offered to ${str(d.agent)}`;
		case 'declined':
			return `Declined by ${str(d.agent)}`;
		case 'timed_out':
			return `Not answered in time by ${str(d.agent)}`;
		case 'accepted':
			return `Accepted by ${who}`;
		case 'transferred':
			return `Transferred by ${who} to ${str(d.to)}`;
		case 'transfer_cancelled':
			return `${who} took it back (transfer cancelled)`;
		case 'conference_requested':
			return `${who} invited ${str(d.agent)} to a conference`;
		case 'conference_joined':
			return `${who} joined the conference`;
		case 'conference_left':
			return `${str(d.agent)} left the conference`;
		case 'conference_ended':
			return `${who} ended the conference`;
		case 'waiting':
			return `${who} set it to Waiting`;
		case 'resumed':
			return 'The customer wrote again';
		case 'ended':
			return `Ended by ${who}`;
		case 'wrap_up':
			return `Wrap-up: ${str(d.reason)}`;
		case 'ticket_status':
			return `Ticket ${label(d.from)} → ${label(d.to)}${e.actorName ? ` by ${e.actorName}` : ''}`;
		case 'session_ended':
			return `Messaging session ended — ended by ${d.role === 'system' ? 'Parley' : `${str(d.role)}${e.actorName ? ` (${e.actorName})` : ''}`}`;
		case 'email_sent':
			return `${who} replied by email to ${str(d.to)}`;
		case 'csat_sent':
			return `CSAT survey sent ${d.via === 'email' ? `by email to ${str(d.to)}` : 'in the widget'}`;
		case 'csat_received':
			return `CSAT: ${str(d.rating)}/5${d.comment ? ` — “${str(d.comment)}”` : ''}`;
		case 'tag_added':
			return `Tag added: ${str(d.tag)}${e.actorName ? ` by ${e.actorName}` : ''}`;
		case 'reassigned':
			return `Reassigned to ${str(d.to)}${e.actorName ? ` by ${e.actorName}` : ''}`;
		case 'first_response':
			return `First reply by ${who}`;
		case 'note_added':
			return `Internal note added by ${who}`;
		default: {
			const never: never = e.type;
			return String(never);
		}
	}
}

/** The agent side panel's data (GET /api/agent/conversations/:id). Never sent to customers. */
export interface ConversationDetails {
	customer: {
		name: string;
		email: string | null;
		authenticated: boolean;
		past: {
			id: string;
			status: string;
			ticketStatus: string;
			createdAt: number;
			wrapUp: string | null;
		}[];
	};
	ticket: {
		id: string;
		status: string;
		conversationStatus: string;
		mode: 'live' | 'persistent';
		workstream: string;
		queue: string;
		assignee: string | null;
		participants: string[];
		wrapUp: string | null;
		wrapUpReasons: string[];
		/** Where the ticket came from: the messaging widget, or email (left outside hours). */
		channel: Channel;
		style: ConversationStyle;
		tags: string[];
		solvedAt: number | null;
		closedAt: number | null;
		csat: {
			requestedAt: number | null;
			rating: number | null;
			comment: string | null;
			at: number | null;
		};
	};
	/** The messaging session (SPEC A9): active, or ended and by whom. */
	session: {
		state: SessionState;
		endedBy: SessionEnder | null;
		endedByName: string | null;
		endedAt: number | null;
	};
	events: ConversationEventView[];
}
