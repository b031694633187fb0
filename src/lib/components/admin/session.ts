/** Who is using the console, shared by the admin layout with its pages. */
import { getContext, setContext } from 'svelte';

export interface AdminMe {
	id: string;
	name: string;
	email: string;
	role: string;
}

const KEY = Symbol('admin-me');

export function provideAdminMe(get: () => AdminMe | null) {
	setContext(KEY, get);
}

/** The signed-in admin (null before the layout knows). Call during component init. */
export function useAdminMe(): () => AdminMe | null {
	return getContext<() => AdminMe | null>(KEY) ?? (() => null);
}

/** A message for the next page, e.g. "Workstream created" after a redirect. */
let flashMessage: string | null = null;
export function setFlash(message: string) {
	flashMessage = message;
}
export function takeFlash(): string | null {
	const m = flashMessage;
	flashMessage = null;
	return m;
}
