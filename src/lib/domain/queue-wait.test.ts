import { describe, expect, it } from 'vitest';
import { estimateWaitMs, fillText, formatWait, waitingNotice } from './queue-wait';

const min = 60_000;

describe('estimated wait', () => {
	it('is unknown without any history of the past week', () => {
		expect(estimateWaitMs(1, [], 10 * min)).toBeNull();
		expect(estimateWaitMs(1, [{ requestedAt: 0, acceptedAt: min }], 8 * 24 * 3600_000)).toBeNull();
	});
	it('after a quiet hour, takes the mean wait of the latest requests served', () => {
		const now = 3 * 24 * 3600_000;
		const served = [
			{ requestedAt: 0, acceptedAt: 2 * min }, // two days before: the same queue, earlier
			{ requestedAt: now - 5 * 3600_000, acceptedAt: now - 5 * 3600_000 + 4 * min }
		];
		expect(estimateWaitMs(1, served, now)).toBe(3 * min);
		expect(estimateWaitMs(2, served, now)).toBe(6 * min);
	});
	it('uses the mean wait per position with little history', () => {
		const served = [
			{ requestedAt: 0, acceptedAt: 2 * min },
			{ requestedAt: 0, acceptedAt: 4 * min }
		];
		expect(estimateWaitMs(1, served, 10 * min)).toBe(3 * min);
		expect(estimateWaitMs(5, served, 10 * min)).toBe(15 * min);
	});
	it('grows with the position at the rate the queue moves', () => {
		// 6 requests served over the last 30 minutes, each after waiting 10 minutes.
		const now = 60 * min;
		const served = Array.from({ length: 6 }, (_, i) => ({
			requestedAt: now - 30 * min + i * 5 * min - 10 * min,
			acceptedAt: now - 30 * min + i * 5 * min
		}));
		expect(estimateWaitMs(1, served, now)).toBe(5 * min);
		expect(estimateWaitMs(3, served, now)).toBe(15 * min);
	});
});

describe('texts', () => {
	it('formats durations for people', () => {
		expect(formatWait(20_000)).toBe('less than a minute');
		expect(formatWait(min)).toBe('about 1 minute');
		expect(formatWait(14 * min)).toBe('about 14 minutes');
		expect(formatWait(150 * min)).toBe('about 3 hours');
	});
	it('fills placeholders and drops unknown ones', () => {
		expect(fillText('#{position} ({nope})', { position: 2 })).toBe('#2 ()');
	});
	it('uses the workstream texts, falling back to defaults', () => {
		expect(waitingNotice({}, 2, 3 * min)).toBe(
			'You are number 2 in the queue. The estimated wait is about 3 minutes.'
		);
		expect(
			waitingNotice({ position: 'Sei il numero {position} in coda.', wait: ' ' }, 4, null)
		).toBe('Sei il numero 4 in coda.');
	});
});
