/**
 * The fork → transcript merge: which outbox entries become transcript messages.
 *
 * Pure: the server calls it with what it knows (the authenticated author, the ids already in
 * the transcript, the clock) and appends what it returns. Idempotent by message id, and it
 * keeps each outbox's order, so offline writes arrive in the order written and exactly once.
 */
import { parseOutboxEntry, type Message, type Rejection, type Role } from './message';
import { checkAgentText } from './template';

export interface Author {
	/** Principal id, e.g. `customer:c_12` or `agent:a_1`. */
	principal: string;
	role: Exclude<Role, 'system'>;
	name: string;
}

export interface MergeInput {
	author: Author;
	/** Outbox entries in outbox order, as untrusted JSON. */
	entries: readonly unknown[];
	/** Author principal of every message already in the transcript (and internal notes), by id. */
	authorsById: { get(id: string): string | undefined };
	/** Ids already rejected for this outbox: never merged, nor reported again. */
	rejectedIds: { has(id: string): boolean };
	/** Written time of the author's latest message, so times never run backwards per author. */
	lastTimeOfAuthor: number;
	now: number;
}

export interface MergeResult {
	accepted: Message[];
	rejected: Rejection[];
}

export function mergeOutbox(input: MergeInput): MergeResult {
	const accepted: Message[] = [];
	const rejected: Rejection[] = [];
	const seen = new Set<string>();
	let lastTime = input.lastTimeOfAuthor;
	for (const raw of input.entries) {
		// Fast path: an entry this author already merged (not yet pruned) needs no validation.
		const rawId = (raw as { id?: unknown } | null)?.id;
		if (typeof rawId === 'string' && input.authorsById.get(rawId) === input.author.principal)
			continue;
		const parsed = parseOutboxEntry(raw, input.author.principal);
		if (!parsed.ok) {
			const id = parsed.rejection.id;
			if (id === null || !input.rejectedIds.has(id)) rejected.push(parsed.rejection);
			continue;
		}
		const { entry } = parsed;
		const refusal = refuse(input.author, entry);
		if (refusal) {
			if (!input.rejectedIds.has(entry.id) && !seen.has(entry.id))
				rejected.push({ id: entry.id, ...refusal });
			seen.add(entry.id);
			continue;
		}
		const existingAuthor = input.authorsById.get(entry.id);
		if (existingAuthor === input.author.principal || seen.has(entry.id)) continue; // merged already
		// Refused once, refused for good: the author was shown "Not sent" (say they had left the
		// conversation, or it had ended), so it must not turn up later, e.g. once they are back.
		if (input.rejectedIds.has(entry.id)) continue;
		if (existingAuthor !== undefined) {
			if (!input.rejectedIds.has(entry.id))
				rejected.push({
					id: entry.id,
					code: 'duplicate_id',
					reason: 'another message has this id'
				});
			continue;
		}
		seen.add(entry.id);
		// A device clock may run ahead or behind: never in the future, never before the
		// author's previous message, so each author's times read in the order they wrote.
		lastTime = Math.max(lastTime, Math.min(entry.time, input.now));
		accepted.push({
			id: entry.id,
			kind: entry.internal ? 'note' : 'text',
			role: input.author.role,
			author: input.author.principal,
			name: input.author.name,
			text: entry.text,
			time: lastTime,
			at: input.now
		});
	}
	return { accepted, rejected };
}

/** Role rules: customers write no notes; agents' messages (not notes) carry no `<` or `>`. */
function refuse(
	author: Author,
	entry: { text: string; internal?: true }
): Pick<Rejection, 'code' | 'reason'> | null {
	if (entry.internal && author.role !== 'agent')
		return { code: 'not_allowed', reason: 'only agents can write internal notes' };
	if (author.role === 'agent' && !entry.internal) {
		const check = checkAgentText(entry.text);
		if (!check.ok) return { code: check.code, reason: check.message };
	}
	return null;
}
