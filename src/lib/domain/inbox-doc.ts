/** The agent inbox document's layout (server-written, one per agent). See docs/document-schema.md. */
import * as Y from 'yjs';
import type { Presence } from './presence';

export interface OfferView {
	offerId: string;
	conversationId: string;
	customerName: string;
	queue: string;
	workstream: string;
	/** When the customer's request arrived (ms since epoch). */
	requestedAt: number;
	offeredAt: number;
	/** When the offer times out and goes to the next agent (ms since epoch). */
	expiresAt: number;
	/** `conference`: an invitation to join agents already in the conversation (SPEC A6). */
	kind?: 'route' | 'conference';
	/** For a conference: the agent who invited. */
	invitedBy?: string;
	/** A conversation another agent transferred: that agent, who holds it until someone accepts. */
	transferredBy?: string;
	/** An ongoing conversation coming back (from Waiting, or handed over): not a new chat. */
	returning?: boolean;
}

/** How an offer is named: its dialog's title, its announcement and its desktop alert. */
export function offerTitle(o: OfferView): string {
	if (o.kind === 'conference') return `Conference invitation: chat with ${o.customerName}`;
	if (o.transferredBy) return `Transfer from ${o.transferredBy}: chat with ${o.customerName}`;
	if (o.returning) return `${o.customerName} wrote again`;
	return `New chat from ${o.customerName}`;
}

export interface InboxConversation {
	conversationId: string;
	customerName: string;
	workstream: string;
	mode: 'live' | 'persistent';
	acceptedAt: number;
	/** The agent was removed (End conference): their copy stays readable until they dismiss it. */
	left?: boolean;
	/** Its messaging session ended (End session): it stays for email replies and notes. */
	sessionEnded?: boolean;
	/** While transferring it: what became of the last offer (declined, not answered in time). */
	transferNote?: string;
}

export const offersOf = (doc: Y.Doc) => doc.getMap<OfferView>('offers');
export const inboxConversationsOf = (doc: Y.Doc) => doc.getMap<InboxConversation>('conversations');
export const agentStateOf = (doc: Y.Doc) =>
	doc.getMap<Presence | string | number>('agent') as Y.Map<unknown>;
