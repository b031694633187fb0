/**
 * Live-chat waiting (SPEC R5, C5): the customer's queue position and an estimated wait from
 * recent history, written into texts the admin can override.
 */

export const DEFAULT_TEXTS = {
	position: 'You are number {position} in the queue.',
	wait: 'The estimated wait is {wait}.',
	offline:
		'Our agents are not available right now. Leave a message with your email address and we will reply.'
} as const;

export type WaitTexts = { [K in keyof typeof DEFAULT_TEXTS]: string };

export interface ServedRequest {
	/** When the request arrived and when an agent accepted it (ms). */
	requestedAt: number;
	acceptedAt: number;
}

/** How far back served requests count for the estimate. */
export const ESTIMATE_WINDOW_MS = 60 * 60_000;
/** After a quiet hour, how far back the last requests served still say something. */
export const FALLBACK_WINDOW_MS = 7 * 24 * 3600_000;
/** How many of those the fallback averages (the latest). */
export const FALLBACK_SAMPLE = 20;

/**
 * Estimated wait for the customer at `position` (1 = next), or null with no history at all.
 * After an hour with no request served (a quiet evening, the first of the day), the latest
 * requests of the past week stand in: each position ahead costs their mean wait.
 *
 * With at least three requests served in the window, the queue moves at the rate they were
 * served, so position p waits about p / rate. With fewer, each position ahead is taken to cost
 * the mean wait of those served. Requests served while nobody was queued make the rate look
 * low, so the estimate never exceeds position × the mean wait.
 */
export function estimateWaitMs(
	position: number,
	served: readonly ServedRequest[],
	now: number,
	windowMs = ESTIMATE_WINDOW_MS
): number | null {
	const recent = served.filter((s) => s.acceptedAt > now - windowMs && s.acceptedAt <= now);
	const mean = (list: readonly ServedRequest[]) =>
		list.reduce((sum, s) => sum + Math.max(0, s.acceptedAt - s.requestedAt), 0) / list.length;
	if (recent.length === 0) {
		const older = served
			.filter((s) => s.acceptedAt > now - FALLBACK_WINDOW_MS && s.acceptedAt <= now)
			.sort((a, b) => b.acceptedAt - a.acceptedAt)
			.slice(0, FALLBACK_SAMPLE);
		return older.length === 0 ? null : Math.round(position * mean(older));
	}
	const meanWait = mean(recent);
	if (recent.length < 3) return Math.round(position * meanWait);
	const first = Math.min(...recent.map((s) => s.acceptedAt));
	const span = Math.max(now - first, 1);
	const perRequest = span / recent.length;
	return Math.round(Math.min(position * perRequest, position * Math.max(meanWait, perRequest)));
}

/** "less than a minute", "about 1 minute", "about 12 minutes", "about 2 hours". */
export function formatWait(ms: number): string {
	const min = Math.round(ms / 60_000);
	if (min < 1) return 'less than a minute';
	if (min < 90) return `about ${min} minute${min === 1 ? '' : 's'}`;
	const h = Math.round(min / 60);
	return `about ${h} hours`;
}

/** Replaces `{name}` placeholders; unknown ones are left out rather than shown raw. */
export function fillText(template: string, values: Record<string, string | number>): string {
	return template.replace(/\{(\w+)\}/g, (_, k: string) => (k in values ? String(values[k]) : ''));
}

/** The waiting notice a live customer sees: position, then the estimate when there is one. */
export function waitingNotice(
	texts: Partial<WaitTexts>,
	position: number,
	estimateMs: number | null
): string {
	const t = textsWithDefaults(texts);
	const parts = [fillText(t.position, { position })];
	if (estimateMs !== null) parts.push(fillText(t.wait, { wait: formatWait(estimateMs) }));
	return parts.join(' ');
}

function stripEmpty(texts: Partial<WaitTexts>): Partial<WaitTexts> {
	return Object.fromEntries(
		Object.entries(texts).filter(([, v]) => typeof v === 'string' && v.trim() !== '')
	);
}

export function textsWithDefaults(texts: Partial<WaitTexts>): WaitTexts {
	return { ...DEFAULT_TEXTS, ...stripEmpty(texts) };
}

/** The workstream's text for outside its hours (`offline_text`), or the default. */
export const offlineText = (custom: string | null | undefined): string =>
	textsWithDefaults({ offline: custom ?? undefined }).offline;
