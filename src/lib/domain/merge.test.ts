import { describe, expect, it } from 'vitest';
import { mergeOutbox, type Author, type MergeInput } from './merge';
import { parseOutboxEntry } from './message';

const carla: Author = { principal: 'customer:c1', role: 'customer', name: 'Carla' };
const NOW = 1_800_000_000_000;
const input = (entries: unknown[], extra: Partial<MergeInput> = {}): MergeInput => ({
	author: carla,
	entries,
	authorsById: new Map(),
	rejectedIds: new Set(),
	lastTimeOfAuthor: 0,
	now: NOW,
	...extra
});
const entry = (id: string, text = id, time = NOW - 1000) => ({ id, text, time });

describe('parseOutboxEntry', () => {
	it('accepts a well-formed entry', () => {
		expect(parseOutboxEntry(entry('abcdefgh1'), 'customer:c1')).toEqual({
			ok: true,
			entry: entry('abcdefgh1')
		});
	});
	it.each([
		[{ ...entry('abcdefgh2'), author: 'agent:a1' }, 'forged_author'],
		[{ ...entry('abcdefgh3'), role: 'agent' }, 'forged_author'],
		[{ id: 'abcdefgh4', text: 'x'.repeat(4001), time: 1 }, 'text_too_long'],
		[{ id: 'abcdefgh5', text: '   ', time: 1 }, 'empty_text'],
		[{ id: 'short', text: 'hi', time: 1 }, 'invalid_entry'],
		[{ id: 'abcdefgh6', text: 'hi', time: 1, extra: true }, 'invalid_entry'],
		['just a string', 'invalid_entry'],
		[null, 'invalid_entry']
	])('rejects %j as %s', (raw, code) => {
		const r = parseOutboxEntry(raw, 'customer:c1');
		expect(r.ok).toBe(false);
		if (!r.ok) expect(r.rejection.code).toBe(code);
	});
});

describe('mergeOutbox', () => {
	it('appends entries in outbox order with the authenticated author', () => {
		const r = mergeOutbox(
			input([entry('m0000001', 'one'), entry('m0000002', 'two'), entry('m0000003', 'three')])
		);
		expect(r.rejected).toEqual([]);
		expect(r.accepted.map((m) => m.text)).toEqual(['one', 'two', 'three']);
		expect(
			r.accepted.every(
				(m) => m.author === 'customer:c1' && m.role === 'customer' && m.name === 'Carla'
			)
		).toBe(true);
		expect(r.accepted.every((m) => m.at === NOW)).toBe(true);
	});

	it('is idempotent: merged ids are skipped, duplicates within one outbox too', () => {
		const first = mergeOutbox(input([entry('m0000001'), entry('m0000002')]));
		const authorsById = new Map(first.accepted.map((m) => [m.id, m.author]));
		const again = mergeOutbox(
			input([entry('m0000001'), entry('m0000002'), entry('m0000003'), entry('m0000003')], {
				authorsById
			})
		);
		expect(again.accepted.map((m) => m.id)).toEqual(['m0000003']);
		expect(again.rejected).toEqual([]);
	});

	it("rejects a forged author and never takes over another author's id", () => {
		const r = mergeOutbox(
			input([{ ...entry('m0000009'), author: 'agent:a1' }, entry('taken0001')], {
				authorsById: new Map([['taken0001', 'agent:a1']])
			})
		);
		expect(r.accepted).toEqual([]);
		expect(r.rejected.map((x) => x.code)).toEqual(['forged_author', 'duplicate_id']);
	});

	it('reports a rejection once', () => {
		const bad = { id: 'badbadbad1', text: '', time: 1 };
		const r = mergeOutbox(input([bad], { rejectedIds: new Set(['badbadbad1']) }));
		expect(r.rejected).toEqual([]);
	});

	it('never merges an entry refused before, even one that would pass now (the author is back)', () => {
		const r = mergeOutbox(
			input([entry('refused01', 'written after I left'), entry('fresh0001')], {
				rejectedIds: new Set(['refused01'])
			})
		);
		expect(r.accepted.map((m) => m.id)).toEqual(['fresh0001']);
		expect(r.rejected).toEqual([]);
	});

	it('keeps written times, clamps future ones, and never runs backwards per author', () => {
		const r = mergeOutbox(
			input(
				[
					entry('t0000001', 'a', NOW - 3 * 86400_000),
					entry('t0000002', 'b', NOW + 3600_000),
					entry('t0000003', 'c', NOW - 5 * 86400_000)
				],
				{
					lastTimeOfAuthor: NOW - 4 * 86400_000
				}
			)
		);
		expect(r.accepted.map((m) => m.time)).toEqual([NOW - 3 * 86400_000, NOW, NOW]);
	});

	it('converges whatever order batches arrive in (simulation)', () => {
		// Two devices of one author write interleaved; the server sees random prefixes of the outbox.
		let seed = 42;
		const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
		for (let run = 0; run < 50; run++) {
			const outbox = Array.from({ length: 30 }, (_, i) =>
				entry(`r${run}x${String(i).padStart(5, '0')}`, `t${i}`)
			);
			const authorsById = new Map<string, string>();
			const transcript: string[] = [];
			let seen = 0;
			while (seen < outbox.length) {
				seen = Math.min(outbox.length, seen + 1 + Math.floor(rand() * 5));
				// sometimes a stale, shorter view arrives again (reconnect replays)
				const view = rand() < 0.3 ? outbox.slice(0, Math.max(0, seen - 3)) : outbox.slice(0, seen);
				const r = mergeOutbox(input(view, { authorsById }));
				for (const m of r.accepted) {
					authorsById.set(m.id, m.author);
					transcript.push(m.text);
				}
			}
			// the full outbox eventually arrives (the client re-syncs on every reconnect)
			for (const m of mergeOutbox(input(outbox, { authorsById })).accepted) transcript.push(m.text);
			expect(transcript).toEqual(outbox.map((e) => e.text));
		}
	});
});

describe('role rules', () => {
	const ana: Author = { principal: 'agent:a1', role: 'agent', name: 'Ana' };
	it('merges an agent note as a note', () => {
		const r = mergeOutbox(
			input([{ ...entry('note00001', 'check the refund'), internal: true }], { author: ana })
		);
		expect(r.rejected).toEqual([]);
		expect(r.accepted.map((m) => [m.kind, m.text])).toEqual([['note', 'check the refund']]);
	});
	it('refuses a customer note', () => {
		const r = mergeOutbox(input([{ ...entry('note00002', 'sneaky'), internal: true }]));
		expect(r.accepted).toEqual([]);
		expect(r.rejected.map((x) => x.code)).toEqual(['not_allowed']);
	});
	it('refuses < and > in an agent message, once, but not in a note or a customer message', () => {
		const entries = [
			entry('msg000001', 'Dear <customer.name>'),
			{ ...entry('note00003', 'a < b'), internal: true }
		];
		const r = mergeOutbox(input(entries, { author: ana }));
		expect(r.rejected).toEqual([
			{
				id: 'msg000001',
				code: 'reserved_chars',
				reason: 'Fill in <customer.name> before sending: it has no value here.'
			}
		]);
		expect(r.accepted.map((m) => m.id)).toEqual(['note00003']);
		const again = mergeOutbox(
			input(entries, {
				author: ana,
				rejectedIds: new Set(['msg000001']),
				authorsById: new Map([['note00003', 'agent:a1']])
			})
		);
		expect(again).toEqual({ accepted: [], rejected: [] });
		expect(mergeOutbox(input([entry('cust00001', '2 < 3')])).accepted).toHaveLength(1);
	});
});
