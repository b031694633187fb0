/**
 * Webhooks (SPEC P3): which history events an integrator can subscribe to, how a delivery is
 * retried, and how its signature is formed. Shared by the server and the admin console.
 */
import type { EventType } from './events';

export const WEBHOOK_EVENTS = [
	'conversation.started',
	'session.ended',
	'ticket.status_changed',
	'csat.received'
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_EVENT_LABELS: Record<WebhookEvent, string> = {
	'conversation.started': 'Conversation started',
	'session.ended': 'Session ended',
	'ticket.status_changed': 'Ticket status changed',
	'csat.received': 'CSAT received'
};

/** The history event each webhook event is sent for. */
const FROM_HISTORY: Partial<Record<EventType, WebhookEvent>> = {
	requested: 'conversation.started',
	session_ended: 'session.ended',
	ticket_status: 'ticket.status_changed',
	csat_received: 'csat.received'
};

export function webhookEventFor(type: string): WebhookEvent | null {
	return FROM_HISTORY[type as EventType] ?? null;
}

/**
 * Wait before each retry after a failed attempt (no answer, or not a 2xx): 10 s, 1 min,
 * 5 min, 30 min, 2 h, 6 h. After the last, the delivery is marked failed.
 */
export const WEBHOOK_RETRY_DELAYS_MS = [
	10_000,
	60_000,
	5 * 60_000,
	30 * 60_000,
	2 * 3600_000,
	6 * 3600_000
];

/** The wait before the next attempt after `attempts` failed ones, or null to give up. */
export function retryDelay(attempts: number): number | null {
	return attempts >= 1 && attempts <= WEBHOOK_RETRY_DELAYS_MS.length
		? WEBHOOK_RETRY_DELAYS_MS[attempts - 1]
		: null;
}

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'parley-signature';
/** A receiver should refuse signatures older than this (replays). */
export const SIGNATURE_TOLERANCE_S = 5 * 60;

/** The signed text: the timestamp, a dot, and the exact body bytes. */
export const signedPayload = (timestamp: number, body: string) => `${timestamp}.${body}`;

export function parseSignatureHeader(
	header: string | null | undefined
): { t: number; v1: string[] } | null {
	if (!header) return null;
	let t = NaN;
	const v1: string[] = [];
	for (const part of header.split(',')) {
		const [k, v] = part.trim().split('=', 2);
		if (k === 't') t = Number(v);
		else if (k === 'v1' && v) v1.push(v);
	}
	return Number.isFinite(t) && v1.length ? { t, v1 } : null;
}
