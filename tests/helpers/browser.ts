/** Debian's Chromium driven by playwright-core (the tools' own browser downloads fail here). */
import {
	chromium,
	type Browser,
	type BrowserContext,
	type BrowserContextOptions,
	type Page
} from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startServerProcess, type ServerProcess, type ServerProcessOptions } from './process';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
	return chromium.launch({
		executablePath: CHROMIUM_PATH,
		headless: true,
		args: [
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--disable-dev-shm-usage'
		]
	});
}

/** Signs an agent in at `/agent` (password `parley`) in a new page of `ctx`, and sets Available. */
export async function signInAgent(ctx: BrowserContext, base: string, email: string): Promise<Page> {
	const page = await ctx.newPage();
	await page.goto(base + '/agent');
	await page.getByLabel('Email').fill(email);
	await page.getByLabel('Password').fill('parley');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByLabel('Presence').selectOption('Available');
	await page.waitForFunction(() => document.querySelector('select')?.value === 'Available');
	return page;
}

/**
 * A live-chat customer in a new page of `ctx`: fills the pre-chat form (name, and email if
 * given), starts the chat and writes `text`.
 */
export async function liveCustomerAt(
	ctx: BrowserContext,
	base: string,
	name: string,
	text: string,
	email?: string
): Promise<Page> {
	const page = await ctx.newPage();
	await page.goto(base + '/chat?workstream=live');
	await page.getByLabel('Name').fill(name);
	if (email) await page.getByLabel('Email').fill(email);
	await page.getByRole('button', { name: 'Start chat' }).click();
	const box = page.getByLabel('Message', { exact: true });
	await box.fill(text);
	await box.press('Enter');
	return page;
}

/** Accepts the offer popover titled `title` and waits for it to close. */
export async function acceptOffer(agent: Page, title: string) {
	await agent.getByRole('dialog', { name: title }).getByRole('button', { name: 'Accept' }).click();
	await agent.getByRole('dialog', { name: title }).waitFor({ state: 'detached' });
}

/** The open conversation's transcript in the agent workspace. */
export const conversationLog = (page: Page) => page.getByRole('log', { name: 'Conversation' });

/**
 * A browser-test file's setup: one server process and one Chromium for the file, and contexts
 * that are closed after it. Call at the top of the file; use its fields inside tests.
 */
export function browserSuite(opts: ServerProcessOptions = {}) {
	const suite = {
		server: undefined as unknown as ServerProcess,
		browser: undefined as unknown as Browser,
		contexts: [] as BrowserContext[],
		async newContext(options?: BrowserContextOptions): Promise<BrowserContext> {
			const ctx = await suite.browser.newContext(options);
			suite.contexts.push(ctx);
			return ctx;
		}
	};
	beforeAll(async () => {
		suite.server = await startServerProcess(opts);
		suite.browser = await launchChromium();
	});
	afterAll(async () => {
		for (const c of suite.contexts) await c.close().catch(() => undefined);
		await suite.browser?.close();
		await suite.server?.dispose();
	});
	return suite;
}
