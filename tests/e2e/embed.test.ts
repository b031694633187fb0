/**
 * The embeddable widget (SPEC C1): the demo shop (server/demo-host.ts) on another origin embeds
 * Parley with one <script> tag (static/widget.js); a customer chats through the launcher's
 * cross-origin iframe, an agent answers, and a signed-in customer's history follows them to
 * another device until the shop signs them out.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';
import { acceptOffer, launchChromium, signInAgent } from '../helpers/browser';
import { freePort, startServerProcess, type ServerProcess } from '../helpers/process';
import { startDemoHost, type DemoHost } from '../../server/demo-host';

/** The demo workstreams' secret in the server process (seeded with it), which the shop signs with. */
const SECRET = 'embed-test-demo-widget-secret';

let server: ServerProcess;
let browser: Browser;
let shop: DemoHost;
/** The shop's origin: another port than Parley's, so another origin (the same site). */
let shopBase: string;
/** The shop as another site (`localhost`, while Parley is 127.0.0.1): third-party storage. */
let otherSiteBase: string;
/** The demo host the server process starts by itself (server/main.ts). */
let ownShopPort: number;

beforeAll(async () => {
	ownShopPort = await freePort();
	server = await startServerProcess({
		env: { PARLEY_DEMO_WIDGET_SECRET: SECRET, PARLEY_DEMO_HOST_PORT: String(ownShopPort) }
	});
	shop = await startDemoHost({
		port: 0,
		host: '127.0.0.1',
		parleyUrl: server.base,
		secret: SECRET
	});
	shopBase = `http://127.0.0.1:${shop.port}`;
	otherSiteBase = `http://localhost:${shop.port}`;
	browser = await launchChromium();
});
afterAll(async () => {
	await browser?.close();
	await shop?.close();
	await server?.dispose();
});

const message = (scope: Page | FrameLocator, text: string) =>
	scope.getByRole('log', { name: 'Conversation' }).getByRole('listitem').filter({ hasText: text });

async function send(scope: Page | FrameLocator, text: string) {
	const box = scope.getByLabel('Message', { exact: true });
	await box.fill(text);
	await box.press('Enter');
}

const launcher = (page: Page) => page.locator('parley-widget').getByRole('button');
/** The widget's iframe (in the loader's shadow root, which Playwright's selectors pierce). */
const frameOf = (page: Page) => page.frameLocator('parley-widget iframe');
/** The widget's frame as a Frame, to read its (Parley-origin) storage. */
function parleyFrame(page: Page) {
	const frame = page.frames().find((f) => f.url().startsWith(server.base + '/chat'));
	if (!frame) throw new Error('no widget frame');
	return frame;
}
const customerDatabases = (page: Page) =>
	parleyFrame(page).evaluate(async () =>
		(await indexedDB.databases())
			.map((d) => d.name ?? '')
			.filter((n) => n.startsWith('parley/customer:'))
	);

describe('the demo shop on another origin', () => {
	it('is started by the server process next to Parley, with the loader and escaped pages', async () => {
		await expect
			.poll(() => server.logs.join(''))
			.toContain(`Demo host site (another origin): http://localhost:${ownShopPort}`);
		const home = await fetch(`http://127.0.0.1:${ownShopPort}/`);
		expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
		expect(await home.text()).toContain(
			`<script src="http://localhost:${server.port}/widget.js" data-workstream="live" async></script>`
		);

		const loader = await fetch(server.base + '/widget.js');
		expect(loader.status).toBe(200);
		expect(loader.headers.get('content-type')).toMatch(/javascript/);
		expect(await loader.text()).toContain('parley:ready');

		// The customer name lands in HTML and in an inline script: escaped in both.
		const evil = '</script><script>alert(1)</script>';
		const account = await fetch(`${shopBase}/account?customer=${encodeURIComponent(evil)}`);
		const html = await account.text();
		expect(html).not.toContain('<script>alert(1)');
		expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
		expect(html).toContain('\\u003c/script>\\u003cscript>alert(1)\\u003c/script>');
		expect((await fetch(`${shopBase}/nope`)).status).toBe(404);
	});
});

