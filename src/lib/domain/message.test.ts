import { describe, expect, it } from 'vitest';
import { arrivedLate, byStoredTime, storedBefore } from './message';

describe('storedBefore', () => {
	it('orders by the storing time, then, within one merge, by the writing time', () => {
		expect(storedBefore({ at: 1, time: 9 }, { at: 2, time: 1 })).toBe(true);
		expect(storedBefore({ at: 2, time: 1 }, { at: 1, time: 9 })).toBe(false);
		// One batch written offline: b1 (time 10), a note (11), b2 (12), all stored at 50.
		expect(storedBefore({ at: 50, time: 11 }, { at: 50, time: 12 })).toBe(true);
		expect(storedBefore({ at: 50, time: 11 }, { at: 50, time: 10 })).toBe(false);
		expect(storedBefore({ at: 50, time: 11 }, { at: 50, time: 11 })).toBe(false);
	});
	it('sorts the same way', () => {
		const notes = [
			{ at: 50, time: 12, id: 'c' },
			{ at: 40, time: 30, id: 'a' },
			{ at: 50, time: 11, id: 'b' }
		];
		expect(notes.sort(byStoredTime).map((n) => n.id)).toEqual(['a', 'b', 'c']);
	});
});

describe('arrivedLate', () => {
	it('names the arrival of a message stored a minute or more after it was written', () => {
		expect(arrivedLate({ time: 1_000, at: 1_500 })).toBeNull();
		expect(arrivedLate({ time: 1_000, at: 60_999 })).toBeNull();
		expect(arrivedLate({ time: 1_000, at: 61_000 })).toBe(61_000);
		expect(arrivedLate({ time: 0, at: 3 * 86_400_000 })).toBe(3 * 86_400_000);
	});
});
