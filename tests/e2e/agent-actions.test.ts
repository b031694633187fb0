/**
 * Working a conversation in the browser (SPEC A4, A6–A8): a conference of three agents with
 * the joined messages and End conference; Waiting and resume in persistent chat; End with a
 * searched wrap-up reason; the < > rule with a template insertion; an internal note.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import Database from 'better-sqlite3';
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
	server = await startServerProcess({ testClock: true });
	browser = await launchChromium();
});
afterAll(async () => {
	for (const c of contexts) await c.close().catch(() => undefined);
	await browser?.close();
	await server?.dispose();
});

async function newPage(): Promise<Page> {
	const ctx = await browser.newContext();
	contexts.push(ctx);
	return ctx.newPage();
}
async function signInAgent(email: string): Promise<Page> {
	const ctx = await browser.newContext();
	contexts.push(ctx);
	return signInAgentAt(ctx, server.base, email);
}
async function setPresence(page: Page, presence: string) {
	await page.getByLabel('Presence').selectOption(presence);
	await page.waitForFunction((p) => document.querySelector('select')?.value === p, presence);
}

/** A live customer named `name` writes `text`. */
async function liveCustomer(name: string, text: string) {
	const ctx = await browser.newContext();
	contexts.push(ctx);
	return liveCustomerAt(ctx, server.base, name, text);
}

const accept = acceptOffer;
const log = conversationLog;

