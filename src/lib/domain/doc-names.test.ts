import { describe, expect, it } from 'vitest';
import { parseDocName } from './doc-names';

describe('parseDocName', () => {
	it('understands the three document kinds', () => {
		expect(parseDocName('inbox')).toEqual({ kind: 'inbox' });
		expect(parseDocName('conversation/cv_1')).toEqual({
			kind: 'conversation',
			conversationId: 'cv_1'
		});
		expect(parseDocName('conversation/cv_1/outbox')).toEqual({
			kind: 'outbox',
			conversationId: 'cv_1'
		});
	});
	it.each([
		'',
		'conversation',
		'conversation/',
		'conversation/a b',
		'conversation/x/outbox/y',
		'outbox:cv:customer:1',
		'conversation/x/../y'
	])('refuses %j', (name) => expect(parseDocName(name)).toBeNull());
});
