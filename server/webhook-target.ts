/**
 * Where webhooks may post. A webhook URL is typed by an admin, but the server makes the request
 * from inside its own network, so by default it refuses loopback, private, link-local (cloud
 * metadata at 169.254.169.254) and other non-public addresses: a webhook must not become a way to
 * reach what only the server can reach. `PARLEY_WEBHOOK_TARGETS=any` allows them, for
 * deployments whose receivers are internal.
 *
 * The address is checked twice: when the webhook is saved (an address typed as an IP, or a name
 * that resolves to one, gets a clear message at once), and on every delivery, on the address the
 * connection actually uses (a name may resolve differently later). The second check is the
 * socket's own DNS lookup (undici's `connect.lookup`), so there is no window between checking a
 * name and connecting to it.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';

export type WebhookTargets = 'public' | 'any';

/** The name of a non-public range an address is in (`loopback`, `private`, …), or null if public. */
export function nonPublicRange(address: string): string | null {
	if (!ipaddr.isValid(address)) return 'invalid';
	// `process` turns IPv4-mapped IPv6 (::ffff:127.0.0.1) into the IPv4 address it carries.
	const range = ipaddr.process(address).range();
	return range === 'unicast' ? null : range;
}

/** Words for a refused address, naming the setting that allows it. */
function refusedTargetMessage(address: string, range: string): string {
	// An IPv4-mapped address reads as the IPv4 address it carries (URLs write it in hex).
	const shown = ipaddr.isValid(address) ? ipaddr.process(address).toString() : address;
	return `${shown} is a ${describeRange(range)} address. Webhooks go only to public addresses unless the server sets PARLEY_WEBHOOK_TARGETS=any.`;
}

function describeRange(range: string): string {
	switch (range) {
		case 'loopback':
			return 'loopback (this machine)';
		case 'private':
		case 'uniqueLocal':
			return 'private network';
		case 'linkLocal':
			return 'link-local';
		case 'unspecified':
			return 'unspecified';
		default:
			return `non-public (${range})`;
	}
}

/**
 * The refusal for the first non-public address of `addresses`, or null when all are public.
 * `name`: the host name they were resolved from (null for an address typed in the URL).
 */
function refusal(addresses: string[], name: string | null): string | null {
	for (const address of addresses) {
		const range = nonPublicRange(address);
		if (range)
			return `${name ? `${name} resolves to ` : ''}${refusedTargetMessage(address, range)}`;
	}
	return null;
}

/** The host of a URL as an address when it is one (without IPv6 brackets), else null. */
function literalAddress(url: URL): string | null {
	const host = url.hostname.replace(/^\[|\]$/g, '');
	return isIP(host) ? host : null;
}

/**
 * Save-time check: null if the URL may be used, else the message for the admin. A name that
 * does not resolve now is accepted (its DNS may not exist yet); deliveries check again.
 */
export async function checkWebhookTarget(
	raw: string,
	targets: WebhookTargets
): Promise<string | null> {
	if (targets === 'any') return null;
	const url = new URL(raw);
	const literal = literalAddress(url);
	if (literal) return refusal([literal], null);
	const resolved = await new Promise<string[]>((resolve) =>
		dnsLookup(url.hostname, { all: true }, (err, found) =>
			resolve(err ? [] : found.map((a) => a.address))
		)
	);
	return refusal(resolved, url.hostname);
}

/** Raised (as the connection's error) when a delivery's address is refused. */
export class RefusedTargetError extends Error {
	override name = 'RefusedTarget';
}

/**
 * The HTTP client of webhook deliveries. With `public`, every connection's resolved addresses
 * are checked, and an address typed in the URL is checked before connecting (Node does not
 * look those up).
 */
export function webhookClient(targets: WebhookTargets) {
	if (targets === 'any') return { dispatcher: undefined, check: (): string | null => null };
	// net.connect asks for all addresses (`all: true`, its default family selection) or for one.
	type Callback = (
		err: NodeJS.ErrnoException | null,
		address: LookupAddress[] | string,
		family?: number
	) => void;
	const lookup = (hostname: string, options: { all?: boolean }, callback: Callback) =>
		dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
			if (err) return callback(err, []);
			const refused = refusal(
				addresses.map((a) => a.address),
				hostname
			);
			if (refused) return callback(new RefusedTargetError(refused), []);
			if (options.all) callback(null, addresses);
			else callback(null, addresses[0].address, addresses[0].family);
		});
	return {
		dispatcher: new Agent({ connect: { lookup: lookup as never } }),
		/** The refusal for a URL whose host is an address, or null. */
		check(raw: string): string | null {
			const literal = literalAddress(new URL(raw));
			return literal ? refusal([literal], null) : null;
		}
	};
}
