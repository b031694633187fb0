/**
 * Admin reports (SPEC M3): first-response time, wait time, handle time, number of
 * conversations and CSAT, by agent and by queue, over a date range. Pure: the server loads the
 * conversations and their event history (SPEC A3) and this module does the arithmetic, so the
 * browser can recompute a report it already holds.
 *
 * Per conversation, its events sorted by time (ties keep their input order):
 *   - requestedAt      — the first `requested` event. A conversation is in the report only when
 *                        it was requested inside the range (`from` inclusive, `to` exclusive);
 *   - acceptedAt       — the first `accepted` event at or after requestedAt; the wait is
 *                        acceptedAt − requestedAt, and the conversation counts as answered;
 *   - firstResponseAt  — the first `first_response` event (an agent's first message reached
 *                        the conversation) at or after requestedAt;
 *   - endedAt          — the first `ended` or `session_ended` event after the acceptance; the
 *                        handle time is endedAt − acceptedAt;
 *   - csat             — the rating of the last `csat_received` event (a later answer replaces
 *                        an earlier one);
 *   - agent            — whoever accepted it last (a transfer credits the agent who had it at the
 *                        end); none when it was never accepted. Such conversations count in the
 *                        total and by queue but under no agent;
 *   - queue            — the conversation's queue; none is its own group, "No queue".
 * Averages are whole milliseconds and null when there is nothing to average.
 */
import { z } from 'zod';
import { DateTime, IANAZone } from 'luxon';

export interface ReportEvent {
	conversationId: string;
	/** An event type of `./events`, or `first_response`. */
	type: string;
	/** Principal: `agent:<id>`, `customer:<id>`, `api:<id>`, or null for Parley itself. */
	actor: string | null;
	data: Record<string, unknown>;
	/** ms since the epoch. */
	at: number;
}

export interface ReportConversation {
	id: string;
	queueId: string | null;
}

export interface ReportInput {
	conversations: ReportConversation[];
	/** Any order; events of conversations not listed are ignored. */
	events: ReportEvent[];
	/** Agent id → name; unknown ids are shown as they are. */
	agentNames: Record<string, string>;
	/** Queue id → name; unknown ids are shown as they are. */
	queueNames: Record<string, string>;
	/** Inclusive, ms. */
	from: number;
	/** Exclusive, ms. */
	to: number;
	/** IANA zone the per-day series is counted in. */
	timeZone: string;
	/** Only conversations of this queue. */
	queueId?: string;
	/** Only conversations whose (last) agent is this one. */
	agentId?: string;
}

export interface ReportRow {
	key: string | null;
	label: string;
	/** Requested in the range. */
	conversations: number;
	/** Accepted at least once. */
	answered: number;
	avgWaitMs: number | null;
	medianWaitMs: number | null;
	avgFirstResponseMs: number | null;
	avgHandleMs: number | null;
	csatCount: number;
	/** Rounded to 2 decimals. */
	csatAverage: number | null;
	/** Share of ratings of 4 or 5, percent rounded to 1 decimal. */
	csatSatisfiedPct: number | null;
}

export interface ReportDay {
	/** YYYY-MM-DD in the report's time zone. */
	date: string;
	conversations: number;
	avgWaitMs: number | null;
	csatAverage: number | null;
}

export interface Report {
	from: number;
	to: number;
	timeZone: string;
	/** Every conversation of the report; key null, label "All". */
	total: ReportRow;
	/** One row per agent with at least one conversation, by label. */
	byAgent: ReportRow[];
	/** One row per queue with at least one conversation, by label. */
	byQueue: ReportRow[];
	/** Every day of the range, empty ones included, in order. */
	byDay: ReportDay[];
}

/** What one conversation contributes to a report. */
export interface ConversationFacts {
	id: string;
	queueId: string | null;
	agentId: string | null;
	requestedAt: number;
	waitMs: number | null;
	firstResponseMs: number | null;
	handleMs: number | null;
	csat: number | null;
}

export const NO_QUEUE_LABEL = 'No queue';
export const TOTAL_LABEL = 'All';

const AGENT_PREFIX = 'agent:';

/** The agent id of an `agent:<id>` principal, or null for anyone else. */
function agentOf(actor: string | null): string | null {
	return actor?.startsWith(AGENT_PREFIX) && actor.length > AGENT_PREFIX.length
		? actor.slice(AGENT_PREFIX.length)
		: null;
}

/** A CSAT rating (a whole number from 1 to 5) or null. */
function ratingOf(data: Record<string, unknown>): number | null {
	const r = data.rating;
	return typeof r === 'number' && Number.isInteger(r) && r >= 1 && r <= 5 ? r : null;
}

/**
 * The facts of one conversation from its events, or null when it was never requested.
 * `events` must be its own events, sorted by time.
 */
