import { describe, expect, it } from 'vitest';
import {
	CONVERSATION_STYLES,
	SOLVED_TO_CLOSED,
	defaultStyle,
	holdsCapacity,
	isConversationStyle,
	onCustomerMessage,
	solvedDelayProblem,
	solvedToClosedMs
} from './conversation-style';
import { TICKET_STATUSES } from './ticket-state';

const DAY = 24 * 60 * 60_000;

describe('conversation styles', () => {
	it('defaults: live closes at once, returning after a day, social after 4 days', () => {
		expect(solvedToClosedMs('live', null)).toBe(0);
		expect(solvedToClosedMs('returning', null)).toBe(DAY);
		expect(solvedToClosedMs('social', null)).toBe(4 * DAY);
		expect(solvedToClosedMs('social', 10 * DAY)).toBe(10 * DAY);
	});

	it('social messaging allows 1 to 28 days, and says so', () => {
		expect(solvedDelayProblem('social', DAY)).toBeNull();
		expect(solvedDelayProblem('social', 28 * DAY)).toBeNull();
		expect(solvedDelayProblem('social', DAY - 1)).toBe(
			'Social messaging: Solved → Closed must be between 1 day and 28 days.'
		);
		expect(solvedDelayProblem('social', 29 * DAY)).not.toBeNull();
		expect(solvedDelayProblem('social', 1.5)).not.toBeNull();
	});

	it('live chat allows immediately up to an hour; returning needs a window', () => {
		expect(solvedDelayProblem('live', 0)).toBeNull();
		expect(solvedDelayProblem('live', 5 * 60_000)).toBeNull();
		expect(solvedDelayProblem('live', 2 * 60 * 60_000)).toBe(
			'Live chat: Solved → Closed must be between 0 minutes and 60 minutes.'
		);
		expect(solvedDelayProblem('returning', 0)).not.toBeNull();
		expect(solvedDelayProblem('returning', 2 * DAY)).toBeNull();
	});

	it('capacity: Solved releases it everywhere; Pending and On-hold only in social messaging', () => {
		const table = Object.fromEntries(
			CONVERSATION_STYLES.map((s) => [
				s,
				TICKET_STATUSES.filter((t) => holdsCapacity(s, t)).join(',')
			])
		);
		expect(table).toEqual({
			live: 'new,open,pending,on-hold',
			returning: 'new,open,pending,on-hold',
			social: 'new,open'
		});
	});

	it('a customer message reopens Pending, On-hold and Solved; after Closed it is a new ticket', () => {
		expect(TICKET_STATUSES.map((t) => [t, onCustomerMessage(t)])).toEqual([
			['new', 'continue'],
			['open', 'continue'],
			['pending', 'reopen'],
			['on-hold', 'reopen'],
			['solved', 'reopen'],
			['closed', 'new-ticket']
		]);
	});

	it('every style has a default inside its own range, and modes have default styles', () => {
		for (const s of CONVERSATION_STYLES)
			expect(solvedDelayProblem(s, SOLVED_TO_CLOSED[s].defaultMs)).toBeNull();
		expect(defaultStyle('live')).toBe('live');
		expect(defaultStyle('persistent')).toBe('social');
		expect(isConversationStyle('social')).toBe(true);
		expect(isConversationStyle('email')).toBe(false);
	});
});
