/**
 * Opening the apps without a network (SPEC A14, C4): after a reload while offline, the agent
 * workspace and the chat page show what this device keeps, take new messages, and deliver them
 * once connected. Sign-out forgets the device, and the service worker keeps nothing but the app.
 */
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
	browserSuite,
	signInAgent,
	liveCustomerAt,
	acceptOffer,
	conversationLog
} from '../helpers/browser';

const suite = browserSuite();

/**
 * Waits until Parley's service worker (it installs on the first visit) controls the page and
 * has kept the files the page needs offline.
 */
const controlled = (page: Page) =>
	page.waitForFunction(
		() =>
			navigator.serviceWorker.controller !== null &&
			document.documentElement.dataset.offlineReady === 'true'
	);

/** The paths in the service worker's caches. */
const cachedPaths = (page: Page) =>
	page.evaluate(async () => {
		const paths: string[] = [];
		for (const name of await caches.keys()) {
			const cache = await caches.open(name);
			for (const req of await cache.keys()) paths.push(new URL(req.url).pathname);
		}
		return paths;
	});

/** The built app's files (what the workspace keeps), from the build the server serves. */
function builtFiles(): string[] {
	const dir = join(process.cwd(), 'build', 'client');
	return readdirSync(join(dir, '_app', 'immutable'), { recursive: true, withFileTypes: true })
		.filter((e) => e.isFile() && !/\.(br|gz)$/.test(e.name))
		.map((e) => '/' + relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

const texts = (page: Page) =>
	conversationLog(page).getByRole('listitem').locator('p').allTextContents();

async function send(page: Page, text: string) {
	const box = page.getByLabel('Message', { exact: true });
	await box.fill(text);
	await box.press('Enter');
}

describe('opening offline', () => {
	it('reloads the workspace and the chat page offline, writes there, and delivers once back', async () => {
		const { server } = suite;
		const agentCtx = await suite.newContext();
		const customerCtx = await suite.newContext();
		const agent = await signInAgent(agentCtx, server.base, 'ben@example.com');
		const customer = await liveCustomerAt(
			customerCtx,
			server.base,
			'Olga',
			'Hello before the tunnel'
		);
		await acceptOffer(agent, 'New chat from Olga');
		await conversationLog(agent).getByText('Hello before the tunnel').waitFor();
		await send(agent, 'Hi Olga, Ben here');
		await conversationLog(customer).getByText('Hi Olga, Ben here').waitFor();
		await controlled(agent);
		await controlled(customer);

		await agentCtx.setOffline(true);
		await customerCtx.setOffline(true);
		await agent.reload();
		await customer.reload();

		// The agent: signed in as before, offline, with the held conversation and its history.
		await expect
			.poll(() => agent.getByRole('status').filter({ hasText: 'Connection:' }).textContent())
			.toBe('Connection: Offline');
		await agent.getByRole('button', { name: /Olga/ }).click();
		await conversationLog(agent).getByText('Hello before the tunnel').waitFor();
		await send(agent, 'Written after an offline reload');
		await expect
			.poll(() =>
				conversationLog(agent)
					.getByRole('listitem')
					.filter({ hasText: 'Written after an offline reload' })
					.getByTestId('delivery')
					.textContent()
			)
			.toBe('Not yet sent');

		// The customer: the chat page, its history, offline, and a message waiting to go.
		await expect.poll(() => customer.getByRole('status').first().textContent()).toMatch(/^Offline/);
		await conversationLog(customer).getByText('Hi Olga, Ben here').waitFor();
		await send(customer, 'Customer wrote after an offline reload');
		await expect
			.poll(() => customer.getByRole('status').first().textContent())
			.toBe('Offline — 1 waiting to send');

		await agentCtx.setOffline(false);
		await customerCtx.setOffline(false);
		await conversationLog(agent)
			.getByText('Customer wrote after an offline reload')
			.waitFor({ timeout: 15_000 });
		await conversationLog(customer)
			.getByText('Written after an offline reload')
			.waitFor({ timeout: 15_000 });
		await expect
			.poll(() => agent.getByRole('status').filter({ hasText: 'Connection:' }).textContent())
			.toBe('Connection: Connected');
		for (const page of [agent, customer]) {
			const all = await texts(page);
			expect(all.filter((t) => t === 'Written after an offline reload')).toHaveLength(1);
			expect(all.filter((t) => t === 'Customer wrote after an offline reload')).toHaveLength(1);
		}
	});

	it('forgets the agent on sign-out: offline, the workspace then says the server is unreachable', async () => {
		const { server } = suite;
		const ctx = await suite.newContext();
		const agent = await signInAgent(ctx, server.base, 'cleo@example.com');
		await controlled(agent);
		await agent.getByRole('button', { name: 'Sign out' }).click();
		await agent.getByRole('button', { name: 'Sign in' }).waitFor();
		await ctx.setOffline(true);
		await agent.reload();
		await agent.getByRole('alert').getByText('The server cannot be reached.').waitFor();
		await ctx.setOffline(false);
		await agent.getByRole('button', { name: 'Try again' }).click();
		await agent.getByRole('button', { name: 'Sign in' }).waitFor();
	});

	it('keeps only the app itself: no API answer, no admin page, no demo page with its token', async () => {
		const { server } = suite;
		const ctx = await suite.newContext();
		const page = await ctx.newPage();
		await page.goto(server.base + '/demo?customer=vera');
		await page.goto(server.base + '/agent');
		await controlled(page);
		await page.goto(server.base + '/admin');
		await page.goto(server.base + '/agent');
		const kept = await cachedPaths(page);
		expect(kept).toContain('/agent');
		expect(kept).toContain('/chat');
		expect(kept.some((p) => p.startsWith('/_app/immutable/'))).toBe(true);
		const unexpected = kept.filter(
			(p) =>
				!p.startsWith('/_app/') && !['/agent', '/chat', '/favicon.svg', '/widget.js'].includes(p)
		);
		expect(unexpected).toEqual([]);
	});

	it('keeps the whole app for the workspace, and only its own files for a customer', async () => {
		const { server } = suite;
		const all = builtFiles();
		const agentCtx = await suite.newContext();
		const agent = await signInAgent(agentCtx, server.base, 'ana@example.com');
		await controlled(agent);
		const forAgent = new Set(await cachedPaths(agent));
		expect(all.filter((p) => !forAgent.has(p))).toEqual([]);

		const customerCtx = await suite.newContext();
		const customer = await customerCtx.newPage();
		await customer.goto(server.base + '/chat?workstream=live');
		await controlled(customer);
		const loaded = await customer.evaluate(() =>
			performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
		);
		const forCustomer = (await cachedPaths(customer)).filter((p) => p.startsWith('/_app/'));
		expect(forCustomer.length).toBeGreaterThan(0);
		expect(forCustomer.filter((p) => !loaded.includes(p))).toEqual([]);
		// The workspace's and the console's code stay on the server.
		expect(forCustomer.length).toBeLessThan(all.length / 2);
	});
});
