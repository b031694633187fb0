/**
 * Offers in the browser: two agents signed in, a customer writes, the popover shows what an
 * agent needs (customer, queue, thread, agent, date, a running timer); the first agent lets it
 * time out and lands in RONA, the second accepts. The server's clock is moved over IPC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, signInAgent as signInAgentAt } from '../helpers/browser';
import { startServerProcess, type ServerProcess } from '../helpers/process';

let server: ServerProcess;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	server = await startServerProcess({ testClock: true });
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

let ana: Page;
let cleo: Page;
let ben: Page;
const customers = new Map<string, Page>();

describe('offer popover, RONA and the next agent', () => {
	it('shows the offer fully, times out into RONA, and the second agent accepts', async () => {
		ana = await signInAgent('ana@example.com');
		cleo = await signInAgent('cleo@example.com'); // Available later: Ana is idle longest

		const ctx = await browser.newContext();
		contexts.push(ctx);
		const customer = await ctx.newPage();
		await customer.goto(server.base + '/chat?workstream=live');
		await customer.getByLabel('Name').fill('Dana');
		await customer.getByRole('button', { name: 'Start chat' }).click();
		const box = customer.getByLabel('Message', { exact: true });
		await box.fill('My parcel never arrived');
		await box.press('Enter');

		const offer = ana.getByRole('dialog', { name: 'New chat from Dana' });
		await offer.waitFor();
		const text = () => offer.textContent();
		await expect.poll(text).toContain('General'); // the queue
		await expect.poll(text).toContain('Ana'); // the agent it is offered to
		await expect.poll(text).toContain(String(new Date().getFullYear())); // the date
		await offer
			.getByRole('log', { name: 'Thread so far with Dana' })
			.getByText('My parcel never arrived')
			.waitFor();
		await offer.getByRole('button', { name: 'Accept' }).waitFor();
		await offer.getByRole('button', { name: 'Decline' }).waitFor();
		// The timer runs.
		const timer = offer.getByRole('timer', { name: 'Waiting since the request' });
		const t0 = await timer.textContent();
		await expect.poll(() => timer.textContent(), { timeout: 5000 }).not.toBe(t0);
		expect(await cleo.getByRole('dialog').count()).toBe(0); // never shown to two at once
		await ana.screenshot({ path: 'test-results/offer-popover.png' }).catch(() => undefined);

		// Ana lets it time out (the default is 60 s).
		await server.advanceClock(61_000);
		await offer.waitFor({ state: 'detached' });
		await ana.waitForFunction(() => document.querySelector('select')?.value === 'RONA');
		await ana.getByText(/did not answer an offer in time \(RONA\)/).waitFor();

		const next = cleo.getByRole('dialog', { name: 'New chat from Dana' });
		await next.getByRole('button', { name: 'Accept' }).click();
		await cleo
			.getByRole('log', { name: 'Conversation' })
			.getByText('My parcel never arrived')
			.waitFor();
		await customer.getByText('Cleo joined the chat').waitFor();
		await ana.screenshot({ path: 'test-results/rona.png' }).catch(() => undefined);

		// RONA lasts until Ana chooses Available again.
		await ana.getByLabel('Presence').selectOption('Available');
		await ana.waitForFunction(() => document.querySelector('select')?.value === 'Available');
	});
});

describe('transfer', () => {
	it('to an agent who lets it time out: the request goes back to the queue', async () => {
		// Cleo holds Dana's chat (above); Ana is Available again.
		await cleo.getByRole('button', { name: 'Transfer' }).click();
		const dialog = cleo.getByRole('dialog', { name: 'Transfer' });
		await dialog.getByRole('button', { name: 'Refresh' }).waitFor();
		await dialog.getByLabel('Search').fill('an');
		await dialog.getByRole('button', { name: /^Ana/ }).waitFor();
		expect(await dialog.getByRole('button', { name: /^Cleo/ }).count()).toBe(0); // not herself
		// Each queue says whether anyone could take it now.
		await dialog.getByLabel('Search').fill('');
		await dialog
			.getByRole('list', { name: 'Queues' })
			.getByRole('button', { name: /^General \(\d+ available\)$/ })
			.waitFor();
		await dialog.getByLabel('Search').fill('an');
		await cleo.screenshot({ path: 'test-results/transfer-dialog.png' }).catch(() => undefined);
		await dialog.getByRole('button', { name: /^Ana/ }).click();
		await dialog.waitFor({ state: 'detached' });
		await cleo.getByText('Being routed to another agent').waitFor();

		// The offer says it is a transfer, and from whom.
		const offer = ana.getByRole('dialog', { name: 'Transfer from Cleo: chat with Dana' });
		await offer.waitFor();
		await server.advanceClock(61_000); // Ana lets it time out
		await offer.waitFor({ state: 'detached' });
		await ana.waitForFunction(() => document.querySelector('select')?.value === 'RONA');
		// Cleo follows it: nobody else can take it yet.
		await cleo.getByText(/Ana did not answer in time\. It waits in the General queue\.$/).waitFor();
		// Back in the queue: still Cleo's until someone takes it, and Ben, arriving, gets it.
		ben = await signInAgent('ben@example.com');
		const again = ben.getByRole('dialog', { name: 'Transfer from Cleo: chat with Dana' });
		await again.getByRole('button', { name: 'Accept' }).click();
		await ben
			.getByRole('log', { name: 'Conversation' })
			.getByText('My parcel never arrived')
			.waitFor();
		await cleo
			.getByRole('navigation', { name: 'Conversations' })
			.getByRole('button', { name: /Dana/ })
			.waitFor({ state: 'detached' });
		// Cleo, who had it open, is told where it went.
		await cleo
			.getByRole('status')
			.filter({ hasText: 'Dana’s conversation was accepted by another agent.' })
			.waitFor({ state: 'attached' });
		await cleo.getByText('Dana’s conversation was accepted by another agent.').last().waitFor();
	});
});

describe('several offers at once', () => {
	it('stack without covering one another or the open conversation, and each can be accepted', async () => {
		// Cleo (no chat now, capacity 3) is the only agent left Available.
		await ben.getByLabel('Presence').selectOption('Offline');
		await ben.waitForFunction(() => document.querySelector('select')?.value === 'Offline');
		for (const name of ['Eve', 'Finn']) {
			const ctx = await browser.newContext();
			contexts.push(ctx);
			const customer = await ctx.newPage();
			customers.set(name, customer);
			await customer.goto(server.base + '/chat?workstream=live');
			await customer.getByLabel('Name').fill(name);
			await customer.getByRole('button', { name: 'Start chat' }).click();
			const box = customer.getByLabel('Message', { exact: true });
			await box.fill(`Hello from ${name}`);
			await box.press('Enter');
		}
		const eve = cleo.getByRole('dialog', { name: 'New chat from Eve' });
		const finn = cleo.getByRole('dialog', { name: 'New chat from Finn' });
		await eve.waitFor();
		await finn.waitFor();
		// The server's clock is 122 s ahead of the browser's (moved twice above): the countdown
		// follows the server's, which decides when an offer times out (60 s by default).
		const left = eve.getByRole('timer', { name: 'Time left to answer' });
		await expect.poll(() => left.textContent()).toMatch(/^0:[0-5]\d$|^1:00$/);
		const a = (await eve.boundingBox())!;
		const b = (await finn.boundingBox())!;
		expect(a.y + a.height <= b.y || b.y + b.height <= a.y).toBe(true);
		await cleo.screenshot({ path: 'test-results/two-offers.png' }).catch(() => undefined);
		// Both buttons take their own clicks (Playwright refuses a click another element would get).
		await finn.getByRole('button', { name: 'Accept' }).click();
		// With Finn's conversation open and Eve's offer still waiting, the conversation stays
		// usable: the offers take a region of their own instead of lying over it.
		const conversation = cleo.getByRole('region', { name: 'Conversation' });
		await conversation.getByRole('heading', { name: 'Finn' }).waitFor();
		const offers = (await cleo.getByRole('complementary', { name: 'Offers' }).boundingBox())!;
		const conv = (await conversation.boundingBox())!;
		const apart =
			offers.x + offers.width <= conv.x ||
			conv.x + conv.width <= offers.x ||
			offers.y + offers.height <= conv.y ||
			conv.y + conv.height <= offers.y;
		expect(apart).toBe(true);
		for (const name of ['End session', 'Transfer', 'Conference'])
			await conversation.getByRole('button', { name }).click({ trial: true, timeout: 5_000 });
		await eve.getByRole('button', { name: 'Accept' }).click();
		const nav = cleo.getByRole('navigation', { name: 'Conversations' });
		await nav.getByRole('button', { name: /Eve/ }).waitFor();
		await nav.getByRole('button', { name: /Finn/ }).waitFor();
		expect(await cleo.getByRole('dialog').count()).toBe(0);
	});
});

describe('taking a transfer back', () => {
	it('nobody takes it: the agent who transferred it takes it back and carries on', async () => {
		// Cleo has Eve and Finn; nobody else is Available, so a transfer to a queue waits there.
		await cleo
			.getByRole('navigation', { name: 'Conversations' })
			.getByRole('button', { name: /Finn/ })
			.click();
		const conversation = cleo.getByRole('region', { name: 'Conversation' });
		await conversation.getByRole('heading', { name: 'Finn' }).waitFor();
		await conversation.getByRole('button', { name: 'Transfer' }).click();
		const dialog = cleo.getByRole('dialog', { name: 'Transfer' });
		await dialog.getByRole('button', { name: /^General/ }).click();
		await dialog.waitFor({ state: 'detached' });
		await conversation.getByText('Being routed to another agent').waitFor();
		await conversation.getByRole('button', { name: 'Take back' }).click();
		await conversation.getByRole('button', { name: 'Transfer' }).waitFor();
		const box = conversation.getByLabel('Message', { exact: true });
		await box.fill('Still here, Finn');
		await box.press('Enter');
		await customers.get('Finn')!.getByText('Still here, Finn').waitFor();
		await conversation
			.getByRole('complementary', { name: 'Details' })
			.getByText('Cleo took it back (transfer cancelled)')
			.waitFor();
	});
});