export function conversationFacts(
	conv: ReportConversation,
	events: readonly ReportEvent[]
): ConversationFacts | null {
	const requested = events.findIndex((e) => e.type === 'requested');
	if (requested < 0) return null;
	const requestedAt = events[requested].at;
	const after = events.slice(requested);

	const accepted = after.findIndex((e) => e.type === 'accepted');
	const acceptedAt = accepted < 0 ? null : after[accepted].at;
	const firstResponse = after.find((e) => e.type === 'first_response');
	const ended =
		accepted < 0
			? undefined
			: after.slice(accepted + 1).find((e) => e.type === 'ended' || e.type === 'session_ended');

	let agentId: string | null = null;
	for (const e of after) if (e.type === 'accepted') agentId = agentOf(e.actor) ?? agentId;

	let csat: number | null = null;
	for (const e of events) if (e.type === 'csat_received') csat = ratingOf(e.data) ?? csat;

	return {
		id: conv.id,
		queueId: conv.queueId,
		agentId,
		requestedAt,
		waitMs: acceptedAt === null ? null : acceptedAt - requestedAt,
		firstResponseMs: firstResponse ? firstResponse.at - requestedAt : null,
		handleMs: acceptedAt !== null && ended ? ended.at - acceptedAt : null,
		csat
	};
}

const present = (vs: (number | null)[]) => vs.filter((v): v is number => v !== null);

function average(vs: number[]): number | null {
	return vs.length === 0 ? null : Math.round(vs.reduce((s, v) => s + v, 0) / vs.length);
}

