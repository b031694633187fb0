/**
 * The admin console in Chromium against the real server process (SPEC M1–M3, C1, P3): an admin
 * creates a live workstream through the form (a refusal first: the field's message beside it,
 * nothing saved), copies its embed snippet onto a host page on another origin, where a customer
 * waits with the workstream's own queue text; the agent who answers wraps up with the new
 * reasons; the report counts the chat; every page of the console renders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { acceptOffer, launchChromium, signInAgent } from '../helpers/browser';
import { startServerProcess, type ServerProcess } from '../helpers/process';

let server: ServerProcess;
let browser: Browser;
let host: Server | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
	server = await startServerProcess();
	browser = await launchChromium();
});
afterAll(async () => {
	for (const c of contexts) await c.close().catch(() => undefined);
	await new Promise((resolve) => (host ? host.close(resolve) : resolve(undefined)));
	await browser?.close();
	await server?.dispose();
});

async function newContext(width = 1280, height = 900) {
	const ctx = await browser.newContext({ viewport: { width, height } });
	contexts.push(ctx);
	return ctx;
}

/** Signs in through the console's own form (the admin stays Offline: no chats come to them). */
async function signInAdmin(page: Page, path: string) {
	await page.goto(server.base + path);
	await page.getByLabel('Email').fill('admin@example.com');
	await page.getByLabel('Password').fill('parley');
	await page.getByRole('button', { name: 'Sign in' }).click();
}

const heading = (page: Page, name: string) =>
	page.getByRole('heading', { level: 1, name, exact: true });

/** A tiny host site on another origin (`localhost`, another port) whose page is `body`. */
async function startHost(body: string): Promise<string> {
	host = createServer((_req, res) => {
		res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
		res.end(
			`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Returns shop</title></head>` +
				`<body><h1>Returns shop</h1><p>Bring it back within 30 days.</p>\n${body}\n</body></html>`
		);
	});
	await new Promise<void>((resolve) => host!.listen(0, '127.0.0.1', resolve));
	return `http://localhost:${(host.address() as AddressInfo).port}`;
}

