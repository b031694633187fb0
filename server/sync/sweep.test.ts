import { describe, expect, it } from 'vitest';
import { sweepPlan } from './server';

describe('keep-alive sweep plan', () => {
	it('checks each connection once a second with the default intervals, a tenth per tick', () => {
		expect(sweepPlan({ keepAliveMs: 20_000, pingMs: 30_000 })).toEqual({ tickMs: 100, slices: 10 });
	});

	it('checks every tick, more often, when an interval is short', () => {
		expect(sweepPlan({ keepAliveMs: 300, pingMs: 30_000 })).toEqual({ tickMs: 30, slices: 1 });
		expect(sweepPlan({ keepAliveMs: 20_000, pingMs: 200 })).toEqual({ tickMs: 20, slices: 1 });
		expect(sweepPlan({ keepAliveMs: 20_000, pingMs: 1 })).toEqual({ tickMs: 10, slices: 1 });
	});

	it('is at most a tenth of the shorter interval late', () => {
		for (const [keepAliveMs, pingMs] of [
			[20_000, 30_000],
			[5_000, 8_000],
			[1_500, 60_000]
		]) {
			const { tickMs, slices } = sweepPlan({ keepAliveMs, pingMs });
			expect(tickMs * slices).toBeLessThanOrEqual(Math.min(keepAliveMs, pingMs) / 10);
		}
	});
});
