/**
 * The conversation document's layout, read the same way by the server and every client.
 * See docs/document-schema.md. Only the server writes this document.
 */
import type { CsatRequest } from './csat';
import * as Y from 'yjs';
import type { Message, Role } from './message';
import type { ConversationStatus } from './conversation-state';

export interface ConversationMeta {
	id: string;
	mode: 'live' | 'persistent';
	workstream: string;
	status: ConversationStatus;
	customerName: string;
	/** Agents currently in the conversation, in join order. */
	agents: { principal: string; name: string }[];
	/** Live chat, while waiting: queue position, estimated wait and the text to show. */
	/**
	 * `nobodyAvailable`: no Available agent has the queue's skills right now; the widget offers to take
	 * an email address to reply to.
	 */
	waiting?: {
		position: number;
		estimateMs: number | null;
		text: string;
		nobodyAvailable?: boolean;
		/** Outside the workstream's operating hours: `text` is its closed text. */
		closed?: boolean;
		/** While closed: when the hours open again (ms since the epoch), null if never. */
		nextOpenAt?: number | null;
	};
	/** A message left outside operating hours, and the address to reply to. */
	offlineMessage?: { email: string | null };
	/** An agent was invited to a conference and has not answered yet (SPEC A6). */
	conference?: { invited: string };
	/**
	 * Who ended the messaging session, and when. `silent`: nothing was said to the customer
	 * (End session, SPEC C7, or a closed ticket); their next message starts a new conversation.
	 */
	ended?: { by: 'agent' | 'customer' | 'system'; name: string; at: number; silent?: true };
	/** A CSAT survey sent in the widget (SPEC C8), and the rating once answered. */
	csat?: CsatRequest;
}

export interface ReadMark {
	role: Exclude<Role, 'system'>;
	/** Number of transcript messages this participant has seen. */
	seen: number;
}

export const messagesOf = (doc: Y.Doc) => doc.getArray<Message>('messages');
export const metaOf = (doc: Y.Doc) => doc.getMap<unknown>('meta');
export const readsOf = (doc: Y.Doc) => doc.getMap<ReadMark>('reads');
/** The internal document (agents only): internal notes, `kind: 'note'` messages. */
export const notesOf = (doc: Y.Doc) => doc.getArray<Message>('notes');

/**
 * Highest `seen` among participants of the other role: a message at an index below it has
 * been read. A customer's message is read when an agent saw it, and the other way round.
 */
export function seenByOtherRole(doc: Y.Doc, role: ReadMark['role']): number {
	let seen = 0;
	for (const mark of readsOf(doc).values())
		if (mark.role !== role) seen = Math.max(seen, mark.seen);
	return seen;
}

/** The outbox document: a participant's own writes for one conversation. */
export const outboxEntriesOf = (doc: Y.Doc) => doc.getArray<unknown>('entries');
export const outboxCursorOf = (doc: Y.Doc) => doc.getMap<unknown>('cursor');
/** Written by the server: entries it refused, by id, so the author's devices can show why. */
export const outboxRejectionsOf = (doc: Y.Doc) =>
	doc.getMap<{ code: string; reason: string }>('rejected');
