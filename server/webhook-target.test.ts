import { describe, expect, it } from 'vitest';
import { checkWebhookTarget, nonPublicRange } from './webhook-target';

describe('webhook targets', () => {
	it('names the range of every non-public address and passes public ones', () => {
		expect(nonPublicRange('127.0.0.1')).toBe('loopback');
		expect(nonPublicRange('::1')).toBe('loopback');
		expect(nonPublicRange('10.20.30.40')).toBe('private');
		expect(nonPublicRange('172.16.0.1')).toBe('private');
		expect(nonPublicRange('192.168.1.1')).toBe('private');
		expect(nonPublicRange('169.254.169.254')).toBe('linkLocal');
		expect(nonPublicRange('fe80::1')).toBe('linkLocal');
		expect(nonPublicRange('fd00::1')).toBe('uniqueLocal');
		expect(nonPublicRange('0.0.0.0')).toBe('unspecified');
		expect(nonPublicRange('100.64.0.1')).toBe('carrierGradeNat');
		// IPv4 carried in IPv6 is judged as the IPv4 address.
		expect(nonPublicRange('::ffff:127.0.0.1')).toBe('loopback');
		expect(nonPublicRange('::ffff:7f00:1')).toBe('loopback');
		expect(nonPublicRange('93.184.216.34')).toBeNull();
		expect(nonPublicRange('2606:2800:220:1::1')).toBeNull();
	});

	it('checks addresses typed in the URL, and allows everything with `any`', async () => {
		expect(await checkWebhookTarget('http://127.0.0.1:9000/x', 'public')).toMatch(
			/^127\.0\.0\.1 is a loopback \(this machine\) address/
		);
		expect(await checkWebhookTarget('https://[fd12::5]/x', 'public')).toMatch(
			/^fd12::5 is a private network address/
		);
		expect(await checkWebhookTarget('https://93.184.216.34/x', 'public')).toBeNull();
		expect(await checkWebhookTarget('http://127.0.0.1:9000/x', 'any')).toBeNull();
	});
});
