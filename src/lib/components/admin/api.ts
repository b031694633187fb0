/**
 * The admin console's one way to call the JSON API: same-origin cookies, JSON in and out, and
 * the API's error shape (`{ error: { code, message, fields? } }`) flattened into what a form
 * needs: a message for an alert and a message per field path (`wrapUpReasons.1`, `hours.timeZone`).
 */
export interface ApiResult<T = Record<string, unknown>> {
	ok: boolean;
	status: number;
	/** The parsed JSON body (an empty object when there was none or it was not JSON). */
	body: T;
	/** Field path → message, empty unless the server refused some fields. */
	fields: Record<string, string>;
	/** What went wrong, in words; empty when ok. */
	message: string;
}

/**
 * Who to tell when a call comes back 401 mid-session (the session expired or was ended
 * elsewhere): the layout asks for the password again over the page, so nothing typed is lost.
 */
let expiredListener: (() => void) | null = null;
export function onSessionExpired(fn: (() => void) | null) {
	expiredListener = fn;
}
/** Calls whose 401 means "wrong password" or "not signed in yet", not an expired session. */
const SIGN_IN_PATHS = new Set(['/api/auth/login', '/api/agent/me']);

export async function api<T = Record<string, unknown>>(
	method: 'GET' | 'POST' | 'PUT' | 'DELETE',
	path: string,
	body?: unknown
): Promise<ApiResult<T>> {
	let res: Response;
	try {
		res = await fetch(path, {
			method,
			credentials: 'same-origin',
			headers:
				body === undefined
					? { accept: 'application/json' }
					: { 'content-type': 'application/json', accept: 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body)
		});
	} catch {
		return {
			ok: false,
			status: 0,
			body: {} as T,
			fields: {},
			message: 'The server cannot be reached. Check your connection and try again.'
		};
	}
	const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
	if (res.ok) return { ok: true, status: res.status, body: json as T, fields: {}, message: '' };
	const error = (json?.error ?? {}) as { message?: string; fields?: Record<string, string> };
	if (res.status === 401 && !SIGN_IN_PATHS.has(path)) {
		expiredListener?.();
		return {
			ok: false,
			status: 401,
			body: json as T,
			fields: {},
			message: 'Your sign-in has expired: nothing was saved. Sign in again, then retry.'
		};
	}
	return {
		ok: false,
		status: res.status,
		body: json as T,
		fields: error.fields ?? {},
		message:
			error.message ??
			(res.status === 401
				? 'Your sign-in has expired. Sign in again.'
				: `The request failed (${res.status}).`)
	};
}

/** `aria-invalid` and `aria-describedby` for an input whose error (if any) has id `${id}-error`. */
export function invalidAttrs(id: string, error: string | undefined | null, hint?: string) {
	const describedBy = [error ? `${id}-error` : null, hint ?? null].filter(Boolean).join(' ');
	return {
		id,
		'aria-invalid': error ? ('true' as const) : undefined,
		'aria-describedby': describedBy || undefined
	};
}