describe('agent actions in the browser', () => {
	it('a conference of three: invited agents join with a message for everyone; End conference removes them', async () => {
		const ana = await signInAgent('ana@example.com');
		const customer = await liveCustomer('Dana', 'Where is my parcel?');
		await accept(ana, 'New chat from Dana');
		const ben = await signInAgent('ben@example.com');
		const cleo = await signInAgent('cleo@example.com');

		for (const [agent, name] of [
			[ben, 'Ben'],
			[cleo, 'Cleo']
		] as const) {
			await ana.getByRole('button', { name: 'Conference', exact: true }).click();
			const dialog = ana.getByRole('dialog', { name: 'Conference' });
			await dialog.getByLabel('Search agents').fill(name.slice(0, 2).toLowerCase());
			await dialog.getByRole('button', { name: new RegExp(`^${name}`) }).click();
			await dialog.waitFor({ state: 'detached' });
			await ana.getByText('Conference requested').waitFor();
			const invite = agent.getByRole('dialog', { name: 'Conference invitation: chat with Dana' });
			await invite.getByText('Ana', { exact: true }).waitFor(); // invited by
			await accept(agent, 'Conference invitation: chat with Dana');
			await customer.getByText(`${name} joined the chat`).waitFor();
			await log(ana).getByText(`${name} joined the chat`).waitFor();
		}
		await ana.locator('.conv-head').getByText('Conference', { exact: true }).waitFor();
		// Everyone sees the whole history and can write; the customer sees who writes.
		await log(cleo).getByText('Where is my parcel?').waitFor();
		// An invited agent writes and can leave; transferring, parking and ending are Ana's.
		await cleo.getByText('In Ana’s conversation (conference)').waitFor();
		await cleo.getByRole('button', { name: 'Leave conference' }).waitFor();
		for (const name of ['Transfer', 'Conference', 'End', 'End session', 'End conference'])
			expect(await cleo.getByRole('button', { name, exact: true }).count(), name).toBe(0);
		const benBox = ben.getByLabel('Message', { exact: true });
		await benBox.fill('Ben from the warehouse here');
		await benBox.press('Enter');
		await customer.getByText('Ben from the warehouse here').waitFor();
		await log(cleo).getByText('Ben from the warehouse here').waitFor();
		await ana.screenshot({ path: 'test-results/conference.png' });

		await ana.getByRole('button', { name: 'End conference' }).click();
		await customer.getByText('Ben left the chat').waitFor();
		await customer.getByText('Cleo left the chat').waitFor();
		await ben.getByText('You are no longer in this conversation').waitFor();
		// Ben's copy keeps what he saw; his composer is closed.
		await log(ben).getByText('Ben from the warehouse here').waitFor();
		expect(await ben.getByLabel('Message', { exact: true }).isDisabled()).toBe(true);
		await ana.locator('.conv-head').getByText('active').waitFor();
		const anaBox = ana.getByLabel('Message', { exact: true });
		await anaBox.fill('Just me again');
		await anaBox.press('Enter');
		await customer.getByText('Just me again').waitFor();
		expect(await log(ben).getByText('Just me again').count()).toBe(0);
		await ben.getByRole('button', { name: 'Close' }).click();
		await ben.getByText('Select a conversation.').waitFor();

		// Wrap this one up for the next tests (capacity).
		for (const p of [ben, cleo]) await setPresence(p, 'Offline');
		await ana.getByRole('button', { name: 'End', exact: true }).click();
		await ana.getByRole('radio', { name: 'Resolved', exact: true }).check();
		await ana.getByRole('button', { name: 'Submit wrap-up' }).click();
		await customer.getByText('This chat has ended.').waitFor();
		await ana
			.getByRole('status')
			.filter({ hasText: 'Dana’s conversation is ended and wrapped up.' })
			.waitFor({ state: 'attached' });
		await setPresence(ana, 'Offline');
	});

	it('End with a searched wrap-up reason: the history shows it, the customer sees the end', async () => {
		const cleo = await signInAgent('cleo@example.com');
		const customer = await liveCustomer('Erin', 'Can I change my address?');
		await accept(cleo, 'New chat from Erin');
		const side = cleo.getByRole('complementary', { name: 'Details' });
		await side.getByText('Accepted by Cleo').waitFor();
		await expect.poll(() => side.getByTestId('ticket-status').textContent()).toBe('Open');

		await cleo.getByRole('button', { name: 'End', exact: true }).click();
		const dialog = cleo.getByRole('dialog', { name: 'Wrap-up' });
		await dialog.getByText('Make sure the customer is ready to end').waitFor();
		const submit = dialog.getByRole('button', { name: 'Submit wrap-up' });
		expect(await submit.isDisabled()).toBe(true);
		await dialog.getByLabel('Search reasons').fill('info');
		expect(await dialog.getByRole('radio').count()).toBe(1);
		await dialog.getByRole('radio', { name: 'Information given' }).check();
		await cleo.screenshot({ path: 'test-results/wrap-up.png' });
		await submit.press('Enter');
		await dialog.waitFor({ state: 'detached' });
		// The conversation went with its End button: the keyboard is on the list, not lost.
		await expect
			.poll(() => cleo.evaluate(() => document.activeElement?.textContent))
			.toBe('Conversations');
		await customer.getByText('Cleo ended the chat').waitFor();
		await customer.getByText('This chat has ended.').waitFor();
		// The interaction is closed: off the list, and the agent is told.
		await cleo
			.getByRole('navigation', { name: 'Conversations' })
			.getByRole('button', { name: /Erin/ })
			.waitFor({ state: 'detached' });
		await cleo.getByText('Erin’s conversation is ended and wrapped up.').last().waitFor();
		await customer.getByRole('button', { name: 'Start a new chat' }).click();
		await customer.getByLabel('Message', { exact: true }).waitFor();
		await setPresence(cleo, 'Offline');
	});

	it('a live-chat customer ends the chat from the widget; the agent then wraps it up', async () => {
		const ben = await signInAgent('ben@example.com');
		const customer = await liveCustomer('Hana', 'Never mind, found it');
		await accept(ben, 'New chat from Hana');
		await customer.getByText('Ben joined the chat').waitFor();
		// By keyboard: the question takes the focus on its safe answer, named by the question.
		const focused = () =>
			customer.evaluate(() => [
				document.activeElement?.textContent,
				document.activeElement?.closest('[role="group"]')?.getAttribute('aria-labelledby') ?? null
			]);
		await customer.getByRole('button', { name: 'End chat' }).press('Enter');
		const question = customer.getByRole('group', { name: 'End this chat?' });
		await question.waitFor();
		expect(await focused()).toEqual(['No', 'end-question']);
		await customer.keyboard.press('Enter');
		await expect.poll(focused).toEqual(['End chat', null]);
		await customer.keyboard.press('Enter');
		await question.getByRole('button', { name: 'Yes, end chat' }).press('Enter');
		await customer.getByText('This chat has ended.').waitFor();
		// On to what comes next, not back to the top of the page.
		await expect.poll(focused).toEqual(['Start a new chat', null]);
		expect(await customer.getByLabel('Message', { exact: true }).count()).toBe(0);
		await ben.getByText('Hana ended the chat. Choose End to wrap it up.').waitFor();
		await ben.getByRole('button', { name: 'End', exact: true }).click();
		const dialog = ben.getByRole('dialog', { name: 'Wrap-up' });
		await dialog.getByText('The customer has left').waitFor();
		await dialog.getByRole('radio', { name: 'Information given' }).check();
		await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
		await ben.getByText('Hana’s conversation is ended and wrapped up.').last().waitFor();
		await setPresence(ben, 'Offline');
	});

	it('the < > rule with a template: a parameter without a value is shown and never sent', async () => {
		const ana = await signInAgent('ana@example.com');
		const customer = await liveCustomer('Finn', 'Please email me the invoice');
		await accept(ana, 'New chat from Finn');
		const box = ana.getByLabel('Message', { exact: true });

		// Typed by hand: refused inline, text kept.
		await box.fill('Price < 10 euro');
		await ana
			.getByText('< and > cannot be sent: they are reserved for template parameters.')
			.waitFor();
		expect(await ana.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
		await box.press('Enter');
		expect(await box.inputValue()).toBe('Price < 10 euro');
		await box.fill('');

		// A template: known parameters filled in, the unknown email left visible.
		await ana.getByRole('button', { name: 'Templates' }).click();
		const dialog = ana.getByRole('dialog', { name: 'Templates' });
		await dialog.getByLabel('Search templates').fill('email');
		await dialog.getByRole('button', { name: /Follow up by email/ }).click();
		await expect
			.poll(() => box.inputValue())
			.toBe('I will send the details to <customer.email> within one working day.');
		await ana.getByText('Fill in <customer.email> before sending: it has no value here.').waitFor();
		await box.press('Enter');
		expect(await customer.getByText(/within one working day/).count()).toBe(0);
		await box.fill((await box.inputValue()).replace('<customer.email>', 'finn@example.com'));
		await box.press('Enter');
		await customer
			.getByText('I will send the details to finn@example.com within one working day.')
			.waitFor();

		// By keyboard: search, then Enter takes the first match.
		await ana.getByRole('button', { name: 'Templates' }).click();
		const search = ana.getByRole('dialog', { name: 'Templates' }).getByLabel('Search templates');
		await search.fill('greet');
		await search.press('Enter');
		await expect
			.poll(() => box.inputValue())
			.toBe('Hi Finn, I am Ana from General. How can I help?');
		// The focus is back in the message box (not on the Templates button): Enter sends.
		await expect.poll(() => box.evaluate((el) => el === document.activeElement)).toBe(true);
		await ana.keyboard.press('Enter');
		await customer.getByText('Hi Finn, I am Ana from General. How can I help?').waitFor();

		// An internal note: agents only, marked as such, allowed to hold < >.
		await ana.getByLabel('Reply channel').selectOption('Internal note (agents only)');
		const note = ana.getByLabel('Internal note', { exact: true });
		await note.fill('VIP <customer> — refund approved');
		await note.press('Enter');
		await log(ana).getByText('VIP <customer> — refund approved').waitFor();
		await log(ana).getByText('Internal note').waitFor();
		await ana.screenshot({ path: 'test-results/templates-notes.png' });
		await ana.getByLabel('Reply channel').selectOption('Messaging');
		await box.fill('One more thing');
		await box.press('Enter');
		await customer.getByText('One more thing').waitFor();
		expect(await customer.getByText(/refund approved/).count()).toBe(0);

		await ana.getByRole('button', { name: 'End', exact: true }).click();
		await ana.getByRole('radio', { name: 'Resolved', exact: true }).check();
		await ana.getByRole('button', { name: 'Submit wrap-up' }).click();
		await customer.getByText('This chat has ended.').waitFor();
		await setPresence(ana, 'Offline');
	});

	it('Waiting parks a persistent chat; the customer writes again and it comes back with an offer', async () => {
		const ana = await signInAgent('ana@example.com');
		const demo = await newPage();
		await demo.goto(server.base + '/demo?customer=gina');
		const widget = demo.frameLocator('iframe[title="Persistent chat"]');
		const box = widget.getByLabel('Message', { exact: true });
		await box.fill('Question about my contract');
		await box.press('Enter');
		await accept(ana, 'New chat from Gina');
		const nav = ana.getByRole('navigation', { name: 'Conversations' });
		await nav.getByText('Gina').waitFor();
		// The customer has no control that ends a persistent conversation.
		expect(await widget.getByRole('button', { name: 'End chat' }).count()).toBe(0);

		await ana.getByRole('button', { name: 'Waiting', exact: true }).click();
		await nav.getByText('Gina').waitFor({ state: 'detached' });
		await ana.getByText('Waiting for customers…').waitFor();
		// It says where the conversation went, instead of just vanishing.
		await ana
			.getByRole('region', { name: 'Conversation' })
			.getByText('Gina’s conversation is in Waiting: it comes back when they write again.')
			.waitFor();

		await box.fill('I am back with the papers');
		await box.press('Enter');
		// Not a new chat: the customer is back in one Ana parked.
		const offer = ana.getByRole('dialog', { name: 'Gina wrote again' });
		await offer.getByText('I am back with the papers').waitFor();
		await accept(ana, 'Gina wrote again');
		await log(ana).getByText('I am back with the papers').waitFor();
		const side = ana.getByRole('complementary', { name: 'Details' });
		await side.getByText('Ana set it to Waiting').waitFor();
		await side.getByText('The customer wrote again').waitFor();
		// A break: no new chats, but Gina stays hers and what she writes still comes to Ana.
		await setPresence(ana, 'Away');
		await ana
			.getByRole('navigation', { name: 'Conversations' })
			.getByRole('status')
			.getByText('No new chats while Away; your conversations stay yours.')
			.waitFor();
		await box.fill('One more thing');
		await box.press('Enter');
		await log(ana).getByText('One more thing').waitFor();
		expect(await ana.getByText('Being routed to another agent', { exact: false }).count()).toBe(0);
		await setPresence(ana, 'Available');
	});

	it('each conversation keeps its own draft and channel: a half-written note never moves to another customer', async () => {
		// Ben alone takes chats here.
		for (const other of ['ana@example.com', 'cleo@example.com'])
			await setPresence(await signInAgent(other), 'Offline');
		const ben = await signInAgent('ben@example.com');
		const xavi = await liveCustomer('Xavi', 'Refund please');
		await accept(ben, 'New chat from Xavi');
		const box = ben.getByLabel(/^(Message|Internal note)/);
		const replyAs = ben.getByLabel('Reply channel');
		await replyAs.selectOption('note');
		await box.fill('NOTE: check this refund twice');

		// A new customer; Accept opens their conversation with the focus in its message box.
		const yara = await liveCustomer('Yara', 'Hello?');
		await accept(ben, 'New chat from Yara');
		await log(ben).getByText('Hello?').waitFor();
		expect(await replyAs.inputValue()).toBe('chat');
		expect(await box.inputValue()).toBe('');
		// Enter in the empty box sends nothing.
		await box.press('Enter');
		await box.fill('Hi Yara, one moment');

		// Back to Xavi, after a reload even: the note, still a note. Then Yara's draft, still a
		// message.
		const list = ben.getByRole('navigation', { name: 'Conversations' });
		await list.getByRole('button', { name: /Xavi/ }).click();
		await log(ben).getByText('Refund please').waitFor();
		await ben.reload();
		await list.getByRole('button', { name: /Xavi/ }).click();
		await log(ben).getByText('Refund please').waitFor();
		expect(await replyAs.inputValue()).toBe('note');
		expect(await box.inputValue()).toBe('NOTE: check this refund twice');
		await list.getByRole('button', { name: /Yara/ }).click();
		await log(ben).getByText('Hello?').waitFor();
		expect(await replyAs.inputValue()).toBe('chat');
		expect(await box.inputValue()).toBe('Hi Yara, one moment');
		await box.press('Enter');
		await log(yara).getByText('Hi Yara, one moment').waitFor();
		// Neither customer ever saw the note.
		for (const customer of [xavi, yara])
			expect(await log(customer).getByText('NOTE:').count()).toBe(0);
	});

	it('a message that reached the server minutes after it was written says when it arrived, whatever the device clock', async () => {
		const ben = await signInAgent('ben@example.com');
		// A device whose clock is five minutes behind: its messages are stamped in the server's
		// clock all the same (learnt when the chat opens), so none of them looks late.
		const ctx = await browser.newContext();
		contexts.push(ctx);
		const late = await ctx.newPage();
		await late.clock.install({ time: Date.now() - 5 * 60_000 });
		await late.clock.resume();
		await late.goto(server.base + '/chat?workstream=live');
		await late.getByLabel('Name').fill('Zoe');
		await late.getByRole('button', { name: 'Start chat' }).click();
		await late.getByLabel('Message', { exact: true }).waitFor();
		// Written offline and held for five minutes. (The device's clock steps back five minutes
		// while it is offline, with nothing to learn the server's time from, and then forward
		// again: the same message as one written five minutes before it reached the server.)
		await ctx.setOffline(true);
		await late.clock.setSystemTime(Date.now() - 10 * 60_000);
		await late.getByLabel('Message', { exact: true }).fill('Written on the train');
		await late.getByLabel('Message', { exact: true }).press('Enter');
		await late.clock.setSystemTime(Date.now() - 5 * 60_000);
		await ctx.setOffline(false);
		await accept(ben, 'New chat from Zoe');
		const item = log(ben).getByRole('listitem').filter({ hasText: 'Written on the train' });
		await item.getByText(/^· arrived \d/).waitFor();
		// Written online on the same slow device: not late.
		await late.getByLabel('Message', { exact: true }).fill('Hello from a slow clock');
		await late.getByLabel('Message', { exact: true }).press('Enter');
		const hello = log(ben).getByRole('listitem').filter({ hasText: 'Hello from a slow clock' });
		await hello.waitFor();
		expect(await hello.getByText('arrived').count()).toBe(0);
		// Ben's own reply, stored as he wrote it, says nothing of the kind.
		await ben.getByLabel('Message', { exact: true }).fill('Welcome back');
		await ben.getByLabel('Message', { exact: true }).press('Enter');
		const reply = log(ben).getByRole('listitem').filter({ hasText: 'Welcome back' });
		await expect.poll(() => reply.getByTestId('delivery').textContent()).toMatch(/Sent|Read/);
		expect(await reply.getByText('arrived').count()).toBe(0);
	});
	it('tells an agent at capacity why no new chats come', async () => {
		const db = new Database(`${server.dir}/parley.db`);
		db.prepare(`update agents set capacity = 1 where email = 'cleo@example.com'`).run();
		db.close();
		for (const other of ['ana@example.com', 'ben@example.com'])
			await setPresence(await signInAgent(other), 'Offline');
		const cleo = await signInAgent('cleo@example.com');
		await liveCustomer('Vera', 'Hello there');
		await accept(cleo, 'New chat from Vera');
		await log(cleo).getByText('Hello there').waitFor();
		await cleo
			.getByRole('navigation', { name: 'Conversations' })
			.getByRole('status')
			.getByText('You are at capacity (1 of 1 chats): new chats wait until one of yours ends.')
			.waitFor();
	});

	it('a modal dialog says when an offer is waiting behind it, with its time left', async () => {
		// Ben holds chats from the tests above: room for two more.
		const db = new Database(`${server.dir}/parley.db`);
		db.prepare(`update agents set capacity = 12 where email = 'ben@example.com'`).run();
		db.close();
		const ben = await signInAgent('ben@example.com');
		await liveCustomer('Wes', 'About my order');
		await accept(ben, 'New chat from Wes');
		await log(ben).getByText('About my order').waitFor();
		await ben.getByRole('button', { name: 'End', exact: true }).click();
		const wrapUp = ben.getByRole('dialog', { name: 'Wrap-up' });
		await wrapUp.waitFor();
		await liveCustomer('Xena', 'Quick question');
		const notice = wrapUp.getByRole('status').filter({
			hasText:
				/^New chat from Xena is waiting\.\s+Finish here or close this to answer it\.\s+\d:\d\d left to accept\.$/
		});
		await notice.waitFor();
		// Closing the dialog reaches the offer.
		await ben.keyboard.press('Escape');
		await wrapUp.waitFor({ state: 'detached' });
		await accept(ben, 'New chat from Xena');
		await log(ben).getByText('Quick question').waitFor();
	});
});
