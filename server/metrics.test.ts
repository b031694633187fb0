import { describe, expect, it } from 'vitest';
import { createMetrics, metricsAccess } from './metrics';

const req = (remoteAddress: string, headers: Record<string, string> = {}) => ({
	socket: { remoteAddress },
	headers: { host: 'localhost:3000', ...headers }
});

describe('metricsAccess without a token', () => {
	it('serves a request made on this machine to this machine', () => {
		expect(metricsAccess(req('127.0.0.1'), undefined)).toBeNull();
		expect(metricsAccess(req('::1', { host: '[::1]:3000' }), undefined)).toBeNull();
		expect(metricsAccess(req('::ffff:127.0.0.1', { host: '127.0.0.1' }), undefined)).toBeNull();
	});

	it('refuses other addresses', () => {
		for (const address of ['10.0.0.5', '::ffff:10.0.0.5', '192.168.1.2', '2001:db8::1', ''])
			expect(metricsAccess(req(address), undefined)).toBe('remote');
	});

	it('refuses what a proxy forwarded, even from loopback', () => {
		for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip'])
			expect(metricsAccess(req('127.0.0.1', { [header]: '203.0.113.9' }), undefined)).toBe(
				'remote'
			);
	});

	it('refuses a public host name arriving on loopback (a balancer, DNS rebinding)', () => {
		for (const host of ['chat.example.com', 'chat.example.com:3000', 'localhost.evil.test', ''])
			expect(metricsAccess(req('127.0.0.1', { host }), undefined)).toBe('remote');
	});
});

describe('metricsAccess with a token', () => {
	const token = 'scrape-token-0123456789';
	it('takes the bearer token from anywhere, scheme in any case', () => {
		expect(metricsAccess(req('10.0.0.5', { authorization: `Bearer ${token}` }), token)).toBeNull();
		expect(metricsAccess(req('10.0.0.5', { authorization: `bearer ${token}` }), token)).toBeNull();
	});
	it('refuses a missing or wrong token, even from loopback', () => {
		expect(metricsAccess(req('127.0.0.1'), token)).toBe('token');
		expect(metricsAccess(req('127.0.0.1', { authorization: `Bearer ${token}x` }), token)).toBe(
			'token'
		);
		expect(metricsAccess(req('127.0.0.1', { authorization: token }), token)).toBe('token');
	});
});

describe('createMetrics', () => {
	it('keeps instances apart and shares Node’s own metrics', async () => {
		const a = createMetrics({ connections: () => 3, documents: () => 7 });
		const b = createMetrics({ connections: () => 1, documents: () => 0 });
		a.merged('immediate', 2, 1);
		a.committed(0.003, 5);
		const text = await a.registry.metrics();
		expect(text).toContain('parley_websocket_connections 3');
		expect(text).toContain('parley_documents_in_memory 7');
		expect(text).toContain('parley_messages_merged_total{path="immediate"} 2');
		expect(text).toContain('parley_messages_merged_total{path="deferred"} 0');
		expect(text).toContain('parley_outbox_entries_rejected_total 1');
		expect(text).toContain('parley_store_commit_seconds_bucket{le="0.004"} 1');
		expect(text).toContain('parley_store_commit_seconds_bucket{le="0.002"} 0');
		expect(text).toContain('parley_store_updates_total 5');
		expect(text).toContain('process_cpu_user_seconds_total');
		const other = await b.registry.metrics();
		expect(other).toContain('parley_websocket_connections 1');
		expect(other).toContain('parley_messages_merged_total{path="immediate"} 0');
		expect(other).toContain('process_cpu_user_seconds_total');
	});
});
