import { describe, expect, it } from 'vitest';
import {
	ReportQuerySchema,
	computeReport,
	reportCsvRows,
	reportRange,
	type ReportEvent,
	type ReportInput,
	type ReportRow
} from './reports';

const s = 1000;
const min = 60 * s;
const h = 60 * min;
/** 2026-03-02 00:00 UTC: the first day of the seeded report. */
const T = Date.UTC(2026, 2, 2);
const day = 24 * h;

const ev = (
	conversationId: string,
	type: string,
	at: number,
	actor: string | null = null,
	data: Record<string, unknown> = {}
): ReportEvent => ({ conversationId, type, actor, data, at });

/**
 * A seeded history with answers worked out by hand. Range 2026-03-02 … 2026-03-04 (UTC),
 * agents a1 "Zoe", a2 "Bruno" and a9 (no name), queues q1 "Billing", q2 "Sales".
 *   c1  q1    03-02 00:00  a1 accepts after 30 s, answers after 45 s, ends 10 min later; CSAT 3 then 5
 *   c2  q2    03-02 14:00  a1 accepts after 60 s, answers after 90 s, transfers to a2; session
 *                          ends 20 min after the request (handle 19 min); CSAT 4
 *   c3  q1    03-04 10:00  a2 accepts after 15 s, never writes, ends 5 min after the request; CSAT 2
 *   c4  q2    03-04 11:00  never accepted (times out, then ends)
 *   c8  none  03-04 23:00  a9 accepts after 50 s, answers after 55 s, still open
 * Left out: c5 (requested before the range), c9 (requested exactly at the end), c7 (never
 * requested), c6 (not a listed conversation).
 */
const c1 = T;
const c2 = T + 14 * h;
const c3 = T + 2 * day + 10 * h;
const c4 = T + 2 * day + 11 * h;
const c8 = T + 2 * day + 23 * h;
const EVENTS: ReportEvent[] = [
	ev('c2', 'requested', c2),
	ev('c1', 'csat_received', c1 + 12 * min, 'customer:u1', { rating: 5 }),
	ev('c1', 'requested', c1),
	ev('c1', 'offered', c1 + 1 * s, null, { agent: 'Zoe' }),
	ev('c1', 'accepted', c1 + 30 * s, 'agent:a1'),
	ev('c1', 'first_response', c1 + 45 * s, 'agent:a1'),
	ev('c1', 'ended', c1 + 10 * min + 30 * s, 'agent:a1'),
	ev('c1', 'csat_received', c1 + 11 * min, 'customer:u1', { rating: 3 }),
	ev('c2', 'accepted', c2 + 60 * s, 'agent:a1'),
	ev('c2', 'first_response', c2 + 90 * s, 'agent:a1'),
	ev('c2', 'transferred', c2 + 5 * min, 'agent:a1', { to: 'Bruno' }),
	ev('c2', 'accepted', c2 + 6 * min, 'agent:a2'),
	ev('c2', 'first_response', c2 + 7 * min, 'agent:a2'),
	ev('c2', 'session_ended', c2 + 20 * min, 'agent:a2', { role: 'agent' }),
	ev('c2', 'ended', c2 + 21 * min, 'agent:a2'),
	ev('c2', 'csat_received', c2 + 22 * min, 'customer:u2', { rating: 4 }),
	ev('c3', 'requested', c3),
	ev('c3', 'accepted', c3 + 15 * s, 'agent:a2'),
	ev('c3', 'ended', c3 + 5 * min, 'agent:a2'),
	ev('c3', 'csat_received', c3 + 6 * min, 'customer:u3', { rating: 2 }),
	ev('c4', 'requested', c4),
	ev('c4', 'offered', c4 + 1 * s, null, { agent: 'Zoe' }),
	ev('c4', 'timed_out', c4 + 31 * s, null, { agent: 'Zoe' }),
	ev('c4', 'ended', c4 + 30 * min, null),
	ev('c8', 'requested', c8),
	ev('c8', 'accepted', c8 + 50 * s, 'agent:a9'),
	ev('c8', 'first_response', c8 + 55 * s, 'agent:a9'),
	ev('c5', 'requested', T - 1 * h),
	ev('c5', 'accepted', T - 1 * h + 10 * s, 'agent:a1'),
	ev('c5', 'csat_received', T - 1 * h + 5 * min, 'customer:u5', { rating: 1 }),
	ev('c9', 'requested', T + 3 * day),
	ev('c9', 'accepted', T + 3 * day + 10 * s, 'agent:a1'),
	ev('c7', 'accepted', T + 3 * h, 'agent:a1'),
	ev('c7', 'csat_received', T + 4 * h, 'customer:u7', { rating: 1 }),
	ev('c6', 'requested', T + 5 * h),
	ev('c6', 'accepted', T + 5 * h + 10 * s, 'agent:a1')
];

