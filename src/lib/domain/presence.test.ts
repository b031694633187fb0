import { describe, expect, it } from 'vitest';
import { presenceHint } from './presence';

describe('presenceHint', () => {
	it('says why no chats arrive and what becomes of the ones held', () => {
		expect(presenceHint('Available', undefined, false)).toBe('Waiting for customers…');
		expect(presenceHint('Available', undefined, true)).toBeNull();
		expect(presenceHint('Available', undefined, true, { load: 2, capacity: 3 })).toBeNull();
		expect(presenceHint('Available', undefined, true, { load: 3, capacity: 3 })).toBe(
			'You are at capacity (3 of 3 chats): new chats wait until one of yours ends.'
		);
		expect(presenceHint('RONA', undefined, false)).toBe(
			'You did not answer an offer in time (RONA). Set Available to receive chats again.'
		);
		expect(presenceHint('RONA', undefined, true)).toMatch(/Your conversations stay yours\.$/);
		expect(presenceHint('Away', undefined, true)).toBe(
			'No new chats while Away; your conversations stay yours.'
		);
		expect(presenceHint('Busy', undefined, false)).toBe('Set Available to receive chats.');
		expect(presenceHint('Offline', undefined, true)).toMatch(/goes to another agent/);
	});

	it('tells an agent whom the server set Offline after a lost connection', () => {
		for (const held of [false, true])
			expect(presenceHint('Offline', 'disconnected', held)).toMatch(
				/^You were set Offline: no workspace was connected for over a minute/
			);
	});
});
