/**
 * The agent workspace on a phone-sized screen: nothing wider than the screen, the offer whole,
 * the list or one conversation at a time with a way back (focus follows), and the messages
 * taking most of the height (the details panel on request).
 */
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

const overflow = (page: Page) =>
	page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

/** True if the element's box lies inside the viewport. */
const inViewport = (page: Page, selector: string) =>
	page.evaluate((sel) => {
		const r = document.querySelector(sel)!.getBoundingClientRect();
		return r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
	}, selector);

describe('the agent workspace on a narrow screen', () => {
	it('fits the width, shows the whole offer, and switches between the list and a conversation', async () => {
		const { server } = suite;
		const agentCtx = await suite.newContext({ viewport: { width: 390, height: 844 } });
		const customerCtx = await suite.newContext();
		const ben = await signInAgent(agentCtx, server.base, 'ben@example.com');
		expect(await overflow(ben)).toBe(0);
		await ben.getByRole('navigation', { name: 'Conversations' }).waitFor();

		await liveCustomerAt(customerCtx, server.base, 'Mia', 'Hello from the bus');
		const offer = ben.getByRole('dialog', { name: 'New chat from Mia' });
		await offer.waitFor();
		expect(await inViewport(ben, '.offer')).toBe(true);
		expect(await offer.getByRole('button', { name: 'Decline' }).isVisible()).toBe(true);
		// A second offer: the band scrolls sideways and snaps to whole cards, the first in sight.
		await liveCustomerAt(await suite.newContext(), server.base, 'Noor', 'Me too');
		const second = ben.getByRole('dialog', { name: 'New chat from Noor' });
		await second.waitFor();
		await expect.poll(() => inViewport(ben, '.offer')).toBe(true);
		await second.getByRole('button', { name: 'Decline' }).click();
		await second.waitFor({ state: 'detached' });
		await acceptOffer(ben, 'New chat from Mia');

		// The conversation alone, with a way back; still nothing wider than the screen.
		await conversationLog(ben).getByText('Hello from the bus').waitFor();
		expect(await ben.getByRole('navigation', { name: 'Conversations' }).isVisible()).toBe(false);
		expect(await overflow(ben)).toBe(0);
		// The messages get most of the screen; the details panel opens on request.
		const log = (await conversationLog(ben).boundingBox())!;
		expect(log.height).toBeGreaterThan(844 * 0.4);
		// Every action is on screen (none scrolled out of a row wider than the phone).
		for (const name of ['Details', 'End session', 'Transfer', 'Conference', 'End']) {
			const action = ben.getByRole('button', { name, exact: true });
			const b = (await action.boundingBox())!;
			expect([name, b.x >= 0 && b.x + b.width <= 390]).toEqual([name, true]);
		}
		const details = ben.getByRole('complementary', { name: 'Details' });
		const toggle = ben.getByRole('button', { name: 'Details' });
		expect(await details.isVisible()).toBe(false);
		await toggle.click();
		expect(await toggle.getAttribute('aria-expanded')).toBe('true');
		await details.getByRole('heading', { name: 'Ticket' }).waitFor();
		await toggle.click();
		expect(await details.isVisible()).toBe(false);
		const box = ben.getByLabel('Message', { exact: true });
		expect(await box.isVisible()).toBe(true);
		await box.fill('On my way');
		await box.press('Enter');
		await conversationLog(ben).getByText('On my way').waitFor();

		await ben.getByRole('button', { name: 'Back to conversations' }).click();
		const list = ben.getByRole('navigation', { name: 'Conversations' });
		await list.waitFor();
		expect(await ben.getByRole('region', { name: 'Conversation' }).isVisible()).toBe(false);
		const item = list.getByRole('button', { name: /Mia/ });
		await expect.poll(() => item.evaluate((el) => el === document.activeElement)).toBe(true);

		// Back in with the keyboard: focus lands on the way back.
		await ben.keyboard.press('Enter');
		const back = ben.getByRole('button', { name: 'Back to conversations' });
		await expect.poll(() => back.evaluate((el) => el === document.activeElement)).toBe(true);
		await conversationLog(ben).getByText('On my way').waitFor();
		await ben.screenshot({ path: '/tmp/agent-narrow.png' });
	});

	it('the demo host page and the widget page fit the width too', async () => {
		const ctx = await suite.newContext({ viewport: { width: 390, height: 844 } });
		const page = await ctx.newPage();
		for (const path of ['/demo?customer=carla', '/chat?workstream=live']) {
			await page.goto(suite.server.base + path);
			await page.getByRole('button').first().waitFor();
			expect(await overflow(page), path).toBe(0);
		}
		expect(await page.getByRole('button', { name: 'Start chat' }).isVisible()).toBe(true);
	});
});
