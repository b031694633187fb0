import { describe, expect, it } from 'vitest';
import {
	SESSION_STATES,
	SessionTransitionError,
	describeSession,
	endSession,
	isSessionState
} from './session-state';

describe('messaging session', () => {
	it('ends once: active → ended, and ending an ended session is a typed error', () => {
		expect(endSession('active')).toBe('ended');
		const err = (() => {
			try {
				endSession('ended');
			} catch (e) {
				return e;
			}
		})();
		expect(err).toBeInstanceOf(SessionTransitionError);
		expect((err as SessionTransitionError).code).toBe('session_ended');
		expect((err as SessionTransitionError).from).toBe('ended');
	});

	it('knows its states', () => {
		expect(SESSION_STATES).toEqual(['active', 'ended']);
		expect(isSessionState('ended')).toBe(true);
		expect(isSessionState('closed')).toBe(false);
	});

	it('says who ended it', () => {
		expect(describeSession('active', null, null)).toBe('Active');
		expect(describeSession('ended', 'agent', 'Ana')).toBe('Ended by agent (Ana)');
		expect(describeSession('ended', 'customer', 'Dana')).toBe('Ended by customer (Dana)');
		expect(describeSession('ended', 'system', null)).toBe('Ended by Parley');
	});
});
