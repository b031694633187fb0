/** Debian's Chromium driven by playwright-core (the tools' own browser downloads fail here). */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

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
