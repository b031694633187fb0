import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock';

describe('ManualClock', () => {
	it('runs due timers in time order while advancing, and not cancelled ones', () => {
		const clock = new ManualClock(0);
		const fired: string[] = [];
		clock.setTimeout(() => fired.push(`b@${clock.now()}`), 200);
		clock.setTimeout(() => fired.push(`a@${clock.now()}`), 100);
		const c = clock.setTimeout(() => fired.push('c'), 150);
		c.cancel();
		clock.advance(50);
		expect(fired).toEqual([]);
		clock.advance(1000);
		expect(fired).toEqual(['a@100', 'b@200']);
		expect(clock.now()).toBe(1050);
	});
	it('runs timers scheduled by timers within the same advance', () => {
		const clock = new ManualClock(0);
		let n = 0;
		const tick = () => {
			n++;
			if (n < 3) clock.setTimeout(tick, 10);
		};
		clock.setTimeout(tick, 10);
		clock.advance(100);
		expect(n).toBe(3);
	});
});
