import { describe, expect, it } from 'vitest';
import { CsatAnswerSchema, describeRating } from './csat';

describe('CSAT answer', () => {
	it('takes 1 to 5 and an optional comment', () => {
		expect(CsatAnswerSchema.parse({ rating: 5 })).toEqual({ rating: 5 });
		expect(CsatAnswerSchema.parse({ rating: 1, comment: '  slow  ' })).toEqual({
			rating: 1,
			comment: 'slow'
		});
		expect(CsatAnswerSchema.parse({ rating: 3, comment: '   ' })).toEqual({ rating: 3 });
	});

	it('refuses anything else with one clear message', () => {
		for (const rating of [0, 6, 2.5, '4', null]) {
			const r = CsatAnswerSchema.safeParse({ rating });
			expect(r.success).toBe(false);
			expect(r.error!.issues[0].message).toBe('Choose a rating from 1 to 5.');
		}
		expect(CsatAnswerSchema.safeParse({ rating: 4, comment: 'x'.repeat(2001) }).success).toBe(
			false
		);
	});

	it('says a rating in words', () => {
		expect(describeRating(5)).toBe('5/5 (Very good)');
		expect(describeRating(1)).toBe('1/5 (Very bad)');
	});
});
