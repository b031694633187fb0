/**
 * Webhooks (SPEC P3): when a subscribed history event happens, each active webhook gets a
 * delivery row with the JSON body fixed at that moment, and a durable timer posts it. A
 * delivery is signed (`Parley-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`)
 * and retried with backoff (src/lib/domain/webhook-events.ts) on whichever instance claims its
 * timer, so a delivery outlives the instance that queued it. Receivers should treat the
 * delivery id (`Parley-Delivery`) as an idempotency key: a crash right after a successful POST
 * sends it again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from './clock';
import { newId, type Db } from './repo';
import type { Timers } from './timers';
import type { StoredEvent } from './conversations';
import { ticketById } from './tickets';
import { fetch } from 'undici';
import { RefusedTargetError, webhookClient, type WebhookTargets } from './webhook-target';
import {
	SIGNATURE_HEADER,
	SIGNATURE_TOLERANCE_S,
	parseSignatureHeader,
	retryDelay,
	signedPayload,
	webhookEventFor
} from '../src/lib/domain/webhook-events';

export interface WebhooksOptions {
	db: Db;
	timers: Timers;
	clock: Clock;
	log: Logger;
	/** How long one POST may take before it counts as failed. */
	timeoutMs?: number;
	/** Which addresses deliveries may go to (`PARLEY_WEBHOOK_TARGETS`). */
	targets: WebhookTargets;
}

/** The signature header's value for `body` at `timestampS` (unix seconds). */
function signWebhook(secret: string, body: string, timestampS: number): string {
	const mac = createHmac('sha256', secret).update(signedPayload(timestampS, body)).digest('hex');
	return `t=${timestampS},v1=${mac}`;
}

/** What a receiver does: the signature matches the body and is recent. */
export function verifyWebhookSignature(
	secret: string,
	body: string,
	header: string | null | undefined,
	nowS: number,
	toleranceS = SIGNATURE_TOLERANCE_S
): boolean {
	const parsed = parseSignatureHeader(header);
	if (!parsed || Math.abs(nowS - parsed.t) > toleranceS) return false;
	const expected = Buffer.from(
		createHmac('sha256', secret).update(signedPayload(parsed.t, body)).digest('hex')
	);
	return parsed.v1.some((v) => {
		const got = Buffer.from(v);
		return got.length === expected.length && timingSafeEqual(got, expected);
	});
}

/** What an attempt's failure says in the delivery log. */
function attemptError(e: unknown): string {
	if (!(e instanceof Error)) return 'Request failed.';
	// undici reports why a connection failed (a refused address among the reasons) as the cause.
	const cause = e.cause instanceof Error ? e.cause : null;
	if (e instanceof RefusedTargetError) return e.message.slice(0, 300);
	if (cause instanceof RefusedTargetError) return cause.message.slice(0, 300);
	return `${e.name}: ${e.message}${cause ? ` (${cause.message})` : ''}`.slice(0, 300);
}

export class Webhooks {
	#client: ReturnType<typeof webhookClient>;

	constructor(private readonly opts: WebhooksOptions) {
		this.#client = webhookClient(opts.targets);
		opts.timers.on('webhook-send', (payload) =>
			this.#deliver((payload as { deliveryId: string }).deliveryId)
		);
	}

