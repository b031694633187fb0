import { describe, expect, it } from 'vitest';
import {
	DEFAULT_TRIGGERS,
	TriggerSchema,
	conditionHolds,
	describeCondition,
	firedTriggers,
	type Trigger,
	type TicketEvent
} from './triggers';

const messaging = { channel: 'messaging' as const };
const email = { channel: 'email' as const };
const endedBy = (by: 'agent' | 'customer' | 'system'): TicketEvent => ({
	type: 'session_ended',
	by
});
const status = (from: string, to: string) => ({ type: 'ticket_status', from, to }) as TicketEvent;

describe('trigger conditions', () => {
	it('session ended, changed to ended by agent', () => {
		const c = { field: 'session_ended', value: 'agent' } as const;
		expect(conditionHolds(c, endedBy('agent'), messaging)).toBe(true);
		expect(conditionHolds(c, endedBy('customer'), messaging)).toBe(false);
		expect(conditionHolds(c, endedBy('system'), messaging)).toBe(false);
		expect(conditionHolds(c, status('open', 'solved'), messaging)).toBe(false);
		const any = { field: 'session_ended', value: 'any' } as const;
		expect(conditionHolds(any, endedBy('customer'), messaging)).toBe(true);
		expect(conditionHolds(any, status('open', 'solved'), messaging)).toBe(false);
	});

	it('ticket status changed to X (a change, not a status it already had)', () => {
		const c = { field: 'ticket_status', value: 'solved' } as const;
		expect(conditionHolds(c, status('open', 'solved'), messaging)).toBe(true);
		expect(conditionHolds(c, status('pending', 'solved'), email)).toBe(true);
		expect(conditionHolds(c, status('solved', 'closed'), messaging)).toBe(false);
		expect(conditionHolds(c, status('solved', 'solved'), messaging)).toBe(false);
		expect(conditionHolds(c, endedBy('agent'), messaging)).toBe(false);
	});

	it('channel is messaging', () => {
		const c = { field: 'channel', value: 'messaging' } as const;
		expect(conditionHolds(c, endedBy('agent'), messaging)).toBe(true);
		expect(conditionHolds(c, endedBy('agent'), email)).toBe(false);
		expect(conditionHolds(c, status('new', 'open'), messaging)).toBe(true);
	});

	it('are said in words', () => {
		expect(describeCondition({ field: 'session_ended', value: 'agent' })).toBe(
			'Messaging session ended, changed to: ended by agent'
		);
		expect(describeCondition({ field: 'ticket_status', value: 'solved' })).toBe(
			'Ticket status changed to solved'
		);
		expect(describeCondition({ field: 'channel', value: 'messaging' })).toBe(
			'Channel is messaging'
		);
	});
});

describe('which triggers fire', () => {
	const t = (id: string, position: number, def: Partial<Trigger>): Trigger => ({
		id,
		position,
		name: id,
		active: true,
		conditions: [{ field: 'ticket_status', value: 'solved' }],
		actions: [{ type: 'add_tag', tag: id }],
		...def
	});

	it('all conditions must hold; inactive triggers never fire; order is by position', () => {
		const triggers = [
			t('b', 2, {}),
			t('a', 1, {}),
			t('off', 0, { active: false }),
			t('email-only', 3, {
				conditions: [
					{ field: 'ticket_status', value: 'solved' },
					{ field: 'channel', value: 'email' }
				]
			})
		];
		expect(firedTriggers(triggers, status('open', 'solved'), messaging).map((x) => x.id)).toEqual([
			'a',
			'b'
		]);
		expect(firedTriggers(triggers, status('open', 'solved'), email).map((x) => x.id)).toEqual([
			'a',
			'b',
			'email-only'
		]);
		expect(firedTriggers(triggers, status('open', 'pending'), messaging)).toEqual([]);
	});

	it('a trigger does not fire on the change it caused', () => {
		const triggers = [t('a', 1, {}), t('b', 2, {})];
		expect(
			firedTriggers(triggers, status('open', 'solved'), messaging, new Set(['a'])).map((x) => x.id)
		).toEqual(['b']);
	});

	it('the default sends CSAT when an agent ends a messaging session, and only then', () => {
		const defaults = DEFAULT_TRIGGERS.map((d, i) => ({ ...d, id: `d${i}`, position: i }));
		expect(firedTriggers(defaults, endedBy('agent'), messaging).map((x) => x.actions)).toEqual([
			[{ type: 'send_csat' }]
		]);
		expect(firedTriggers(defaults, endedBy('customer'), messaging)).toEqual([]);
		expect(firedTriggers(defaults, endedBy('agent'), email)).toEqual([]);
		expect(firedTriggers(defaults, status('open', 'solved'), messaging)).toEqual([]);
	});
});

describe('trigger schema', () => {
	it('accepts a whole trigger', () => {
		const r = TriggerSchema.safeParse({
			name: 'Tag solved',
			conditions: [{ field: 'ticket_status', value: 'solved' }],
			actions: [
				{ type: 'add_tag', tag: 'solved_by_chat' },
				{ type: 'set_status', status: 'closed' },
				{ type: 'reassign_queue', queueId: 'q_1' },
				{ type: 'reassign_agent', agentId: 'ag_1' },
				{ type: 'send_csat' }
			]
		});
		expect(r.success).toBe(true);
		expect(r.data?.active).toBe(true);
	});

	it('refuses triggers that could never tell when to run, and bad values, with messages', () => {
		const fail = (v: unknown) => {
			const r = TriggerSchema.safeParse(v);
			expect(r.success).toBe(false);
			return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
		};
		expect(
			fail({
				name: 'x',
				conditions: [{ field: 'channel', value: 'messaging' }],
				actions: [{ type: 'send_csat' }]
			})
		).toEqual([
			'conditions: Add a "session ended" or "status changed to" condition: a trigger runs when something changes.'
		]);
		expect(fail({ name: '', conditions: [], actions: [] })).toEqual([
			'name: Give the trigger a name.',
			'conditions: Add at least one condition.',
			'actions: Add at least one action.'
		]);
		expect(
			fail({
				name: 'x',
				conditions: [{ field: 'ticket_status', value: 'solved' }],
				actions: [{ type: 'add_tag', tag: 'two words' }]
			})
		).toEqual(['actions.0.tag: Tags use letters, digits, - and _ (no spaces).']);
		expect(
			fail({
				name: 'x',
				conditions: [{ field: 'ticket_status', value: 'solved' }],
				actions: [{ type: 'set_status', status: 'new' }]
			}).length
		).toBe(1);
	});
});