describe('the admin console', () => {
	let admin: Page;
	let snippet = '';

	beforeAll(async () => {
		admin = await (await newContext()).newPage();
	});

	it('refuses a signed-in agent who is not an admin', async () => {
		const page = await (await newContext()).newPage();
		await page.goto(server.base + '/admin/workstreams');
		await page.getByLabel('Email').fill('ben@example.com');
		await page.getByLabel('Password').fill('parley');
		await page.getByRole('button', { name: 'Sign in' }).click();
		await page.getByRole('alert').filter({ hasText: 'Only admins can open the console' }).waitFor();
		expect(await page.getByRole('link', { name: 'Go to the agent workspace' }).count()).toBe(1);
		expect(await page.getByRole('navigation', { name: 'Admin' }).count()).toBe(0);
		await page.context().close();
	});

	it('creates a live workstream with its own texts and wrap-up reasons, after a refusal', async () => {
		await signInAdmin(admin, '/admin/workstreams');
		await heading(admin, 'Workstreams').waitFor();
		const nav = admin.getByRole('navigation', { name: 'Admin' });
		expect(await nav.getByRole('link', { name: 'Workstreams' }).getAttribute('aria-current')).toBe(
			'page'
		);
		await admin.getByRole('row', { name: /Live chat/ }).waitFor();
		await admin.getByRole('link', { name: 'New workstream' }).click();
		await heading(admin, 'New workstream').waitFor();

		// Refused with nothing filled in: the summary lists the fields in the form's order.
		await admin.getByRole('button', { name: 'Create workstream' }).click();
		const problems = admin.locator('.error-summary li');
		await problems.first().waitFor();
		const listed = await problems.allTextContents();
		const at = (field: string) => listed.findIndex((t) => t.startsWith(`${field}:`));
		expect(at('Name')).toBeGreaterThanOrEqual(0);
		expect(at('Name')).toBeLessThan(at('Slug'));

		await admin.getByLabel('Name', { exact: true }).fill('Returns');
		await admin.getByLabel('Slug', { exact: true }).fill('returns');
		expect(await admin.getByRole('radio', { name: /^Live chat/ }).isChecked()).toBe(true);
		await admin
			.getByLabel('Queue', { exact: true })
			.selectOption({ label: 'General (needs chat)' });
		await admin.getByLabel('Title', { exact: true }).fill('Returns desk');
		await admin
			.getByLabel('Queue position text')
			.fill('You are customer number {position} in the returns line.');
		await admin
			.getByLabel('Wait time text')
			.fill('Someone from returns is with you in about {wait}.');

		// The four default reasons, all removed: refused beside the list, nothing saved.
		expect(await admin.getByLabel('Wrap-up reason 1', { exact: true }).inputValue()).toBe(
			'Resolved'
		);
		const removeButtons = admin.getByRole('button', { name: /^Remove wrap-up reason/ });
		while ((await removeButtons.count()) > 0) await removeButtons.first().click();
		await admin.getByRole('button', { name: 'Create workstream' }).click();
		const fieldError = admin.locator('#f-wrapUpReasons-error');
		await fieldError.waitFor();
		expect(await fieldError.textContent()).toBe('Give agents at least one wrap-up reason.');
		expect(
			await admin.getByRole('button', { name: 'Add reason' }).getAttribute('aria-describedby')
		).toBe('f-wrapUpReasons-error');
		await admin
			.getByRole('alert')
			.filter({ hasText: 'Wrap-up reasons: Give agents at least one wrap-up reason.' })
			.waitFor();
		expect(admin.url()).toBe(server.base + '/admin/workstreams/new');
		const list = (await (await admin.request.get(server.base + '/api/admin/workstreams')).json())
			.workstreams as { slug: string }[];
		expect(list.map((w) => w.slug).sort()).toEqual(['live', 'persistent']);

		// The reasons this desk uses.
		await admin.getByRole('button', { name: 'Add reason' }).click();
		await admin.getByLabel('Wrap-up reason 1', { exact: true }).fill('Refund approved');
		await admin.getByRole('button', { name: 'Add reason' }).click();
		await admin.getByLabel('Wrap-up reason 2', { exact: true }).fill('Exchange arranged');
		await admin.screenshot({ path: '/tmp/admin-workstream-new.png', fullPage: true });
		await admin.getByRole('button', { name: 'Create workstream' }).click();

		await admin.waitForURL(server.base + '/admin/workstreams/returns');
		await heading(admin, 'Returns').waitFor();
		await admin.getByRole('status').filter({ hasText: 'Workstream “Returns” created.' }).waitFor();
		const snippetBox = admin.getByLabel('Embed snippet');
		await expect.poll(() => snippetBox.inputValue()).toContain('data-workstream="returns"');
		snippet = await snippetBox.inputValue();
		expect(snippet).toBe(
			`<script src="${server.base}/widget.js" data-workstream="returns" async></script>`
		);
		expect(await snippetBox.getAttribute('readonly')).not.toBeNull();
		// A later save says "Saved." alone: the creation message does not linger beside it.
		await admin.getByRole('button', { name: 'Save changes' }).click();
		await admin.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
		expect(await admin.getByText('Workstream “Returns” created.').count()).toBe(0);

		const saved = (
			await (await admin.request.get(server.base + '/api/admin/workstreams/returns')).json()
		).workstream;
		expect(saved).toMatchObject({
			name: 'Returns',
			mode: 'live',
			title: 'Returns desk',
			queuePositionText: 'You are customer number {position} in the returns line.',
			waitTimeText: 'Someone from returns is with you in about {wait}.',
			wrapUpReasons: ['Refund approved', 'Exchange arranged'],
			style: 'live',
			solvedCloseMs: null,
			hours: null
		});
	});

	it('refuses a Solved → Closed delay outside the style’s bounds on the edit page', async () => {
		await admin.getByLabel('Style', { exact: true }).selectOption({ label: 'Social messaging' });
		const delay = admin.getByLabel('Solved → Closed after (days)');
		await delay.fill('30');
		await admin.getByRole('button', { name: 'Save changes' }).click();
		const error = admin.locator('#f-solvedCloseMs-error');
		await error.waitFor();
		expect(await error.textContent()).toBe(
			'Social messaging: Solved → Closed must be between 1 day and 28 days.'
		);
		expect(await delay.getAttribute('aria-invalid')).toBe('true');
		expect(await delay.getAttribute('aria-describedby')).toContain('f-solvedCloseMs-error');
		const ws = (
			await (await admin.request.get(server.base + '/api/admin/workstreams/returns')).json()
		).workstream;
		expect(ws).toMatchObject({ style: 'live', solvedCloseMs: null });
		await admin.screenshot({ path: '/tmp/admin-workstream-edit.png', fullPage: true });

		// The form at a phone's width.
		const narrow = await (await newContext(375, 800)).newPage();
		await signInAdmin(narrow, '/admin/workstreams/new');
		await heading(narrow, 'New workstream').waitFor();
		await narrow.getByLabel('Always open').uncheck();
		await narrow.getByLabel('Time zone').waitFor();
		expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
			375
		);
		await narrow.screenshot({ path: '/tmp/admin-workstream-375.png', fullPage: true });
		await narrow.context().close();
		// The refused edits are unsaved: the browser asks before the reload throws them away.
		const asked = new Promise<string>((resolve) =>
			admin.once('dialog', (d) => {
				resolve(d.type());
				void d.accept();
			})
		);
		await admin.reload();
		expect(await asked).toBe('beforeunload');
		await heading(admin, 'Returns').waitFor();

		// The mode of an existing workstream brings its usual style along (it was the other's).
		const style = admin.getByLabel('Style', { exact: true });
		expect(await style.inputValue()).toBe('live');
		await admin.getByRole('radio', { name: /Persistent chat/ }).check();
		await expect.poll(() => style.inputValue()).toBe('social');
		await admin.getByRole('radio', { name: /Live chat/ }).check();
		await expect.poll(() => style.inputValue()).toBe('live');
	});

	it('asks before a link throws away unsaved edits', async () => {
		const page = await (await newContext()).newPage();
		await signInAdmin(page, '/admin/workstreams/returns');
		await heading(page, 'Returns').waitFor();
		const greeting = page.getByLabel('Greeting');
		const before = await greeting.inputValue();
		const templates = page.getByRole('navigation', { name: 'Admin' }).getByRole('link', {
			name: 'Templates'
		});
		let questions: string[] = [];
		page.on('dialog', (d) => {
			questions.push(d.message());
			void (questions.length === 1 ? d.dismiss() : d.accept());
		});
		await greeting.fill('Half-written greeting');
		await templates.click();
		await expect
			.poll(() => questions)
			.toEqual(['You have changes that are not saved. Leave and discard them?']);
		// Stayed, with the text.
		expect(await greeting.inputValue()).toBe('Half-written greeting');
		await templates.click();
		await heading(page, 'Templates').waitFor();
		expect(questions.length).toBe(2);
		// Discarded: the server still has the old greeting, and going back asks nothing.
		await page.goBack();
		await heading(page, 'Returns').waitFor();
		expect(await page.getByLabel('Greeting').inputValue()).toBe(before);
		questions = [];
		await templates.click();
		await heading(page, 'Templates').waitFor();
		expect(questions).toEqual([]);
		// The agent form too: a name typed into a new agent is not thrown away silently.
		await page
			.getByRole('navigation', { name: 'Admin' })
			.getByRole('link', { name: 'Agents' })
			.click();
		await page.getByRole('button', { name: 'Add agent' }).click();
		await page.getByLabel('Name', { exact: true }).fill('Half an agent');
		await templates.click();
		await expect.poll(() => questions.length).toBe(1);
		expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Half an agent');
		await page.context().close();
	});

	it('a sign-in that ends mid-page is renewed over the page, keeping what was typed', async () => {
		const ctx = await newContext();
		const page = await ctx.newPage();
		await signInAdmin(page, '/admin/workstreams/returns');
		await heading(page, 'Returns').waitFor();
		const greeting = page.getByLabel('Greeting');
		await greeting.fill('Welcome back to Returns.');
		// Signed out in another tab of the same browser.
		const other = await ctx.newPage();
		await other.goto(server.base + '/admin');
		await other.getByRole('navigation', { name: 'Admin' }).waitFor();
		const out = await other.evaluate(async () => {
			const r = await fetch('/api/auth/logout', {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: '{}'
			});
			return r.status;
		});
		expect(out).toBe(200);
		await other.close();

		await page.getByRole('button', { name: 'Save changes' }).click();
		const dialog = page.getByRole('dialog', { name: 'Your sign-in has expired' });
		await dialog.waitFor();
		expect(await dialog.textContent()).toContain('admin@example.com');
		await page.screenshot({ path: '/tmp/admin-expired.png' });
		await dialog.getByLabel('Password').fill('not the password');
		await dialog.getByRole('button', { name: 'Sign in again' }).click();
		await dialog.getByRole('alert').waitFor();
		await dialog.getByLabel('Password').fill('parley');
		await dialog.getByRole('button', { name: 'Sign in again' }).click();
		await dialog.waitFor({ state: 'hidden' });
		// Nothing typed was lost, and the save that failed now goes through.
		expect(await greeting.inputValue()).toBe('Welcome back to Returns.');
		expect(
			(await (await page.request.get(server.base + '/api/admin/workstreams/returns')).json())
				.workstream.greeting
		).not.toBe('Welcome back to Returns.');
		await page.getByRole('button', { name: 'Save changes' }).click();
		await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
		expect(
			(await (await page.request.get(server.base + '/api/admin/workstreams/returns')).json())
				.workstream.greeting
		).toBe('Welcome back to Returns.');
		await ctx.close();
	});

	it('the snippet on another site: the customer waits with the new text, Ana wraps up with the new reasons', async () => {
		expect(snippet).not.toBe('');
		const hostBase = await startHost(snippet);
		// Nobody is Available: the customer waits in the queue.
		const agents = (await (await admin.request.get(server.base + '/api/admin/agents')).json())
			.agents as { presence: string }[];
		expect(agents.filter((a) => a.presence === 'Available')).toEqual([]);

		const customer = await (await newContext()).newPage();
		await customer.goto(hostBase + '/');
		await customer.getByRole('button', { name: 'Open chat' }).click();
		const widget = customer.frameLocator('iframe[title="Returns desk"]');
		await widget.getByLabel('Name').fill('Rosa');
		await widget.getByRole('button', { name: 'Start chat' }).click();
		const box = widget.getByLabel('Message', { exact: true });
		await box.fill('The shoes are too small');
		await box.press('Enter');
		await widget
			.getByRole('status')
			.filter({ hasText: 'You are customer number 1 in the returns line.' })
			.waitFor();
		await customer.screenshot({ path: '/tmp/admin-embed-waiting.png' });

		const ana = await signInAgent(await newContext(), server.base, 'ana@example.com');
		await acceptOffer(ana, 'New chat from Rosa');
		await widget.getByText('Ana joined the chat').waitFor();
		await ana.getByRole('button', { name: 'End', exact: true }).click();
		const dialog = ana.getByRole('dialog', { name: 'Wrap-up' });
		await dialog.getByRole('radio', { name: 'Refund approved' }).waitFor();
		await expect
			.poll(() =>
				dialog.getByRole('radio').evaluateAll((rs) => rs.map((r) => (r as HTMLInputElement).value))
			)
			.toEqual(['Refund approved', 'Exchange arranged']);
		await dialog.getByRole('radio', { name: 'Refund approved' }).check();
		await dialog.getByRole('button', { name: 'Submit wrap-up' }).click();
		await dialog.waitFor({ state: 'detached' });
		await widget.getByText('This chat has ended.').waitFor();
		await ana.getByLabel('Presence').selectOption('Offline');
		await ana.waitForFunction(() => document.querySelector('select')?.value === 'Offline');
	});

	it('reports count the chat for Ana, with a CSV of the same query', async () => {
		await admin.goto(server.base + '/admin/reports');
		await heading(admin, 'Reports').waitFor();
		const byAgent = admin.getByRole('table', { name: 'By agent' });
		const ana = byAgent.getByRole('row', { name: /^Ana\b/ });
		await ana.waitFor();
		expect(await ana.getByRole('cell').first().textContent()).toBe('1');
		const byQueue = admin.getByRole('table', { name: 'By queue' });
		await byQueue.getByRole('row', { name: /^General\b/ }).waitFor();
		const csv = admin.getByRole('link', { name: 'Download CSV' });
		expect(await csv.getAttribute('href')).toMatch(/^\/api\/admin\/reports\.csv\?from=\d{4}-/);
		const body = await (
			await admin.request.get(server.base + (await csv.getAttribute('href'))!)
		).text();
		expect(body).toMatch(/^group,name,conversations/);
		expect(body).toMatch(/agent,Ana,1,1,/);
		await admin.screenshot({ path: '/tmp/admin-reports.png', fullPage: true });

		// A query that cannot run leaves no figures of the previous one under its error.
		await admin.getByLabel('Time zone').fill('Mars/Olympus');
		await admin.getByRole('button', { name: 'Show report' }).click();
		await admin
			.getByText(/time zone/i)
			.first()
			.waitFor();
		await expect.poll(() => byAgent.count()).toBe(0);
		expect(await csv.count()).toBe(0);
		await admin.getByLabel('Time zone').fill('UTC');
		await admin.getByRole('button', { name: 'Show report' }).click();
		await ana.waitFor();

		// A filter applies as it is chosen, and the CSV (and its name) follow it.
		await admin.getByLabel('Queue', { exact: true }).selectOption({ label: 'General' });
		await expect.poll(() => csv.getAttribute('href')).toMatch(/[?&]queue=q_/);
		const filtered = await admin.request.get(server.base + (await csv.getAttribute('href'))!);
		expect(filtered.headers()['content-disposition']).toMatch(/-general\.csv"$/);
		expect(
			await admin.getByRole('table', { name: 'By queue' }).getByRole('row').allTextContents()
		).not.toContainEqual(expect.stringMatching(/^Account care/));
	});

	it('a queue created by mistake is deleted after a confirmation; one in use offers no Delete', async () => {
		await admin.goto(server.base + '/admin/queues');
		await heading(admin, 'Queues & skills').waitFor();
		await admin.getByRole('button', { name: 'New queue' }).click();
		await admin.getByLabel('Name', { exact: true }).fill('Typo queue');
		await admin.getByRole('button', { name: 'Create queue' }).click();
		await admin.getByRole('status').filter({ hasText: 'Queue “Typo queue” created.' }).waitFor();
		// The demo queue carries the workstreams: no Delete for it.
		expect(await admin.getByRole('button', { name: 'Delete General' }).count()).toBe(0);
		await admin.getByRole('button', { name: 'Delete Typo queue' }).click();
		const dialog = admin.getByRole('alertdialog', { name: 'Delete the queue Typo queue?' });
		await dialog.waitFor();
		await dialog.getByRole('button', { name: 'Delete queue' }).click();
		await admin.getByRole('status').filter({ hasText: 'Queue “Typo queue” deleted.' }).waitFor();
		await expect.poll(() => admin.getByRole('row', { name: /Typo queue/ }).count()).toBe(0);
		await expect.poll(() => admin.evaluate(() => document.activeElement?.id)).toBe('new-queue');
	});

	it('a workstream created by mistake is deleted after a confirmation; one with chats is refused', async () => {
		await admin.goto(server.base + '/admin/workstreams/new');
		await heading(admin, 'New workstream').waitFor();
		await admin.getByLabel('Name', { exact: true }).fill('Typo desk');
		await admin.getByLabel('Slug', { exact: true }).fill('typo-desk');
		await admin.getByRole('button', { name: 'Create workstream' }).click();
		await admin.waitForURL(server.base + '/admin/workstreams/typo-desk');
		await admin.getByRole('button', { name: 'Delete workstream' }).click();
		const dialog = admin.getByRole('alertdialog', { name: 'Delete the workstream Typo desk?' });
		await dialog.waitFor();
		await admin.screenshot({ path: '/tmp/admin-workstream-delete.png' });
		await dialog.getByRole('button', { name: 'Delete workstream' }).click();
		await admin.waitForURL(server.base + '/admin/workstreams');
		await admin
			.getByRole('status')
			.filter({ hasText: 'Workstream “Typo desk” deleted.' })
			.waitFor();
		await admin.getByRole('row', { name: /^Returns/ }).waitFor();
		expect(await admin.getByRole('row', { name: /Typo desk/ }).count()).toBe(0);

		// Returns has had a customer (the snippet test above): refused, said in the dialog.
		await admin.goto(server.base + '/admin/workstreams/returns');
		await heading(admin, 'Returns').waitFor();
		await admin.getByRole('button', { name: 'Delete workstream' }).click();
		const refused = admin.getByRole('alertdialog', { name: 'Delete the workstream Returns?' });
		await refused.getByRole('button', { name: 'Delete workstream' }).click();
		await refused
			.getByRole('alert')
			.filter({ hasText: /came through this workstream/ })
			.waitFor();
		await admin.keyboard.press('Escape');
		await refused.waitFor({ state: 'detached' });
		expect(admin.url()).toBe(server.base + '/admin/workstreams/returns');
	});

	it('an API key is shown once, and every page of the console renders', async () => {
		await admin.goto(server.base + '/admin/integrations');
		await heading(admin, 'Integrations').waitFor();
		await admin.getByLabel('Key name').fill('CRM sync');
		await admin.getByRole('button', { name: 'Create API key' }).click();
		await admin.getByText('Copy it now: you won’t see it again.').waitFor();
		expect(await admin.locator('#new-key-value').textContent()).toMatch(/^pk_/);
		await admin.getByRole('row', { name: /CRM sync/ }).waitFor();
		expect(
			await admin.getByRole('link', { name: 'API reference (OpenAPI)' }).getAttribute('href')
		).toBe('/api/v1/openapi.json');
		await admin.screenshot({ path: '/tmp/admin-integrations.png', fullPage: true });

		const pages: [string, string, string][] = [
			['/admin', 'Admin console', ''],
			['/admin/workstreams', 'Workstreams', 'Workstreams'],
			['/admin/queues', 'Queues & skills', 'Queues & skills'],
			['/admin/agents', 'Agents', 'Agents'],
			['/admin/templates', 'Templates', 'Templates'],
			['/admin/triggers', 'Triggers', 'Triggers'],
			['/admin/integrations', 'Integrations', 'Integrations'],
			['/admin/reports', 'Reports', 'Reports'],
			['/admin/outbox', 'Mail outbox', 'Mail outbox']
		];
		for (const [path, h1, link] of pages) {
			await admin.goto(server.base + path);
			await heading(admin, h1).waitFor();
			if (link)
				expect(
					await admin
						.getByRole('navigation', { name: 'Admin' })
						.getByRole('link', { name: link, exact: true })
						.getAttribute('aria-current'),
					path
				).toBe('page');
			expect(await admin.getByRole('alert').count(), path).toBe(0);
		}
		await admin.goto(server.base + '/admin/queues');
		await admin.getByRole('row', { name: /General/ }).waitFor();
		await admin.goto(server.base + '/admin/triggers');
		await admin.getByText('Messaging session ended, changed to: ended by agent').waitFor();
		await admin.getByText('Send the CSAT survey').waitFor();
	});

	it('the Agents page follows presence without a reload', async () => {
		const page = await (await newContext()).newPage();
		// The page's clock is the test's: its 10 s refresh runs when the test says so.
		await page.clock.install();
		await signInAdmin(page, '/admin/agents');
		const cleoRow = page.getByRole('row', { name: /Cleo/ });
		await cleoRow.getByRole('cell', { name: 'Offline', exact: true }).waitFor();
		const cleo = await signInAgent(await newContext(), server.base, 'cleo@example.com');
		await page.clock.runFor(10_000);
		await cleoRow.getByRole('cell', { name: 'Available', exact: true }).waitFor();
		await cleo.getByLabel('Presence').selectOption('Offline');
		await cleo.waitForFunction(() => document.querySelector('select')?.value === 'Offline');
		await page.clock.runFor(10_000);
		await cleoRow.getByRole('cell', { name: 'Offline', exact: true }).waitFor();
	});

	it('an agent whose password an admin reset is told so, and chooses their own at sign-in', async () => {
		const ben = await signInAgent(await newContext(), server.base, 'ben@example.com');
		const agents = (await (await admin.request.get(server.base + '/api/admin/agents')).json())
			.agents as { id: string; email: string }[];
		const benId = agents.find((a) => a.email === 'ben@example.com')!.id;
		const reset = await admin.request.post(`${server.base}/api/admin/agents/${benId}/password`, {
			data: {}
		});
		const temp = (await reset.json()).temporaryPassword as string;
		await ben.getByText('An admin reset your password: sign in with the new one.').waitFor();

		await ben.getByLabel('Email').fill('ben@example.com');
		await ben.getByLabel('Password').fill(temp);
		await ben.getByRole('button', { name: 'Sign in' }).click();
		await heading(ben, 'Choose your password').waitFor();
		// The first field has the focus: the agent types straight away.
		await ben.keyboard.type(temp);
		await ben.getByLabel('New password', { exact: true }).fill('bens own secret');
		await ben.getByLabel('Repeat the new password').fill('bens own secrte');
		await ben.getByRole('button', { name: 'Change password' }).click();
		await ben.getByText('The two new passwords are not the same.').waitFor();
		await ben.getByLabel('Repeat the new password').fill('bens own secret');
		await ben.getByRole('button', { name: 'Change password' }).click();
		await ben.getByLabel('Presence').waitFor();

		// Later, from the workspace: the same form, which can be left.
		await ben.getByRole('button', { name: 'Password' }).click();
		await ben.getByLabel('Current password').fill('bens own secret');
		await ben.getByLabel('New password', { exact: true }).fill('another secret');
		await ben.getByLabel('Repeat the new password').fill('another secret');
		await ben.getByRole('button', { name: 'Change password' }).click();
		await ben.getByText('Password changed. Other devices sign in again with it.').waitFor();
		await ben.screenshot({ path: '/tmp/agent-password.png' });
		// (Node's fetch, not the admin page's: its cookies stay the admin's.)
		const login = await fetch(server.base + '/api/auth/login', {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ email: 'ben@example.com', password: 'another secret' })
		});
		expect(login.status).toBe(200);
		await ben.context().close();
	});
});
