/**
 * A customer and an agent in two Chromium contexts against the real server process:
 * the first conversation, offline writes, reload, another device, and restarts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, FrameLocator } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { launchChromium, signInAgent as signInAgentAt } from '../helpers/browser';
import {
	startServerProcess,
	runServerUntilExit,
	freePort,
	type ServerProcess
} from '../helpers/process';

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

const signInAgent = (ctx: BrowserContext, email: string) => signInAgentAt(ctx, server.base, email);

const message = (scope: Page | FrameLocator, text: string) =>
	scope.getByRole('log', { name: 'Conversation' }).getByRole('listitem').filter({ hasText: text });

async function send(scope: Page | FrameLocator, text: string) {
	const box = scope.getByLabel('Message', { exact: true });
	await box.fill(text);
	await box.press('Enter');
}

describe('customer and agent in the browser', () => {
	let agentCtx: BrowserContext;
	let customerCtx: BrowserContext;
	let agent: Page;
	let demo: Page;
	let widget: FrameLocator;

	beforeAll(async () => {
		agentCtx = await browser.newContext();
		customerCtx = await browser.newContext();
		agent = await signInAgent(agentCtx, 'ana@example.com');
		demo = await customerCtx.newPage();
		await demo.goto(server.base + '/demo?customer=carla');
		widget = demo.frameLocator('iframe[title="Persistent chat"]');
	});

	it('chat in real time: offer, Accept, Enter sends, typing, sent and read', async () => {
		// The first page load of the run (the workspace's service worker keeps the app meanwhile).
		await expect
			.poll(() => widget.getByRole('status').first().textContent(), { timeout: 10_000 })
			.toBe('Connected');
		await send(widget, 'Hello, my order is late');
		const offer = agent.getByRole('dialog', { name: 'New chat from Carla' });
		await offer.waitFor();
		await expect.poll(() => offer.textContent()).toContain('Hello, my order is late');
		await expect.poll(() => offer.textContent()).toContain('Account care');
		await offer.getByRole('button', { name: 'Accept' }).click();
		await message(agent, 'Hello, my order is late').waitFor();

		// typing is shown to the customer
		await agent.getByLabel('Message', { exact: true }).fill('Let me che');
		await widget.getByText('Ana is typing…').waitFor();
		await agent.getByLabel('Message', { exact: true }).press('Enter');
		await message(widget, 'Let me che').waitFor();

		// Shift+Enter makes a new line, Enter sends both lines as one message
		const box = agent.getByLabel('Message', { exact: true });
		await box.fill('line one');
		await box.press('Shift+Enter');
		await box.pressSequentially('line two');
		await box.press('Enter');
		await expect
			.poll(() => message(widget, 'line one').locator('p').textContent())
			.toBe('line one\nline two');

		// the customer's own message goes sent → read once the agent has seen it
		await expect
			.poll(() => message(widget, 'Hello, my order is late').getByTestId('delivery').textContent())
			.toBe('Read');
	});

	it('writes offline with a visible state, and delivers on reconnect in order, once', async () => {
		await customerCtx.setOffline(true);
		await expect.poll(() => widget.getByRole('status').first().textContent()).toMatch(/^Offline/);
		await send(widget, 'offline one');
		await send(widget, 'offline two');
		await expect
			.poll(() => message(widget, 'offline one').getByTestId('delivery').textContent())
			.toBe('Not yet sent');
		await expect
			.poll(() => widget.getByRole('status').first().textContent())
			.toBe('Offline — 2 waiting to send');

		// the agent is offline too, and writes
		await agentCtx.setOffline(true);
		await send(agent, 'agent offline reply');
		await expect
			.poll(() => message(agent, 'agent offline reply').getByTestId('delivery').textContent())
			.toBe('Not yet sent');

		await customerCtx.setOffline(false);
		await agentCtx.setOffline(false);
		await expect
			.poll(() => message(widget, 'offline two').getByTestId('delivery').textContent(), {
				timeout: 15_000
			})
			.toMatch(/Sent|Read/);
		await message(agent, 'offline two').waitFor({ timeout: 15_000 });
		await message(widget, 'agent offline reply').waitFor({ timeout: 15_000 });
		const agentTexts = await agent
			.getByRole('log', { name: 'Conversation' })
			.getByRole('listitem')
			.locator('p')
			.allTextContents();
		expect(agentTexts.filter((t) => t.startsWith('offline'))).toEqual([
			'offline one',
			'offline two'
		]);
	});

	it('shows the whole history after a reload, and on another device', async () => {
		await demo.reload();
		widget = demo.frameLocator('iframe[title="Persistent chat"]');
		await message(widget, 'Hello, my order is late').waitFor();
		await message(widget, 'agent offline reply').waitFor();

		const otherDevice = await browser.newContext();
		const page = await otherDevice.newPage();
		await page.goto(server.base + '/demo?customer=carla');
		const w2 = page.frameLocator('iframe[title="Persistent chat"]');
		await message(w2, 'offline two').waitFor();
		const texts = await w2
			.getByRole('log', { name: 'Conversation' })
			.getByRole('listitem')
			.locator('p')
			.allTextContents();
		// Both sides were offline at once: each author's messages keep their order and arrive
		// once; how the two interleave is the order the server stored them, the same everywhere.
		const firstDevice = await widget
			.getByRole('log', { name: 'Conversation' })
			.getByRole('listitem')
			.locator('p')
			.allTextContents();
		expect(texts).toEqual(firstDevice);
		expect([...texts].sort()).toEqual(
			[
				'Hello, my order is late',
				'Let me che',
				'line one\nline two',
				'offline one',
				'offline two',
				'agent offline reply'
			].sort()
		);
		expect(texts.slice(0, 3)).toEqual([
			'Hello, my order is late',
			'Let me che',
			'line one\nline two'
		]);
		expect(texts.indexOf('offline one')).toBeLessThan(texts.indexOf('offline two'));
		await otherDevice.close();
	});

	it('keeps everything across a server restart and reconnects by itself', async () => {
		await server.stop('SIGTERM');
		await expect
			.poll(() => widget.getByRole('status').first().textContent(), { timeout: 15_000 })
			.not.toBe('Connected');
		server = await server.restart();
		await expect
			.poll(() => widget.getByRole('status').first().textContent(), { timeout: 20_000 })
			.toBe('Connected');
		await send(widget, 'after restart');
		await message(agent, 'after restart').waitFor({ timeout: 15_000 });
	});

	it('a message shown as sent survives kill -9', async () => {
		await send(widget, 'durable before crash');
		await expect
			.poll(() => message(widget, 'durable before crash').getByTestId('delivery').textContent())
			.toMatch(/Sent|Read/);
		await server.stop('SIGKILL');
		server = await server.restart();
		const fresh = await browser.newContext();
		const page = await fresh.newPage();
		await page.goto(server.base + '/demo?customer=carla');
		await message(
			page.frameLocator('iframe[title="Persistent chat"]'),
			'durable before crash'
		).waitFor({ timeout: 15_000 });
		await fresh.close();
	});

	it("signing out clears the device's local copy", async () => {
		const dbNames = (p: Page) =>
			p.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? ''));
		expect((await dbNames(agent)).some((n) => n.startsWith('parley/agent:'))).toBe(true);

		// A message still waiting to go: Sign out asks first, and offline it cannot end the
		// session on the server, so it signs out nothing and says so.
		await agentCtx.setOffline(true);
		await send(agent, 'written just before signing out');
		await expect
			.poll(() =>
				message(agent, 'written just before signing out').getByTestId('delivery').textContent()
			)
			.toBe('Not yet sent');
		await agent.getByRole('button', { name: 'Sign out' }).click();
		const ask = agent.getByRole('alertdialog', { name: 'Sign out with unsent messages?' });
		await ask.getByText('1 message you wrote has not reached the server yet.').waitFor();
		await ask.getByRole('button', { name: 'Sign out and delete it' }).click();
		await ask
			.getByRole('alert')
			.getByText(/^You are offline: signing out needs the server/)
			.waitFor();
		// The connection comes back while the question is open: the message goes, and the dialog
		// stays, saying so, instead of vanishing under the pointer.
		await agentCtx.setOffline(false);
		await message(widget, 'written just before signing out').waitFor({ timeout: 15_000 });
		await expect
			.poll(() =>
				message(agent, 'written just before signing out').getByTestId('delivery').textContent()
			)
			.toMatch(/Sent|Read/);
		const safe = agent.getByRole('alertdialog', { name: 'Everything is sent' });
		await safe.getByText('You can sign out without losing anything.').waitFor();
		await safe.getByRole('button', { name: 'Cancel' }).click();
		expect(await agent.getByRole('alertdialog').count()).toBe(0);

		// Everything sent: Sign out at once.
		await agent.getByRole('button', { name: 'Sign out' }).click();
		expect(await agent.getByRole('alertdialog').count()).toBe(0);
		await agent.getByRole('button', { name: 'Sign in' }).waitFor();
		await expect
			.poll(async () => (await dbNames(agent)).filter((n) => n.startsWith('parley/agent:')))
			.toEqual([]);

		// The host site's logout is the host's decision: the widget forgets everything, and says
		// what it deleted that had not been sent.
		await customerCtx.setOffline(true);
		await send(widget, 'written offline, then the host signs out');
		await expect
			.poll(() => widget.getByRole('status').first().textContent())
			.toBe('Offline — 1 waiting to send');
		await demo.getByRole('button', { name: 'Sign out' }).click();
		await widget
			.getByText(
				'You are signed out. This device no longer keeps your chat. One message written offline had not been sent yet and was deleted with it.'
			)
			.waitFor();
		await customerCtx.setOffline(false);
		await expect
			.poll(async () => (await dbNames(demo)).filter((n) => n.startsWith('parley/customer:')))
			.toEqual([]);
	});
});

describe('anonymous live chat', () => {
	it('starts after the optional pre-chat form and keeps the visitor across reloads', async () => {
		const agentCtx = await browser.newContext();
		const agent = await signInAgent(agentCtx, 'ben@example.com');
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		await page.goto(server.base + '/chat?workstream=live');
		await page.getByLabel('Name').fill('Dana');
		await page.getByRole('button', { name: 'Start chat' }).press('Enter');
		// Not signed in on any site: the widget does not say so.
		await page.getByText('Chatting as Dana').waitFor();
		// The message box takes the focus: the visitor types straight on.
		const box = page.getByLabel('Message', { exact: true });
		await expect.poll(() => box.evaluate((el) => el === document.activeElement)).toBe(true);
		await page.keyboard.type('Hi from the live chat');
		await page.keyboard.press('Enter');
		await message(page, 'Hi from the live chat').waitFor();
		const offer = agent.getByRole('dialog', { name: 'New chat from Dana' });
		await offer.getByRole('button', { name: 'Accept' }).click();
		await send(agent, 'Hello Dana');
		await message(page, 'Hello Dana').waitFor();
		await page.reload();
		await message(page, 'Hi from the live chat').waitFor();
		await message(page, 'Hello Dana').waitFor();
		await ctx.close();
		// Leave no Available agent behind for later tests (closing a tab is not going Offline yet).
		await agent.getByLabel('Presence').selectOption('Offline');
		await agent.waitForFunction(() => document.querySelector('select')?.value === 'Offline');
		await agentCtx.close();
	});

	it('keeps what the visitor types while the chat starts, in the message box', async () => {
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		// The session request waits until the visitor has typed (a slow network, held open).
		let release = () => {};
		const typed = new Promise<void>((resolve) => (release = resolve));
		await page.route('**/api/widget/session', async (route) => {
			await typed;
			await route.continue();
		});
		await page.goto(server.base + '/chat?workstream=live');
		await page.getByLabel('Name').fill('Ivo');
		await page.getByLabel('Name').press('Enter');
		await page.getByRole('button', { name: 'Starting…' }).waitFor();
		await page.keyboard.type('Where iss');
		await page.keyboard.press('Backspace');
		await page.keyboard.type(' my parcel?');
		release();
		const box = page.getByLabel('Message', { exact: true });
		await expect.poll(() => box.inputValue()).toBe('Where is my parcel?');
		expect(await box.evaluate((el) => el === document.activeElement)).toBe(true);
		await page.getByText('Chatting as Ivo').waitFor();
		await ctx.close();
	});

	it('refuses a persistent chat without a signed token, with a clear message', async () => {
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		await page.goto(server.base + '/chat?workstream=persistent');
		await page.getByRole('alert').getByText('Sign in on the site to chat with us.').waitFor();
		const tampered = await ctx.newPage();
		await tampered.goto(server.base + '/chat?workstream=persistent#token=not.a.jwt');
		await tampered
			.getByRole('alert')
			.getByText(/sign-in token is not valid/)
			.waitFor();
		await ctx.close();
	});
});

