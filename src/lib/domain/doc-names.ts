/**
 * Document names as a client asks for them (the path after `/sync/`).
 *
 * A client never names another principal's document: `conversation/<id>/outbox` means
 * "my outbox for that conversation" and `inbox` means "my inbox", resolved by the server
 * from the authenticated connection.
 */

export type DocRequest =
	| { kind: 'conversation'; conversationId: string }
	| { kind: 'outbox'; conversationId: string }
	/** Agents only: internal notes, never sent to a customer (SPEC A10). */
	| { kind: 'internal'; conversationId: string }
	| { kind: 'inbox' };

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseDocName(name: string): DocRequest | null {
	const parts = name.split('/');
	if (parts.length === 1 && parts[0] === 'inbox') return { kind: 'inbox' };
	if (parts[0] !== 'conversation' || !ID.test(parts[1] ?? '')) return null;
	if (parts.length === 2) return { kind: 'conversation', conversationId: parts[1] };
	if (parts.length === 3 && parts[2] === 'outbox')
		return { kind: 'outbox', conversationId: parts[1] };
	if (parts.length === 3 && parts[2] === 'internal')
		return { kind: 'internal', conversationId: parts[1] };
	return null;
}

export const conversationDocName = (conversationId: string) => `conversation/${conversationId}`;
export const outboxDocName = (conversationId: string) => `conversation/${conversationId}/outbox`;
export const internalDocName = (conversationId: string) =>
	`conversation/${conversationId}/internal`;
export const INBOX_DOC_NAME = 'inbox';

/** Storage keys: unique per principal, never sent to clients as names to open. */
export const storedConversationKey = (conversationId: string) => `conv:${conversationId}`;
export const storedOutboxKey = (conversationId: string, principal: string) =>
	`outbox:${conversationId}:${principal}`;
export const storedInternalKey = (conversationId: string) => `internal:${conversationId}`;
export const storedInboxKey = (agentId: string) => `inbox:${agentId}`;
