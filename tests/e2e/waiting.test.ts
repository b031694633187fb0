/**
 * The live widget while waiting and outside operating hours, in Chromium against the real
 * server process: queue positions as system notices, and the out-of-hours message form.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import { acceptOffer, conversationLog, launchChromium, signInAgent } from '../helpers/browser';
import { startServerProcess, type ServerProcess } from '../helpers/process';

let server: ServerProcess;
let browser: Browser;

beforeAll(async () => {
	server = await startServerProcess();
	browser = await launchChromium();
});
afterAll(async () => {
	await browser?.close();
	await server?.dispose();
});

async function liveCustomer(name: string, text: string): Promise<Page> {
	const ctx = await browser.newContext();
	const page = await ctx.newPage();
	await page.goto(server.base + '/chat?workstream=live');
	await page.getByLabel('Name').fill(name);
	await page.getByRole('button', { name: 'Start chat' }).click();
	const box = page.getByLabel('Message', { exact: true });
	await box.fill(text);
	await box.press('Enter');
	return page;
}

describe('live widget', () => {
	it('shows each waiting customer their place in the queue', async () => {
		// Nobody is Available in the demo data.
		const dana = await liveCustomer('Dana', 'First in line');
		await dana.getByRole('status').filter({ hasText: 'You are number 1 in the queue.' }).waitFor();
		const eli = await liveCustomer('Eli', 'Second in line');
		await eli.getByRole('status').filter({ hasText: 'You are number 2 in the queue.' }).waitFor();

		// Nobody is Available: Dana need not wait with the page open, she leaves her email.
		const form = dana.getByRole('form', { name: 'Reply by email' });
		await form.getByText('Nobody is available right now.', { exact: false }).waitFor();
		await form.getByLabel('Email').fill('dana@example.com');
		await form.getByRole('button', { name: 'Leave email' }).click();
		await form
			.getByRole('status')
			.getByText('Nobody is available right now. If you leave, we will reply to dana@example.com.')
			.waitFor();
		const db = new Database(`${server.dir}/parley.db`, { readonly: true });
		const stored = db.prepare(`select email from customers where name = 'Dana'`).get() as {
			email: string | null;
		};
		db.close();
		expect(stored.email).toBe('dana@example.com');
		// A reload remembers it (the session carries the customer's own address).
		await dana.reload();
		await dana
			.getByRole('form', { name: 'Reply by email' })
			.getByText('Nobody is available right now. If you leave, we will reply to dana@example.com.')
			.waitFor();
		// Once someone is Available, the offer goes.
		const cleoCtx = await browser.newContext();
		const cleo = await signInAgent(cleoCtx, server.base, 'cleo@example.com');
		await eli.getByRole('form', { name: 'Reply by email' }).waitFor({ state: 'detached' });
		await cleo.getByLabel('Presence').selectOption('Offline');
		await cleo.waitForFunction(() => document.querySelector('select')?.value === 'Offline');
		await cleoCtx.close();
		await dana.context().close();
		await eli.context().close();
	});

	it('when the hours close while a customer waits, says so and when they open again', async () => {
		const hana = await liveCustomer('Hana', 'Are you there?');
		await hana
			.getByRole('status')
			.filter({ hasText: /You are number \d+ in the queue/ })
			.waitFor();
		// The admin sets hours that leave only the day after tomorrow open (UTC).
		const now = new Date();
		const opensAt = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2);
		const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date(opensAt).getUTCDay()];
		const set = (hours: string | null) => {
			const db = new Database(`${server.dir}/parley.db`);
			db.prepare(`update workstreams set hours = ? where slug = 'live'`).run(hours);
			db.close();
		};
		set(JSON.stringify({ timeZone: 'UTC', weekly: { [day]: [['00:00', '24:00']] } }));
		// Within a queue sweep: no place in the queue or wait any more, but the closed text,
		// when it opens, and the offer to reply by email.
		const closed = hana
			.getByRole('status')
			.filter({ hasText: /agents are not available right now/ });
		await closed.waitFor();
		expect(await closed.textContent()).toContain('We are back');
		expect(await hana.getByText(/You are number \d+ in the queue/).count()).toBe(0);
		const form = hana.getByRole('form', { name: 'Reply by email' });
		await form.getByLabel('Email').waitFor();
		// The notice above already asks for the address: the form does not say it again.
		expect(await form.getByText('Nobody is available right now', { exact: false }).count()).toBe(0);
		set(null);
		await hana
			.getByRole('status')
			.filter({ hasText: /You are number \d+ in the queue/ })
			.waitFor();
		// Hana gives up: her request leaves the queue.
		await hana.getByRole('button', { name: 'End chat' }).click();
		await hana.getByRole('button', { name: 'Yes, end chat' }).click();
		await hana.getByText('This chat has ended.', { exact: false }).waitFor();
		await hana.context().close();
	});

	it('outside operating hours, takes a message with an email address instead', async () => {
		const db = new Database(`${server.dir}/parley.db`);
		db.prepare(`update workstreams set hours = ? where slug = 'live'`).run(
			JSON.stringify({ timeZone: 'UTC', weekly: {} }) // never open
		);
		db.close();
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		await page.goto(server.base + '/chat?workstream=live');
		const form = page.getByRole('form', { name: 'Leave a message' });
		await form.getByText(/agents are not available right now/).waitFor();
		await form.getByLabel('Name (optional)').fill('Olga');
		await form.getByLabel('Email').fill('olga@example.com');
		await form.getByLabel('Message', { exact: true }).fill('Please call me back');
		await form.getByRole('button', { name: 'Send message' }).click();
		await page.getByText('we received your message and will reply to olga@example.com').waitFor();
		const check = new Database(`${server.dir}/parley.db`, { readonly: true });
		const row = check
			.prepare(`select status, offline_message from conversations where offline_message = 1`)
			.get() as { status: string; offline_message: number };
		check.close();
		expect(row).toEqual({ status: 'queued', offline_message: 1 });
		await ctx.close();

		// Hours open again; Ana takes it. Olga is in no chat: the reply goes by email, and the
		// ticket's history and reports count it as a request like any other.
		const reopen = new Database(`${server.dir}/parley.db`);
		reopen.prepare(`update workstreams set hours = null where slug = 'live'`).run();
		reopen.close();
		const agentCtx = await browser.newContext();
		const ana = await signInAgent(agentCtx, server.base, 'ana@example.com');
		await acceptOffer(ana, 'New chat from Olga');
		await conversationLog(ana).getByText('Please call me back').waitFor();
		const channel = ana.getByLabel('Reply channel');
		expect(await channel.locator('option').allTextContents()).toEqual([
			'Public reply by email',
			'Internal note (agents only)'
		]);
		const reply = ana.getByLabel('Email reply', { exact: true });
		await reply.fill('We will call you at 3 pm.');
		await reply.press('Enter');
		await conversationLog(ana).getByText('Email to olga@example.com').waitFor();
		const side = ana.getByRole('complementary', { name: 'Details' });
		await side.getByText('Ana replied by email to olga@example.com').waitFor();
		await side
			.getByRole('list', { name: 'Event history' })
			.getByText(/Requested in/)
			.waitFor();
		const after = new Database(`${server.dir}/parley.db`, { readonly: true });
		const mail = after
			.prepare(`select to_address, body from mail_outbox where kind = 'reply'`)
			.all() as { to_address: string; body: string }[];
		const conv = after
			.prepare(`select first_response_at from conversations where offline_message = 1`)
			.get() as { first_response_at: number | null };
		after.close();
		expect(mail).toHaveLength(1);
		expect(mail[0].to_address).toBe('olga@example.com');
		expect(mail[0].body).toContain('We will call you at 3 pm.');
		expect(conv.first_response_at).not.toBeNull();
		await agentCtx.close();
	});
});
