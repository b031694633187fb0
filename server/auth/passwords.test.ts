import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './passwords';

describe('passwords', () => {
	it('hashes with scrypt and a salt, and verifies', async () => {
		const a = await hashPassword('parley');
		const b = await hashPassword('parley');
		expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
		expect(a).not.toBe(b); // salted
		expect(a).not.toContain('parley');
		expect(await verifyPassword('parley', a)).toBe(true);
		expect(await verifyPassword('parlez', a)).toBe(false);
		expect(await verifyPassword('parley', 'plain')).toBe(false);
	});
});
