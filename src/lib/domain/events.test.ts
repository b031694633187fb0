import { describe, expect, it } from 'vitest';
import { describeEvent, EVENT_TYPES, type ConversationEventView } from './events';

const ev = (type: ConversationEventView['type'], data = {}, actorName: string | null = 'Ana') => ({
	id: 'e',
	type,
	actorName,
	data,
	at: 0
});

describe('describeEvent', () => {
	it('says every event type in words', () => {
		for (const t of EVENT_TYPES) expect(describeEvent(ev(t)).length).toBeGreaterThan(5);
	});
	it('names who did what', () => {
		expect(describeEvent(ev('transferred', { to: 'queue General' }))).toBe(
			'Transferred by Ana to queue General'
		);
		expect(describeEvent(ev('wrap_up', { reason: 'Resolved' }))).toBe('Wrap-up: Resolved');
		expect(describeEvent(ev('ticket_status', { from: 'new', to: 'open' }))).toBe(
			'Ticket New → Open'
		);
		expect(describeEvent(ev('ended', {}, null))).toBe('Ended by Parley');
	});
});
