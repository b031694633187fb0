/**
 * A workstream's settings as the admin console edits them (SPEC M1): one schema used by the
 * console's form and by the server, which refuses invalid settings with a message per field.
 * Cross-field rules live here too: a persistent workstream needs signed-in customers (C1),
 * the Solved → Closed delay must suit the style (A11), operating hours must not overlap (R6).
 */
import { z } from 'zod';
import { CONVERSATION_STYLES, solvedDelayProblem } from './conversation-style';
import { WEEKDAYS, validateHours, type OperatingHours } from './hours';

export const DEFAULT_COLOR = '#2563eb';
export const DEFAULT_WRAP_UP_REASONS = [
	'Resolved',
	'Information given',
	'Follow-up needed',
	'Not resolved'
];
export const MAX_KEEP_WAIT_MS = 24 * 3600_000;

const text = (max: number, empty: string) =>
	z.string({ error: empty }).trim().min(1, empty).max(max, `Keep it under ${max} characters.`);

/** An override of a waiting text; empty means the default. */
const optionalText = z
	.string()
	.trim()
	.max(300, 'Keep it under 300 characters.')
	.nullable()
	.optional()
	.transform((v) => (v ? v : null));

const IntervalSchema = z.tuple([z.string(), z.string()]);
export const HoursSchema = z.object({
	timeZone: z.string().min(1, 'Choose a time zone.'),
	weekly: z.partialRecord(z.enum(WEEKDAYS), z.array(IntervalSchema).max(8))
});

export const WorkstreamSettingsSchema = z
	.object({
		slug: z
			.string()
			.trim()
			.regex(
				/^[a-z0-9][a-z0-9-]{1,39}$/,
				'Use 2–40 lowercase letters, digits and dashes (it is in the widget snippet).'
			),
		name: text(80, 'Give the workstream a name.'),
		mode: z.enum(['live', 'persistent'], { error: 'Choose live or persistent.' }),
		queueId: z.string({ error: 'Choose a queue.' }).min(1, 'Choose a queue.'),
		keepSameAgent: z.boolean(),
		keepWaitMs: z
			.number({ error: 'Enter a wait in minutes.' })
			.int()
			.min(0, 'The wait cannot be negative.')
			.max(MAX_KEEP_WAIT_MS, 'Wait at most 24 hours for the same agent.'),
		authRequired: z.boolean(),
		queuePositionText: optionalText,
		waitTimeText: optionalText,
		offlineText: optionalText,
		style: z.enum(CONVERSATION_STYLES, { error: 'Choose a conversation style.' }),
		/** Solved → Closed in ms; null: the style's default. */
		solvedCloseMs: z.number().int().nonnegative().nullable(),
		/** Null: always open. */
		hours: HoursSchema.nullable(),
		wrapUpReasons: z
			.array(text(80, 'A reason cannot be empty.'))
			.min(1, 'Give agents at least one wrap-up reason.')
			.max(30, 'At most 30 reasons.'),
		csatEnabled: z.boolean(),
		title: text(80, 'Give the widget a title.'),
		color: z
			.string()
			.regex(/^#[0-9a-fA-F]{6}$/, 'Use a colour like #2563eb.')
			.transform((c) => c.toLowerCase()),
		greeting: z.string().trim().max(500, 'Keep the greeting under 500 characters.')
	})
	.superRefine((s, ctx) => {
		if (s.mode === 'persistent' && !s.authRequired)
			ctx.addIssue({
				code: 'custom',
				path: ['authRequired'],
				message: 'A persistent workstream needs signed-in customers (their history follows them).'
			});
		if (s.solvedCloseMs !== null) {
			const problem = solvedDelayProblem(s.style, s.solvedCloseMs);
			if (problem) ctx.addIssue({ code: 'custom', path: ['solvedCloseMs'], message: problem });
		}
		if (s.hours)
			for (const e of validateHours(s.hours as OperatingHours))
				ctx.addIssue({
					code: 'custom',
					path: ['hours', ...e.field.split('.')],
					message: e.message
				});
		const seen = new Set<string>();
		s.wrapUpReasons.forEach((r, i) => {
			const key = r.toLowerCase();
			if (seen.has(key))
				ctx.addIssue({
					code: 'custom',
					path: ['wrapUpReasons', i],
					message: `"${r}" is in the list twice.`
				});
			seen.add(key);
		});
	});

export type WorkstreamSettingsInput = z.input<typeof WorkstreamSettingsSchema>;
export type WorkstreamSettings = z.output<typeof WorkstreamSettingsSchema>;

/** Field → first message, the shape of the API's `fields` and of the console's form errors. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
	const fields: Record<string, string> = {};
	for (const issue of error.issues) fields[issue.path.join('.') || '_'] ??= issue.message;
	return fields;
}

/** A new workstream's settings before the admin changes anything. */
export function defaultSettings(queueId: string): WorkstreamSettingsInput {
	return {
		slug: '',
		name: '',
		mode: 'live',
		queueId,
		keepSameAgent: false,
		keepWaitMs: 5 * 60_000,
		authRequired: false,
		queuePositionText: null,
		waitTimeText: null,
		offlineText: null,
		style: 'live',
		solvedCloseMs: null,
		hours: null,
		wrapUpReasons: [...DEFAULT_WRAP_UP_REASONS],
		csatEnabled: true,
		title: 'Chat with us',
		color: DEFAULT_COLOR,
		greeting: 'Hi! How can we help?'
	};
}