	/** Queues a delivery per active webhook subscribed to this event's kind. */
	async onEvent(event: StoredEvent): Promise<void> {
		const kind = webhookEventFor(event.type);
		if (!kind) return;
		const { db, clock, timers } = this.opts;
		const hooks = (
			await db.selectFrom('webhooks').select(['id', 'events']).where('active', '=', 1).execute()
		).filter((h) => (JSON.parse(h.events) as string[]).includes(kind));
		if (hooks.length === 0) return;
		const ticket = await ticketById(db, event.conversationId);
		const now = clock.now();
		for (const hook of hooks) {
			const id = newId('whd');
			const body = JSON.stringify({
				id: event.id,
				type: kind,
				createdAt: new Date(event.at).toISOString(),
				data: {
					ticket,
					event: {
						id: event.id,
						type: event.type,
						actor: event.actor,
						data: event.data,
						at: new Date(event.at).toISOString()
					}
				}
			});
			// One transaction: a delivery is never visible without the timer that sends it.
			await db.transaction().execute(async (trx) => {
				const r = await trx
					.insertInto('webhook_deliveries')
					.values({
						id,
						webhook_id: hook.id,
						event_id: event.id,
						event_type: kind,
						body,
						status: 'pending',
						attempts: 0,
						response_status: null,
						error: null,
						next_attempt_at: now,
						created_at: now,
						delivered_at: null
					})
					.onConflict((oc) => oc.columns(['webhook_id', 'event_id']).doNothing())
					.executeTakeFirst();
				if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0)
					await timers.set(`webhook:${id}`, 'webhook-send', now, { deliveryId: id }, trx);
			});
		}
	}

	#inFlight = new Map<string, Promise<void>>();

	/**
	 * The timer's handler. The POST runs in the background so that a slow receiver never holds
	 * up other timers (offers); a guard timer set first retries it if this instance dies.
	 */
	async #deliver(deliveryId: string) {
		if (this.#inFlight.has(deliveryId)) return;
		const { db, clock, timers } = this.opts;
		const d = await db
			.selectFrom('webhook_deliveries')
			.leftJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
			.select([
				'webhook_deliveries.id',
				'webhook_deliveries.body',
				'webhook_deliveries.status',
				'webhook_deliveries.attempts',
				'webhook_deliveries.event_type',
				'webhooks.url',
				'webhooks.secret',
				'webhooks.active'
			])
			.where('webhook_deliveries.id', '=', deliveryId)
			.executeTakeFirst();
		if (!d || d.status !== 'pending') return;
		if (d.url === null || d.secret === null || d.active !== 1) {
			await this.#finish(deliveryId, {
				status: 'failed',
				error: d.url === null ? 'The webhook was deleted.' : 'The webhook was turned off.'
			});
			return;
		}
		const timeout = this.opts.timeoutMs ?? 10_000;
		await timers.set(`webhook:${deliveryId}`, 'webhook-send', clock.now() + timeout + 30_000, {
			deliveryId
		});
		const run = this.#post({ ...d, url: d.url, secret: d.secret }, timeout).finally(() =>
			this.#inFlight.delete(deliveryId)
		);
		this.#inFlight.set(deliveryId, run);
	}

	async #post(
		d: {
			id: string;
			body: string;
			attempts: number;
			event_type: string;
			url: string;
			secret: string;
		},
		timeout: number
	) {
		const { clock, timers, log } = this.opts;
		const now = clock.now();
		const attempts = d.attempts + 1;
		let responseStatus: number | null = null;
		let error: string | null = null;
		try {
			const refused = this.#client.check(d.url);
			if (refused) throw new RefusedTargetError(refused);
			const res = await fetch(d.url, {
				dispatcher: this.#client.dispatcher,
				method: 'POST',
				headers: {
					'content-type': 'application/json',
					'user-agent': 'Parley-Webhooks/1',
					'parley-event': d.event_type,
					'parley-delivery': d.id,
					[SIGNATURE_HEADER]: signWebhook(d.secret, d.body, Math.floor(now / 1000))
				},
				body: d.body,
				redirect: 'manual',
				signal: AbortSignal.timeout(timeout)
			});
			responseStatus = res.status;
			await res.body?.cancel().catch(() => undefined);
			if (res.status < 200 || res.status > 299) error = `The receiver answered ${res.status}.`;
		} catch (e) {
			error = attemptError(e);
		}
		try {
			const timer = `webhook:${d.id}`;
			if (error === null) {
				await this.#finish(d.id, {
					status: 'delivered',
					attempts,
					response_status: responseStatus,
					error: null,
					next_attempt_at: null,
					delivered_at: clock.now()
				});
				await timers.cancel(timer);
				log.info({ delivery: d.id, attempts }, 'webhook delivered');
				return;
			}
			const wait = retryDelay(attempts);
			await this.#finish(d.id, {
				status: wait === null ? 'failed' : 'pending',
				attempts,
				response_status: responseStatus,
				error,
				next_attempt_at: wait === null ? null : now + wait
			});
			if (wait === null) await timers.cancel(timer);
			else await timers.set(timer, 'webhook-send', now + wait, { deliveryId: d.id });
			log.warn({ delivery: d.id, attempts, error, gaveUp: wait === null }, 'webhook failed');
		} catch (err) {
			// The guard timer retries it.
			log.error({ err, delivery: d.id }, 'could not record a webhook attempt');
		}
	}

	/** Waits for the POSTs in flight (graceful stop). */
	async drain() {
		await Promise.allSettled([...this.#inFlight.values()]);
	}

	#finish(
		id: string,
		set: {
			status: string;
			attempts?: number;
			response_status?: number | null;
			error: string | null;
			next_attempt_at?: number | null;
			delivered_at?: number;
		}
	) {
		return this.opts.db
			.updateTable('webhook_deliveries')
			.set(set)
			.where('id', '=', id)
			.where('status', '=', 'pending')
			.execute();
	}
}
