/**
 * Unsaved edits in the admin console: forms register whether they hold changes not saved yet,
 * and the console's layout asks before a navigation or a reload would throw them away.
 */
// Read only when leaving a page, never rendered: a plain Set.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const checks = new Set<() => boolean>();

/** Registers `dirty` while the calling component lives (call during its initialisation). */
function guardUnsaved(dirty: () => boolean) {
	$effect(() => {
		checks.add(dirty);
		return () => {
			checks.delete(dirty);
		};
	});
}

/**
 * Guards a form whose value is `current()` (null while closed): `mark()` records it as the
 * saved (or just opened) state, and it is unsaved while its JSON differs from that.
 */
export function trackUnsaved(current: () => unknown) {
	let marked: string | null = null;
	guardUnsaved(() => {
		const now = current();
		return now !== null && marked !== null && JSON.stringify(now) !== marked;
	});
	return {
		mark() {
			marked = JSON.stringify(current());
		}
	};
}

export const hasUnsaved = () => [...checks].some((dirty) => dirty());

export const DISCARD_QUESTION = 'You have changes that are not saved. Leave and discard them?';
