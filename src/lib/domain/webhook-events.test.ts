import { describe, expect, it } from 'vitest';
import {
	WEBHOOK_RETRY_DELAYS_MS,
	parseSignatureHeader,
	retryDelay,
	signedPayload,
	webhookEventFor
} from './webhook-events';

describe('webhook events', () => {
	it('maps history events to the four subscribable events and nothing else', () => {
		expect(webhookEventFor('requested')).toBe('conversation.started');
		expect(webhookEventFor('session_ended')).toBe('session.ended');
		expect(webhookEventFor('ticket_status')).toBe('ticket.status_changed');
		expect(webhookEventFor('csat_received')).toBe('csat.received');
		expect(webhookEventFor('offered')).toBeNull();
		expect(webhookEventFor('nonsense')).toBeNull();
	});

	it('backs off after each failed attempt, then gives up', () => {
		expect(retryDelay(1)).toBe(10_000);
		expect(retryDelay(2)).toBe(60_000);
		expect(retryDelay(WEBHOOK_RETRY_DELAYS_MS.length)).toBe(6 * 3600_000);
		expect(retryDelay(WEBHOOK_RETRY_DELAYS_MS.length + 1)).toBeNull();
		expect(retryDelay(0)).toBeNull();
	});

	it('parses the signature header and forms the signed text', () => {
		expect(parseSignatureHeader('t=1700000000,v1=abc,v1=def')).toEqual({
			t: 1700000000,
			v1: ['abc', 'def']
		});
		expect(parseSignatureHeader('v1=abc')).toBeNull();
		expect(parseSignatureHeader('t=x,v1=abc')).toBeNull();
		expect(parseSignatureHeader(undefined)).toBeNull();
		expect(signedPayload(12, '{"a":1}')).toBe('12.{"a":1}');
	});
});