const INPUT: ReportInput = {
	conversations: [
		{ id: 'c1', queueId: 'q1' },
		{ id: 'c2', queueId: 'q2' },
		{ id: 'c3', queueId: 'q1' },
		{ id: 'c4', queueId: 'q2' },
		{ id: 'c5', queueId: null },
		{ id: 'c7', queueId: 'q1' },
		{ id: 'c8', queueId: null },
		{ id: 'c9', queueId: 'q1' }
	],
	events: EVENTS,
	agentNames: { a1: 'Zoe', a2: 'Bruno' },
	queueNames: { q1: 'Billing', q2: 'Sales' },
	from: T,
	to: T + 3 * day,
	timeZone: 'UTC'
};

const rowOf = (key: string | null, label: string, r: Partial<ReportRow>): ReportRow => ({
	key,
	label,
	conversations: 0,
	answered: 0,
	avgWaitMs: null,
	medianWaitMs: null,
	avgFirstResponseMs: null,
	avgHandleMs: null,
	csatCount: 0,
	csatAverage: null,
	csatSatisfiedPct: null,
	...r
});

describe('computeReport', () => {
	const report = computeReport(INPUT);

	it('totals the conversations requested in the range', () => {
		expect(report.from).toBe(T);
		expect(report.to).toBe(T + 3 * day);
		expect(report.timeZone).toBe('UTC');
		expect(report.total).toEqual(
			rowOf(null, 'All', {
				conversations: 5,
				answered: 4,
				// Waits 30, 60, 15 and 50 s: mean 38.75 s, median (30 + 50) / 2.
				avgWaitMs: 38_750,
				medianWaitMs: 40_000,
				// First responses 45, 90 and 55 s (c2 counts a1's, not a2's): 190 / 3 s, rounded.
				avgFirstResponseMs: 63_333,
				// Handle 10 min, 19 min (to the session end) and 4 min 45 s.
				avgHandleMs: 675_000,
				csatCount: 3,
				csatAverage: 3.67,
				csatSatisfiedPct: 66.7
			})
		);
	});

	it('credits the agent who had the conversation at the end, sorted by name', () => {
		expect(report.byAgent).toEqual([
			// An agent missing from the names is shown by id.
			rowOf('a9', 'a9', {
				conversations: 1,
				answered: 1,
				avgWaitMs: 50_000,
				medianWaitMs: 50_000,
				avgFirstResponseMs: 55_000
			}),
			// c2 (transferred to Bruno) and c3; the wait is to the first acceptance.
			rowOf('a2', 'Bruno', {
				conversations: 2,
				answered: 2,
				avgWaitMs: 37_500,
				medianWaitMs: 37_500,
				avgFirstResponseMs: 90_000,
				avgHandleMs: 712_500,
				csatCount: 2,
				csatAverage: 3,
				csatSatisfiedPct: 50
			}),
			// c1 only; its last rating (5) replaced the first (3).
			rowOf('a1', 'Zoe', {
				conversations: 1,
				answered: 1,
				avgWaitMs: 30_000,
				medianWaitMs: 30_000,
				avgFirstResponseMs: 45_000,
				avgHandleMs: 600_000,
				csatCount: 1,
				csatAverage: 5,
				csatSatisfiedPct: 100
			})
		]);
		// The unanswered c4 is in the total but under no agent.
		expect(report.byAgent.reduce((n, r) => n + r.conversations, 0)).toBe(4);
	});

	it('groups by queue, with "No queue" for conversations without one', () => {
		expect(report.byQueue).toEqual([
			rowOf('q1', 'Billing', {
				conversations: 2,
				answered: 2,
				avgWaitMs: 22_500,
				medianWaitMs: 22_500,
				avgFirstResponseMs: 45_000,
				avgHandleMs: 442_500,
				csatCount: 2,
				csatAverage: 3.5,
				csatSatisfiedPct: 50
			}),
			rowOf(null, 'No queue', {
				conversations: 1,
				answered: 1,
				avgWaitMs: 50_000,
				medianWaitMs: 50_000,
				avgFirstResponseMs: 55_000
			}),
			// c4 was never accepted: counted, but in no wait or handle figure.
			rowOf('q2', 'Sales', {
				conversations: 2,
				answered: 1,
				avgWaitMs: 60_000,
				medianWaitMs: 60_000,
				avgFirstResponseMs: 90_000,
				avgHandleMs: 1_140_000,
				csatCount: 1,
				csatAverage: 4,
				csatSatisfiedPct: 100
			})
		]);
	});

	it('lists every day of the range, empty ones included', () => {
		expect(report.byDay).toEqual([
			{ date: '2026-03-02', conversations: 2, avgWaitMs: 45_000, csatAverage: 4.5 },
			{ date: '2026-03-03', conversations: 0, avgWaitMs: null, csatAverage: null },
			{ date: '2026-03-04', conversations: 3, avgWaitMs: 32_500, csatAverage: 2 }
		]);
	});

	it('does not depend on the order of the events', () => {
		expect(computeReport({ ...INPUT, events: [...EVENTS].reverse() })).toEqual(report);
	});

	it('keeps the input order of events at the same instant', () => {
		const at = T + h;
		const base = { ...INPUT, conversations: [{ id: 'x', queueId: 'q1' }] };
		const acceptThenEnd = computeReport({
			...base,
			events: [
				ev('x', 'requested', at),
				ev('x', 'accepted', at + s, 'agent:a1'),
				ev('x', 'ended', at + s, 'agent:a1')
			]
		});
		expect(acceptThenEnd.total.avgHandleMs).toBe(0);
		const endThenAccept = computeReport({
			...base,
			events: [
				ev('x', 'requested', at),
				ev('x', 'ended', at + s, 'agent:a1'),
				ev('x', 'accepted', at + s, 'agent:a1')
			]
		});
		expect(endThenAccept.total.answered).toBe(1);
		expect(endThenAccept.total.avgHandleMs).toBeNull();
	});

	it('filters by queue and by agent', () => {
		const billing = computeReport({ ...INPUT, queueId: 'q1' });
		expect(billing.total.conversations).toBe(2);
		expect(billing.byQueue.map((r) => r.label)).toEqual(['Billing']);
		expect(billing.byAgent.map((r) => r.label)).toEqual(['Bruno', 'Zoe']);
		expect(billing.byDay.map((d) => d.conversations)).toEqual([1, 0, 1]);

		const bruno = computeReport({ ...INPUT, agentId: 'a2' });
		expect(bruno.total).toEqual({ ...report.byAgent[1], key: null, label: 'All' });
		expect(bruno.byAgent.map((r) => r.label)).toEqual(['Bruno']);
		expect(bruno.byQueue.map((r) => [r.label, r.conversations])).toEqual([
			['Billing', 1],
			['Sales', 1]
		]);
	});

	it('is empty, with null averages, when nothing was requested', () => {
		const empty = computeReport({ ...INPUT, events: [] });
		expect(empty.total).toEqual(rowOf(null, 'All', {}));
		expect(empty.byAgent).toEqual([]);
		expect(empty.byQueue).toEqual([]);
		expect(empty.byDay.map((d) => d.conversations)).toEqual([0, 0, 0]);
	});

	it('takes the middle wait for an odd count and rounds averages', () => {
		const at = T + h;
		const ids = ['m1', 'm2', 'm3'];
		const waits = [1001, 1000, 5000];
		const ratings = [4, 1, 1];
		const r = computeReport({
			...INPUT,
			conversations: ids.map((id) => ({ id, queueId: null })),
			events: ids.flatMap((id, i) => [
				ev(id, 'requested', at),
				ev(id, 'accepted', at + waits[i], 'agent:a1'),
				ev(id, 'csat_received', at + h, 'customer:u', { rating: ratings[i] })
			])
		});
		expect(r.total.medianWaitMs).toBe(1001);
		// 7001 / 3 = 2333.67 ms.
		expect(r.total.avgWaitMs).toBe(2334);
		// 6 / 3 = 2 exactly; one rating in three is 4 or 5.
		expect(r.total.csatAverage).toBe(2);
		expect(r.total.csatSatisfiedPct).toBe(33.3);
		// (1 + 2 + 2) / 3 = 1.666… → 1.67; nobody answered, so no wait at all.
		const two = computeReport({
			...INPUT,
			conversations: ids.map((id) => ({ id, queueId: null })),
			events: ids.flatMap((id, i) => [
				ev(id, 'requested', at),
				ev(id, 'csat_received', at + h, 'customer:u', { rating: [1, 2, 2][i] })
			])
		});
		expect(two.total.csatAverage).toBe(1.67);
		expect(two.total.csatSatisfiedPct).toBe(0);
		expect(two.total.answered).toBe(0);
		expect(two.total.medianWaitMs).toBeNull();
	});

	it('counts days in the report time zone', () => {
		// 2026-03-28 23:30 UTC is already the 29th in Rome; the 29th there is 23 hours long.
		const at = Date.UTC(2026, 2, 28, 23, 30);
		const range = reportRange({ from: '2026-03-28', to: '2026-03-30', tz: 'Europe/Rome' });
		const base = {
			...INPUT,
			...range,
			conversations: [{ id: 'r', queueId: 'q1' }],
			events: [ev('r', 'requested', at), ev('r', 'accepted', at + 20 * s, 'agent:a1')]
		};
		const rome = computeReport({ ...base, timeZone: 'Europe/Rome' });
		expect(rome.byDay.map((d) => [d.date, d.conversations])).toEqual([
			['2026-03-28', 0],
			['2026-03-29', 1],
			['2026-03-30', 0]
		]);
		const utc = computeReport({ ...base, timeZone: 'UTC' });
		expect(utc.byDay.map((d) => [d.date, d.conversations])).toEqual([
			['2026-03-27', 0],
			['2026-03-28', 1],
			['2026-03-29', 0],
			['2026-03-30', 0]
		]);
	});
});

