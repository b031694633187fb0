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
			'Ticket New → Open by Ana'
		);
		expect(describeEvent(ev('ticket_status', { from: 'solved', to: 'closed' }, null))).toBe(
			'Ticket Solved → Closed'
		);
		expect(describeEvent(ev('ended', {}, null))).toBe('Ended by Parley');
	});
	it('says the session, email, CSAT and trigger events as the ticket history shows them', () => {
		expect(describeEvent(ev('session_ended', { role: 'agent' }))).toBe(
			'Messaging session ended — ended by agent (Ana)'
		);
		expect(describeEvent(ev('session_ended', { role: 'system' }, null))).toBe(
			'Messaging session ended — ended by Parley'
		);
		expect(describeEvent(ev('email_sent', { to: 'd@example.com' }))).toBe(
			'Ana replied by email to d@example.com'
		);
		expect(describeEvent(ev('csat_sent', { via: 'widget' }, null))).toBe(
			'CSAT survey sent in the widget'
		);
		expect(describeEvent(ev('csat_sent', { via: 'email', to: 'd@x.io' }, null))).toBe(
			'CSAT survey sent by email to d@x.io'
		);
		expect(describeEvent(ev('csat_received', { rating: 4, comment: 'Quick' }, 'Dana'))).toBe(
			'CSAT: 4/5 — “Quick”'
		);
		expect(describeEvent(ev('tag_added', { tag: 'vip' }, 'Trigger: VIP'))).toBe(
			'Tag added: vip by Trigger: VIP'
		);
	});
});
