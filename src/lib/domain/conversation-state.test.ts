import { describe, expect, it } from 'vitest';
import { transition, TransitionError } from './conversation-state';

describe('conversation transitions', () => {
	it('follows queued → offered → active → ended', () => {
		expect(transition('queued', { type: 'offer', agentId: 'a' })).toBe('offered');
		expect(transition('offered', { type: 'accept', agentId: 'a' })).toBe('active');
		expect(transition('active', { type: 'end' })).toBe('ended');
	});
	it('returns a withdrawn offer to the queue', () => {
		expect(transition('offered', { type: 'withdraw' })).toBe('queued');
	});
	it('refuses impossible moves with a typed error', () => {
		expect(() => transition('queued', { type: 'accept', agentId: 'a' })).toThrow(TransitionError);
		expect(() => transition('active', { type: 'offer', agentId: 'a' })).toThrow(
			/cannot take "offer"/
		);
		expect(() => transition('ended', { type: 'end' })).toThrow(TransitionError);
	});
});