/** The middle value; with an even count, the mean of the two middle ones (whole ms). */
function median(vs: number[]): number | null {
	if (vs.length === 0) return null;
	const sorted = [...vs].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

/** Mean rating to 2 decimals (scaled first so 3.665 does not round down as a float would). */
function csatAverage(ratings: number[]): number | null {
	if (ratings.length === 0) return null;
	const sum = ratings.reduce((s, v) => s + v, 0);
	return Math.round((sum * 100) / ratings.length) / 100;
}

function row(key: string | null, label: string, facts: readonly ConversationFacts[]): ReportRow {
	const waits = present(facts.map((f) => f.waitMs));
	const ratings = present(facts.map((f) => f.csat));
	const satisfied = ratings.filter((r) => r >= 4).length;
	return {
		key,
		label,
		conversations: facts.length,
		answered: waits.length,
		avgWaitMs: average(waits),
		medianWaitMs: median(waits),
		avgFirstResponseMs: average(present(facts.map((f) => f.firstResponseMs))),
		avgHandleMs: average(present(facts.map((f) => f.handleMs))),
		csatCount: ratings.length,
		csatAverage: csatAverage(ratings),
		csatSatisfiedPct:
			ratings.length === 0 ? null : Math.round((satisfied * 1000) / ratings.length) / 10
	};
}

function groupRows(
	facts: readonly ConversationFacts[],
	keyOf: (f: ConversationFacts) => string | null | undefined,
	labelOf: (key: string | null) => string
): ReportRow[] {
	const groups = new Map<string | null, ConversationFacts[]>();
	for (const f of facts) {
		const key = keyOf(f);
		if (key === undefined) continue;
		const list = groups.get(key);
		if (list) list.push(f);
		else groups.set(key, [f]);
	}
	return [...groups]
		.map(([key, list]) => row(key, labelOf(key), list))
		.sort(
			(a, b) =>
				a.label.localeCompare(b.label, 'en') || (a.key ?? '').localeCompare(b.key ?? '', 'en')
		);
}

/** The local days (YYYY-MM-DD) that [from, to) touches in `timeZone`, in order. */
export function daysOfRange(from: number, to: number, timeZone: string): string[] {
	const days: string[] = [];
	let day = DateTime.fromMillis(from, { zone: timeZone }).startOf('day');
	while (day.toMillis() < to) {
		days.push(day.toISODate()!);
		day = day.plus({ days: 1 }).startOf('day');
	}
	return days;
}

/** The report over `input.from`…`input.to` (see the rules at the top of this file). */
export function computeReport(input: ReportInput): Report {
	const { from, to, timeZone } = input;
	const byConversation = new Map<string, ReportEvent[]>();
	for (const c of input.conversations) if (!byConversation.has(c.id)) byConversation.set(c.id, []);
	for (const e of input.events) byConversation.get(e.conversationId)?.push(e);

	const seen = new Set<string>();
	const facts: ConversationFacts[] = [];
	for (const c of input.conversations) {
		if (seen.has(c.id)) continue;
		seen.add(c.id);
		// Array.prototype.sort is stable: events at the same instant keep their input order.
		const events = byConversation.get(c.id)!.sort((a, b) => a.at - b.at);
		const f = conversationFacts(c, events);
		if (!f || f.requestedAt < from || f.requestedAt >= to) continue;
		if (input.queueId !== undefined && f.queueId !== input.queueId) continue;
		if (input.agentId !== undefined && f.agentId !== input.agentId) continue;
		facts.push(f);
	}

	const perDay = new Map<string, ConversationFacts[]>(
		daysOfRange(from, to, timeZone).map((d) => [d, []])
	);
	for (const f of facts)
		perDay.get(DateTime.fromMillis(f.requestedAt, { zone: timeZone }).toISODate()!)?.push(f);

	return {
		from,
		to,
		timeZone,
		total: row(null, TOTAL_LABEL, facts),
		byAgent: groupRows(
			facts,
			(f) => f.agentId ?? undefined,
			(id) => input.agentNames[id!] ?? id!
		),
		byQueue: groupRows(
			facts,
			(f) => f.queueId,
			(id) => (id === null ? NO_QUEUE_LABEL : (input.queueNames[id] ?? id))
		),
		byDay: [...perDay].map(([date, list]) => {
			const r = row(null, date, list);
			return {
				date,
				conversations: r.conversations,
				avgWaitMs: r.avgWaitMs,
				csatAverage: r.csatAverage
			};
		})
	};
}

export const REPORT_CSV_HEADER = [
	'group',
	'name',
	'conversations',
	'answered',
	'avg_wait_seconds',
	'median_wait_seconds',
	'avg_first_response_seconds',
	'avg_handle_seconds',
	'csat_count',
	'csat_average',
	'csat_satisfied_pct'
] as const;

/** Milliseconds as seconds with one decimal ("12.5"); null as an empty cell. */
const seconds = (ms: number | null) => (ms === null ? '' : (Math.round(ms / 100) / 10).toFixed(1));
const fixed = (v: number | null, digits: number) => (v === null ? '' : v.toFixed(digits));

/**
 * The report as spreadsheet cells: the header, the total, then the agents and the queues. No
 * quoting here: the server writes the cells with its CSV library.
 */
export function reportCsvRows(report: Report): string[][] {
	const line = (group: 'total' | 'agent' | 'queue', r: ReportRow) => [
		group,
		r.label,
		String(r.conversations),
		String(r.answered),
		seconds(r.avgWaitMs),
		seconds(r.medianWaitMs),
		seconds(r.avgFirstResponseMs),
		seconds(r.avgHandleMs),
		String(r.csatCount),
		fixed(r.csatAverage, 2),
		fixed(r.csatSatisfiedPct, 1)
	];
	return [
		[...REPORT_CSV_HEADER],
		line('total', report.total),
		...report.byAgent.map((r) => line('agent', r)),
		...report.byQueue.map((r) => line('queue', r))
	];
}

/** Longest range a report may cover, in days (both ends included). */
export const MAX_REPORT_DAYS = 366;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A calendar date as a UTC midnight, or null when `v` is not YYYY-MM-DD or not a real day. */
function calendarDate(v: string): DateTime | null {
	if (!DATE.test(v)) return null;
	const d = DateTime.fromISO(v, { zone: 'UTC' });
	return d.isValid ? d : null;
}

const dateField = (which: string) =>
	z.string({ error: `Choose the ${which} date (YYYY-MM-DD).` }).superRefine((v, ctx) => {
		if (!DATE.test(v))
			ctx.addIssue({ code: 'custom', message: 'Write dates as YYYY-MM-DD, e.g. 2026-03-29.' });
		else if (!calendarDate(v)) ctx.addIssue({ code: 'custom', message: `${v} is not a real day.` });
	});

/** An optional filter; an empty value (`?queue=`) means no filter. */
const filterField = z
	.string()
	.trim()
	.max(64)
	.optional()
	.transform((v) => v || undefined);

/**
 * The report's query string: a range of dates (both included) in a time zone (UTC unless
 * given), and optionally one queue or one agent.
 */
export const ReportQuerySchema = z
	.object({
		from: dateField('first'),
		to: dateField('last'),
		tz: z
			.string()
			.trim()
			.optional()
			.transform((v) => v || 'UTC')
			.refine((v) => IANAZone.isValidZone(v), {
				error: (issue) => `"${String(issue.input)}" is not a known time zone.`
			}),
		queue: filterField,
		agent: filterField
	})
	.superRefine((q, ctx) => {
		const from = calendarDate(q.from);
		const to = calendarDate(q.to);
		if (!from || !to) return;
		const days = to.diff(from, 'days').days + 1;
		if (days < 1)
			ctx.addIssue({
				code: 'custom',
				path: ['to'],
				message: 'The last date cannot be before the first date.'
			});
		else if (days > MAX_REPORT_DAYS)
			ctx.addIssue({
				code: 'custom',
				path: ['to'],
				message: `A report covers at most ${MAX_REPORT_DAYS} days; choose a shorter range.`
			});
	});
export type ReportQueryInput = z.input<typeof ReportQuerySchema>;
export type ReportQuery = z.infer<typeof ReportQuerySchema>;

/**
 * The query's dates as instants: from the start of `from` to the start of the day after `to`,
 * both in the query's time zone, so `to` is included and a DST day is 23 or 25 hours long.
 */
export function reportRange(q: { from: string; to: string; tz?: string }): {
	from: number;
	to: number;
} {
	const zone = q.tz || 'UTC';
	const from = DateTime.fromISO(q.from, { zone }).startOf('day');
	const to = DateTime.fromISO(q.to, { zone }).plus({ days: 1 }).startOf('day');
	return { from: from.toMillis(), to: to.toMillis() };
}