describe('keyboard only', () => {
	it('an agent signs in, goes Available, accepts and replies without a mouse', async () => {
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		await page.goto(server.base + '/agent');
		await page.getByLabel('Email').focus();
		await page.keyboard.type('cleo@example.com');
		await page.keyboard.press('Tab');
		await page.keyboard.type('parley');
		await page.keyboard.press('Enter');
		const presence = page.getByLabel('Presence');
		await presence.waitFor();
		// Tab from the top of the page to the presence control, then choose with the keyboard.
		await page.keyboard.press('Tab');
		await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('SELECT');
		await presence.selectOption('Available'); // a native select: arrow keys in a real browser
		await page.waitForFunction(() => document.querySelector('select')?.value === 'Available');

		const customer = await browser.newContext();
		const w = await customer.newPage();
		await w.goto(server.base + '/chat?workstream=live');
		await w.getByLabel('Name').fill('Kim');
		await w.getByLabel('Name').press('Enter');
		await send(w, 'Keyboard test');

		const accept = page
			.getByRole('dialog', { name: 'New chat from Kim' })
			.getByRole('button', { name: 'Accept' });
		await accept.focus();
		await page.keyboard.press('Enter');
		// focus lands in the message box, so the agent can type at once
		await expect
			.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label')))
			.toBe('Message');
		await page.keyboard.type('Hello Kim');
		await page.keyboard.press('Enter');
		await message(w, 'Hello Kim').waitFor();
		await ctx.close();
		await customer.close();
	});
});

