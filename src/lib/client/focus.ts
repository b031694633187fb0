/**
 * Keeps keyboard focus somewhere sensible after an action removes the control that had it (End
 * session, a wrap-up dialog whose trigger went with the conversation, …): browsers then drop
 * focus to `<body>`, and the next Tab starts over from the top of the page. For a short while
 * after the action, whenever focus is on nothing, it goes to the first element matching one of
 * `selectors` (in order) that is in the page. Focus the user put somewhere is left alone.
 */
export function keepFocus(selectors: string[], ms = 1500): void {
	const until = Date.now() + ms;
	const lost = () => !document.activeElement || document.activeElement === document.body;
	const step = () => {
		if (lost()) {
			for (const selector of selectors) {
				const el = document.querySelector<HTMLElement>(selector);
				if (el && el.offsetParent !== null) {
					el.focus();
					if (!lost()) break;
				}
			}
		}
		if (Date.now() < until) requestAnimationFrame(step);
	};
	requestAnimationFrame(step);
}
