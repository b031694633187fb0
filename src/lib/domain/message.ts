/**
 * Transcript messages and outbox entries: the records that cross the trust boundary.
 *
 * A participant writes `OutboxEntry` records into their own outbox document. The server
 * validates each entry with `parseOutboxEntry` and appends a `Message` to the conversation
 * document, with the author taken from the authenticated connection, never from the entry.
 */
import { z } from 'zod';

export const MESSAGE_LIMITS = {
	/** Longest message text, in UTF-16 code units. Long enough for a pasted order list. */
	maxTextChars: 4000,
	/** Message ids are client-generated (UUIDs); bounded so they cannot bloat documents. */
	maxIdChars: 64
} as const;

export const ROLES = ['customer', 'agent', 'system'] as const;
export type Role = (typeof ROLES)[number];

export const MessageIdSchema = z
	.string()
	.min(8)
	.max(MESSAGE_LIMITS.maxIdChars)
	.regex(/^[A-Za-z0-9_-]+$/, 'ids use letters, digits, - and _');

/** What a participant may write into their outbox. Nothing else: no author, no role. */
export const OutboxEntrySchema = z
	.object({
		id: MessageIdSchema,
		text: z
			.string()
			.max(
				MESSAGE_LIMITS.maxTextChars,
				`text is longer than ${MESSAGE_LIMITS.maxTextChars} characters`
			)
			.refine((t) => t.trim().length > 0, 'text is empty'),
		/** When it was written on the device, in ms since the epoch. */
		time: z.number().int().nonnegative(),
		/** An agent's internal note (SPEC A10): seen by agents only, never by the customer. */
		internal: z.literal(true).optional()
	})
	.strict();
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

/** An immutable transcript record, as stored in the conversation document's `messages` array. */
export const MessageSchema = z
	.object({
		id: MessageIdSchema,
		/**
		 * `note`: an internal note; `email`: a public reply sent by email after the session
		 * ended. Both are stored only in the agents' internal document.
		 */
		kind: z.enum(['text', 'system', 'note', 'email']),
		role: z.enum(ROLES),
		/** Principal id of the author (`customer:<id>`, `agent:<id>` or `system`). */
		author: z.string(),
		/** Display name of the author at the time of writing. */
		name: z.string(),
		text: z.string(),
		/** When it was written, on the author's device (clamped to the server clock). */
		time: z.number(),
		/** When the server stored it. */
		at: z.number(),
		/** An email's recipient. */
		to: z.string().optional()
	})
	.strict();
export type Message = z.infer<typeof MessageSchema>;

export type RejectionCode =
	| 'forged_author'
	| 'text_too_long'
	| 'empty_text'
	| 'invalid_entry'
	| 'duplicate_id'
	/** An agent's message with `<` or `>` (reserved for template parameters, SPEC A4). */
	| 'reserved_chars'
	/** A customer may not write internal notes. */
	| 'not_allowed'
	/** Written by an agent who is no longer in the conversation (e.g. after End conference). */
	| 'not_participant'
	/** Written into a conversation that has ended. */
	| 'conversation_ended';

export interface Rejection {
	/** The entry's id when it had a readable one, else null. */
	id: string | null;
	code: RejectionCode;
	reason: string;
}

export type ParsedEntry = { ok: true; entry: OutboxEntry } | { ok: false; rejection: Rejection };

/** Validates one untrusted outbox entry. */
export function parseOutboxEntry(raw: unknown, authorPrincipal: string): ParsedEntry {
	const id =
		typeof raw === 'object' && raw !== null && typeof (raw as { id?: unknown }).id === 'string'
			? ((raw as { id: string }).id.slice(0, MESSAGE_LIMITS.maxIdChars) ?? null)
			: null;
	if (typeof raw === 'object' && raw !== null && ('author' in raw || 'role' in raw)) {
		const claimed = (raw as { author?: unknown }).author;
		return {
			ok: false,
			rejection: {
				id,
				code: 'forged_author',
				reason:
					claimed !== undefined && claimed !== authorPrincipal
						? `an entry may not name its author (claimed ${String(claimed).slice(0, 80)})`
						: 'an entry may not name its author or role; the server sets them'
			}
		};
	}
	const parsed = OutboxEntrySchema.safeParse(raw);
	if (parsed.success) return { ok: true, entry: parsed.data };
	const issue = parsed.error.issues[0];
	const path = issue?.path.join('.') ?? '';
	let code: RejectionCode = 'invalid_entry';
	if (path === 'text' && issue?.code === 'too_big') code = 'text_too_long';
	else if (path === 'text' && issue?.code === 'custom') code = 'empty_text';
	return {
		ok: false,
		rejection: { id, code, reason: `${path ? path + ': ' : ''}${issue?.message ?? 'invalid'}` }
	};
}

/**
 * Whether `a` was stored before `b` (an internal note and a transcript message live in two
 * documents, so their order is rebuilt). By the server's storing time; entries merged in one
 * batch share it (written offline, then sent together), and then the author's own writing time
 * tells, which the merge keeps in the order they were written.
 */
export const storedBefore = (a: Pick<Message, 'at' | 'time'>, b: Pick<Message, 'at' | 'time'>) =>
	byStoredTime(a, b) < 0;

/** Orders messages by storing time, then writing time (`storedBefore` as a sort comparator). */
export function byStoredTime(a: Pick<Message, 'at' | 'time'>, b: Pick<Message, 'at' | 'time'>) {
	return a.at - b.at || a.time - b.time;
}

/** A message that reached the server this long after it was written was written offline. */
export const LATE_AFTER_MS = 60_000;

/**
 * When a stored message arrived, if that was well after it was written (offline, a bad
 * network): the transcript keeps arrival order, so its written time can sit above newer ones'
 * and deserves a word. Null when it arrived about when it was written.
 */
export const arrivedLate = (m: Pick<Message, 'at' | 'time'>): number | null =>
	m.at - m.time >= LATE_AFTER_MS ? m.at : null;