describe('reportCsvRows', () => {
	it('writes the header, the total, the agents and the queues, in seconds', () => {
		expect(reportCsvRows(computeReport(INPUT))).toEqual([
			[
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
			],
			['total', 'All', '5', '4', '38.8', '40.0', '63.3', '675.0', '3', '3.67', '66.7'],
			['agent', 'a9', '1', '1', '50.0', '50.0', '55.0', '', '0', '', ''],
			['agent', 'Bruno', '2', '2', '37.5', '37.5', '90.0', '712.5', '2', '3.00', '50.0'],
			['agent', 'Zoe', '1', '1', '30.0', '30.0', '45.0', '600.0', '1', '5.00', '100.0'],
			['queue', 'Billing', '2', '2', '22.5', '22.5', '45.0', '442.5', '2', '3.50', '50.0'],
			['queue', 'No queue', '1', '1', '50.0', '50.0', '55.0', '', '0', '', ''],
			['queue', 'Sales', '2', '1', '60.0', '60.0', '90.0', '1140.0', '1', '4.00', '100.0']
		]);
	});
});

describe('reportRange', () => {
	it('covers whole days, the last one included, in UTC by default', () => {
		expect(reportRange({ from: '2026-03-02', to: '2026-03-04' })).toEqual({
			from: Date.UTC(2026, 2, 2),
			to: Date.UTC(2026, 2, 5)
		});
	});
	it('follows the time zone across DST changes', () => {
		const spring = reportRange({ from: '2026-03-29', to: '2026-03-29', tz: 'Europe/Rome' });
		expect(spring.from).toBe(Date.UTC(2026, 2, 28, 23));
		expect(spring.to).toBe(Date.UTC(2026, 2, 29, 22));
		expect(spring.to - spring.from).toBe(23 * h);
		const autumn = reportRange({ from: '2026-10-25', to: '2026-10-25', tz: 'Europe/Rome' });
		expect(autumn.to - autumn.from).toBe(25 * h);
		const ny = reportRange({ from: '2026-01-01', to: '2026-01-31', tz: 'America/New_York' });
		expect(ny).toEqual({ from: Date.UTC(2026, 0, 1, 5), to: Date.UTC(2026, 1, 1, 5) });
	});
});

