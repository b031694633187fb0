/**
 * Fan-out between server instances: every instance that holds a document in memory applies
 * what the others store, and relays awareness (typing, who is here). One instance needs none
 * (`LocalFanout`); several use Redis (`RedisFanout`).
 *
 * Delivery is best effort. Stored updates carry their version, so a receiver notices a gap and
 * reads what it missed from the store; after a broken link (`onResync`) every held document
 * catches up.
 */
export type FanoutMessage =
	/** A document update; `version` is its stored version, or 0 if not stored on its own (outboxes). */
	| { kind: 'update'; version: number; data: Uint8Array }
	/** An awareness update (y-protocols encoding) from the sender's connections. */
	| { kind: 'awareness'; data: Uint8Array }
	/** Asks the other instances to publish their connections' awareness for the document. */
	| { kind: 'awareness-query' };

/** Deployment-wide notices, not tied to a document. */
export type ControlMessage =
	/** Close every socket of `principal` (sign-out): on every instance, not just the one asked. */
	| { kind: 'disconnect'; principal: string; reason: string }
	/** Close `principal`'s sockets on these documents (removed from a conversation). */
	| { kind: 'revoke'; principal: string; docs: string[]; reason: string }
	/**
	 * A conversation's participants (or ticket) changed: forget remembered membership answers and
	 * that its customer's messages needed nothing.
	 */
	| { kind: 'participants'; conversationId: string }
	/** An agent's presence changed: forget that customers' messages needed nothing (a handoff may). */
	| { kind: 'presence'; agentId: string };

export interface Fanout {
	/** False when there are no other instances (nothing needs encoding for them). */
	readonly relays: boolean;
	publish(docKey: string, message: FanoutMessage): void;
	subscribe(docKey: string): Promise<void>;
	unsubscribe(docKey: string): Promise<void>;
	/** Registers the handler for messages published by other instances. */
	onMessage(handler: (docKey: string, message: FanoutMessage) => void): void;
	/** Registers a handler called when the link comes back after a break (messages may be lost). */
	onResync(handler: () => void): void;
	/** Sends a control message to the other instances. */
	publishControl(message: ControlMessage): void;
	onControl(handler: (message: ControlMessage) => void): void;
	close(): Promise<void>;
}

/** A single instance: every connection shares the same in-memory room, so nothing to send. */
export class LocalFanout implements Fanout {
	readonly relays = false;
	publish() {}
	async subscribe() {}
	async unsubscribe() {}
	onMessage() {}
	onResync() {}
	publishControl() {}
	onControl() {}
	async close() {}
}
