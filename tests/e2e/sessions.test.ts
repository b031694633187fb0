/**
 * Sessions in the browser (SPEC A9, C7, C8, P4): the agent ends the messaging session; the
 * composer switches to email (or an internal note when no email is known); the customer's
 * widget no longer writes into that conversation — their next message is a new ticket in the
 * agent's inbox; the CSAT survey in the widget; the local mail outbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
	acceptOffer,
	conversationLog,
	launchChromium,
	liveCustomerAt,
	signInAgent as signInAgentAt
} from '../helpers/browser';
import { startServerProcess, type ServerProcess } from '../helpers/process';

let server: ServerProcess;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	server = await startServerProcess();
	browser = await launchChromium();
});
afterAll(async () => {
	for (const c of contexts) await c.close().catch(() => undefined);
	await browser?.close();
	await server?.dispose();
});

async function signInAgent(email: string): Promise<Page> {
	const ctx = await browser.newContext();
	contexts.push(ctx);
	return signInAgentAt(ctx, server.base, email);
}

async function liveCustomer(name: string, email: string | null, text: string) {
	const ctx = await browser.newContext();
	contexts.push(ctx);
	return liveCustomerAt(ctx, server.base, name, text, email ?? undefined);
}

const accept = acceptOffer;
const log = conversationLog;
const channelOptions = (page: Page) =>
	page
		.getByLabel('Reply channel')
		.locator('option')
		.evaluateAll((os) => os.map((o) => o.textContent?.trim()));

describe('ending a messaging session in the browser', () => {
	it('End session: the composer switches to email, the widget cannot write into it, and the next message is a new ticket', async () => {
		const ana = await signInAgent('ana@example.com');
		const customer = await liveCustomer('Kim', 'kim@example.com', 'Where is my parcel?');
		await accept(ana, 'New chat from Kim');
		await customer.getByText('Ana joined the chat').waitFor();
		expect(await channelOptions(ana)).toEqual(['Messaging', 'Internal note (agents only)']);

		await ana.getByRole('button', { name: 'End session' }).click();
		// The composer no longer offers messaging; it defaults to a public reply by email.
		const reply = ana.getByLabel('Email reply', { exact: true });
		await reply.waitFor();
		expect(await channelOptions(ana)).toEqual([
			'Public reply by email',
			'Internal note (agents only)'
		]);
		expect(await ana.getByRole('button', { name: 'End session' }).count()).toBe(0);
		const side = ana.getByRole('complementary', { name: 'Details' });
		await expect
			.poll(() => side.getByTestId('session-state').textContent())
			.toMatch('Ended by agent (Ana)');
		expect(await side.getByTestId('ticket-status').textContent()).toBe('Open');
		await side.getByText('Messaging session ended — ended by agent (Ana)').waitFor();
		await ana.getByText(/Messaging session ended by Ana/).waitFor();

		// A public reply by email: in the transcript, and in the local outbox.
		await reply.fill('Your parcel left our warehouse today.');
		await reply.press('Enter');
		await log(ana).getByText('Email to kim@example.com').waitFor();
		await side.getByText('Ana replied by email to kim@example.com').waitFor();
		await ana.screenshot({ path: 'test-results/session-ended-agent.png' });

		// The customer was not told; their widget still shows a composer, but what they write
		// starts a new conversation with a new ticket.
		await customer.waitForTimeout(300);
		expect(await customer.getByText('This chat has ended.').count()).toBe(0);
		const box = customer.getByLabel('Message', { exact: true });
		await box.fill('Also, the size was wrong');
		await box.press('Enter');
		const earlier = customer.getByRole('region', { name: 'Earlier conversation' });
		await earlier.waitFor();
		const current = customer.getByRole('log', { name: 'Conversation', exact: true });
		await current.getByText('Also, the size was wrong').waitFor();
		// The size of the embedded widget: the conversation going on now keeps the room, the
		// earlier one is folded, and nothing pushes the header or the composer out of view.
		await customer.setViewportSize({ width: 380, height: 560 });
		const fits = async () => {
			const log = (await current.boundingBox())!;
			const composer = (await box.boundingBox())!;
			const scrolled = await customer.evaluate(() => document.scrollingElement!.scrollTop);
			return log.height >= 200 && composer.y + composer.height <= 560 && scrolled === 0;
		};
		expect(await fits()).toBe(true);
		expect(await earlier.getByText('Where is my parcel?').isVisible()).toBe(false);
		await earlier.getByText('Earlier conversation').click();
		await earlier.getByText('Where is my parcel?').waitFor();
		const opened = (await current.boundingBox())!;
		expect(opened.height).toBeGreaterThanOrEqual(120);
		expect(await customer.evaluate(() => document.scrollingElement!.scrollTop)).toBe(0);
		await customer.screenshot({ path: 'test-results/session-ended-widget.png' });
		await accept(ana, 'New chat from Kim');
		// Two entries for Kim: the old ticket (session ended) and the new one.
		const nav = ana.getByRole('navigation', { name: 'Conversations' });
		await nav.getByText('(session ended)').waitFor();
		expect(await nav.getByRole('button', { name: /Kim/ }).count()).toBe(2);
		await log(ana).getByText('Also, the size was wrong').waitFor();
		await expect.poll(() => side.getByTestId('ticket-status').textContent()).toBe('Open');
		await expect.poll(() => side.getByTestId('session-state').textContent()).toMatch('Active');
		// The old conversation never got the message.
		await nav.getByRole('button', { name: /Kim.*session ended/ }).click();
		await log(ana).getByText('Where is my parcel?').waitFor();
		expect(await log(ana).getByText('Also, the size was wrong').count()).toBe(0);
		await ana.getByRole('button', { name: 'Close', exact: true }).click();
		await expect.poll(() => nav.getByRole('button', { name: /Kim/ }).count()).toBe(1);

		// The admin's outbox lists the reply (no SMTP configured here).
		const admin = await signInAgent('admin@example.com');
		await admin.getByLabel('Presence').selectOption('Offline'); // takes no chats here
		await admin.waitForFunction(() => document.querySelector('select')?.value === 'Offline');
		await admin.goto(server.base + '/admin/outbox');
		await admin.getByText('this is the local outbox').waitFor();
		await admin.getByText(/Re: your conversation with Chat with us/).waitFor();
		await admin.screenshot({ path: 'test-results/admin-outbox.png' });
		await ana.getByLabel('Presence').selectOption('Offline');
	});

	it('without an email the composer defaults to an internal note; the CSAT survey arrives in the widget', async () => {
		const ben = await signInAgent('ben@example.com');
		const customer = await liveCustomer('Lou', null, 'Is the shop open on Sunday?');
		await accept(ben, 'New chat from Lou');
		await customer.getByText('Ben joined the chat').waitFor();
		await ben.getByRole('button', { name: 'End session' }).click();
		const note = ben.getByLabel('Internal note', { exact: true });
		await note.waitFor();
		expect(await channelOptions(ben)).toEqual(['Internal note (agents only)']);
		await note.fill('Asked about opening hours');
		await note.press('Enter');
		await log(ben).getByText('Asked about opening hours').waitFor();

		// The default trigger: CSAT when an agent ends the session; no email, so in the widget.
		const survey = customer.getByRole('form', { name: 'Rate this conversation' });
		await survey.waitFor();
		await survey.getByRole('button', { name: 'Send rating' }).click();
		await survey.getByText('Choose a rating from 1 to 5.').waitFor();
		// Lou writes again before rating: a new conversation, the survey stays with the earlier
		// one, and in an embedded widget's size both fit, the current conversation readable.
		await customer.setViewportSize({ width: 380, height: 560 });
		const box = customer.getByLabel('Message', { exact: true });
		await box.fill('One more thing');
		await box.press('Enter');
		const earlier = customer.getByRole('region', { name: 'Earlier conversation' });
		await earlier.getByRole('form', { name: 'Rate this conversation' }).waitFor();
		const current = customer.getByRole('log', { name: 'Conversation', exact: true });
		await current.getByText('One more thing').waitFor();
		expect((await current.boundingBox())!.height).toBeGreaterThanOrEqual(80);
		const composer = (await box.boundingBox())!;
		expect(composer.y + composer.height).toBeLessThanOrEqual(560);
		expect(await customer.evaluate(() => document.scrollingElement!.scrollTop)).toBe(0);
		await survey.getByRole('radio', { name: /4 — Good/ }).check();
		await survey.getByLabel('Comment (optional)').fill('Friendly');
		await customer.screenshot({ path: 'test-results/csat-widget.png' });
		await survey.getByRole('button', { name: 'Send rating' }).click();
		await customer.getByText('Thank you for your rating (4/5).').waitFor();
		const side = ben.getByRole('complementary', { name: 'Details' });
		await expect
			.poll(async () => {
				await ben.getByRole('button', { name: /Lou/ }).click();
				return side.getByTestId('ticket-csat').textContent();
			})
			.toMatch('4/5 (Good) — “Friendly”');

		// A third conversation: the first is still there, under Older conversations, loaded
		// when opened, with its answered survey (the whole history, C3).
		await accept(ben, 'New chat from Lou');
		await log(ben).getByText('One more thing').waitFor();
		await ben.getByRole('button', { name: 'End session' }).click();
		await ben.getByLabel('Internal note', { exact: true }).waitFor();
		await box.fill('And a third question');
		await box.press('Enter');
		await current.getByText('And a third question').waitFor();
		await earlier.getByText('One more thing').waitFor({ state: 'attached' });
		const older = customer.getByRole('region', { name: 'Older conversations' });
		await older.getByText('Older conversations').click();
		await older.locator('summary').nth(1).click();
		await older.getByText('Is the shop open on Sunday?').waitFor();
		await older.getByText('Thank you for your rating (4/5).').waitFor();
		expect(await older.getByText('One more thing').count()).toBe(0);
	});
});
