import { describe, expect, it } from 'vitest';
import { offerTitle, type OfferView } from './inbox-doc';

const base: OfferView = {
	offerId: 'of_1',
	conversationId: 'cv_1',
	customerName: 'Pete',
	queue: 'General',
	workstream: 'Live chat',
	requestedAt: 0,
	offeredAt: 0,
	expiresAt: 60_000
};

describe('offerTitle', () => {
	it('names a new chat, a returning one, a transfer and a conference invitation apart', () => {
		expect(offerTitle(base)).toBe('New chat from Pete');
		expect(offerTitle({ ...base, kind: 'route', transferredBy: 'Ana' })).toBe(
			'Transfer from Ana: chat with Pete'
		);
		expect(offerTitle({ ...base, kind: 'route', returning: true })).toBe('Pete wrote again');
		expect(offerTitle({ ...base, kind: 'conference', invitedBy: 'Ana' })).toBe(
			'Conference invitation: chat with Pete'
		);
	});
});
