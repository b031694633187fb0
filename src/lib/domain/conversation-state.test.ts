import { describe, expect, it } from 'vitest';
import {
	transition,
	TransitionError,
	CONVERSATION_STATUSES,
	conversationStatusLabel,
	type ConversationEvent,
	type ConversationStatus
} from './conversation-state';

describe('conversation transitions', () => {
	it('follows queued → offered → active → ended', () => {
		expect(transition('queued', { type: 'offer', agentId: 'a' })).toBe('offered');
		expect(transition('offered', { type: 'accept', agentId: 'a' })).toBe('active');
		expect(transition('active', { type: 'end' })).toBe('ended');
	});
	it('returns a withdrawn offer to the queue', () => {
		expect(transition('offered', { type: 'withdraw' })).toBe('queued');
	});
	it('routes an active conversation again on handoff, and nothing else', () => {
		expect(transition('active', { type: 'handoff' })).toBe('queued');
		expect(() => transition('queued', { type: 'handoff' })).toThrow(TransitionError);
	});
	it('transfers only an active conversation (never before Accept)', () => {
		expect(transition('active', { type: 'transfer' })).toBe('queued');
		expect(() => transition('offered', { type: 'transfer' })).toThrow(TransitionError);
		expect(() => transition('queued', { type: 'transfer' })).toThrow(TransitionError);
	});
	it('takes back only a conversation still being routed (before anyone accepted)', () => {
		expect(transition('queued', { type: 'take-back' })).toBe('active');
		expect(transition('offered', { type: 'take-back' })).toBe('active');
		for (const from of ['active', 'waiting', 'ended'] as const)
			expect(() => transition(from, { type: 'take-back' })).toThrow(TransitionError);
	});
	it('parks only an active conversation, and resumes only a parked one', () => {
		expect(transition('active', { type: 'wait' })).toBe('waiting');
		expect(transition('waiting', { type: 'resume' })).toBe('queued');
		expect(transition('waiting', { type: 'end' })).toBe('ended');
		for (const from of ['queued', 'offered', 'waiting', 'ended'] as const)
			expect(() => transition(from, { type: 'wait' })).toThrow(TransitionError);
		for (const from of ['queued', 'offered', 'active', 'ended'] as const)
			expect(() => transition(from, { type: 'resume' })).toThrow(TransitionError);
	});
	it('ends from every state but ended (a live customer may leave while queued)', () => {
		for (const from of ['queued', 'offered', 'active', 'waiting'] as const)
			expect(transition(from, { type: 'end' })).toBe('ended');
	});
	it('refuses impossible moves with a typed error', () => {
		expect(() => transition('queued', { type: 'accept', agentId: 'a' })).toThrow(TransitionError);
		expect(() => transition('active', { type: 'offer', agentId: 'a' })).toThrow(
			/cannot take "offer"/
		);
		expect(() => transition('ended', { type: 'end' })).toThrow(TransitionError);
	});
});

describe('every status × event', () => {
	const allowed: Record<string, Record<string, ConversationStatus>> = {
		queued: { offer: 'offered', end: 'ended' },
		offered: { withdraw: 'queued', accept: 'active', end: 'ended' },
		active: { handoff: 'queued', transfer: 'queued', wait: 'waiting', end: 'ended' },
		waiting: { resume: 'queued', reopen: 'active', end: 'ended' },
		ended: {}
	};
	const events: ConversationEvent[] = [
		{ type: 'offer', agentId: 'a' },
		{ type: 'withdraw' },
		{ type: 'reopen' },
		{ type: 'accept', agentId: 'a' },
		{ type: 'handoff' },
		{ type: 'transfer' },
		{ type: 'wait' },
		{ type: 'resume' },
		{ type: 'end' }
	];
	it('allows exactly the listed transitions and refuses the rest', () => {
		for (const from of CONVERSATION_STATUSES)
			for (const event of events) {
				const to = allowed[from][event.type];
				if (to) expect(transition(from, event), `${from} + ${event.type}`).toBe(to);
				else
					expect(() => transition(from, event), `${from} + ${event.type}`).toThrow(TransitionError);
			}
	});
});

describe('conversationStatusLabel', () => {
	it('names every status in words, and passes an unknown one through', () => {
		expect(CONVERSATION_STATUSES.map(conversationStatusLabel)).toEqual([
			'in the queue',
			'being offered',
			'active',
			'waiting for the customer',
			'session ended'
		]);
		expect(conversationStatusLabel('archived')).toBe('archived');
		expect(conversationStatusLabel(undefined)).toBe('');
	});
});
