/**
 * Ticket triggers (SPEC M2, C8; Zendesk's business rules as seed 003 describes them). A trigger
 * runs its actions when an event on a ticket meets all of its conditions. The server evaluates
 * every trigger once per event; this module is the pure part: the schema, the conditions and
 * which triggers an event fires.
 *
 * Conditions (all must hold; at least one must be about the event itself, a "changed to"):
 *   - session_ended  — the messaging session ended, changed to "ended by agent" (or customer,
 *                      or Parley, or anyone);
 *   - ticket_status  — the ticket status changed to X;
 *   - channel        — the ticket's channel is messaging (or email).
 * Actions: send the CSAT survey, set a status, reassign to a queue or an agent, add a tag.
 */
import { z } from 'zod';
import { TICKET_STATUSES, type TicketStatus } from './ticket-state';
import { SESSION_ENDERS, type SessionEnder } from './session-state';

/** Where a ticket came from: the messaging widget, or email (a message left outside hours). */
export const CHANNELS = ['messaging', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];

export const TriggerConditionSchema = z.discriminatedUnion('field', [
	z.object({
		field: z.literal('session_ended'),
		/** "Changed to: ended by <who>"; `any` matches every way a session ends. */
		value: z.enum([...SESSION_ENDERS, 'any'])
	}),
	z.object({ field: z.literal('ticket_status'), value: z.enum(TICKET_STATUSES) }),
	z.object({ field: z.literal('channel'), value: z.enum(CHANNELS) })
]);
export type TriggerCondition = z.infer<typeof TriggerConditionSchema>;

export const TriggerActionSchema = z.discriminatedUnion('type', [
	z.object({ type: z.literal('send_csat') }),
	z.object({
		type: z.literal('set_status'),
		/** A trigger cannot make a ticket New again. */
		status: z.enum(['open', 'pending', 'on-hold', 'solved', 'closed'])
	}),
	z.object({ type: z.literal('reassign_queue'), queueId: z.string().min(1).max(64) }),
	z.object({ type: z.literal('reassign_agent'), agentId: z.string().min(1).max(64) }),
	z.object({
		type: z.literal('add_tag'),
		tag: z
			.string()
			.trim()
			.min(1, 'A tag cannot be empty.')
			.max(40, 'Keep tags under 40 characters.')
			.regex(/^[\p{L}\p{N}_-]+$/u, 'Tags use letters, digits, - and _ (no spaces).')
	})
]);
export type TriggerAction = z.infer<typeof TriggerActionSchema>;

export const TriggerSchema = z.object({
	name: z.string().trim().min(1, 'Give the trigger a name.').max(120),
	active: z.boolean().default(true),
	conditions: z
		.array(TriggerConditionSchema)
		.min(1, 'Add at least one condition.')
		.max(10)
		.refine(
			(cs) => cs.length === 0 || cs.some((c) => c.field !== 'channel'),
			'Add a "session ended" or "status changed to" condition: a trigger runs when something changes.'
		),
	actions: z.array(TriggerActionSchema).min(1, 'Add at least one action.').max(10)
});
export type TriggerInput = z.input<typeof TriggerSchema>;
export type TriggerDefinition = z.infer<typeof TriggerSchema>;

export interface Trigger extends TriggerDefinition {
	id: string;
	/** Lower runs first. */
	position: number;
}

/** An event on a ticket that triggers are evaluated for. */
export type TicketEvent =
	| { type: 'session_ended'; by: SessionEnder }
	| { type: 'ticket_status'; from: TicketStatus; to: TicketStatus };

/** What conditions may look at besides the event. */
export interface TicketFacts {
	channel: Channel;
}

export function conditionHolds(c: TriggerCondition, event: TicketEvent, facts: TicketFacts) {
	switch (c.field) {
		case 'session_ended':
			return event.type === 'session_ended' && (c.value === 'any' || c.value === event.by);
		case 'ticket_status':
			return event.type === 'ticket_status' && event.to === c.value && event.from !== c.value;
		case 'channel':
			return facts.channel === c.value;
	}
}

export function triggerMatches(t: TriggerDefinition, event: TicketEvent, facts: TicketFacts) {
	return t.active && t.conditions.every((c) => conditionHolds(c, event, facts));
}

/**
 * The triggers this event fires, in order. `already` holds triggers that caused the event (a
 * status a trigger set): a trigger never fires again on the change it made itself, so two
 * triggers cannot bounce a ticket between statuses for ever.
 */
export function firedTriggers<T extends Trigger>(
	triggers: readonly T[],
	event: TicketEvent,
	facts: TicketFacts,
	already: ReadonlySet<string> = new Set()
): T[] {
	return [...triggers]
		.sort((a, b) => a.position - b.position || a.id.localeCompare(b.id))
		.filter((t) => !already.has(t.id) && triggerMatches(t, event, facts));
}

/** The trigger every install starts with (SPEC M2): CSAT when an agent ends the session. */
export const DEFAULT_TRIGGERS: TriggerDefinition[] = [
	{
		name: 'Send CSAT when a messaging session is ended by an agent',
		active: true,
		conditions: [
			{ field: 'session_ended', value: 'agent' },
			{ field: 'channel', value: 'messaging' }
		],
		actions: [{ type: 'send_csat' }]
	}
];

/** A condition in words, for the admin list and the ticket history. */
export function describeCondition(c: TriggerCondition): string {
	switch (c.field) {
		case 'session_ended':
			return `Messaging session ended, changed to: ended by ${c.value === 'any' ? 'anyone' : c.value === 'system' ? 'Parley' : c.value}`;
		case 'ticket_status':
			return `Ticket status changed to ${c.value}`;
		case 'channel':
			return `Channel is ${c.value}`;
	}
}
