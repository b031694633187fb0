import { describe, expect, it } from 'vitest';
import {
	WorkstreamSettingsSchema,
	defaultSettings,
	fieldErrors,
	type WorkstreamSettingsInput
} from './workstream-settings';

const valid = (over: Partial<WorkstreamSettingsInput> = {}): WorkstreamSettingsInput => ({
	...defaultSettings('q_1'),
	slug: 'billing',
	name: 'Billing',
	...over
});

function errorsOf(input: WorkstreamSettingsInput) {
	const r = WorkstreamSettingsSchema.safeParse(input);
	return r.success ? {} : fieldErrors(r.error);
}

describe('workstream settings', () => {
	it('accepts the defaults with a slug and a name, normalising colour and empty texts', () => {
		const r = WorkstreamSettingsSchema.parse(
			valid({ color: '#AABBCC', queuePositionText: '  ', offlineText: 'Back soon.' })
		);
		expect(r.color).toBe('#aabbcc');
		expect(r.queuePositionText).toBeNull();
		expect(r.offlineText).toBe('Back soon.');
		expect(r.wrapUpReasons).toEqual([
			'Resolved',
			'Information given',
			'Follow-up needed',
			'Not resolved'
		]);
	});

	it('refuses an empty wrap-up list and duplicate or empty reasons, per field', () => {
		expect(errorsOf(valid({ wrapUpReasons: [] }))).toEqual({
			wrapUpReasons: 'Give agents at least one wrap-up reason.'
		});
		expect(errorsOf(valid({ wrapUpReasons: ['Done', ' ', 'done'] }))).toEqual({
			'wrapUpReasons.1': 'A reason cannot be empty.',
			'wrapUpReasons.2': '"done" is in the list twice.'
		});
		expect(errorsOf(valid({ wrapUpReasons: ['Done', 'done'] }))).toEqual({
			'wrapUpReasons.1': '"done" is in the list twice.'
		});
	});

	it('refuses a Solved → Closed delay outside the style’s bounds', () => {
		const day = 24 * 3600_000;
		expect(errorsOf(valid({ style: 'social', solvedCloseMs: 30 * day })).solvedCloseMs).toMatch(
			/1.*28 days/
		);
		expect(
			errorsOf(valid({ style: 'social', solvedCloseMs: 12 * 3600_000 })).solvedCloseMs
		).toMatch(/1.*28 days/);
		expect(errorsOf(valid({ style: 'social', solvedCloseMs: 4 * day }))).toEqual({});
		expect(
			errorsOf(valid({ style: 'live', solvedCloseMs: 2 * 3600_000 })).solvedCloseMs
		).toBeTruthy();
	});

	it('refuses overlapping hours and unknown time zones with the interval’s field', () => {
		expect(
			errorsOf(
				valid({
					hours: {
						timeZone: 'Europe/Rome',
						weekly: {
							mon: [
								['09:00', '13:00'],
								['12:00', '18:00']
							]
						}
					}
				})
			)
		).toEqual({ 'hours.weekly.mon.1': 'This interval overlaps another one on the same day.' });
		expect(errorsOf(valid({ hours: { timeZone: 'Mars/Olympus', weekly: {} } }))).toEqual({
			'hours.timeZone': '"Mars/Olympus" is not a known time zone.'
		});
	});

	it('needs signed-in customers for a persistent workstream', () => {
		expect(errorsOf(valid({ mode: 'persistent', authRequired: false }))).toEqual({
			authRequired:
				'A persistent workstream needs signed-in customers (their history follows them).'
		});
		expect(errorsOf(valid({ mode: 'persistent', authRequired: true }))).toEqual({});
	});

	it('checks the slug, the colour and the keep-the-same-agent wait', () => {
		const e = errorsOf(valid({ slug: 'Bad Slug', color: 'blue', keepWaitMs: -1 }));
		expect(Object.keys(e).sort()).toEqual(['color', 'keepWaitMs', 'slug']);
		expect(e.color).toBe('Use a colour like #2563eb.');
	});
});
