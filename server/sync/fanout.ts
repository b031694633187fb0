/**
 * Fan-out of durable document updates between server instances. One instance needs none
 * (`LocalFanout`); a Redis implementation arrives with scale-out.
 */
export interface Fanout {
	publish(docKey: string, update: Uint8Array): void;
	subscribe(docKey: string): Promise<void>;
	unsubscribe(docKey: string): Promise<void>;
	/** Registers the handler for updates published by other instances. */
	onUpdate(handler: (docKey: string, update: Uint8Array) => void): void;
	close(): Promise<void>;
}

/** A single instance: every connection shares the same in-memory room, so nothing to send. */
export class LocalFanout implements Fanout {
	publish() {}
	async subscribe() {}
	async unsubscribe() {}
	onUpdate() {}
	async close() {}
}
