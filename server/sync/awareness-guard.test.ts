import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate, applyAwarenessUpdate } from 'y-protocols/awareness';
import { sanitizeAwarenessUpdate, MAX_CLIENT_IDS_PER_CONNECTION } from './awareness-guard';

const identity = { principal: 'customer:c1', name: 'Carla', role: 'customer' as const };

function updateFor(clientId: number, state: unknown) {
	const a = new Awareness(new Y.Doc());
	a.clientID = clientId;
	a.setLocalState({}); // clock 0: receivers ignore a first state at clock 0
	a.setLocalState(state as Record<string, unknown>);
	return encodeAwarenessUpdate(a, [clientId]);
}

function decode(update: Uint8Array) {
	const a = new Awareness(new Y.Doc());
	a.setLocalState(null);
	applyAwarenessUpdate(a, update, null);
	return Object.fromEntries(a.getStates());
}

describe('sanitizeAwarenessUpdate', () => {
	it('replaces the claimed identity with the authenticated one and keeps only typing', () => {
		const raw = updateFor(7, {
			typing: true,
			user: { principal: 'agent:boss', name: 'Boss' },
			html: '<b>x</b>'
		});
		const r = sanitizeAwarenessUpdate(raw, identity, new Set(), () => 'none');
		expect(r.claimed).toEqual([7]);
		expect(decode(r.update!)).toEqual({ 7: { typing: true, user: identity } });
	});
	it('drops entries for a client id someone else owns', () => {
		const r = sanitizeAwarenessUpdate(
			updateFor(9, { typing: true }),
			identity,
			new Set(),
			() => 'other'
		);
		expect(r.dropped).toBe(1);
		expect(r.update).toBeNull();
	});
	it('skips, without a notice or a claim, an echo of a state the room already has', () => {
		// A stock provider sends back the other side's renewal (clock 2) or removal it received.
		const raw = updateFor(9, { typing: true }); // clock 1
		const known = (id: number) => (id === 9 ? 2 : undefined);
		for (const owner of ['other', 'sibling', 'none'] as const) {
			const r = sanitizeAwarenessUpdate(raw, identity, new Set(), () => owner, known);
			expect(r).toEqual({ update: null, claimed: [], dropped: 0 });
		}
		// A newer clock for someone else's client is still refused and counted.
		const newer = sanitizeAwarenessUpdate(
			raw,
			identity,
			new Set(),
			() => 'other',
			() => 0
		);
		expect(newer.dropped).toBe(1);
		// Our own client at a clock the room has seen is passed on (y-protocols ignores it).
		const own = sanitizeAwarenessUpdate(raw, identity, new Set([9]), () => 'self', known);
		expect(decode(own.update!)).toEqual({ 9: { typing: true, user: identity } });
	});
	it("shifts a returning client's clocks past the removal that took its next clock", () => {
		// Our device's socket dropped at clock 1; the server's removal is clock 2. It comes back
		// announcing clock 1, then changes at clock 2: both would be ignored as already seen.
		const known = (id: number) => (id === 9 ? 2 : undefined);
		const offsets = new Map<number, number>();
		const back = sanitizeAwarenessUpdate(
			updateFor(9, { typing: true }), // clock 1
			identity,
			new Set(),
			() => 'former',
			known,
			offsets
		);
		expect(back.claimed).toEqual([9]);
		expect(offsets.get(9)).toBe(2);
		const clockOf = (u: Uint8Array) => {
			const a = new Awareness(new Y.Doc());
			applyAwarenessUpdate(a, u, null);
			return a.meta.get(9)!.clock;
		};
		expect(clockOf(back.update!)).toBe(3);
		const next = sanitizeAwarenessUpdate(
			updateFor(9, { typing: false }), // clock 1 again from a fresh Awareness: shifted to 3
			identity,
			new Set([9]),
			() => 'self',
			known,
			offsets
		);
		expect(clockOf(next.update!)).toBe(3);
		// A removal echoed for a former client is not a return.
		const gone = new Awareness(new Y.Doc());
		gone.clientID = 9;
		gone.setLocalState(null);
		const echo = sanitizeAwarenessUpdate(
			encodeAwarenessUpdate(gone, [9]),
			identity,
			new Set(),
			() => 'former',
			known,
			new Map()
		);
		expect(echo).toEqual({ update: null, claimed: [], dropped: 0 });
	});
	it('caps the client ids one connection may claim', () => {
		const owned = new Set(Array.from({ length: MAX_CLIENT_IDS_PER_CONNECTION }, (_, i) => i + 100));
		const r = sanitizeAwarenessUpdate(
			updateFor(5, { typing: true }),
			identity,
			owned,
			() => 'none'
		);
		expect(r.dropped).toBe(1);
	});
	it('throws on garbage so the caller can close the socket', () => {
		expect(() =>
			sanitizeAwarenessUpdate(new Uint8Array([1, 5]), identity, new Set(), () => 'none')
		).toThrow();
	});
});
