import { describe, expect, it } from 'vitest';
import {
	renderTemplate,
	checkAgentText,
	hasStrayBrackets,
	searchTemplates,
	unknownParameters
} from './template';

describe('renderTemplate', () => {
	it('replaces every known parameter that has a value', () => {
		const r = renderTemplate(
			'Hi <customer.name>, I am <agent.name> from <queue.name> (ref <conversation.id>).',
			{
				'customer.name': 'Carla',
				'agent.name': 'Ana',
				'queue.name': 'General',
				'conversation.id': 'cv_1'
			}
		);
		expect(r).toEqual({ text: 'Hi Carla, I am Ana from General (ref cv_1).', missing: [] });
	});

	it('leaves a parameter without a value visible, and lists it once', () => {
		const r = renderTemplate('We will write to <customer.email>. <customer.email> ok?', {
			'customer.email': null
		});
		expect(r.text).toBe('We will write to <customer.email>. <customer.email> ok?');
		expect(r.missing).toEqual(['customer.email']);
		expect(renderTemplate('<customer.name>', { 'customer.name': '  ' }).missing).toEqual([
			'customer.name'
		]);
	});

	it('treats an unknown parameter as missing', () => {
		expect(renderTemplate('Order <order.id>', {})).toEqual({
			text: 'Order <order.id>',
			missing: ['order.id']
		});
		expect(unknownParameters('<customer.name> <order.id> <order.id>')).toEqual(['order.id']);
	});

	it('does not re-render a value that looks like a parameter', () => {
		expect(renderTemplate('<customer.name>', { 'customer.name': 'x' }).text).toBe('x');
	});
});

describe('checkAgentText', () => {
	it('accepts text without < or >', () => {
		expect(checkAgentText('Hello, 3 = 3')).toEqual({ ok: true });
	});
	it('refuses < and > with a plain explanation', () => {
		const r = checkAgentText('a < b');
		expect(r).toEqual({
			ok: false,
			code: 'reserved_chars',
			message: '< and > cannot be sent: they are reserved for template parameters.'
		});
		expect(checkAgentText('->').ok).toBe(false);
	});
	it('names the parameters left to fill in', () => {
		const r = checkAgentText('Mail <customer.email> and <customer.email>, <queue.name>');
		expect(r.ok).toBe(false);
		if (!r.ok)
			expect(r.message).toBe(
				'Fill in <customer.email>, <queue.name> before sending: they have no value here.'
			);
	});
});

describe('searchTemplates', () => {
	const t = [
		{ id: '1', name: 'Greeting', text: 'Hello <customer.name>' },
		{ id: '2', name: 'Refund', text: 'Your refund is on its way' }
	];
	it('matches every word in the name or text, any case', () => {
		expect(searchTemplates(t, 'REFUND way').map((x) => x.id)).toEqual(['2']);
		expect(searchTemplates(t, 'hello').map((x) => x.id)).toEqual(['1']);
		expect(searchTemplates(t, '').length).toBe(2);
		expect(searchTemplates(t, 'nothing')).toEqual([]);
	});
});

describe('hasStrayBrackets', () => {
	it('finds < or > outside a parameter, which an agent could never send', () => {
		expect(hasStrayBrackets('Hello <customer.name>, I am <agent.name>')).toBe(false);
		expect(hasStrayBrackets('Thanks <3')).toBe(true);
		expect(hasStrayBrackets('a -> b')).toBe(true);
		expect(hasStrayBrackets('Hi <customer.name> >')).toBe(true);
		expect(hasStrayBrackets('plain text')).toBe(false);
	});
});
