import { describe, expect, it } from 'vitest';
import { isOpen, nextOpening, parseHours, validateHours, type OperatingHours } from './hours';

const rome: OperatingHours = {
	timeZone: 'Europe/Rome',
	weekly: {
		mon: [
			['09:00', '13:00'],
			['14:00', '18:00']
		],
		sat: [['10:00', '24:00']]
	}
};
const at = (iso: string) => Date.parse(iso);

describe('operating hours', () => {
	it('is always open without hours', () => {
		expect(isOpen(null, 0)).toBe(true);
		expect(nextOpening(null, 123)).toBe(123);
	});
	it('reads the time in the workstream time zone', () => {
		// Monday 2026-11-23 08:30 UTC is 09:30 in Rome (UTC+1 in winter).
		expect(isOpen(rome, at('2026-11-23T08:30:00Z'))).toBe(true);
		expect(isOpen(rome, at('2026-11-23T07:59:00Z'))).toBe(false);
		expect(isOpen(rome, at('2026-11-23T12:30:00Z'))).toBe(false); // lunch, 13:30 in Rome
		expect(isOpen(rome, at('2026-11-23T16:59:00Z'))).toBe(true);
		expect(isOpen(rome, at('2026-11-23T17:00:00Z'))).toBe(false);
	});
	it('follows daylight saving time', () => {
		// Monday 2026-07-06: Rome is UTC+2, so 09:00 there is 07:00 UTC.
		expect(isOpen(rome, at('2026-07-06T07:00:00Z'))).toBe(true);
		expect(isOpen(rome, at('2026-07-06T06:59:00Z'))).toBe(false);
	});
	it('finds the next opening, across days and the week', () => {
		expect(nextOpening(rome, at('2026-11-23T12:30:00Z'))).toBe(at('2026-11-23T13:00:00Z'));
		// Monday evening → Saturday 10:00 Rome.
		expect(nextOpening(rome, at('2026-11-23T18:00:00Z'))).toBe(at('2026-11-28T09:00:00Z'));
		// Saturday until midnight; Sunday → next Monday 09:00.
		expect(isOpen(rome, at('2026-11-28T22:59:00Z'))).toBe(true);
		expect(nextOpening(rome, at('2026-11-29T10:00:00Z'))).toBe(at('2026-11-30T08:00:00Z'));
		expect(nextOpening({ timeZone: 'UTC', weekly: {} }, 0)).toBeNull();
	});
	it('refuses overlaps, bad times and unknown zones, by field', () => {
		expect(validateHours(rome)).toEqual([]);
		const errors = validateHours({
			timeZone: 'Mars/Olympus',
			weekly: {
				tue: [
					['09:00', '12:00'],
					['11:00', '15:00'],
					['25:00', '26:00'],
					['10:00', '09:00']
				]
			}
		});
		expect(errors.map((e) => e.field)).toEqual([
			'timeZone',
			'weekly.tue.2',
			'weekly.tue.3',
			'weekly.tue.1'
		]);
		expect(parseHours(JSON.stringify(rome))).toEqual(rome);
		expect(parseHours('')).toBeNull();
	});
});
