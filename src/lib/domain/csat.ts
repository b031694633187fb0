/** CSAT (SPEC C8): a rating from 1 to 5 and an optional comment, stored on the ticket. */
import { z } from 'zod';

export const CSAT_LABELS = ['Very bad', 'Bad', 'Okay', 'Good', 'Very good'] as const;

export const CsatAnswerSchema = z.object({
	rating: z
		.number({ error: 'Choose a rating from 1 to 5.' })
		.int('Choose a rating from 1 to 5.')
		.min(1, 'Choose a rating from 1 to 5.')
		.max(5, 'Choose a rating from 1 to 5.'),
	comment: z
		.string()
		.trim()
		.max(2000, 'Keep the comment under 2000 characters.')
		.optional()
		.transform((c) => (c ? c : undefined))
});
export type CsatAnswer = z.infer<typeof CsatAnswerSchema>;

/** What the customer's conversation document holds while a survey is open or answered. */
export interface CsatRequest {
	requestedAt: number;
	/** Set once answered (the rating only; the comment stays on the ticket). */
	answered?: { rating: number; at: number };
}

export const describeRating = (rating: number) =>
	`${rating}/5 (${CSAT_LABELS[rating - 1] ?? 'unknown'})`;
