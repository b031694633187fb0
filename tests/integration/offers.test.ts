/** Offer timeouts: a durable timer, fired with a controlled clock (no waiting). */
import { describe, expect, it } from 'vitest';
import {
	startServer,
	customerSession,
	customerChat,
	loginAgent,
	setPresence,
	openInbox,
	api,
	waitFor,
	cleanupAfterEach,
	type TestServer
} from '../helpers/server';
import { ManualClock } from '../../server/clock';
import { agentStateOf } from '../../src/lib/domain/inbox-doc';

const cleanup = cleanupAfterEach();

async function setup() {
	const clock = new ManualClock(Date.now());
	const srv: TestServer = await startServer({ clock });
	cleanup.push(() => srv.dispose());
	const ana = await loginAgent(srv.base, 'ana@example.com');
	const ben = await loginAgent(srv.base, 'ben@example.com');
	await setPresence(srv.base, ana, 'Available');
	clock.advance(1000); // Ana has been idle longest, so she gets the first offer
	await setPresence(srv.base, ben, 'Available');
	const anaInbox = await openInbox(srv, ana);
	const benInbox = await openInbox(srv, ben);
	cleanup.push(
		() => anaInbox.destroy(),
		() => benInbox.destroy()
	);
	const customer = await customerSession(srv.base, 'live', { name: 'Dana' });
	const chat = customerChat(srv, customer);
	cleanup.push(() => chat.destroy());
	await chat.ready;
	chat.send('Anyone there?');
	const offerId = await waitFor(() => [...anaInbox.offers.keys()][0], 'offer to Ana');
	return { clock, srv, ana, ben, anaInbox, benInbox, offerId, customer };
}

describe('offer timeout', () => {
	it('moves the request to the next agent and puts the silent one in RONA', async () => {
		const { clock, srv, ana, anaInbox, benInbox, offerId } = await setup();
		expect(benInbox.offers.size).toBe(0);

		clock.advance(59_000);
		await srv.parley.timers.poll();
		expect(anaInbox.offers.has(offerId)).toBe(true); // not yet

		clock.advance(1_000);
		await srv.parley.timers.poll();
		await waitFor(() => benInbox.offers.size === 1, 'offer moved to Ben');
		await waitFor(() => anaInbox.offers.size === 0, 'withdrawn from Ana');
		await waitFor(() => agentStateOf(anaInbox.doc).get('presence') === 'RONA', 'Ana in RONA');
		const me = await api<{ agent: { presence: string } }>(srv.base, '/api/agent/me', {
			cookie: ana.cookie
		});
		expect(me.body.agent.presence).toBe('RONA');

		// Accepting the expired offer is refused; the request is Ben's now.
		const late = await api(srv.base, `/api/agent/offers/${offerId}/accept`, {
			body: {},
			cookie: ana.cookie
		});
		expect(late.status).toBe(409);

		// RONA lasts until Ana chooses Available again.
		clock.advance(3_600_000);
		await srv.parley.timers.poll();
		expect(
			(
				await api<{ agent: { presence: string } }>(srv.base, '/api/agent/me', {
					cookie: ana.cookie
				})
			).body.agent.presence
		).toBe('RONA');
		await setPresence(srv.base, ana, 'Available');
		await waitFor(() => agentStateOf(anaInbox.doc).get('presence') === 'Available', 'Available');
	});

	it('an accepted offer never times out', async () => {
		const { clock, srv, ana, anaInbox, benInbox, offerId } = await setup();
		const r = await api(srv.base, `/api/agent/offers/${offerId}/accept`, {
			body: {},
			cookie: ana.cookie
		});
		expect(r.status).toBe(200);
		clock.advance(120_000);
		await srv.parley.timers.poll();
		expect(agentStateOf(anaInbox.doc).get('presence')).toBe('Available');
		expect(benInbox.offers.size).toBe(0);
		const pending = await srv.parley.repo.db.selectFrom('timers').selectAll().execute();
		expect(pending).toEqual([]);
	});
});