describe('starting', () => {
	it('a second server on a port already in use exits at once, saying why', async () => {
		const { code, output } = await runServerUntilExit({
			PORT: String(server.port),
			PARLEY_DEMO_HOST_PORT: '0'
		});
		expect(code).toBe(1);
		expect(output).toContain(
			`port ${server.port} is already in use (is Parley already running?): stop that process, or set PORT to another port`
		);
		// The first one is unharmed.
		expect((await fetch(server.base + '/healthz')).ok).toBe(true);
	});

	it('a second server on the same embedded store (another port) exits at once, saying why', async () => {
		const db = join(server.dir, 'parley.db');
		const { code, output } = await runServerUntilExit({
			PORT: String(await freePort()),
			PARLEY_DB: db,
			PARLEY_DEMO_HOST_PORT: '0'
		});
		expect(code).toBe(1);
		expect(output).toContain(`the embedded store ${db} is in use by another Parley process`);
		expect((await fetch(server.base + '/healthz')).ok).toBe(true);
	});

	it('`npm start` stops before building over a running server, and goes on otherwise', async () => {
		const preflight = (env: Record<string, string>) =>
			spawnSync(process.execPath, ['--import', 'tsx', 'server/tools/preflight.ts'], {
				encoding: 'utf8',
				env: { ...process.env, HOST: '127.0.0.1', ...env }
			});
		const db = join(server.dir, 'parley.db');
		const samePort = preflight({ PORT: String(server.port), PARLEY_DB: join(server.dir, 'x.db') });
		expect(samePort.status).toBe(1);
		expect(samePort.stderr).toContain(`port ${server.port} is already in use`);
		const sameStore = preflight({ PORT: String(await freePort()), PARLEY_DB: db });
		expect(sameStore.status).toBe(1);
		expect(sameStore.stderr).toContain(`the embedded store ${db} is in use`);
		const fresh = preflight({
			PORT: String(await freePort()),
			PARLEY_DB: join(server.dir, 'x.db')
		});
		expect(fresh.stderr).toBe('');
		expect(fresh.status).toBe(0);
		const badConfig = preflight({ PORT: 'abc' });
		expect(badConfig.status).toBe(1);
		expect(badConfig.stderr).toContain('Parley cannot start: PORT: ');
	});
});
