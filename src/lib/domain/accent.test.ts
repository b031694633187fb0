import { describe, expect, it } from 'vitest';
import { accentColors } from './accent';

describe('accent colours', () => {
	it('puts white text on a dark accent and dark text on a light one', () => {
		expect(accentColors('#2563eb')).toEqual({
			accent: '#2563eb',
			onAccent: '#ffffff',
			accentText: '#2563eb'
		});
		expect(accentColors('#fde047')).toEqual({
			accent: '#fde047',
			onAccent: '#111827',
			accentText: '#111827'
		});
	});

	it('falls back to the default for a missing or malformed colour', () => {
		expect(accentColors(undefined).accent).toBe('#2563eb');
		expect(accentColors('red').accent).toBe('#2563eb');
		expect(accentColors('#abc').accent).toBe('#abc');
	});
});
