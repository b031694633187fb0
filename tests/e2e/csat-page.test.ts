/**
 * The page an emailed rating link opens (`/csat#token=…`): the survey, still there after a
 * reload (the token leaves the address but stays with the tab), and a clear word for a link
 * that is broken or missing.
 */
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { browserSuite, liveCustomerAt } from '../helpers/browser';
import { signCsatToken } from '../../server/auth/tokens';

const SECRET = 'csat-page-test-secret-csat-page-test-secret';
const suite = browserSuite({ env: { PARLEY_SESSION_SECRET: SECRET } });

describe('the emailed rating page', () => {
	it('shows the survey, keeps it across a reload, and takes the rating', async () => {
		const { server } = suite;
		const customer = await suite.newContext();
		await liveCustomerAt(customer, server.base, 'Rhea', 'Hello');
		// The conversation's survey went out by email (as the CSAT trigger does when a session
		// ends with the customer's address known): mark it requested, and sign its link.
		const db = new Database(join(server.dir, 'parley.db'), { timeout: 5000 });
		const row = db
			.prepare('select id from conversations order by created_at desc limit 1')
			.get() as { id: string };
		db.prepare('update conversations set csat_requested_at = ? where id = ?').run(
			Date.now(),
			row.id
		);
		db.close();
		const token = await signCsatToken(new TextEncoder().encode(SECRET), row.id, {
			now: Date.now(),
			ttlMs: 3_600_000
		});

		const page = await (await suite.newContext()).newPage();
		await page.goto(`${server.base}/csat#token=${token}`);
		const survey = page.getByRole('form', { name: 'Rate this conversation' });
		await survey.waitFor();
		expect(page.url()).toBe(`${server.base}/csat`);
		await page.reload();
		await survey.waitFor();
		await survey.getByRole('radio').last().check();
		await page.getByRole('button', { name: 'Send rating' }).click();
		await page.getByRole('status').getByText('Thank you for your rating (5/5).').waitFor();
	});

	it('says what to do when the link is broken or missing, not which field is invalid', async () => {
		const page = await (await suite.newContext()).newPage();
		await page.goto(`${suite.server.base}/csat`);
		await expect
			.poll(() => page.getByRole('alert').textContent())
			.toBe(
				'This page opens from the rating link in your email. Open that link again to rate the conversation.'
			);
		await page.goto(`${suite.server.base}/csat#token=garbage`);
		await page.reload();
		await expect
			.poll(() => page.getByRole('alert').textContent())
			.toBe('This survey link is not valid.');
	});
});
