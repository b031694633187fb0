/**
 * Fan-out over Redis pub/sub (ioredis): one channel per document held in memory,
 * `<prefix>:doc:<docKey>`. Each message is [sender instance id, kind, version, payload] in
 * lib0 encoding; an instance ignores its own messages.
 */
import { Redis } from 'ioredis';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ControlMessage, Fanout, FanoutMessage } from './fanout';

const ControlSchema = z.object({
	from: z.string(),
	message: z.discriminatedUnion('kind', [
		z.object({ kind: z.literal('disconnect'), principal: z.string(), reason: z.string() }),
		z.object({
			kind: z.literal('revoke'),
			principal: z.string(),
			docs: z.array(z.string()).max(16),
			reason: z.string()
		}),
		z.object({ kind: z.literal('participants'), conversationId: z.string() }),
		z.object({ kind: z.literal('presence'), agentId: z.string() })
	])
});

const SUBSCRIBE_WAIT_MS = 1000;

const KIND = { update: 0, awareness: 1, 'awareness-query': 2 } as const;

export function encodeFanout(instanceId: string, m: FanoutMessage): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarString(e, instanceId);
	encoding.writeVarUint(e, KIND[m.kind]);
	encoding.writeVarUint(e, m.kind === 'update' ? m.version : 0);
	encoding.writeVarUint8Array(e, m.kind === 'awareness-query' ? new Uint8Array(0) : m.data);
	return encoding.toUint8Array(e);
}

export function decodeFanout(buf: Uint8Array): { from: string; message: FanoutMessage } {
	const d = decoding.createDecoder(buf);
	const from = decoding.readVarString(d);
	const kind = decoding.readVarUint(d);
	const version = decoding.readVarUint(d);
	const data = decoding.readVarUint8Array(d);
	if (kind === KIND.update) return { from, message: { kind: 'update', version, data } };
	if (kind === KIND.awareness) return { from, message: { kind: 'awareness', data } };
	if (kind === KIND['awareness-query']) return { from, message: { kind: 'awareness-query' } };
	throw new Error(`unknown fan-out message kind ${kind}`);
}

export class RedisFanout implements Fanout {
	readonly relays = true;
	readonly #pub: Redis;
	readonly #sub: Redis;
	readonly #prefix: string;
	readonly #control: string;
	#controlHandlers: ((m: ControlMessage) => void)[] = [];
	#handlers: ((docKey: string, m: FanoutMessage) => void)[] = [];
	#resync: (() => void)[] = [];
	#wasReady = false;
	#brokenSinceReady = false;

	constructor(
		url: string,
		prefix: string,
		readonly instanceId: string,
		private readonly log: Logger
	) {
		this.#prefix = `${prefix}:doc:`;
		this.#control = `${prefix}:control`;
		const options = { maxRetriesPerRequest: null, connectionName: `parley-${instanceId}` };
		this.#pub = new Redis(url, options);
		this.#sub = new Redis(url, options);
		for (const [name, client] of [
			['publisher', this.#pub],
			['subscriber', this.#sub]
		] as const) {
			client.on('error', (err: Error) => log.warn({ err: err.message }, `redis ${name} error`));
		}
		this.#sub.on('close', () => {
			if (this.#wasReady) this.#brokenSinceReady = true;
		});
		this.#sub.on('ready', () => {
			if (this.#brokenSinceReady) {
				this.#brokenSinceReady = false;
				log.warn('redis subscriber reconnected; catching up from the store');
				for (const h of this.#resync) h();
			}
			this.#wasReady = true;
		});
		this.#sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
			const name = channel.toString();
			if (name === this.#control) return this.#receiveControl(message);
			if (!name.startsWith(this.#prefix)) return;
			let decoded;
			try {
				decoded = decodeFanout(message);
			} catch (err) {
				log.error({ err, channel: name }, 'malformed fan-out message');
				return;
			}
			if (decoded.from === this.instanceId) return;
			const key = name.slice(this.#prefix.length);
			for (const h of this.#handlers) h(key, decoded.message);
		});
	}

	/** Resolves once both connections are up (so a fresh instance does not miss early messages). */
	async ready(): Promise<void> {
		await Promise.all([this.#pub.ping(), this.#sub.subscribe(this.#control)]);
	}

	#receiveControl(raw: Buffer) {
		let parsed;
		try {
			parsed = ControlSchema.parse(JSON.parse(raw.toString()));
		} catch (err) {
			this.log.error({ err }, 'malformed control message');
			return;
		}
		if (parsed.from === this.instanceId) return;
		for (const h of this.#controlHandlers) h(parsed.message);
	}

	publishControl(message: ControlMessage) {
		// Unlike document updates these are queued while Redis is away: a sign-out must arrive.
		this.#send(); // after the updates published before it, as they were made
		this.#pub
			.publish(this.#control, JSON.stringify({ from: this.instanceId, message }))
			.catch((err: Error) => this.log.warn({ err: err.message }, 'control publish failed'));
	}

	onControl(handler: (m: ControlMessage) => void) {
		this.#controlHandlers.push(handler);
	}

	publish(docKey: string, message: FanoutMessage) {
		// While Redis is away, messages are dropped rather than queued without bound: receivers
		// catch up from the store when the link returns (and on their periodic head check).
		if (this.#pub.status !== 'ready') return;
		this.#outgoing.push([
			this.#prefix + docKey,
			Buffer.from(encodeFanout(this.instanceId, message))
		]);
		if (this.#outgoing.length === 1) setImmediate(this.#send);
	}

	/**
	 * Publishes gathered in one event-loop turn go out as one pipeline: one socket write instead
	 * of one per message (a write costs more than the rest of a publish here, and a message
	 * makes two: its outbox update and its transcript update). Unlike ioredis' auto-pipelining
	 * this does not wait for the previous batch's replies, which publishes do not need.
	 */
	#outgoing: [string, Buffer][] = [];
	#send = () => {
		const batch = this.#outgoing;
		this.#outgoing = [];
		if (batch.length === 0) return;
		this.#pub
			.pipeline(batch.map(([channel, data]) => ['publish', channel, data]))
			.exec()
			.then((results) => {
				const failed = results?.find(([err]) => err);
				if (failed) this.#publishFailed(failed[0]!);
			}, this.#publishFailed);
	};
	#publishFailed = (err: Error) => this.log.warn({ err: err.message }, 'publish failed');

	/**
	 * Waits for the subscription, but not for long: with Redis away the document still opens
	 * (from the store), and the queued subscription runs when the link returns.
	 */
	async subscribe(docKey: string) {
		const subscribed = this.#sub.subscribe(this.#prefix + docKey).catch((err: Error) => {
			this.log.warn({ err: err.message, doc: docKey }, 'subscribe failed');
		});
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([
			subscribed,
			new Promise((r) => {
				timer = setTimeout(r, SUBSCRIBE_WAIT_MS);
			})
		]);
		clearTimeout(timer);
	}

	async unsubscribe(docKey: string) {
		await this.#sub.unsubscribe(this.#prefix + docKey).catch(() => undefined);
	}

	onMessage(handler: (docKey: string, m: FanoutMessage) => void) {
		this.#handlers.push(handler);
	}

	onResync(handler: () => void) {
		this.#resync.push(handler);
	}

	async close() {
		this.#send();
		this.#sub.disconnect();
		if (this.#pub.status === 'ready') await this.#pub.quit().catch(() => this.#pub.disconnect());
		else this.#pub.disconnect();
	}
}
