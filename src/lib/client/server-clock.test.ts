import { describe, expect, it } from 'vitest';
import { learnServerTime, serverNow } from './server-clock';

describe('server clock', () => {
	it('takes the server time as halfway through the request, and ignores replies without one', () => {
		const before = serverNow() - Date.now();
		learnServerTime(undefined, 0, 0);
		learnServerTime('soon', 0, 0);
		expect(Math.abs(serverNow() - Date.now() - before)).toBeLessThanOrEqual(2);
		// Sent at 1000 and answered at 1200 by a server that said 301 100: halfway is 1100,
		// so the server is 300 000 ms (five minutes) ahead of this device.
		learnServerTime(301_100, 1000, 1200);
		expect(serverNow() - Date.now()).toBeGreaterThanOrEqual(299_998);
		expect(serverNow() - Date.now()).toBeLessThanOrEqual(300_002);
		learnServerTime(Date.now() - 60_000, Date.now(), Date.now());
		expect(serverNow() - Date.now()).toBeLessThanOrEqual(-59_998);
	});
});
