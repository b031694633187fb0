/**
 * Conversation styles (SPEC A11; Zendesk's styles in seed 004), chosen per workstream. They
 * decide what Solved, Pending and On-hold do to an agent's capacity, how long a Solved ticket
 * waits before it is Closed, and what a customer's message does to the ticket.
 *
 * - live      — Solved → Closed at once, or after a few minutes. A customer who comes back
 *               starts a new ticket.
 * - returning — live chat with returning customers: Solved waits for a window; a message in
 *               it reopens the same ticket (with the same agent under keep-the-same-agent).
 * - social    — long-running: Pending, On-hold and Solved release the agent's capacity, a reply
 *               makes the ticket Open again and takes capacity; Solved → Closed after 4 days by
 *               default (1 to 28).
 *
 * In every style a reply after Closed starts a new ticket (a new conversation).
 */
import type { TicketStatus } from './ticket-state';

export const CONVERSATION_STYLES = ['live', 'returning', 'social'] as const;
export type ConversationStyle = (typeof CONVERSATION_STYLES)[number];

export const STYLE_LABELS: Record<ConversationStyle, string> = {
	live: 'Live chat',
	returning: 'Live chat with returning customers',
	social: 'Social messaging'
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** How long a Solved ticket waits before it is Closed, per style: allowed range and default. */
export const SOLVED_TO_CLOSED: Record<
	ConversationStyle,
	{ minMs: number; maxMs: number; defaultMs: number; unit: 'minutes' | 'hours' | 'days' }
> = {
	live: { minMs: 0, maxMs: 60 * MINUTE, defaultMs: 0, unit: 'minutes' },
	returning: { minMs: 5 * MINUTE, maxMs: 28 * DAY, defaultMs: 24 * HOUR, unit: 'hours' },
	social: { minMs: DAY, maxMs: 28 * DAY, defaultMs: 4 * DAY, unit: 'days' }
};

export function isConversationStyle(s: unknown): s is ConversationStyle {
	return typeof s === 'string' && (CONVERSATION_STYLES as readonly string[]).includes(s);
}

/** The delay to use: the workstream's own, or the style's default when it has none. */
export function solvedToClosedMs(style: ConversationStyle, configured: number | null): number {
	return configured ?? SOLVED_TO_CLOSED[style].defaultMs;
}

/** Null when `ms` is allowed for the style, else the message an admin sees beside the field. */
export function solvedDelayProblem(style: ConversationStyle, ms: number): string | null {
	const { minMs, maxMs, unit } = SOLVED_TO_CLOSED[style];
	if (Number.isInteger(ms) && ms >= minMs && ms <= maxMs) return null;
	const per = unit === 'minutes' ? MINUTE : unit === 'hours' ? HOUR : DAY;
	const fmt = (v: number) => {
		const n = +(v / per).toFixed(2);
		return `${n} ${n === 1 ? unit.slice(0, -1) : unit}`;
	};
	return `${STYLE_LABELS[style]}: Solved → Closed must be between ${fmt(minMs)} and ${fmt(maxMs)}.`;
}

/**
 * Whether a ticket in `status` still takes one unit of the agent's messaging capacity.
 * Solved never does; Pending and On-hold release it in social messaging only.
 */
export function holdsCapacity(style: ConversationStyle, status: TicketStatus): boolean {
	switch (status) {
		case 'new':
		case 'open':
			return true;
		case 'pending':
		case 'on-hold':
			return style !== 'social';
		case 'solved':
		case 'closed':
			return false;
	}
}

/**
 * What a customer's message does to the ticket: carry on, reopen it (→ Open; it takes capacity
 * again), or — after Closed — nothing here: the message belongs in a new conversation.
 */
export function onCustomerMessage(status: TicketStatus): 'continue' | 'reopen' | 'new-ticket' {
	switch (status) {
		case 'new':
		case 'open':
			return 'continue';
		case 'pending':
		case 'on-hold':
		case 'solved':
			return 'reopen';
		case 'closed':
			return 'new-ticket';
	}
}

/** The style a workstream gets when none was chosen: live chat for live, social for persistent. */
export const defaultStyle = (mode: 'live' | 'persistent'): ConversationStyle =>
	mode === 'live' ? 'live' : 'social';
