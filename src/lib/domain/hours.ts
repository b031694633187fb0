/**
 * Operating hours (SPEC R6, C6): weekly opening intervals in the workstream's own time zone.
 * Time-zone arithmetic (DST gaps and overlaps) is left to Luxon rather than written by hand.
 */
import { DateTime, IANAZone } from 'luxon';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** `"09:00"`–`"17:30"`; the end may be `"24:00"`. */
export type Interval = [start: string, end: string];

export interface OperatingHours {
	timeZone: string;
	/** Days missing or empty are closed. */
	weekly: Partial<Record<Weekday, Interval[]>>;
}

const TIME = /^([01]\d|2[0-4]):([0-5]\d)$/;

function minutes(hhmm: string): number | null {
	const m = TIME.exec(hhmm);
	if (!m) return null;
	const v = Number(m[1]) * 60 + Number(m[2]);
	return v <= 24 * 60 ? v : null;
}

/** Problems with `h`, by field (`weekly.mon.0`), empty when valid. */
export function validateHours(h: OperatingHours): { field: string; message: string }[] {
	const errors: { field: string; message: string }[] = [];
	if (!IANAZone.isValidZone(h.timeZone))
		errors.push({ field: 'timeZone', message: `"${h.timeZone}" is not a known time zone.` });
	for (const day of Object.keys(h.weekly)) {
		if (!(WEEKDAYS as readonly string[]).includes(day)) {
			errors.push({ field: `weekly.${day}`, message: `"${day}" is not a weekday (mon…sun).` });
			continue;
		}
		const spans: [number, number, number][] = [];
		(h.weekly[day as Weekday] ?? []).forEach(([s, e], i) => {
			const start = minutes(s);
			const end = minutes(e);
			if (start === null || end === null)
				errors.push({ field: `weekly.${day}.${i}`, message: 'Times are HH:MM, 00:00 to 24:00.' });
			else if (end <= start)
				errors.push({ field: `weekly.${day}.${i}`, message: 'The end must be after the start.' });
			else spans.push([start, end, i]);
		});
		spans.sort((a, b) => a[0] - b[0]);
		for (let i = 1; i < spans.length; i++)
			if (spans[i][0] < spans[i - 1][1])
				errors.push({
					field: `weekly.${day}.${spans[i][2]}`,
					message: 'This interval overlaps another one on the same day.'
				});
	}
	return errors;
}

function local(h: OperatingHours, at: number) {
	return DateTime.fromMillis(at, { zone: h.timeZone });
}

/** Opening intervals of the local day containing `day`, as instants (ms). */
function intervalsOf(h: OperatingHours, day: DateTime): [number, number][] {
	const name = WEEKDAYS[day.weekday - 1];
	const midnight = day.startOf('day');
	const out: [number, number][] = [];
	for (const [s, e] of h.weekly[name] ?? []) {
		const start = minutes(s);
		const end = minutes(e);
		if (start === null || end === null || end <= start) continue;
		// Wall-clock times, resolved by Luxon (a time inside a DST gap moves forward).
		const at = (m: number) =>
			m === 24 * 60
				? midnight.plus({ days: 1 }).toMillis()
				: midnight.set({ hour: Math.floor(m / 60), minute: m % 60 }).toMillis();
		out.push([at(start), at(end)]);
	}
	return out.sort((a, b) => a[0] - b[0]);
}

/** Always open when `h` is null (no hours configured). */
export function isOpen(h: OperatingHours | null, at: number): boolean {
	if (!h) return true;
	return intervalsOf(h, local(h, at)).some(([s, e]) => s <= at && at < e);
}

/** The first instant at or after `at` when the workstream is open; null if it never opens. */
export function nextOpening(h: OperatingHours | null, at: number): number | null {
	if (!h || isOpen(h, at)) return at;
	const today = local(h, at).startOf('day');
	for (let d = 0; d <= 7; d++)
		for (const [s] of intervalsOf(h, today.plus({ days: d }))) if (s > at) return s;
	return null;
}

/** Parses stored hours (JSON); null (always open) when unset or unreadable. */
export function parseHours(json: string | null | undefined): OperatingHours | null {
	if (!json) return null;
	try {
		const v = JSON.parse(json) as OperatingHours;
		return v && typeof v.timeZone === 'string' && v.weekly && validateHours(v).length === 0
			? v
			: null;
	} catch {
		return null;
	}
}
