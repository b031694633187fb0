/**
 * Background alerts (SPEC A13) in Chromium: with the workspace tab in the background, a new
 * offer and a new customer message each raise a desktop notification and a tone; with Sound
 * switched off, the notification comes without the tone; in front, neither.
 *
 * Chromium's real Notification and Web Audio run; an init script only records their use and
 * lets the test say whether the tab is hidden (headless Chromium has no other tab to switch to).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { acceptOffer, launchChromium, liveCustomerAt, signInAgent } from '../helpers/browser';
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

declare global {
	interface Window {
		__hidden: boolean;
		__notes: { title: string; body: string }[];
		__tones: number;
	}
}

function recordAlerts() {
	window.__hidden = false;
	window.__notes = [];
	window.__tones = 0;
	Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.__hidden });
	const Real = window.Notification;
	class Recorded extends Real {
		constructor(title: string, options?: NotificationOptions) {
			super(title, options);
			window.__notes.push({ title, body: options?.body ?? '' });
		}
	}
	window.Notification = Recorded as typeof Notification;
	const create = AudioContext.prototype.createOscillator;
	AudioContext.prototype.createOscillator = function (this: AudioContext) {
		window.__tones++;
		return create.call(this);
	};
}

const alerts = (page: Page) =>
	page.evaluate(() => ({ notes: window.__notes.map((n) => n.title), tones: window.__tones }));
const setHidden = (page: Page, hidden: boolean) =>
	page.evaluate((h) => (window.__hidden = h), hidden);

async function customer(name: string, text: string) {
	const ctx = await browser.newContext();
	contexts.push(ctx);
	return liveCustomerAt(ctx, server.base, name, text);
}

describe('background alerts', () => {
	it('notify and sound for offers and customer messages only while the tab is hidden', async () => {
		const ctx = await browser.newContext();
		contexts.push(ctx);
		await ctx.grantPermissions(['notifications'], { origin: server.base });
		await ctx.addInitScript(recordAlerts);
		const ben = await signInAgent(ctx, server.base, 'ben@example.com');
		expect(await ben.evaluate(() => Notification.permission)).toBe('granted');

		// In front: the offer shows on the page, no notification, no tone.
		const first = await customer('Pia', 'First question');
		await ben.getByRole('dialog', { name: 'New chat from Pia' }).waitFor();
		expect(await alerts(ben)).toEqual({ notes: [], tones: 0 });
		await acceptOffer(ben, 'New chat from Pia');

		// In the background: an offer and a customer message each notify, with a tone.
		await setHidden(ben, true);
		await customer('Quinn', 'Second question');
		await expect.poll(async () => (await alerts(ben)).notes).toEqual(['New chat from Quinn']);
		expect((await alerts(ben)).tones).toBe(1);
		const box = first.getByLabel('Message', { exact: true });
		await box.fill('Are you there?');
		await box.press('Enter');
		await expect
			.poll(async () => (await alerts(ben)).notes)
			.toEqual(['New chat from Quinn', 'Pia wrote']);
		expect((await alerts(ben)).tones).toBe(2);

		// Sound off: still notified, silently; the choice is kept for the next visit.
		await setHidden(ben, false);
		await ben.getByLabel('Sound').uncheck();
		await setHidden(ben, true);
		await box.fill('Hello?');
		await box.press('Enter');
		await expect
			.poll(async () => (await alerts(ben)).notes)
			.toEqual(['New chat from Quinn', 'Pia wrote', 'Pia wrote']);
		expect((await alerts(ben)).tones).toBe(2);
		expect(await ben.evaluate(() => localStorage.getItem('parley:agent:sound'))).toBe('off');
	});
});