describe('ReportQuerySchema', () => {
	/** Field → first message, or the parsed query when valid. */
	const check = (input: Record<string, unknown>) => {
		const r = ReportQuerySchema.safeParse(input);
		if (r.success) return r.data;
		const errors: Record<string, string> = {};
		for (const i of r.error.issues) errors[i.path.join('.')] ??= i.message;
		return errors;
	};

	it('accepts a range, defaulting to UTC and no filters', () => {
		expect(check({ from: '2026-03-01', to: '2026-03-31' })).toEqual({
			from: '2026-03-01',
			to: '2026-03-31',
			tz: 'UTC'
		});
		expect(
			check({ from: '2026-03-29', to: '2026-03-29', tz: 'Europe/Rome', queue: 'q1', agent: '' })
		).toEqual({ from: '2026-03-29', to: '2026-03-29', tz: 'Europe/Rome', queue: 'q1' });
		expect(check({ from: '2026-03-01', to: '2026-03-02', tz: '' })).toMatchObject({ tz: 'UTC' });
	});
	it('refuses dates not written as YYYY-MM-DD', () => {
		expect(check({ from: '2026-3-1', to: '03/31/2026' })).toEqual({
			from: 'Write dates as YYYY-MM-DD, e.g. 2026-03-29.',
			to: 'Write dates as YYYY-MM-DD, e.g. 2026-03-29.'
		});
		expect(check({ to: '2026-03-01' })).toEqual({ from: 'Choose the first date (YYYY-MM-DD).' });
	});
	it('refuses days that do not exist', () => {
		expect(check({ from: '2026-02-01', to: '2026-02-30' })).toEqual({
			to: '2026-02-30 is not a real day.'
		});
	});
	it('refuses a last date before the first', () => {
		expect(check({ from: '2026-03-02', to: '2026-03-01' })).toEqual({
			to: 'The last date cannot be before the first date.'
		});
	});
	it('refuses ranges longer than 366 days', () => {
		expect(check({ from: '2024-01-01', to: '2024-12-31' })).toMatchObject({ to: '2024-12-31' });
		expect(check({ from: '2024-01-01', to: '2025-01-01' })).toEqual({
			to: 'A report covers at most 366 days; choose a shorter range.'
		});
	});
	it('refuses unknown time zones', () => {
		expect(check({ from: '2026-03-01', to: '2026-03-02', tz: 'Europe/Atlantis' })).toEqual({
			tz: '"Europe/Atlantis" is not a known time zone.'
		});
	});
});