describe('the live chat behind the launcher', () => {
	let agentCtx: BrowserContext;
	let customerCtx: BrowserContext;
	let agent: Page;
	let page: Page;

	beforeAll(async () => {
		agentCtx = await browser.newContext();
		customerCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
		agent = await signInAgent(agentCtx, server.base, 'ben@example.com');
		page = await customerCtx.newPage();
	});
	afterAll(async () => {
		await agentCtx?.close();
		await customerCtx?.close();
	});

	it('opens the widget in a cross-origin iframe titled by the workstream', async () => {
		await page.goto(shopBase + '/');
		const button = launcher(page);
		await page.getByRole('button', { name: 'Open chat' }).waitFor();
		expect(await button.getAttribute('aria-expanded')).toBe('false');
		// Created lazily, on the first open.
		expect(await page.locator('parley-widget iframe').count()).toBe(0);

		await button.click();
		await page.getByRole('button', { name: 'Close chat' }).first().waitFor();
		expect(await button.getAttribute('aria-expanded')).toBe('true');
		const iframe = page.locator('parley-widget iframe');
		expect(await iframe.getAttribute('src')).toBe(`${server.base}/chat?workstream=live&embed=1`);
		// `parley:ready` from the widget: the iframe is titled after the workstream…
		await page.locator('parley-widget iframe[title="Chat with us"]').waitFor();
		// …and the launcher takes its colour (the default blue), with white text.
		await expect
			.poll(() => button.evaluate((el) => getComputedStyle(el).backgroundColor))
			.toBe('rgb(37, 99, 235)');
		expect(await button.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(255, 255, 255)');
		const box = await iframe.boundingBox();
		expect(box && [Math.round(box.width), Math.round(box.height)]).toEqual([380, 560]);
	});

	it('a customer writes, an agent accepts and answers', async () => {
		const widget = frameOf(page);
		await widget.getByLabel('Name').fill('Eva');
		await widget.getByRole('button', { name: 'Start chat' }).click();
		await send(widget, 'Hello from the shop');
		await expect
			.poll(() => agent.getByRole('dialog', { name: 'New chat from Eva' }).textContent())
			.toContain('Hello from the shop');
		await acceptOffer(agent, 'New chat from Eva');
		await send(agent, 'Hi Eva, how can I help?');
		await message(widget, 'Hi Eva, how can I help?').waitFor();
		await page.screenshot({ path: '/tmp/embed.png' });
	});

	it('closes with Escape inside the widget and keeps the conversation when reopened', async () => {
		const widget = frameOf(page);
		await widget.getByLabel('Message', { exact: true }).press('Escape');
		await page.getByRole('button', { name: 'Open chat' }).waitFor();
		expect(await page.locator('parley-widget iframe').isVisible()).toBe(false);
		// Focus went back to the launcher.
		await expect
			.poll(() =>
				page.evaluate(
					() => document.querySelector('parley-widget')?.shadowRoot?.activeElement?.className
				)
			)
			.toBe('launcher');
		await page.getByRole('button', { name: 'Open chat' }).click();
		// The same iframe, never reloaded: the conversation is there at once.
		await message(widget, 'Hi Eva, how can I help?').waitFor();
		expect(await page.locator('parley-widget iframe').count()).toBe(1);
		// The widget's own Close button (in its header) closes the panel too.
		await widget.getByRole('button', { name: 'Close chat' }).click();
		await page.getByRole('button', { name: 'Open chat' }).waitFor();
	});

	it('counts unseen replies on the closed launcher, and marks them read only when shown', async () => {
		// The panel is closed (previous test); the agent writes twice.
		await send(agent, 'Are you still there?');
		await send(agent, 'I found your order');
		const unread = page.getByRole('button', { name: 'Open chat, 2 unread messages' });
		await unread.waitFor();
		expect(await launcher(page).locator('.badge').textContent()).toBe('2');
		// A hidden panel's page is still "visible" to the browser: the agent must not see *read*.
		await message(agent, 'I found your order').getByTestId('delivery').waitFor();
		await new Promise((r) => setTimeout(r, 500));
		expect(await message(agent, 'I found your order').getByTestId('delivery').textContent()).toBe(
			'Sent'
		);

		// The page reloads (another page of the shop): this visitor has a chat here, so the
		// widget loads hidden once the page is idle and the count is there before any open.
		await page.reload();
		await page.getByRole('button', { name: 'Open chat, 2 unread messages' }).waitFor();
		expect(await page.locator('parley-widget iframe').isVisible()).toBe(false);
		expect(await page.locator('parley-widget iframe').getAttribute('src')).toBe(
			`${server.base}/chat?workstream=live&embed=1&hidden=1`
		);
		await new Promise((r) => setTimeout(r, 500));
		expect(await message(agent, 'I found your order').getByTestId('delivery').textContent()).toBe(
			'Sent'
		);

		// Opened: the replies are on screen, the count goes and the agent sees *read*.
		await page.getByRole('button', { name: 'Open chat, 2 unread messages' }).click();
		await message(frameOf(page), 'I found your order').waitFor();
		await expect
			.poll(() => message(agent, 'I found your order').getByTestId('delivery').textContent())
			.toBe('Read');
		await frameOf(page).getByRole('button', { name: 'Close chat' }).click();
		// The widget tells the loader with postMessage: the panel closes a moment later.
		await expect.poll(() => launcher(page).getAttribute('aria-label')).toBe('Open chat');
		expect(await launcher(page).locator('.badge').count()).toBe(0);
	});

	it('is operable with the keyboard alone', async () => {
		const ctx = await browser.newContext();
		const p = await ctx.newPage();
		await p.goto(shopBase + '/');
		await p.getByRole('button', { name: 'Open chat' }).waitFor();
		// Tab through the page until the launcher has focus.
		const focusedLauncher = () =>
			p.evaluate(
				() =>
					document.activeElement?.tagName === 'PARLEY-WIDGET' &&
					document.activeElement.shadowRoot?.activeElement?.className === 'launcher'
			);
		for (let i = 0; i < 12 && !(await focusedLauncher()); i++) await p.keyboard.press('Tab');
		expect(await focusedLauncher()).toBe(true);
		// A visible focus indicator.
		expect(await launcher(p).evaluate((el) => getComputedStyle(el).outlineStyle)).toBe('solid');
		await p.keyboard.press('Enter');
		await p.getByRole('button', { name: 'Close chat' }).first().waitFor();
		await frameOf(p).getByRole('button', { name: 'Start chat' }).waitFor();
		expect(await p.locator('parley-widget iframe').isVisible()).toBe(true);
		// Escape on the launcher closes the panel; Space opens it again.
		await p.keyboard.press('Escape');
		await p.getByRole('button', { name: 'Open chat' }).waitFor();
		await p.keyboard.press('Space');
		await p.getByRole('button', { name: 'Close chat' }).first().waitFor();
		// Tab moves from the launcher into the chat.
		await p.keyboard.press('Tab');
		await expect
			.poll(() =>
				p.evaluate(
					() => document.querySelector('parley-widget')?.shadowRoot?.activeElement?.tagName
				)
			)
			.toBe('IFRAME');
		await ctx.close();
	});

	it('fills a narrow screen', async () => {
		const ctx = await browser.newContext({ viewport: { width: 375, height: 700 } });
		const p = await ctx.newPage();
		await p.goto(shopBase + '/');
		await p.screenshot({ path: '/tmp/embed-narrow-closed.png' });
		await p.getByRole('button', { name: 'Open chat' }).click();
		await p.locator('parley-widget iframe[title="Chat with us"]').waitFor();
		await frameOf(p).getByRole('button', { name: 'Start chat' }).waitFor();
		const box = await p.locator('parley-widget iframe').boundingBox();
		expect(box && [box.x, box.y, box.width, box.height]).toEqual([0, 0, 375, 700]);
		await p.screenshot({ path: '/tmp/embed-narrow.png' });
		await ctx.close();
	});
});

describe('a signed-in customer on the shop', () => {
	it('sees the same history on another device, until Sign out clears this one', async () => {
		const url = shopBase + '/account?customer=dora';
		const laptopCtx = await browser.newContext();
		const laptop = await laptopCtx.newPage();
		await laptop.goto(url);
		await laptop.getByRole('heading', { name: 'Your account' }).waitFor();
		await launcher(laptop).click();
		await laptop.locator('parley-widget iframe[title="Your account team"]').waitFor();
		const w1 = frameOf(laptop);
		await w1.getByText('Signed in as Dora').waitFor();
		await expect.poll(() => w1.getByRole('status').first().textContent()).toBe('Connected');
		await send(w1, 'Where is my refund?');
		await expect
			.poll(() => message(w1, 'Where is my refund?').getByTestId('delivery').textContent())
			.toMatch(/Sent|Read/);

		const phoneCtx = await browser.newContext();
		const phone = await phoneCtx.newPage();
		await phone.goto(url);
		await launcher(phone).click();
		const w2 = frameOf(phone);
		await w2.getByText('Signed in as Dora').waitFor();
		await message(w2, 'Where is my refund?').waitFor();

		// The shop's Sign out calls Parley.logout(): the widget forgets Dora on this device.
		expect(await customerDatabases(laptop)).not.toEqual([]);
		await laptop.getByRole('button', { name: 'Sign out' }).click();
		await w1.getByText('You are signed out').waitFor();
		await laptop.getByText("Signed out. This device no longer keeps Dora's chat.").waitFor();
		await expect.poll(() => customerDatabases(laptop)).toEqual([]);
		expect(
			await parleyFrame(laptop).evaluate(() => localStorage.getItem('parley:widget:persistent'))
		).toBeNull();
		expect(await message(w1, 'Where is my refund?').count()).toBe(0);

		// On a fresh page load the chat is not open yet: logout still reaches the widget (a
		// hidden iframe) and clears what this device kept.
		await phone.reload();
		await phone.getByRole('button', { name: 'Open chat' }).waitFor();
		await phone.getByRole('button', { name: 'Sign out' }).click();
		await phone.getByText("Signed out. This device no longer keeps Dora's chat.").waitFor();
		await expect.poll(() => customerDatabases(phone)).toEqual([]);
		expect(
			await parleyFrame(phone).evaluate(() => localStorage.getItem('parley:widget:persistent'))
		).toBeNull();
		expect(await phone.getByRole('button', { name: 'Open chat' }).count()).toBe(1);

		await laptopCtx.close();
		await phoneCtx.close();
	});
});

describe('on another site', () => {
	it('works where the browser denies the widget storage, from memory', async () => {
		const ctx = await browser.newContext();
		const page = await ctx.newPage();
		const errors: string[] = [];
		page.on('pageerror', (e) => errors.push(e.message));
		await page.goto(otherSiteBase + '/account?customer=finn');
		await launcher(page).click();
		const widget = frameOf(page);
		await widget.getByText('Signed in as Finn').waitFor();
		await send(widget, 'Sent from a third-party frame');
		await expect
			.poll(() =>
				message(widget, 'Sent from a third-party frame').getByTestId('delivery').textContent()
			)
			.toMatch(/Sent|Read/);
		// Headless Chromium contexts block third-party storage, as private windows do: the widget
		// must not depend on it (the host token brings the customer back after a reload).
		const storage = await parleyFrame(page).evaluate(() => {
			try {
				return localStorage.getItem('parley:widget:persistent') ? 'stored' : 'empty';
			} catch {
				return 'denied';
			}
		});
		expect(['stored', 'denied']).toContain(storage);
		await page.reload();
		await launcher(page).click();
		await message(frameOf(page), 'Sent from a third-party frame').waitFor();
		expect(errors).toEqual([]);
		await ctx.close();
	});
});

describe("the workstream's colour", () => {
	it('colours the launcher and the widget, with dark text on a light colour', async () => {
		const db = new Database(join(server.dir, 'parley.db'));
		try {
			db.prepare('UPDATE workstreams SET color = ? WHERE slug = ?').run('#fde047', 'live');
		} finally {
			db.close();
		}
		const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
		const page = await ctx.newPage();
		await page.goto(shopBase + '/');
		await launcher(page).click();
		await page.locator('parley-widget iframe[title="Chat with us"]').waitFor();
		await expect
			.poll(() => launcher(page).evaluate((el) => getComputedStyle(el).backgroundColor))
			.toBe('rgb(253, 224, 71)');
		expect(await launcher(page).evaluate((el) => getComputedStyle(el).color)).toBe(
			'rgb(17, 24, 39)'
		);
		const header = frameOf(page).locator('header');
		await expect
			.poll(() => header.evaluate((el) => getComputedStyle(el).backgroundColor))
			.toBe('rgb(253, 224, 71)');
		expect(await header.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(17, 24, 39)');
		expect(
			await frameOf(page)
				.getByRole('button', { name: 'Start chat' })
				.evaluate((el) => getComputedStyle(el).color)
		).toBe('rgb(17, 24, 39)');
		await page.screenshot({ path: '/tmp/embed-light.png' });
		await ctx.close();
	});
});
