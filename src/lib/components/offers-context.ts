/**
 * The workspace's waiting offers, for its modal dialogs: while one is open (wrap-up, transfer,
 * templates, sign-out) the offers band behind it cannot be reached, and an offer left to time
 * out puts the agent in RONA. The dialogs say that one waits and how long it has left.
 */
import { getContext, setContext } from 'svelte';

export interface WaitingOffer {
	title: string;
	/** When it times out (server time, ms since the epoch). */
	expiresAt: number;
}

interface WaitingOffers {
	get: () => WaitingOffer[];
	/** Time left until `until`, as the offer cards show it (the page's ticking clock). */
	remaining: (until: number) => string;
}

const KEY = Symbol('waiting-offers');

export function provideWaitingOffers(offers: WaitingOffers) {
	setContext(KEY, offers);
}

/** Outside the workspace (the admin console): none. Call during component init. */
export function useWaitingOffers(): WaitingOffers {
	return getContext<WaitingOffers>(KEY) ?? { get: () => [], remaining: () => '' };
}
