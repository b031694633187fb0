/**
 * The widget's accent colours from a workstream's colour (SPEC M1: the widget's look), with
 * readable text on it (WCAG contrast). Used by the widget; the admin console previews it.
 */
import { DEFAULT_COLOR } from './workstream-settings';

/** WCAG relative luminance of a `#rgb` / `#rrggbb` colour. */
function luminance(hex: string): number {
	let h = hex.slice(1);
	if (h.length === 3) h = [...h].map((c) => c + c).join('');
	const [r, g, b] = [0, 2, 4].map((i) => {
		const v = parseInt(h.slice(i, i + 2), 16) / 255;
		return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
	});
	return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

const DARK_TEXT = '#111827';

/**
 * The widget's accent (header, primary buttons) from the workstream colour: the colour itself
 * (or the default when missing or not a CSS hex colour), the text colour on it (white or dark,
 * whichever contrasts more), and a colour for accent-coloured text on white (the accent when it
 * reads at 4.5:1 there, dark text otherwise).
 */
export function accentColors(color: string | null | undefined): {
	accent: string;
	onAccent: string;
	accentText: string;
} {
	const accent =
		typeof color === 'string' && /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(color)
			? color
			: DEFAULT_COLOR;
	const l = luminance(accent);
	const dark = luminance(DARK_TEXT);
	const onWhite = 1.05 / (l + 0.05);
	const onDark = (l + 0.05) / (dark + 0.05);
	return {
		accent,
		onAccent: onWhite >= onDark ? '#ffffff' : DARK_TEXT,
		accentText: onWhite >= 4.5 ? accent : DARK_TEXT
	};
}
