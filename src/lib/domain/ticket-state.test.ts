import { describe, expect, it } from 'vitest';
import {
	TICKET_STATUSES,
	changeTicket,
	canChangeTicket,
	TicketTransitionError,
	type TicketStatus
} from './ticket-state';

const allowed: [TicketStatus, TicketStatus][] = [
	['new', 'open'],
	['new', 'solved'],
	['open', 'pending'],
	['open', 'on-hold'],
	['open', 'solved'],
	['pending', 'open'],
	['pending', 'on-hold'],
	['pending', 'solved'],
	['on-hold', 'open'],
	['on-hold', 'pending'],
	['on-hold', 'solved'],
	['solved', 'open'],
	['solved', 'closed']
];

describe('ticket status', () => {
	it('allows exactly the listed changes', () => {
		for (const from of TICKET_STATUSES)
			for (const to of TICKET_STATUSES) {
				const ok = allowed.some(([f, t]) => f === from && t === to);
				expect(canChangeTicket(from, to), `${from} → ${to}`).toBe(ok);
				if (ok) expect(changeTicket(from, to)).toBe(to);
				else expect(() => changeTicket(from, to)).toThrow(TicketTransitionError);
			}
	});

	it('explains a refused change in words', () => {
		expect(() => changeTicket('closed', 'open')).toThrow('a Closed ticket cannot become Open');
		expect(() => changeTicket('open', 'open')).toThrow('the ticket is already Open');
	});
});
